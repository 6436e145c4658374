"""Stage store: every attachment as a blob, and the action mail rows (the raw bytes: keep).

Blobs are handed to the batch here and synced before it commits (gateway.ingest.batch),
so a 250 always means the bytes and the rows are both durable.
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy import select

from gateway.ingest.context import IngestContext
from gateway.store.models import ActionMail
from gateway.store.models import Attachment
from gateway.store.models import Community


def run(ctx: IngestContext) -> None:
    assert ctx.parsed is not None
    if ctx.message is not None and ctx.parsed.attachments:
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
    for action in ctx.actions:
        assert action.action is not None  # route keeps only the action addresses
        _record_action(ctx, action.address, action.action, action.slug, action.token)
    if ctx.actions:
        ctx.session.flush()


def _record_action(ctx: IngestContext, recipient: str, action: str, slug: str, token: str) -> None:
    session = ctx.session
    already = session.scalar(
        select(ActionMail.id).where(
            ActionMail.recipient == recipient, ActionMail.message_id == ctx.message_id
        )
    )
    if already is not None:
        return
    community_id = (
        session.scalar(select(Community.id).where(Community.slug == slug)) if slug else None
    )
    session.add(action_row(ctx, recipient, action, community_id, token))


def action_row(
    ctx: IngestContext, recipient: str, action: str, community_id: int | None, token: str = ""
) -> ActionMail:
    """The action_mail row of this mail for one action (its raw blob is the mail's)."""
    return ActionMail(
        recipient=recipient[:254],
        action=action,
        community_id=community_id,
        token=token[:128],
        sender=ctx.sender[:254],
        message_id=ctx.message_id,
        raw_sha256=ctx.raw_sha256,
        raw_size=len(ctx.mail.raw),
        received_at=ctx.mail.received_at,
        peer=ctx.mail.peer[:64],
        envelope_sender=ctx.mail.mail_from.strip().strip("<>").lower()[:254],
    )
