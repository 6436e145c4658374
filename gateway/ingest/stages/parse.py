"""Stage parse: decode the mail and give it a Message-ID (generated when it has none).

The parse itself needs no database: gateway.ingest.batch.ingest_now makes it before its
transaction (parse_ahead, or worker processes: gateway.ingest.parse_workers), so a
batch holds SQLite's write lock only for the stages that need the store, and this
stage then only names the Message-ID.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.blobs import WrittenBlob
from gateway.blobs import content_hash
from gateway.ingest.context import InboundMail
from gateway.ingest.context import IngestContext
from gateway.mail.parse import ParsedMessage
from gateway.mail.parse import parse_message
from gateway.store.models import MAX_MESSAGE_ID


@dataclass(frozen=True)
class Parsed:
    """A mail's content hash and parse, made before its batch's transaction; and its
    blobs (the raw mail, its attachments) when a worker wrote them ahead
    (gateway.ingest.parse_workers)."""

    raw_sha256: str
    message: ParsedMessage
    blobs: tuple[WrittenBlob, ...] = ()


def parse_raw(raw: bytes) -> Parsed:
    return Parsed(content_hash(raw), parse_message(raw))


def parse_ahead(mails: Sequence[InboundMail]) -> list[Parsed]:
    return [parse_raw(mail.raw) for mail in mails]


def run(ctx: IngestContext) -> None:
    if ctx.parsed is None:
        done = parse_raw(ctx.mail.raw)
        ctx.raw_sha256, ctx.parsed = done.raw_sha256, done.message
    # Generated from the content when missing (or absurdly long), so that the same
    # bytes delivered twice still dedupe.
    message_id = ctx.parsed.message_id
    if not message_id or len(message_id) > MAX_MESSAGE_ID:
        message_id = f"gateway-{ctx.raw_sha256[:32]}@{ctx.domain}"
    ctx.message_id = message_id
