"""Whether a reply's own words only say "solved" or "résolu" (issue 22, point 2).

Read on the words the sender wrote now (gateway.mail.trim: quotes and signature left
out), case- and accent-folded, punctuation and emoji ignored: "Solved!", "Résolu,
merci", "C'est résolu 🎉", "Problem solved, thanks all". Besides one of the words that
say it, only courtesy and a few joining words may be there, and the names given: the
sender's own (signed without "-- ") and the answered author's ("Solved, thanks Bob",
"Merci Alice, résolu"), as gateway.mail.reactions reads thanks; a question ("Résolu ?",
"Is it solved") or anything else ("not solved", "pas encore résolu", a sentence about
it) is a post like any other.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

SOLVED = frozenset({"solved", "resolved", "resolu", "resolue", "resolus", "resolues"})
# What may stand beside it, folded like the reply's words.
COURTESY = frozenset(
    "c est ca it s is its this now maintenant problem probleme issue question the le la "
    "merci thanks thank you thx ty beaucoup much very so a tous all everyone bien bon ok "
    "okay great parfait perfect super top".split()
)
# Words that open a question even without its "?" ("Is it solved").
QUESTION_OPENINGS = frozenset({"is", "was", "has", "est"})
# Longer own text is a message, not a mark.
MAX_CHARS = 80
_WORD = re.compile(r"[a-z0-9]+")


def says_solved(own_text: str, names: Iterable[str] = ()) -> bool:
    """Whether `own_text` only says the thread is solved; `names`: the sender's and the
    answered author's."""
    # NFKC first: a full-width "？" is a question mark too.
    if not own_text.strip() or len(own_text) > MAX_CHARS or "?" in _nfkc(own_text):
        return False
    words = _words(own_text)
    if words and words[0] in QUESTION_OPENINGS:
        return False
    allowed = COURTESY.union(*(_words(name) for name in names))
    said = [w for w in words if w in SOLVED]
    return bool(said) and all(w in SOLVED or w in allowed for w in words)


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return _WORD.findall(plain)


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)
