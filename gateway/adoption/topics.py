"""A topic as the adoption features compare it: folded words, matched against tags,
community descriptions and thread subjects."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement
from sqlalchemy import SQLColumnExpression
from sqlalchemy import and_
from sqlalchemy import func

from gateway.community.people import fold_tag
from gateway.digests.news import PUNCTUATION

_SPACES = str.maketrans(PUNCTUATION, " " * len(PUNCTUATION))
# Words too common to say what a thread is about (English and French).
STOP_WORDS = frozenset(
    "a an and are at be by de des du et for how in is la le les of on or ou our pour "
    "re the to un une we what which who why with".split()
)


def words(text: str) -> tuple[str, ...]:
    """The folded words of a text, without punctuation and stop words."""
    return tuple(w for w in fold_tag(text.translate(_SPACES)).split() if w not in STOP_WORDS)


def folded(text: str) -> str:
    """A text folded and padded with spaces, so that " tag " finds whole words."""
    return f" {' '.join(words(text))} "


def mentions(text: str, topic: Iterable[str]) -> bool:
    """Whether every word of the topic is in the (folded) text."""
    padded = folded(text)
    wanted = list(topic)
    return bool(wanted) and all(f" {word} " in padded for word in wanted)


def subject_matches(subject: SQLColumnExpression[str], topic: Iterable[str]) -> ColumnElement[bool]:
    """Every word of the topic in a subject, in SQL (case-insensitive; accents as typed)."""
    return and_(*(func.lower(subject).contains(word) for word in topic))
