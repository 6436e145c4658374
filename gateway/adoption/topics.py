"""A topic as the adoption features compare it: folded words, matched against tags,
community descriptions and thread subjects.

Tags match by whole folded words (tag_matches): "HDS" finds "HDS certification" and
"securite" finds "Sécurité", but "art" does not find "party" or "article": a prefix
rule would make every short word a false hit, and tags are short phrases people type
in full. `gateway experts` and the archive (search filter, community experts) share it.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from collections.abc import Sequence

from sqlalchemy import ColumnElement
from sqlalchemy import SQLColumnExpression
from sqlalchemy import and_
from sqlalchemy import func

from gateway.community.people import fold_tag

# Read as spaces, so "accessibility?" matches the tag "accessibility".
PUNCTUATION = string.punctuation + "«»¿¡…“”‘’"
_SPACES = str.maketrans(PUNCTUATION, " " * len(PUNCTUATION))
# Words too common to say what a thread is about (English and French).
STOP_WORDS = frozenset(
    "a an and are at be by de des du et for how in is la le les of on or ou our pour "
    "re the to un une we what which who why with".split()
)


def unpunctuated(text: str) -> str:
    """The text with spaces for its punctuation."""
    return text.translate(_SPACES)


def words(text: str) -> tuple[str, ...]:
    """The folded words of a text, without punctuation and stop words."""
    return tuple(w for w in fold_tag(unpunctuated(text)).split() if w not in STOP_WORDS)


def folded(text: str) -> str:
    """A text folded and padded with spaces, so that " tag " finds whole words."""
    return f" {' '.join(words(text))} "


def mentions(text: str, topic: Iterable[str]) -> bool:
    """Whether every word of the topic is in the (folded) text."""
    padded = folded(text)
    wanted = list(topic)
    return bool(wanted) and all(f" {word} " in padded for word in wanted)


def tag_matches(tag: str, query: str) -> bool:
    """Whether a stated tag answers a query: every word of the query is a word of the
    tag ("testing" finds "Penetration testing"), or the whole tag is a run of the
    query's words ("web accessibility audit" finds "Accessibility")."""
    return words_match(words(tag), words(query))


def words_match(tag: Sequence[str], query: Sequence[str]) -> bool:
    """tag_matches() on words already folded (a loop over many tags folds each once)."""
    if not tag or not query:
        return False
    if set(query) <= set(tag):
        return True
    return f" {' '.join(tag)} " in f" {' '.join(query)} "


def subject_matches(subject: SQLColumnExpression[str], topic: Iterable[str]) -> ColumnElement[bool]:
    """Every word of the topic in a subject, in SQL (case-insensitive; accents as typed)."""
    return and_(*(func.lower(subject).contains(word) for word in topic))
