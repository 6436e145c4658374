"""The inbox processor: runs the ingest pipeline on spooled mail, in batches.

Each batch is stored in one transaction, then its inbox rows are deleted, so a
mail is ingested once, also if the process dies halfway (see process_batch): the
rows are still there at the next start. A mail whose ingest fails (a bug, logged
with its traceback) keeps its row with the error; it is tried again at each start
and after MAX_ATTEMPTS it waits for an admin.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from gateway.app import App
from gateway.ingest.batch import Outcome
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import Disposition
from gateway.ingest.context import InboundMail
from gateway.ingest.context import IngestResult
from gateway.runtime.background import BackgroundLoop
from gateway.runtime.background import Signal
from gateway.store.models import InboxMail
from gateway.store.models import as_utc

log = logging.getLogger("gateway.ingest")

BATCH = 16  # mails per transaction: short, so the spool's commits are not kept waiting
MAX_ATTEMPTS = 3
# How long the processor sleeps when the inbox is empty and nobody wakes it.
IDLE_WAIT = 1.0
# What gives the delivery worker and the email actions something new to do.
WAKING = frozenset({Disposition.PUBLISHED, Disposition.HELD, Disposition.ACTION})


class InboxProcessor(BackgroundLoop):
    def __init__(
        self,
        app: App,
        wake: Signal | None = None,
        stopping: Signal | None = None,
        published: Signal | None = None,
    ) -> None:
        super().__init__("gateway-ingest", wake, stopping)
        self.app = app
        # Set after a batch that published or held posts or took action mail:
        # the delivery worker has work.
        self._published = published
        # Rows that failed in this process: not retried until the next start.
        self._failed: set[int] = set()

    def run(self, alive: Callable[[], bool] = lambda: True) -> None:
        """Process until stopped (or until `alive` says the parent process is gone)."""
        while not self._stopping.is_set() and alive():
            self._wake.clear()
            try:
                if self.process_batch():
                    continue
            except Exception:
                log.exception("the inbox processor failed; trying again shortly")
                time.sleep(IDLE_WAIT)
            self._wake.wait(IDLE_WAIT)

    def process_batch(self) -> int:
        """Ingest up to BATCH spooled mails; return how many were taken.

        The mails are stored in one transaction of the store, then their spool rows
        are deleted. A crash between the two makes the next start ingest them again,
        which stores nothing twice: messages and action mail are keyed by Message-ID
        (generated from the content when missing).
        """
        spool = self.app.spool_engine
        with spool.connect() as connection:
            query = (
                select(InboxMail.__table__)
                .where(InboxMail.attempts < MAX_ATTEMPTS)
                .order_by(InboxMail.id)
                .limit(BATCH)
            )
            if self._failed:
                query = query.where(InboxMail.id.not_in(self._failed))
            rows = _alone_if_large(connection.execute(query).all())
        if not rows:
            return 0
        started = time.perf_counter()
        outcomes = ingest_now(self.app, [self._mail(row) for row in rows])
        milliseconds = (time.perf_counter() - started) * 1000 / len(rows)
        with spool.begin() as connection:
            done = [row.id for row, o in zip(rows, outcomes, strict=True) if not _failed(o)]
            connection.execute(delete(InboxMail).where(InboxMail.id.in_(done)))
            for row, outcome in zip(rows, outcomes, strict=True):
                if _failed(outcome):
                    self._failed.add(row.id)
                    connection.execute(
                        update(InboxMail)
                        .where(InboxMail.id == row.id)
                        .values(attempts=InboxMail.attempts + 1, last_error=repr(outcome))
                    )
        for row, outcome in zip(rows, outcomes, strict=True):
            _log(row.mail_from, outcome, milliseconds)
        if self._published is not None and any(
            isinstance(o, IngestResult) and o.disposition in WAKING for o in outcomes
        ):
            self._published.set()
        return len(rows)

    def _mail(self, row: Row[Any]) -> InboundMail:
        return InboundMail(
            raw=self.app.blobs.get(row.raw_sha256) if row.raw_sha256 else row.raw,
            mail_from=row.mail_from,
            recipients=tuple(row.recipients),
            received_at=as_utc(row.received_at),
            peer=row.peer,
        )


def _alone_if_large(rows: Sequence[Row[Any]]) -> Sequence[Row[Any]]:
    """The batch, cut so that a large mail (kept in the blob store by the spool) is
    ingested alone: a batch holds every mail's parse at once, and 16 mails of a few
    MB each took the processor past 1.5 GB (bench/fuzz.py)."""
    for index, row in enumerate(rows):
        if row.raw_sha256:
            return rows[: index or 1]
    return rows


def _failed(outcome: Outcome) -> bool:
    return isinstance(outcome, Exception)


def _log(sender: str, outcome: Outcome, milliseconds: float) -> None:
    if isinstance(outcome, Exception):
        log.warning("from=%s disposition=failed error=%r", sender or "<>", outcome)
        return
    log.info(
        "message-id=<%s> from=%s communities=%s disposition=%s%s ms=%.1f",
        outcome.message_id,
        sender or "<>",
        ",".join(outcome.communities) or "-",
        outcome.disposition,
        f" reasons={','.join(outcome.reasons)}" if outcome.reasons else "",
        milliseconds,
    )
