"""A short excerpt of a message for a digest and the monthly mails: the first words of
what its author wrote now, on one line. What is quoted, the attribution and the
signature are told apart by gateway.mail.trim, the one set of reply rules."""

from __future__ import annotations

import re

from gateway.mail.trim import new_text

LIMIT = 280
# A message that is all quotes is shown whole (gateway.mail.trim): without its marks.
_QUOTE_MARKS = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.MULTILINE)


def excerpt(text: str, limit: int = LIMIT) -> str:
    """The first `limit` characters of what the author wrote, on one line."""
    words = " ".join(_QUOTE_MARKS.sub("", new_text(text)).split())
    if len(words) <= limit:
        return words
    return words[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
