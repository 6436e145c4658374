"""The ingest worker: one thread that runs the pipeline and commits mail in batches.

Group commit (DESIGN.md, principle 3): while one batch is being committed, the
mails that arrive queue up, and the next batch takes them all in one transaction,
so concurrent SMTP sessions share one fsync instead of paying one each. Each mail
runs in a savepoint: a bug on one mail fails that mail alone (451), and its
neighbours in the batch are still committed. Results are handed back only after
the commit, so the SMTP edge answers 250 only for mail that is durable.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from gateway.app import App
from gateway.ingest.context import InboundMail
from gateway.ingest.context import IngestContext
from gateway.ingest.context import IngestResult
from gateway.ingest.pipeline import run_pipeline
from gateway.store.db import transaction

log = logging.getLogger("gateway.ingest")

# The most mails committed together; more waiting ones go in the next batch.
MAX_BATCH = 64


@dataclass(frozen=True)
class _Job:
    mail: InboundMail
    future: Future[IngestResult]


class IngestWorker:
    def __init__(self, app: App, max_batch: int = MAX_BATCH) -> None:
        self.app = app
        self.max_batch = max_batch
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="gateway-ingest", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, mail: InboundMail) -> Future[IngestResult]:
        """Queue a mail; the future resolves once it is committed (or fails)."""
        future: Future[IngestResult] = Future()
        self._jobs.put(_Job(mail, future))
        return future

    def stop(self, timeout: float | None = None) -> None:
        """Finish the mails already queued, then end the thread."""
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            self._process(batch)

    def _process(self, batch: list[_Job]) -> None:
        outcomes: list[tuple[_Job, IngestResult | BaseException]] = []
        blobs = self.app.blobs.batch()
        try:
            with transaction(self.app.sessions) as session:
                for job in batch:
                    ctx = IngestContext(
                        mail=job.mail,
                        session=session,
                        blobs=blobs,
                        domain=self.app.settings.gateway.domain,
                        allowed_domains=self.app.settings.gateway.allowed_domains,
                    )
                    try:
                        with session.begin_nested():
                            outcomes.append((job, run_pipeline(ctx)))
                    except Exception as error:
                        log.exception("ingest failed for message-id=%s", ctx.message_id or "?")
                        outcomes.append((job, error))
                # Bytes first, then rows: a committed row never points at a lost blob.
                blobs.sync()
        except Exception as error:
            blobs.discard()
            log.exception("commit of a batch of %d mails failed", len(batch))
            for job in batch:
                job.future.set_exception(error)
            return
        for job, outcome in outcomes:
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)
