"""Content-addressed blob store for raw messages and attachments.

A blob lives at ROOT/ab/cd/<sha256>. Writes go to a temporary file in the same
folder, are made durable (an fsync, or one syncfs for a batch), then named, so a
reader never sees half a blob and a crash leaves at worst a stray temporary file.
Writing the same content twice is a no-op: the second write finds the blob and
leaves it alone.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import itertools
import os
import re
import tempfile
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from typing import Protocol

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024
# Names of a batch's temporary files: unique within the process.
_TEMPORARY_NAMES = itertools.count()

# hashlib keeps the interpreter lock for updates up to 2 KiB (HASHLIB_GIL_MINSIZE).
_HASH_SLICE = 2047
_HASH_IN_SLICES = 256 * 1024


def content_hash(data: bytes) -> str:
    """The sha256 of `data`, in hex: a blob's name.

    hashlib gives the interpreter lock back while it hashes more than 2 KiB, and
    getting it back can take longer than the hash when another thread wants it too
    (an import's worker pool manager, say): a mail-sized blob is hashed in smaller
    slices, keeping the lock.
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

    def path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return Path(self.root, sha256[:2], sha256[2:4], sha256)

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
                changed = self._make_folders(final.parent)
                os.link(tmp, final)
        except FileExistsError:
            # link() fails if the name exists: a concurrent writer of the same
            # content won, and its blob is byte-for-byte ours.
            return changed
        finally:
            tmp.unlink(missing_ok=True)
        return [final.parent, *changed]

    @staticmethod
    def _make_folders(leaf: Path) -> list[Path]:
        """Create a blob's folder `leaf` and its parent where missing; return the folders
        that got a new entry.

        One mkdir when the folder exists or only it is missing (the common cases).
        """
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

    def write_ahead(self, data: bytes, sha256: str | None = None) -> WrittenBlob | None:
        """The blob in a temporary file, for a batch (of another process, say) to take
        (BlobBatch.offer); None if it is stored already."""
        return write_temporary(self, sha256 or content_hash(data), data, fsync=_SYNCFS is None)


class BlobBatch:
    """Blobs written together and made durable together, for the ingest's group commit.

    put() writes a blob to a temporary file beside its final place and returns; sync()
    makes them all durable at once with two syncfs(2) calls, however many they are: one
    for their contents, then, once they have their final names, one for the names. A
    crash before sync() returns leaves temporary files and empty folders, never a
    truncated blob under a content hash, and no row points at them: the commit comes
    after.

    One fsync per file and per new folder cost 0.36 ms of CPU each here, half of an
    ingest batch's time (bench/ingest.py). syncfs also writes out whatever else waits to
    be written on that filesystem, as PostgreSQL's recovery_init_sync_method=syncfs
    warns; Linux reports its write errors since 5.8. Without syncfs (not Linux), put()
    fsyncs each file and sync() each folder that got a name.
    """

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self._written: dict[str, WrittenBlob | None] = {}
        self._error: OSError | None = None
        # Written ahead by another process (gateway.ingest.parse_workers), named only if
        # put() asks for them; the others are removed at sync().
        self._offered: dict[str, WrittenBlob] = {}
        self._spare: list[WrittenBlob] = []

    def offer(self, written: Iterable[WrittenBlob]) -> None:
        """Blobs already in temporary files of this store, for put() to take."""
        for blob in written:
            if blob.sha256 in self._offered or blob.sha256 in self._written:
                self._spare.append(blob)
            else:
                self._offered[blob.sha256] = blob

    def put(self, data: bytes, sha256: str | None = None) -> str:
        sha256 = sha256 or content_hash(data)
        if sha256 in self._offered and sha256 not in self._written:
            self._written[sha256] = self._offered.pop(sha256)
        if sha256 not in self._written and self._error is None:
            try:
                self._written[sha256] = self.store.write_ahead(data, sha256)
            except OSError as error:  # a full disk, say: the batch fails at its sync
                self._error = error
        return sha256

    def sync(self) -> None:
        if self._error is not None:
            error = self._error
            self.discard()
            raise error
        self._remove_unwanted()
        written = [w for w in self._written.values() if w is not None]
        self._written = {}
        if not written:
            return
        if _SYNCFS is not None:
            _sync_filesystem(self.store.root)  # the contents, before any of them is named
        folders = {folder for w in written for folder in w.folders}
        for w in written:
            os.replace(w.tmp, w.tmp.with_name(w.sha256))  # the same bytes if it exists
            folders.add(w.tmp.parent)
        if _SYNCFS is not None:
            _sync_filesystem(self.store.root)
        else:
            for folder in folders:
                _fsync(folder)

    def discard(self) -> None:
        """Forget what was not synced (the batch failed): remove its temporary files."""
        for written in self._written.values():
            if written is not None:
                written.tmp.unlink(missing_ok=True)
        self._written.clear()
        self._remove_unwanted()
        self._error = None

    def _remove_unwanted(self) -> None:
        """The temporary files offered that no put() took."""
        for blob in (*self._offered.values(), *self._spare):
            blob.tmp.unlink(missing_ok=True)
        self._offered.clear()
        self._spare.clear()


@dataclass(frozen=True)
class WrittenBlob:
    """A blob in its temporary file, not named yet; the folders made for it (to sync)."""

    sha256: str
    tmp: Path
    folders: list[Path]


def write_temporary(store: BlobStore, sha256: str, data: bytes, fsync: bool) -> WrittenBlob | None:
    """The blob in a temporary file beside its place, its folder made (fsynced if
    `fsync`); None if it is stored already."""
    final = store.path(sha256)
    if final.is_file():
        return None
    folders = store._make_folders(final.parent)
    while True:
        tmp = final.with_name(f".tmp-{os.getpid()}-{next(_TEMPORARY_NAMES)}")
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
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return WrittenBlob(sha256, tmp, folders)


def _find_syncfs() -> Callable[[int], int] | None:
    """libc's syncfs(2), where there is one (Linux)."""
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


_SYNCFS = _find_syncfs()


def _sync_filesystem(folder: Path) -> None:
    """Write out everything waiting to be written on the filesystem of `folder`."""
    assert _SYNCFS is not None
    fd = os.open(folder, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"syncfs: {os.strerror(number)}", str(folder))
    finally:
        os.close(fd)


def _fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries (a new link's name), to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
