"""French typography for the gateway's own mail: a no-break space before : ; ? ! and
inside « », so that a client never wraps a line between a word and its colon.

Applied to the text and subject of every French mail the gateway writes (templates and
the words they quote alike), not to its HTML: a template's CSS has " !important".
Only a space already there is changed: "mailto:", "https://" and "06:00" have none.
"""

from __future__ import annotations

import re

NBSP = "\u00a0"
_BEFORE = re.compile(r"[ \t]+(?=[:;?!»])")
_AFTER = re.compile(r"(?<=«)[ \t]+")


def french(text: str) -> str:
    """The text with its spaces before : ; ? ! » and after « made no-break."""
    return _AFTER.sub(NBSP, _BEFORE.sub(NBSP, text))
