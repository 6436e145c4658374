"""A post's Subject as one community's members receive it: that community's prefix once,
and no other community's.

A reply to a cross-post comes back with the prefix of the copy its author
answered ("Re: [atlas] Colours"); sent to design as well, the design copy must not
read "[design] Re: [atlas] Colours". The leading run of reply and forward markers
(Re:, RE :, AW:, TR :, Fwd:, ...: the ones threading knows, gateway.threads.rules)
and of the gateway's community prefixes is taken apart: the prefixes are dropped, a
marker repeated is said once, and the community's own prefix goes after the markers,
where Mailman puts it and where mail clients leave it when they add their own "Re:":
"Re: [design] Colours".
Only the start of the subject is looked at: a prefix quoted in its words stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.threads.rules import split_markers


def community_subject(subject: str, prefix: str, known_prefixes: Iterable[str] = ()) -> str:
    """`subject` as the community with `prefix` shows it; `known_prefixes`: the prefixes
    of the gateway's other communities, removed from its start. "RE : [atlas] Re:
    [design] Colours" for design -> "RE : [design] Colours"."""
    text = " ".join(subject.split())
    if not prefix:
        return text
    found, text = split_markers(text, (prefix, *known_prefixes))
    markers: list[str] = []
    seen: set[str] = set()
    for marker in found:
        kind = re.sub(r"[\s:]", "", marker).lower()
        if kind not in seen:  # "Re: [atlas] Re:" -> one "Re:"
            seen.add(kind)
            markers.append(marker)
    return " ".join([*markers, prefix, text]).strip()
