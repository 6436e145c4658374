"""Content-addressed blob store for raw messages and attachments.

A blob lives at ROOT/ab/cd/<sha256>. Writes go to a temporary file in the same
folder, are fsynced, then linked into place, so a reader never sees half a blob
and a crash leaves at worst a stray temporary file. Writing the same content
twice is a no-op: the second write finds the blob and leaves it alone.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024


class BlobNotFound(KeyError):
    """No blob with this hash is stored."""


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> str:
        """Store bytes; return their sha256. Durable when this returns."""
        sha256 = hashlib.sha256(data).hexdigest()
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
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def _link_into_place(self, tmp: Path, sha256: str) -> None:
        """Give a synced temporary file its final name, unless that blob already exists."""
        final = self.path(sha256)
        try:
            new_folders = [
                folder for folder in (final.parent.parent, final.parent) if not folder.is_dir()
            ]
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                # link() fails if the name exists: a concurrent writer of the same
                # content won, and its blob is byte-for-byte ours.
                os.link(tmp, final)
            except FileExistsError:
                return
            # The new name, and any folder made for it, must survive a crash too.
            for folder in [final.parent, *(f.parent for f in new_folders)]:
                _fsync_dir(folder)
        finally:
            tmp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    """Make a new directory entry durable (the rename/link itself, not just the data)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
