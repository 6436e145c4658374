"""Bounds on a mail's MIME structure, checked on the raw bytes before any parser runs.

The stdlib's parser and generator recurse once per level of nesting: a post of
about 1,000 nested multiparts (67 KB) exhausts the interpreter's stack wherever
it is parsed, rendered or walked. Real mail nests a few levels and holds tens of
parts, so past these bounds a mail is stored raw and flagged, and every reader of
it (ingest, delivery, bounces) treats it as opaque bytes instead of a tree.
"""

from __future__ import annotations

import re

# Levels of multipart nesting. The stdlib gives up somewhere past 300, depending on
# how deep the caller's own stack already is; its readers catch that and fall back,
# and this bound keeps the work of getting there out of reach.
MAX_DEPTH = 500
# message/* parts (each an enclosed mail the stdlib parses recursively too).
MAX_ENCLOSED = 1000
# Content-Type fields (about one per part) in one mail; flanker's
# enclosed-endless.eml, a real one, has about 3,500.
MAX_PARTS = 10_000

_LINE = re.compile(
    rb"^(?:--([^\r\n]*)|content-type:[ \t]*(?:\r?\n[ \t]+)?([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*))",
    re.IGNORECASE | re.MULTILINE,
)
_BOUNDARY = re.compile(rb'boundary[ \t]*=[ \t]*(?:"([^"\r\n]*)"|([^\s;]+))', re.IGNORECASE)
_ENCLOSED = re.compile(rb"^message/", re.IGNORECASE)


def too_complex(raw: bytes) -> bool:
    """Whether `raw` nests deeper, encloses more mails or has more parts than allowed.

    A delimiter line opens one level for a boundary some Content-Type declared and
    closes the levels opened after it, as a parser reads them, so the depth found is
    the depth the parser would reach.
    """
    # A level needs a line starting with "--", a part a "Content-Type:" with its colon:
    # with too few of either no bound can be passed, and most mail (a 25 MB attachment
    # too) is let through after two counts instead of a scan of every line.
    if raw.count(b"\n--") < MAX_DEPTH and raw.count(b":") <= min(MAX_PARTS, MAX_ENCLOSED):
        return False
    declared: set[bytes] = set()
    opened: list[bytes] = []
    parts = enclosed = 0
    for match in _LINE.finditer(raw):
        delimiter, value = match.groups()
        if value is not None:
            parts += 1
            enclosed += bool(_ENCLOSED.match(value))
            found = _BOUNDARY.search(value)
            if found:
                declared.add((found.group(1) or found.group(2) or b"").strip())
            if parts > MAX_PARTS or enclosed > MAX_ENCLOSED:
                return True
            continue
        token = delimiter.rstrip()
        closing = token.endswith(b"--") and token[:-2] in opened
        name = token[:-2] if closing else token
        if name in opened:
            del opened[opened.index(name) + (0 if closing else 1) :]
        elif name in declared:
            opened.append(name)
            if len(opened) > MAX_DEPTH:
                return True
    return False
