"""Where imported mail comes from: mbox files (gzip too), Maildirs and .eml files, read one
message at a time, so an archive of any size is never held in memory whole."""

from __future__ import annotations

import datetime as dt
import errno
import gzip
import os
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# mboxrd (and pipermail's mboxo): a ">From " at the start of a body line was "From ".
_QUOTED_FROM = b">From "


@dataclass(frozen=True)
class SourceMail:
    raw: bytes
    # The mbox separator's date, or the file's modification time: used when the
    # message has no usable Date header.
    envelope_date: dt.datetime | None


def mbox_messages(path: Path) -> Iterator[SourceMail]:
    """The messages of an mbox file, gzip-compressed or not (by its magic bytes)."""
    with _open(path) as stream:
        yield from _split_mbox(stream)


def _open(path: Path) -> BinaryIO:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _split_mbox(stream: Iterable[bytes]) -> Iterator[SourceMail]:
    lines: list[bytes] = []
    date: dt.datetime | None = None
    started = False
    previous_blank = True
    for line in stream:
        if line.startswith(b"From ") and previous_blank:
            if started:
                yield SourceMail(_body(lines), date)
            lines, date, started = [], _separator_date(line), True
            previous_blank = False
            continue
        if started:
            lines.append(
                line[1:]
                if line.lstrip(b">").startswith(b"From ") and line.startswith(b">")
                else line
            )
        previous_blank = line in (b"\n", b"\r\n")
    if started:
        yield SourceMail(_body(lines), date)


def _body(lines: list[bytes]) -> bytes:
    """The message without the blank line mbox puts before the next separator."""
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]
    return b"".join(lines)


def _separator_date(line: bytes) -> dt.datetime | None:
    """'From alice@example.com Tue Jan  5 10:00:00 2010' -> its date (UTC, as asctime is)."""
    text = line.decode("latin-1").strip()
    parts = text.split()
    for start in range(2, len(parts)):
        candidate = " ".join(parts[start : start + 5])
        try:
            return dt.datetime.strptime(candidate, "%a %b %d %H:%M:%S %Y").replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


def maildir_messages(path: Path) -> Iterator[SourceMail]:
    """The messages of a Maildir (cur and new), oldest file first."""
    files = [f for sub in ("cur", "new") if (path / sub).is_dir() for f in (path / sub).iterdir()]
    if not files:
        # With errno and filename, so that the CLI shows it as one line.
        raise FileNotFoundError(
            errno.ENOENT, "not a Maildir (no cur/ or new/ with messages)", str(path)
        )
    yield from _files(sorted(files, key=lambda f: (f.stat().st_mtime, f.name)))


def eml_messages(paths: Iterable[Path]) -> Iterator[SourceMail]:
    """Message files, and every file below the folders given, in name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(f for f in path.rglob("*") if f.is_file() and not f.name.startswith("."))
            )
        else:
            files.append(path)
    yield from _files(files)


def _files(files: Iterable[Path]) -> Iterator[SourceMail]:
    for file in files:
        mtime = dt.datetime.fromtimestamp(os.stat(file).st_mtime, dt.UTC)
        yield SourceMail(file.read_bytes(), mtime)
