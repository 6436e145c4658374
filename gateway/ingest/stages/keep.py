"""Stage keep: the raw bytes of a mail past screening go to the blob store at once.

Raw mail is the source of truth (DESIGN.md, principle 2). It is written at once to a
temporary file (gateway.blobs.BlobBatch); the batch's sync makes it durable, with the
batch's other blobs, before the commit.
A discarded mail is not kept; a copy of a stored Message-ID is (its bytes may
differ from the first copy's, and nothing else is written for it).
"""

from __future__ import annotations

from gateway.ingest.context import IngestContext


def run(ctx: IngestContext) -> None:
    ctx.blobs.put(ctx.mail.raw, ctx.raw_sha256)  # hashed once, by the parse stage
