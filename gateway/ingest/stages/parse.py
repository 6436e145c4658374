"""Stage parse: decode the mail and give it a Message-ID (generated when it has none)."""

from __future__ import annotations

from gateway.blobs import content_hash
from gateway.ingest.context import IngestContext
from gateway.mail.parse import parse_message
from gateway.store.models import MAX_MESSAGE_ID


def run(ctx: IngestContext) -> None:
    ctx.raw_sha256 = content_hash(ctx.mail.raw)
    ctx.parsed = parse_message(ctx.mail.raw)
    # Generated from the content when missing (or absurdly long), so that the same
    # bytes delivered twice still dedupe.
    message_id = ctx.parsed.message_id
    if not message_id or len(message_id) > MAX_MESSAGE_ID:
        message_id = f"gateway-{ctx.raw_sha256[:32]}@{ctx.domain}"
    ctx.message_id = message_id
