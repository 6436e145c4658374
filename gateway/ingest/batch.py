"""Ingest a batch of mails in one transaction: the pipeline on all of them, one commit.

The batch runs in a savepoint; if a bug shows on one of its mails, the savepoint
is rolled back and the mails are taken again one by one, each in a savepoint of
its own, so that the failing mail fails alone and its neighbours are still stored.
The batch's blobs are made durable together before the commit (gateway.blobs.BlobBatch):
a committed row never points at a lost blob.

A mail may lose a race: the same mail taken in by another node at the same moment
(an MTA that retried on another node after a timeout spools the same bytes twice).
Batches that store the same Message-ID take turns (gateway.ingest.stages.write_messages),
so the later one finds it stored: a duplicate, not a failure. A row may still collide
with another transaction's on a unique key (PostgreSQL reports it once the other has
committed), a mail may be threaded into a thread that another node's batch merged away
meanwhile (gateway.threads.batch.ThreadGone), or two nodes' batches may deadlock
(PostgreSQL refuses one of them): the batch is then taken again whole, in a new
savepoint, up to RACE_RETRIES times, and sees what the other batch committed. (Taken
again mail by mail, as after a bug, each of its mails would take its locks while
holding its neighbours': more waits in a circle.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.blobs import BlobWriter
from gateway.ingest.context import BatchCache
from gateway.ingest.context import InboundMail
from gateway.ingest.context import IngestContext
from gateway.ingest.context import IngestResult
from gateway.ingest.pipeline import run_batch
from gateway.ingest.stages.parse import Parsed
from gateway.ingest.stages.parse import parse_ahead
from gateway.settings import GatewaySettings
from gateway.store.db import transaction
from gateway.store.sql import lost_to_another_transaction
from gateway.threads.batch import ThreadGone

log = logging.getLogger("gateway.ingest")

Outcome = IngestResult | Exception
# Times a mail that lost a race is taken again in the same transaction; after that it
# counts as a failed attempt and is released for a later batch (the processor's).
RACE_RETRIES = 3


def ingest_mails(
    session: Session,
    blobs: BlobWriter,
    settings: GatewaySettings,
    mails: Sequence[InboundMail],
    races_left: int = RACE_RETRIES,
    parsed: Sequence[Parsed | None] | None = None,
) -> list[Outcome]:
    """Run the pipeline on the mails inside the caller's transaction; `parsed`, when
    given, holds each mail's parse made beforehand (parse_ahead)."""
    cache = BatchCache()
    ahead = list(parsed) if parsed is not None else [None] * len(mails)
    contexts = [
        IngestContext(
            mail=mail,
            session=session,
            blobs=blobs,
            domain=settings.domain,
            allowed_domains=settings.allowed_domains,
            automatic_headers=settings.automatic_headers,
            cache=cache,
            parsed=done.message if done else None,
            raw_sha256=done.raw_sha256 if done else "",
        )
        for mail, done in zip(mails, ahead, strict=True)
    ]
    try:
        with session.begin_nested():
            return list(run_batch(contexts))
    except Exception as error:
        if lost_a_race(error) and races_left:
            log.info(
                "%s raced another transaction (%s); once more",
                f"message-id=<{contexts[0].message_id or '?'}>"
                if len(mails) == 1
                else f"a batch of {len(mails)} mails",
                type(error.orig).__name__ if isinstance(error, DBAPIError) else error,
            )
            return ingest_mails(session, blobs, settings, mails, races_left - 1, ahead)
        if len(mails) == 1:
            if lost_a_race(error):
                log.warning(
                    "message-id=<%s> lost %d races to other transactions; tried again later",
                    contexts[0].message_id or "?",
                    RACE_RETRIES + 1,
                )
                return [error]
            log.exception("ingest failed for message-id=<%s>", contexts[0].message_id or "?")
            return [error]
        log.info("a batch of %d mails failed; taking them one by one", len(mails))
    return [
        outcome
        for mail, done in zip(mails, ahead, strict=True)
        for outcome in ingest_mails(session, blobs, settings, [mail], parsed=[done])
    ]


def lost_a_race(error: Exception) -> bool:
    """Another transaction's commit refused a statement of the batch
    (gateway.store.sql.lost_to_another_transaction), or removed a thread it read
    (ThreadGone). Taken again, the mail sees what the other one committed."""
    return isinstance(error, ThreadGone) or lost_to_another_transaction(error)


def ingest_now(
    app: App, mails: Sequence[InboundMail], parsed: Sequence[Parsed] | None = None
) -> list[Outcome]:
    """Ingest mails in a transaction of their own (imports, tests): committed on return.

    They are parsed first: on SQLite the transaction holds the store's only write lock,
    which the delivery worker waits for to claim and record copies, and parsing is
    about a third of a batch's time (bench/ingest.py's latency). `parsed` is their parse
    when it was made beforehand (gateway.ingest.parse_workers; the inbox processor's
    thread, gateway.ingest.processor)."""
    if parsed is None:
        parsed = parse_ahead(mails)
    blobs = app.blobs.batch()
    blobs.offer(blob for done in parsed for blob in done.blobs)
    try:
        with transaction(app.sessions) as session:
            outcomes = ingest_mails(session, blobs, app.settings.gateway, mails, parsed=parsed)
            blobs.sync()
    except BaseException:
        blobs.discard()
        raise
    return outcomes
