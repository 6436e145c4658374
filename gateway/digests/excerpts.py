"""A short excerpt of a message for a digest: its own words, without quoted text,
the attribution line before it, or the signature and list footers after it."""

from __future__ import annotations

import re

LIMIT = 280
# "On Tue, Alice wrote:", "Le 12 mars, Alice a écrit :", "Am 12.03. schrieb Alice <a@b>:",
# and Outlook's "-----Original Message-----"
_ATTRIBUTION = re.compile(r"\b(wrote|writes|a écrit|schrieb)\b.*:\s*$", re.IGNORECASE)
# The first line of an attribution that a client wrapped: "On Tue, Aug 3, 2010, Bounine,"
_ATTRIBUTION_START = re.compile(r"^(on|le|am)\s", re.IGNORECASE)
_ORIGINAL = re.compile(r"^-{2,}\s*(original message|message d'origine)", re.IGNORECASE)
_FOOTER = re.compile(r"^(-- ?|_{10,}|-{10,})$")


def excerpt(text: str, limit: int = LIMIT) -> str:
    """The first `limit` characters of what the author wrote, on one line."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if _FOOTER.match(stripped) or _ORIGINAL.match(stripped):
            break
        if _ATTRIBUTION.search(stripped):
            if (
                kept
                and _ATTRIBUTION_START.match(kept[-1])
                and not _ATTRIBUTION_START.match(stripped)
            ):
                kept.pop()  # its first half, wrapped onto the line before
            continue
        if stripped.startswith(">"):
            continue
        if stripped:
            kept.append(stripped)
        if sum(map(len, kept)) > limit:
            break
    words = " ".join(" ".join(kept).split())
    if len(words) <= limit:
        return words
    return words[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
