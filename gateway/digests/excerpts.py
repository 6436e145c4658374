"""A short excerpt of a message for a digest: its own words, without quoted text,
the attribution line before it, or the signature and list footers after it."""

from __future__ import annotations

import re

LIMIT = 280
# "On Tue, Alice wrote:", "Le 12 mars, Alice a écrit :", Outlook's "-----Original Message-----"
_ATTRIBUTION = re.compile(r"(wrote|writes|a écrit|schrieb)\s*:\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(r"^-{2,}\s*(original message|message d'origine)", re.IGNORECASE)
_FOOTER = re.compile(r"^(-- ?|_{10,}|-{10,})$")


def excerpt(text: str, limit: int = LIMIT) -> str:
    """The first `limit` characters of what the author wrote, on one line."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if _FOOTER.match(stripped) or _ORIGINAL.match(stripped):
            break
        if stripped.startswith(">") or _ATTRIBUTION.search(stripped):
            continue
        if stripped:
            kept.append(stripped)
        if sum(map(len, kept)) > limit:
            break
    words = " ".join(" ".join(kept).split())
    if len(words) <= limit:
        return words
    return words[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
