"""Parsing in worker processes, ahead of the batch that needs it.

Parsing, and writing the mail's blobs to temporary files, are two thirds of a batch's
time and need nothing but the bytes; the stdlib's email parser is pure Python, so
threads would take turns on one core. Worker processes do both for the next batch
of an import while this process stores the current one; the batch takes the blobs
it keeps (BlobBatch.offer). Not the inbox processor's: `gateway serve` gives the
cores to the SMTP sessions first, and there workers only added their round trips
(sustained ingest 450-512 mails/s with them, 489-585 without, bench/ingest.py); it
parses its next batch in a thread instead (gateway.ingest.processor).
A small batch, or one with a large mail, is parsed here: sent to a worker and back, a
large mail would be copied twice more.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Callable
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from gateway.blobs import BlobStore
from gateway.ingest.context import InboundMail
from gateway.ingest.stages.parse import Parsed
from gateway.ingest.stages.parse import parse_ahead
from gateway.ingest.stages.parse import parse_raw

# Mails per task: a large import batch is shared among the workers, a few at a time.
CHUNK = 64
# A batch holding a mail larger than this is parsed in this process, and so is a batch
# of fewer mails than FEWEST: starting the workers takes about half a second, what
# they save on a thousand mails (an import of 45 took 0.8 s through them).
IN_PROCESS_ABOVE = 1024 * 1024
FEWEST = 1000

Pending = Callable[[], list[Parsed]]


def default_workers() -> int:
    """One process per core: this process's own share is waiting on the store as much as
    computing (an import of 10,000 mails on two cores: 700-820 mails/s parsed here,
    1,100-1,400 with two workers)."""
    if hasattr(os, "sched_getaffinity"):  # the cores this process may use (Linux)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class ParseWorkers:
    """A pool of parsing processes, started on first use; close() ends them."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, mails: Sequence[InboundMail], blobs: BlobStore) -> Pending:
        """Start parsing `mails` and writing their blobs ahead; the returned callable
        waits for their Parsed, in order."""
        raws = [mail.raw for mail in mails]
        if len(raws) < FEWEST or any(len(raw) > IN_PROCESS_ABOVE for raw in raws):
            return lambda: parse_ahead(mails)
        if self._pool is None:
            spawn = multiprocessing.get_context("spawn")  # no fork of a threaded process
            self._pool = ProcessPoolExecutor(self.workers, mp_context=spawn)
        futures: list[Future[list[Parsed]]] = [
            self._pool.submit(_parse_chunk, raws[start : start + CHUNK], blobs.root)
            for start in range(0, len(raws), CHUNK)
        ]
        return lambda: [parsed for future in futures for parsed in future.result()]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ParseWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _parse_chunk(raws: list[bytes], blob_root: Path) -> list[Parsed]:
    store = BlobStore(blob_root)
    return [parse_with_blobs(raw, store) for raw in raws]


def parse_with_blobs(raw: bytes, store: BlobStore) -> Parsed:
    """The mail parsed, with its blobs (the raw mail, its attachments) in temporary
    files of the store, for the batch's BlobBatch to take."""
    parsed = parse_raw(raw)
    contents = [(parsed.raw_sha256, raw)]
    contents += [(None, part.payload) for part in parsed.message.attachments]
    written = (store.write_ahead(data, sha256) for sha256, data in contents)
    return dataclasses.replace(parsed, blobs=tuple(blob for blob in written if blob))
