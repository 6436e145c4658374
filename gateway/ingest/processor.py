"""The inbox processor: runs the ingest pipeline on spooled mail, in batches.

Each batch is claimed for this node (gateway.ingest.spool_claims: several nodes share
one spool on PostgreSQL), stored in one transaction, then its inbox rows are deleted,
so a mail is ingested once, also if the process dies halfway (see process_batch): the
rows are still there, for this node at its next start or for another once the lease
ran out. A mail whose ingest fails (a bug, logged with its traceback) keeps its row
with the error, released; it is tried again (not by the process that saw it fail)
and after MAX_ATTEMPTS it waits for an admin.

While a batch is stored, the next one is claimed and parsed, and its blobs written
ahead, in a thread. Parsing is pure Python, but storing waits without the GIL for a
good part of its time (PostgreSQL's round trips, SQLite's C code, the fsyncs), and
parsing and writing blobs were a third of the processor's time: sustained ingest went
up 5-14% on SQLite and 20-28% on PostgreSQL (bench/ingest.py). A processor that stops
gives the batch it claimed ahead back at once (let_go).

Only a full batch has the next claimed ahead: more mail is likely waiting. Under a
light load the ahead claim took the few mails there at the batch's start, and those
that came during the batch waited for that small batch and then one more; on SQLite
the delivery worker also found no gap between two batches to take the store's write
lock in. At half the sustained rate (bench/ingest.py's latency, SQLite, four rounds
each), a post's first delivery took p50 1.7-4.0 s with an ahead claim after every
batch, 0.3-0.8 s with one after a full batch only; the sustained rate stayed within
the runs' noise (365 and 362 mails/s against 365 and 368, rounds run back to back).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from gateway.app import App
from gateway.ingest.batch import Outcome
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import Disposition
from gateway.ingest.context import InboundMail
from gateway.ingest.context import IngestResult
from gateway.ingest.parse_workers import parse_with_blobs
from gateway.ingest.spool_claims import SPOOL_LEASE_SECONDS
from gateway.ingest.spool_claims import claim_mail
from gateway.ingest.spool_claims import finish_mail
from gateway.ingest.spool_claims import release_mail
from gateway.ingest.stages.parse import Parsed
from gateway.runtime.background import BackgroundLoop
from gateway.runtime.background import Signal
from gateway.store.leases import Lease
from gateway.store.models import as_utc
from gateway.store.models import utcnow

log = logging.getLogger("gateway.ingest")

# Mails per transaction, at most: what waits in the spool is taken together. Each batch
# pays for its claim, its commit and its blob sync, and mail that comes out of order
# (a burst over several connections) is threaded in fewer rounds: 128 took a burst of
# 5 KB mails in at twice the rate of 16 (bench/ingest.py). The store's other writers
# wait for a batch (a few hundred milliseconds); the spool never does, and a large
# mail is taken alone (gateway.ingest.spool_claims).
BATCH = 128
# How long the processor sleeps when the inbox is empty and nobody wakes it.
IDLE_WAIT = 1.0
# What gives the delivery worker and the email actions something new to do.
WAKING = frozenset({Disposition.PUBLISHED, Disposition.HELD, Disposition.ACTION})


@dataclass(frozen=True)
class Claimed:
    """A batch claimed from the spool, its mails read and parsed, their blobs written
    ahead in temporary files."""

    rows: Sequence[Row[Any]]
    mails: list[InboundMail]
    parsed: list[Parsed]

    def discard(self) -> None:
        """Remove the blobs written ahead (the batch is left to be taken again)."""
        for done in self.parsed:
            for blob in done.blobs:
                blob.tmp.unlink(missing_ok=True)


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
        self.lease = Lease(app.settings.node_id, SPOOL_LEASE_SECONDS)
        self._ahead = ThreadPoolExecutor(1, thread_name_prefix="gateway-ingest-ahead")
        # The next batch, claimed and parsed while the current one is stored.
        self._next: Future[Claimed] | None = None

    def run(self, alive: Callable[[], bool] = lambda: True) -> None:
        """Process until stopped (or until `alive` says the parent process is gone),
        starting with the mail this node's previous run claimed."""
        self.let_go()
        try:
            while not self._stopping.is_set() and alive():
                self._wake.clear()
                try:
                    if self.process_batch():
                        continue
                except Exception:
                    log.exception("the inbox processor failed; trying again shortly")
                    time.sleep(IDLE_WAIT)
                    # The mail it had claimed is taken back at once, not after the lease
                    # (which brings it back all the same if the spool does not answer
                    # now either: that error was just logged).
                    with contextlib.suppress(Exception):
                        self.let_go()
                self._wake.wait(IDLE_WAIT)
        finally:
            with contextlib.suppress(Exception):
                self.let_go()

    def process_batch(self) -> int:
        """Ingest up to BATCH spooled mails; return how many were taken.

        The mails are claimed, stored in one transaction of the store, then their
        spool rows are deleted. A crash between the two makes them ingested again
        (by this node at its next start, or by another after the lease), which stores
        nothing twice: messages and action mail are keyed by Message-ID (generated
        from the content when missing).
        """
        spool = self.app.spool_engine
        claimed = self._claimed_ahead() or self._claim(self._failed)
        if not claimed.rows:
            return 0
        rows = claimed.rows
        if len(rows) == BATCH:
            self._next = self._ahead.submit(self._claim, frozenset(self._failed))
        started = time.perf_counter()
        outcomes = ingest_now(self.app, claimed.mails, claimed.parsed)
        milliseconds = (time.perf_counter() - started) * 1000 / len(rows)
        failed = {row.id: repr(o) for row, o in zip(rows, outcomes, strict=True) if _failed(o)}
        self._failed.update(failed)
        if failed and self._next is not None:
            # The next claim skipped these rows while this batch held them; it must be
            # made before they are released, or this process would take them again.
            wait([self._next])
        finish_mail(spool, self.lease, [row.id for row in rows if row.id not in failed], failed)
        for row, outcome in zip(rows, outcomes, strict=True):
            _log(row.mail_from, outcome, milliseconds)
        if self._published is not None and any(
            isinstance(o, IngestResult) and o.disposition in WAKING for o in outcomes
        ):
            self._published.set()
        return len(rows)

    def let_go(self) -> None:
        """Give back the mail this node claimed (the batch claimed ahead, and one whose
        ingest failed), for this node's next batch or another node's."""
        pending, self._next = self._next, None
        if pending is not None:
            try:
                pending.result().discard()
            except Exception:
                log.exception("claiming the next batch failed")
        release_mail(self.app.spool_engine, self.lease.node)

    def _claim(self, skip: Collection[int]) -> Claimed:
        rows = claim_mail(self.app.spool_engine, self.lease, utcnow(), BATCH, skip)
        mails = [self._mail(row) for row in rows]
        parsed = [parse_with_blobs(mail.raw, self.app.blobs) for mail in mails]
        return Claimed(rows, mails, parsed)

    def _claimed_ahead(self) -> Claimed | None:
        """The batch claimed ahead, if any mail was waiting then."""
        pending, self._next = self._next, None
        claimed = pending.result() if pending is not None else None
        return claimed if claimed is not None and claimed.rows else None

    def _mail(self, row: Row[Any]) -> InboundMail:
        return InboundMail(
            raw=self.app.blobs.get(row.raw_sha256) if row.raw_sha256 else row.raw,
            mail_from=row.mail_from,
            recipients=tuple(row.recipients),
            received_at=as_utc(row.received_at),
            peer=row.peer,
        )


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
