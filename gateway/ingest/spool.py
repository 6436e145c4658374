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

from gateway.blobs import BlobBatch
from gateway.blobs import BlobStore
from gateway.ingest.context import InboundMail
from gateway.store.models import InboxMail

log = logging.getLogger("gateway.spool")

# The most mails committed together; more waiting ones go in the next batch.
MAX_BATCH = 256
# Mail larger than this is spooled in the blob store rather than in its row.
INLINE_LIMIT = 256 * 1024


@dataclass(frozen=True)
class _Job:
    mail: InboundMail
    future: Future[None]


class Spool:
    def __init__(
        self, engine: Engine, blobs: BlobStore, on_commit: Callable[[], None] = lambda: None
    ) -> None:
        self.engine = engine
        self.blobs = blobs
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
        blobs = self.blobs.batch()
        try:
            rows = [self._row(job.mail, blobs) for job in batch]
            blobs.sync()
            with self.engine.begin() as connection:
                connection.execute(insert(InboxMail), rows)
        except Exception as error:
            blobs.discard()
            log.exception("could not spool a batch of %d mails", len(batch))
            for job in batch:
                job.future.set_exception(error)
            return
        self.on_commit()
        for job in batch:
            job.future.set_result(None)

    @staticmethod
    def _row(mail: InboundMail, blobs: BlobBatch) -> dict[str, object]:
        # A large mail goes to the blob store, where the pipeline will want it anyway:
        # binding it into a database row would copy it in memory twice more.
        large = len(mail.raw) > INLINE_LIMIT
        return {
            "raw": b"" if large else mail.raw,
            "raw_sha256": blobs.put(mail.raw) if large else "",
            "mail_from": mail.mail_from,
            "recipients": list(mail.recipients),
            "received_at": mail.received_at,
            "peer": mail.peer,
        }
