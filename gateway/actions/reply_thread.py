"""Which thread of a digest a reply to the digest answers, read from the reply's text;
and the words its sender wrote, which are what gets posted.

A pure function on small inputs (gateway.actions.replies gives it the digest's threads).
The reply either answers before what it quotes (top-posted: its own text comes first)
or between the quoted lines (interleaved, or below the quote):

- a digest of one thread: that thread;
- interleaved: the thread whose block the sender's own text follows (the last thread
  named by a quoted line before it); every piece of own text must follow the same thread;
- top-posted: the one thread the quoted text names, when it names exactly one (a client
  that quotes only what was selected); a quote of the whole digest names them all.

A quoted line names a thread when it holds one of the thread's markers: its Reply
link's In-Reply-To (the Message-ID of its newest message, as such or percent-encoded),
its mute address, its archive URL, or its subject. When markers of several threads are
on one line, the longest wins ("Colours" is in "Colours of the brand").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.actions.text import own_lines

QUOTE = ">"
SIGNATURE = "-- "
# The line before a quote that says who wrote it: "On ... wrote:", "Le ... a écrit :",
# "Am ... schrieb ...:".
_ATTRIBUTION = re.compile(r"\b(wrote|writes|a écrit|schrieb)\b.*:\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Candidate:
    """A thread shown in the digest, and what in a quote names it (lowercased)."""

    key: int  # the thread's id
    markers: tuple[str, ...]


@dataclass(frozen=True)
class Choice:
    """The thread answered (None: it cannot be told), how that was decided, and the
    sender's own text."""

    thread: int | None
    how: str  # "single", "interleaved", "quoted"; "ambiguous" or "empty" without a thread
    text: str


def choose(body: str, candidates: Sequence[Candidate], interleaved_only: bool = False) -> Choice:
    """The thread a reply answers. `interleaved_only`: only own text written below a
    quoted thread counts (a notice that lists threads: a "Thanks!" above it answers
    none of them)."""
    every_line = body.replace("\r\n", "\n").split("\n")
    lines = _until_signature(every_line)
    if interleaved_only:
        followed, text = _interleaved(lines, candidates)
        if not text:
            return Choice(None, "empty", "")
        if _starts_with_quote(lines) and len(followed) == 1 and None not in followed:
            return Choice(followed.pop(), "interleaved", text)
        return Choice(None, "ambiguous", text)
    if _starts_with_quote(lines):
        followed, text = _interleaved(lines, candidates)
        if not text:
            return Choice(None, "empty", "")
        if len(candidates) == 1:
            return Choice(candidates[0].key, "single", text)
        if len(followed) == 1 and None not in followed:
            return Choice(followed.pop(), "interleaved", text)
        return Choice(None, "ambiguous", text)
    own = own_lines(body)
    text = "\n".join(own).strip()
    if not text:
        return Choice(None, "empty", "")
    if len(candidates) == 1:
        return Choice(candidates[0].key, "single", text)
    kept = set(own)
    named = {  # the quote may follow the sender's signature ("-- ", then "On ... wrote:")
        found
        for line in every_line
        if line.rstrip() not in kept and (found := _named(line, candidates)) is not None
    }
    if len(named) == 1:
        return Choice(named.pop(), "quoted", text)
    return Choice(None, "ambiguous", text)


def _until_signature(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if line == SIGNATURE or line.rstrip() == "--":
            return lines[:index]
    return lines


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(QUOTE)


def _starts_with_quote(lines: list[str]) -> bool:
    """The first words are quoted, or an attribution then quoted lines."""
    written = [line for line in lines if line.strip()]
    if not written:
        return False
    if _quoted(written[0]):
        return True
    return len(written) > 1 and bool(_ATTRIBUTION.search(written[0])) and _quoted(written[1])


def _interleaved(lines: list[str], candidates: Sequence[Candidate]) -> tuple[set[int | None], str]:
    """The threads the pieces of own text follow (None: no thread named before it),
    and the own text, its pieces separated by a blank line."""
    current: int | None = None
    followed: set[int | None] = set()
    pieces: list[list[str]] = [[]]
    for index, line in enumerate(lines):
        if _quoted(line):
            found = _named(line, candidates)
            current = found if found is not None else current
            if pieces[-1]:
                pieces.append([])
            continue
        if _ATTRIBUTION.search(line) and _next_is_quoted(lines, index):
            continue
        if line.strip() or pieces[-1]:
            pieces[-1].append(line.rstrip())
        if line.strip():
            followed.add(current)
    text = "\n\n".join("\n".join(piece).strip() for piece in pieces if "".join(piece).strip())
    return followed, text


def _next_is_quoted(lines: list[str], index: int) -> bool:
    after = [line for line in lines[index + 1 :] if line.strip()]
    return bool(after) and _quoted(after[0])


def _named(line: str, candidates: Sequence[Candidate]) -> int | None:
    """The thread a line names; the one with the longest marker there, if several."""
    text = line.lower()
    best: tuple[int, int] | None = None
    for candidate in candidates:
        for marker in candidate.markers:
            if marker and marker in text and (best is None or len(marker) > best[0]):
                best = (len(marker), candidate.key)
    return best[1] if best is not None else None
