"""A post's Subject as one community's members receive it: that community's prefix once,
and no other community's.

A reply to a cross-post comes back with the prefix of the copy its author
answered ("Re: [atlas] Colours"); sent to design as well, the design copy must not
read "[design] Re: [atlas] Colours". The leading run of reply and forward markers
(Re:, RE :, AW:, TR :, Fwd:, ...) and of the gateway's community prefixes is taken
apart: the prefixes are dropped, a marker repeated is said once, and the
community's own prefix goes after the markers, where Mailman puts it and where
mail clients leave it when they add their own "Re:": "Re: [design] Colours".
Only the start of the subject is looked at: a prefix quoted in its words stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# The markers clients put before a subject, in English, French, German and Nordic
# mail, with Outlook's "RE :" spacing and counters such as "Re[2]:".
_MARKER = re.compile(
    r"^\s*(?:re|fwd?|fw|tr|aw|wg|sv|vs|r[ée]f\.?)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*", re.IGNORECASE
)


def community_subject(subject: str, prefix: str, known_prefixes: Iterable[str] = ()) -> str:
    """`subject` as the community with `prefix` shows it; `known_prefixes`: the prefixes
    of the gateway's other communities, removed from its start. "RE : [atlas] Re:
    [design] Colours" for design -> "RE : [design] Colours"."""
    text = " ".join(subject.split())
    if not prefix:
        return text
    tags = sorted({p.lower() for p in (prefix, *known_prefixes) if p}, key=len, reverse=True)
    markers: list[str] = []
    seen: set[str] = set()
    while True:
        match = _MARKER.match(text)
        if match:
            marker = match.group(0).strip()
            kind = re.sub(r"[\s:]", "", marker).lower()
            if kind not in seen:  # "Re: [atlas] Re:" -> one "Re:"
                seen.add(kind)
                markers.append(marker)
            text = text[match.end() :]
            continue
        tag = next((t for t in tags if text.lower().startswith(t)), None)
        if tag is None:
            break
        text = text[len(tag) :].lstrip()
    return " ".join([*markers, prefix, text]).strip()
