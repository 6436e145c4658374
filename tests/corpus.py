"""The shared corpus (../shared/corpus), read in place: every message, by location.

A location is a path relative to the corpus root, or PATH.mbox#N for the N-th
message of an mbox (0-based, in stdlib mailbox order), as in threading/FORMAT.md.
"""

from __future__ import annotations

import functools
import mailbox

from tests.conftest import CORPUS

SKIPPED_SUFFIXES = (".md", ".json", ".html")


@functools.cache
def mbox_messages(relative: str) -> tuple[bytes, ...]:
    box = mailbox.mbox(CORPUS / relative, create=False)
    try:
        return tuple(box.get_bytes(key) for key in box.keys())
    finally:
        box.close()


def corpus_locations() -> list[str]:
    """Every message: each mail file (notmuch maildirs included), each mbox entry as PATH#N."""
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
    if "#" in location:
        relative, number = location.rsplit("#", 1)
        return mbox_messages(relative)[int(number)]
    return (CORPUS / location).read_bytes()
