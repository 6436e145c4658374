"""The spool: accepted mail made durable in the inbox table before the SMTP 250.

One thread takes the mails that SMTP sessions hand over, and inserts every mail
waiting at that moment in one transaction (group commit): with SQLite's
synchronous=FULL the raw bytes are on disk when the commit returns, and many
sessions share that one fsync. The futures resolve only after the commit. The
inbox processor (gateway.ingest.processor) then runs the pipeline.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy import insert

from gateway.ingest.context import InboundMail
from gateway.store.models import InboxMail

log = logging.getLogger("gateway.spool")

# The most mails committed together; more waiting ones go in the next batch.
MAX_BATCH = 256


@dataclass(frozen=True)
class _Job:
    mail: InboundMail
    future: Future[None]


class Spool:
    def __init__(self, engine: Engine, on_commit: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.on_commit = on_commit
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="gateway-spool", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, mail: InboundMail) -> Future[None]:
        """Queue a mail; the future resolves once it is committed to the inbox."""
        future: Future[None] = Future()
        self._jobs.put(_Job(mail, future))
        return future

    def stop(self, timeout: float | None = None) -> None:
        """Commit the mails already queued, then end the thread."""
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            self._commit(batch)

    def _commit(self, batch: list[_Job]) -> None:
        rows = [
            {
                "raw": job.mail.raw,
                "mail_from": job.mail.mail_from,
                "recipients": list(job.mail.recipients),
                "received_at": job.mail.received_at,
                "peer": job.mail.peer,
            }
            for job in batch
        ]
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(InboxMail), rows)
        except Exception as error:
            log.exception("could not spool a batch of %d mails", len(batch))
            for job in batch:
                job.future.set_exception(error)
            return
        self.on_commit()
        for job in batch:
            job.future.set_result(None)
