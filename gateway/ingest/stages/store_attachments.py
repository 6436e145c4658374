"""Stage store_attachments: every attachment of a post as a blob and an attachment row.

Blobs are handed to the batch here and synced before it commits (gateway.ingest.batch),
so a 250 always means the bytes and the rows are both durable.
"""

from __future__ import annotations

from sqlalchemy import insert

from gateway.ingest.context import IngestContext
from gateway.store.models import Attachment


def run(ctx: IngestContext) -> None:
    assert ctx.parsed is not None
    if ctx.message is None or not ctx.parsed.attachments:
        return
    ctx.session.execute(
        insert(Attachment),
        [
            {
                "message_id": ctx.message.id,
                "position": position,
                "filename": part.filename,
                "content_type": part.content_type[:255],
                "size": len(part.payload),
                "sha256": ctx.blobs.put(part.payload),
                "content_id": part.content_id[:998],
                "inline": part.inline,
            }
            for position, part in enumerate(ctx.parsed.attachments)
        ],
    )
