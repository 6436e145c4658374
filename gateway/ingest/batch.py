"""Ingest a batch of mails in one transaction: the pipeline once per mail, one commit.

Each mail runs in a savepoint, so a bug on one mail fails that mail alone and its
neighbours are still stored. The batch's blobs are fsynced together before the
commit (gateway.blobs.BlobBatch): a committed row never points at a lost blob.
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
from gateway.ingest.pipeline import run_pipeline
from gateway.settings import GatewaySettings
from gateway.store.db import transaction

log = logging.getLogger("gateway.ingest")

Outcome = IngestResult | Exception


def ingest_mails(
    session: Session, blobs: BlobWriter, settings: GatewaySettings, mails: Sequence[InboundMail]
) -> list[Outcome]:
    """Run the pipeline on each mail inside the caller's transaction."""
    outcomes: list[Outcome] = []
    cache = BatchCache()
    for mail in mails:
        ctx = IngestContext(
            mail=mail,
            session=session,
            blobs=blobs,
            domain=settings.domain,
            allowed_domains=settings.allowed_domains,
            cache=cache,
        )
        try:
            with session.begin_nested():
                outcomes.append(run_pipeline(ctx))
        except Exception as error:
            log.exception("ingest failed for message-id=<%s>", ctx.message_id or "?")
            outcomes.append(error)
    return outcomes


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
