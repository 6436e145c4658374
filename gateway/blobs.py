"""Content-addressed blob store for raw messages and attachments.

A blob lives at ROOT/ab/cd/<sha256>. Writes go to a temporary file in the same
folder, are fsynced, then linked into place, so a reader never sees half a blob
and a crash leaves at worst a stray temporary file. Writing the same content
twice is a no-op: the second write finds the blob and leaves it alone.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import re
import tempfile
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from typing import Protocol
from typing import TypeVar

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024
# Parallel fsyncs for a batch: enough to keep the disk's queue full.
_SYNC_THREADS = 16
# Names of a batch's temporary files: unique within the process.
_TEMPORARY_NAMES = itertools.count()

# hashlib keeps the interpreter lock for updates up to 2 KiB (HASHLIB_GIL_MINSIZE).
_HASH_SLICE = 2047
_HASH_IN_SLICES = 256 * 1024

T = TypeVar("T")


def content_hash(data: bytes) -> str:
    """The sha256 of `data`, in hex: a blob's name.

    hashlib gives the interpreter lock back while it hashes more than 2 KiB, and
    getting it back can take longer than the hash when the store's threads want it
    too: a mail-sized blob is hashed in smaller slices, keeping the lock.
    """
    if len(data) > _HASH_IN_SLICES:
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    view = memoryview(data)
    for start in range(0, len(data), _HASH_SLICE):
        digest.update(view[start : start + _HASH_SLICE])
    return digest.hexdigest()


class BlobWriter(Protocol):
    """Where ingest writes blobs: the store itself, or a batch synced at its commit."""

    def put(self, data: bytes, sha256: str | None = None) -> str: ...


class BlobNotFound(KeyError):
    """No blob with this hash is stored."""


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._sync_pool: ThreadPoolExecutor | None = None

    def sync_pool(self) -> ThreadPoolExecutor:
        """Threads for the parallel fsyncs of batches, started once and kept."""
        if self._sync_pool is None:
            self._sync_pool = ThreadPoolExecutor(_SYNC_THREADS, thread_name_prefix="blob-sync")
        return self._sync_pool

    def path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes, sha256: str | None = None) -> str:
        """Store bytes; return their sha256 (pass it when known). Durable when this returns."""
        sha256 = sha256 or hashlib.sha256(data).hexdigest()
        if not self.exists(sha256):
            self.put_stream(io.BytesIO(data))
        return sha256

    def put_stream(self, stream: BinaryIO) -> tuple[str, int]:
        """Store a file-like object without holding it in memory; return (sha256, size)."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with tempfile.NamedTemporaryFile(dir=self.root, prefix=".tmp-", delete=False) as tmp:
            try:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    tmp.write(chunk)
                tmp.flush()
                os.fsync(tmp.fileno())
            except BaseException:
                tmp.close()
                os.unlink(tmp.name)
                raise
        sha256 = digest.hexdigest()
        self._link_into_place(Path(tmp.name), sha256)
        return sha256, size

    def get(self, sha256: str) -> bytes:
        try:
            with open(self.path(sha256), "rb") as blob:
                return blob.read()
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def _link_into_place(self, tmp: Path, sha256: str) -> None:
        """Give a synced temporary file its final name, and make the name durable."""
        for folder in self._link_unsynced(tmp, sha256):
            _fsync(folder)

    def _link_unsynced(self, tmp: Path, sha256: str) -> list[Path]:
        """Link a synced temporary file into place, unless that blob exists already.

        Returns the folders whose entries changed and must be fsynced for the new
        name to survive a crash.
        """
        final = self.path(sha256)
        changed: list[Path] = []
        try:
            try:
                os.link(tmp, final)
            except FileNotFoundError:  # its folder is new
                changed = self._make_folders(sha256)
                os.link(tmp, final)
        except FileExistsError:
            # link() fails if the name exists: a concurrent writer of the same
            # content won, and its blob is byte-for-byte ours.
            return changed
        finally:
            tmp.unlink(missing_ok=True)
        return [final.parent, *changed]

    def _make_folders(self, sha256: str) -> list[Path]:
        """Create the blob's folders where missing; return the folders that got a new entry.

        One mkdir when the folder exists or only it is missing (the common cases).
        """
        leaf = self.path(sha256).parent
        try:
            os.mkdir(leaf)
            return [leaf.parent]
        except FileExistsError:
            return []
        except FileNotFoundError:
            pass  # its parent is missing too
        new_folders = [
            folder for folder in (leaf.parent.parent, leaf.parent) if not folder.is_dir()
        ]
        leaf.mkdir(parents=True, exist_ok=True)
        return [folder.parent for folder in (*new_folders, leaf)]

    def batch(self) -> BlobBatch:
        return BlobBatch(self)


class BlobBatch:
    """Blobs written together and made durable together, for the ingest's group commit.

    put() hands a blob to the store's threads and returns at once: a thread checks
    whether the blob is stored already, else creates its folders, writes it to a
    temporary file and fsyncs it, while ingest goes on (creating a folder or a file
    costs up to half a millisecond here, more than a small mail's parsing). sync()
    waits for them, links the files into place and fsyncs the folders that got new
    entries, each once, all at once. Until sync() returns none of them has its
    final name, so a crash can leave temporary files and empty folders, never a
    truncated blob under a content hash.
    """

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self._pending: dict[str, Future[_Written | None]] = {}

    def put(self, data: bytes, sha256: str | None = None) -> str:
        sha256 = sha256 or content_hash(data)
        if sha256 not in self._pending:
            self._pending[sha256] = self.store.sync_pool().submit(
                _write_temporary, self.store, sha256, data
            )
        return sha256

    def sync(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        written = [w for future in pending.values() if (w := future.result()) is not None]
        pool = self.store.sync_pool()
        folders = set(_in_parallel(pool, self._link, written))
        folders.update(folder for w in written for folder in w.folders)
        list(_in_parallel(pool, _fsync_all, list(folders)))

    def discard(self) -> None:
        """Forget what was not synced (the batch failed): remove its temporary files."""
        for future in self._pending.values():
            try:
                written = future.result()
            except OSError:
                continue  # it was never written
            if written is not None:
                written.tmp.unlink(missing_ok=True)
        self._pending.clear()

    def _link(self, written: list[_Written]) -> list[Path]:
        """Link files into place; return the folders that got their names."""
        return [folder for w in written for folder in self.store._link_unsynced(w.tmp, w.sha256)]


@dataclass(frozen=True)
class _Written:
    """A blob of a batch in its synced temporary file; the folders made for it (to fsync)."""

    sha256: str
    tmp: Path
    folders: list[Path]


def _write_temporary(store: BlobStore, sha256: str, data: bytes) -> _Written | None:
    """The blob in a synced temporary file, its folder made; None if it is stored already.

    Plain os calls: on the store's threads each call that blocks gives the interpreter
    lock back and waits for it again, behind the ingest thread.
    """
    if store.exists(sha256):
        return None
    folders = store._make_folders(sha256)
    while True:
        # Beside the blob, not in one folder for all: creating and removing names in a
        # folder takes its lock, and the store's threads would queue for it.
        tmp = store.path(sha256).parent / f".tmp-{os.getpid()}-{next(_TEMPORARY_NAMES)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            continue  # left by a process with the same id, before a crash
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return _Written(sha256, tmp, folders)


def _in_parallel(
    pool: ThreadPoolExecutor, work: Callable[[list[T]], list[Path]], items: list[T]
) -> Iterator[Path]:
    """work() on slices of `items`, one per thread: one task each, not one per item."""
    size = max(1, -(-len(items) // _SYNC_THREADS))
    slices = [items[start : start + size] for start in range(0, len(items), size)]
    return itertools.chain.from_iterable(pool.map(work, slices))


def _fsync_all(paths: list[Path]) -> list[Path]:
    for path in paths:
        _fsync(path)
    return []


def _fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries (a new link's name), to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
