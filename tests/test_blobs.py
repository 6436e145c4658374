"""The content-addressed blob store, on real files under tmp_path."""

from __future__ import annotations

import errno
import hashlib
import io
import os
from pathlib import Path

import pytest

from gateway import blobs
from gateway.blobs import BlobNotFound
from gateway.blobs import BlobStore
from gateway.blobs import content_hash

MESSAGE = b"From: alice@example.com\r\nSubject: hello\r\n\r\nHi there.\r\n"
# Three 1 MiB chunks and a bit: put_stream has to loop.
BIG = bytes(range(256)) * 4096 * 3 + b"the tail"
UNKNOWN = hashlib.sha256(b"never stored").hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def temporary_files(store: BlobStore) -> list[Path]:
    return sorted(store.root.rglob(".tmp-*"))


class FailsOnSecondRead(io.FileIO):
    """A real file whose second read() hits a real OS error (EBADF).

    The second read goes to a write-only descriptor of the same file, which the
    kernel refuses to read from.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path, "rb")
        self.reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        if self.reads == 2:
            write_only = os.open(self.name, os.O_WRONLY)
            try:
                return os.read(write_only, size or 1)
            finally:
                os.close(write_only)
        return super().read(size)


def test_put_then_get_round_trip(store: BlobStore) -> None:
    sha256 = store.put(MESSAGE)

    assert sha256 == hashlib.sha256(MESSAGE).hexdigest()
    assert store.get(sha256) == MESSAGE
    assert store.exists(sha256)
    with store.open(sha256) as blob:
        assert blob.read() == MESSAGE


def test_blob_lives_under_two_levels_of_folders(store: BlobStore) -> None:
    sha256 = store.put(MESSAGE)

    expected = store.root / sha256[:2] / sha256[2:4] / sha256
    assert store.path(sha256) == expected
    assert expected.read_bytes() == MESSAGE


def test_empty_blob(store: BlobStore) -> None:
    sha256 = store.put(b"")

    assert sha256 == hashlib.sha256(b"").hexdigest()
    assert store.get(sha256) == b""


def test_putting_the_same_content_again_leaves_the_blob_alone(store: BlobStore) -> None:
    sha256 = store.put(MESSAGE)
    before = store.path(sha256).stat()

    assert store.put(MESSAGE) == sha256
    assert store.put_stream(io.BytesIO(MESSAGE)) == (sha256, len(MESSAGE))

    after = store.path(sha256).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert [p for p in store.root.rglob("*") if p.is_file()] == [store.path(sha256)]


def test_put_stream_of_several_chunks(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "big.eml"
    source.write_bytes(BIG)

    with source.open("rb") as stream:
        sha256, size = store.put_stream(stream)

    assert (sha256, size) == (hashlib.sha256(BIG).hexdigest(), len(BIG))
    assert store.get(sha256) == BIG


def test_no_temporary_file_is_left_after_puts(store: BlobStore) -> None:
    store.put(MESSAGE)
    store.put(MESSAGE)
    store.put(b"another one")
    store.put_stream(io.BytesIO(BIG))
    store.put_stream(io.BytesIO(BIG))

    assert temporary_files(store) == []


def test_stream_failing_midway_leaves_nothing(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "big.eml"
    source.write_bytes(BIG)

    with FailsOnSecondRead(source) as stream, pytest.raises(OSError) as caught:
        store.put_stream(stream)

    assert caught.value.errno == errno.EBADF
    assert stream.reads == 2
    assert list(store.root.rglob("*")) == []
    assert not store.exists(hashlib.sha256(BIG).hexdigest())


def test_store_still_works_after_a_failed_stream(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "big.eml"
    source.write_bytes(BIG)
    with FailsOnSecondRead(source) as stream, pytest.raises(OSError):
        store.put_stream(stream)

    sha256, size = store.put_stream(io.BytesIO(BIG))

    assert (sha256, size) == (hashlib.sha256(BIG).hexdigest(), len(BIG))
    assert store.get(sha256) == BIG
    assert temporary_files(store) == []


def test_unknown_blob_is_not_found(store: BlobStore) -> None:
    assert not store.exists(UNKNOWN)
    with pytest.raises(BlobNotFound):
        store.get(UNKNOWN)
    with pytest.raises(BlobNotFound):
        store.open(UNKNOWN)


def test_blob_not_found_is_a_key_error(store: BlobStore) -> None:
    with pytest.raises(KeyError):
        store.get(UNKNOWN)


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param("../../etc/passwd", id="traversal"),
        pytest.param("../" + UNKNOWN[3:], id="dotdot-prefix"),
        pytest.param("ab/cd/" + UNKNOWN[6:], id="slashes"),
        pytest.param("", id="empty"),
        pytest.param(UNKNOWN[:-1], id="63-chars"),
        pytest.param(UNKNOWN + "0", id="65-chars"),
        pytest.param(UNKNOWN.upper(), id="uppercase"),
        pytest.param("g" * 64, id="non-hex"),
        pytest.param(UNKNOWN + "\n", id="newline"),
    ],
)
def test_path_refuses_what_is_not_a_sha256_digest(store: BlobStore, digest: str) -> None:
    with pytest.raises(ValueError, match="not a sha256 hex digest"):
        store.path(digest)
    with pytest.raises(ValueError):
        store.get(digest)
    with pytest.raises(ValueError):
        store.open(digest)


def test_a_batch_names_its_blobs_at_sync_and_leaves_no_temporary_file(store: BlobStore) -> None:
    stored = store.put(MESSAGE)
    batch = store.batch()
    contents = [b"blob %d" % n for n in range(40)]
    digests = [batch.put(content) for content in contents]
    assert batch.put(contents[0]) == digests[0]  # the same content twice: one blob
    assert batch.put(MESSAGE) == stored  # stored already: left alone
    assert not any(store.exists(digest) for digest in digests)
    batch.sync()
    assert [store.get(digest) for digest in digests] == contents
    assert store.get(stored) == MESSAGE
    assert temporary_files(store) == []


def test_a_batch_of_blobs_all_stored_already_syncs(store: BlobStore) -> None:
    digest = store.put(MESSAGE)
    batch = store.batch()
    batch.put(MESSAGE)
    batch.sync()
    assert store.get(digest) == MESSAGE and temporary_files(store) == []


def test_a_discarded_batch_leaves_neither_blobs_nor_temporary_files(store: BlobStore) -> None:
    batch = store.batch()
    digests = [batch.put(b"blob %d" % n) for n in range(10)]
    batch.discard()
    assert not any(store.exists(digest) for digest in digests)
    assert temporary_files(store) == []
    batch.sync()  # nothing left to sync
    assert not any(store.exists(digest) for digest in digests)


def test_a_blob_that_cannot_be_written_fails_its_batch_at_sync(store: BlobStore) -> None:
    """put() does not raise in the middle of a pipeline: the batch fails as a whole, at
    its sync (before the commit), and leaves nothing behind."""
    good, bad = b"fine", b"cannot be written"
    blocked = store.path(content_hash(bad)).parent.parent
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_bytes(b"a file where a folder should be")
    batch = store.batch()
    digests = [batch.put(good), batch.put(bad), batch.put(b"after it")]
    with pytest.raises(OSError):
        batch.sync()
    assert not any(store.exists(digest) for digest in digests)
    assert temporary_files(store) == []
    batch.put(good)  # the batch is usable again, as after discard()
    batch.sync()
    assert store.get(digests[0]) == good


def test_a_batch_names_nothing_before_its_contents_are_durable(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first sync of the filesystem comes before the first name: a crash between
    the two leaves temporary files only, never a truncated blob under its hash."""
    seen: list[list[Path]] = []
    real = blobs._sync_filesystem if blobs._SYNCFS is not None else None
    if real is None:
        pytest.skip("no syncfs here (not Linux): each file is fsynced as it is written")

    def noted(folder: Path) -> None:
        seen.append(sorted(p for p in store.root.rglob("*") if p.is_file()))
        real(folder)

    monkeypatch.setattr(blobs, "_sync_filesystem", noted)
    batch = store.batch()
    digests = [batch.put(b"blob %d" % n) for n in range(5)]
    batch.sync()
    first, second = seen
    assert first and all(path.name.startswith(".tmp-") for path in first)
    assert sorted(path.name for path in second) == sorted(digests)


@pytest.mark.parametrize("size", [0, 1, 2046, 2047, 2048, 5000, 300_000])
def test_content_hash_is_the_sha256_of_the_bytes_at_any_size(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    assert content_hash(data) == hashlib.sha256(data).hexdigest()
