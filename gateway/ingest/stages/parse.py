"""Stage parse: decode the mail and give it a Message-ID (generated when it has none)."""

from __future__ import annotations

import hashlib

from gateway.ingest.context import IngestContext
from gateway.parse import parse_message


def run(ctx: IngestContext) -> None:
    ctx.raw_sha256 = hashlib.sha256(ctx.mail.raw).hexdigest()
    ctx.parsed = parse_message(ctx.mail.raw)
    # Generated from the content, so that the same bytes delivered twice dedupe.
    ctx.message_id = ctx.parsed.message_id or f"gateway-{ctx.raw_sha256[:32]}@{ctx.domain}"
