"""Real mail for the tests: the shared corpus for the sweeps, small copies in tests/fixtures.

The shared corpus (808 messages, 10 MB) is not part of the project. It is found through
GATEWAY_CORPUS, or else as ../shared/corpus beside the project (as in CI); when it is
absent, the tests marked `needs_corpus` are skipped, all with the one reason ABSENT.
The few messages that other tests need are copied in tests/fixtures/mail (see its
README) and read with `sample`.

A location is a path relative to the corpus root, or PATH.mbox#N for the N-th
message of an mbox (0-based, in stdlib mailbox order), as in threading/FORMAT.md.
"""

from __future__ import annotations

import functools
import mailbox
import os
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
FIXTURES = PROJECT / "tests" / "fixtures" / "mail"
SKIPPED_SUFFIXES = (".md", ".json", ".html")
ABSENT = (
    "the shared mail corpus is absent: set GATEWAY_CORPUS to a copy of shared/corpus "
    "(beside the project in CI) to run the corpus sweeps"
)


def _find_corpus() -> Path:
    named = os.environ.get("GATEWAY_CORPUS")
    if not named:
        return PROJECT.parent / "shared" / "corpus"
    path = Path(named).expanduser().resolve()
    if not path.is_dir():  # a wrong setting must not pass as "absent" and skip the sweeps
        raise pytest.UsageError(f"GATEWAY_CORPUS={named} is not a directory")
    return path


CORPUS = _find_corpus()
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=ABSENT)


@functools.cache
def mbox_messages(relative: str) -> tuple[bytes, ...]:
    box = mailbox.mbox(CORPUS / relative, create=False)
    try:
        return tuple(box.get_bytes(key) for key in box.keys())
    finally:
        box.close()


def corpus_locations() -> list[str]:
    """Every message: each mail file (notmuch maildirs included), each mbox entry as PATH#N.

    Without the corpus, one placeholder that `needs_corpus` skips (rather than an empty
    parameter set, which pytest would skip with a reason of its own)."""
    if not CORPUS.is_dir():
        return ["(absent)"]
    locations = []
    for path in sorted(CORPUS.rglob("*")):
        relative = path.relative_to(CORPUS).as_posix()
        if not path.is_file() or path.name.startswith(".") or path.suffix in SKIPPED_SUFFIXES:
            continue
        if path.suffix == ".mbox":
            count = len(mbox_messages(relative))
            locations.extend(f"{relative}#{number}" for number in range(count))
        else:
            locations.append(relative)
    return locations


def load(location: str) -> bytes:
    """A message of the shared corpus (for the tests marked `needs_corpus`)."""
    if "#" in location:
        relative, number = location.rsplit("#", 1)
        return mbox_messages(relative)[int(number)]
    return (CORPUS / location).read_bytes()


def sample(location: str) -> bytes:
    """A message copied from the corpus into tests/fixtures/mail, under the same location
    (an mbox entry PATH#N as the file PATH-N.eml)."""
    if "#" in location:
        relative, number = location.rsplit("#", 1)
        location = f"{relative}-{number}.eml"
    return (FIXTURES / location).read_bytes()
