"""Ingest a batch of mails in one transaction: the pipeline on all of them, one commit.

The batch runs in a savepoint; if a bug shows on one of its mails, the savepoint
is rolled back and the mails are taken again one by one, each in a savepoint of
its own, so that the failing mail fails alone and its neighbours are still stored.
The batch's blobs are fsynced together before the commit (gateway.blobs.BlobBatch):
a committed row never points at a lost blob.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from gateway.app import App
from gateway.blobs import BlobWriter
from gateway.ingest.context import BatchCache
from gateway.ingest.context import InboundMail
from gateway.ingest.context import IngestContext
from gateway.ingest.context import IngestResult
from gateway.ingest.pipeline import run_batch
from gateway.settings import GatewaySettings
from gateway.store.db import transaction

log = logging.getLogger("gateway.ingest")

Outcome = IngestResult | Exception


def ingest_mails(
    session: Session, blobs: BlobWriter, settings: GatewaySettings, mails: Sequence[InboundMail]
) -> list[Outcome]:
    """Run the pipeline on the mails inside the caller's transaction."""
    cache = BatchCache()
    contexts = [
        IngestContext(
            mail=mail,
            session=session,
            blobs=blobs,
            domain=settings.domain,
            allowed_domains=settings.allowed_domains,
            automatic_headers=settings.automatic_headers,
            cache=cache,
        )
        for mail in mails
    ]
    try:
        with session.begin_nested():
            return list(run_batch(contexts))
    except Exception as error:
        if len(mails) == 1:
            log.exception("ingest failed for message-id=<%s>", contexts[0].message_id or "?")
            return [error]
        log.info("a batch of %d mails failed; taking them one by one", len(mails))
    return [outcome for mail in mails for outcome in ingest_mails(session, blobs, settings, [mail])]


def ingest_now(app: App, mails: Sequence[InboundMail]) -> list[Outcome]:
    """Ingest mails in a transaction of their own (imports, tests): committed on return."""
    blobs = app.blobs.batch()
    try:
        with transaction(app.sessions) as session:
            outcomes = ingest_mails(session, blobs, app.settings.gateway, mails)
            blobs.sync()
    except BaseException:
        blobs.discard()
        raise
    return outcomes
