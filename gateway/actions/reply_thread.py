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

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.mail.trim import Kind
from gateway.mail.trim import trim_text


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
    none of them).

    The reply is read as gateway.mail.trim splits it: its new text, its quoted
    history, its signature. Each piece of new text follows the thread named last in
    the quote before it (None when no quote comes before it)."""
    parts = trim_text(body, whole_if_empty=False).parts
    current: int | None = None
    followed: set[int | None] = set()
    named: set[int] = set()
    pieces: list[str] = []
    for part in parts:
        if part.kind is Kind.NEW:
            if part.text.strip():
                followed.add(current)
                pieces.append(part.text.strip())
            continue
        for line in part.text.split("\n"):
            found = _named(line, candidates)
            if found is not None:
                named.add(found)
                if part.kind is Kind.QUOTED:
                    current = found
    text = "\n\n".join(pieces)
    if not text:
        return Choice(None, "empty", "")
    top_posted = parts[0].kind is Kind.NEW and bool(parts[0].text.strip())
    if interleaved_only and top_posted:
        return Choice(None, "ambiguous", text)
    if len(candidates) == 1 and not interleaved_only:
        return Choice(candidates[0].key, "single", text)
    if not top_posted:
        if len(followed) == 1 and None not in followed:
            return Choice(followed.pop(), "interleaved", text)
        return Choice(None, "ambiguous", text)
    if len(named) == 1 and not interleaved_only:  # a quote of what was selected
        return Choice(named.pop(), "quoted", text)
    return Choice(None, "ambiguous", text)


def _named(line: str, candidates: Sequence[Candidate]) -> int | None:
    """The thread a line names; the one with the longest marker there, if several."""
    text = line.lower()
    best: tuple[int, int] | None = None
    for candidate in candidates:
        for marker in candidate.markers:
            if marker and marker in text and (best is None or len(marker) > best[0]):
                best = (len(marker), candidate.key)
    return best[1] if best is not None else None
