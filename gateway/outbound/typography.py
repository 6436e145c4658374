"""French typography for the gateway's own mail: a no-break space before : ; ? ! and
inside « », so that a client never wraps a line between a word and its colon.

Applied to every French mail the gateway writes (the templates' words and the words
they quote alike): its subject and text, and the text of its HTML between the tags
(never inside a tag, a style or a script: CSS has " !important"). Only a space already
there is changed: "mailto:", "https://" and "06:00" have none.
"""

from __future__ import annotations

import re

NBSP = "\u00a0"
_BEFORE = re.compile(r"[ \t]+(?=[:;?!»])")
_AFTER = re.compile(r"(?<=«)[ \t]+")
# Markup left as it is: a style or script element whole, a comment, any tag.
_MARKUP = re.compile(
    r"(<style\b.*?</style\s*>|<script\b.*?</script\s*>|<!--.*?-->|<[^>]*>)",
    re.IGNORECASE | re.DOTALL,
)


def french(text: str) -> str:
    """The text with its spaces before : ; ? ! » and after « made no-break."""
    return _AFTER.sub(NBSP, _BEFORE.sub(NBSP, text))


def typeset(text: str, language: str) -> str:
    """The text as `language` writes it: French gets its no-break spaces."""
    return french(text) if language == "fr" else text


def french_html(html: str) -> str:
    """The same for the text of an HTML document, its markup untouched."""
    pieces = _MARKUP.split(html)
    # split() with one group: text at even indexes, markup at odd ones.
    return "".join(french(piece) if i % 2 == 0 else piece for i, piece in enumerate(pieces))
