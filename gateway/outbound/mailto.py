"""mailto: URIs (RFC 6068), the one builder behind every link and list header the
gateway writes (reply links, one-click moderation, List-* fields, addresses made links
in HTML): each field value is percent-encoded whole, so that mail clients and urllib
read back exactly what was meant.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

# RFC 6068 2: "@" and "+" may stand as they are in the address ("confirm+TOKEN@").
_ADDRESS_SAFE = "@+"


def mailto(address: str, **fields: str) -> str:
    """mailto:ADDRESS?name=value&..., in the order given; empty values are left out. A
    header name that is no Python name goes through a dict:
    mailto(a, subject="Re: x", **{"In-Reply-To": "<id>"}). Every value is encoded whole
    ("<", ">", "@", spaces and "+" too: RFC 6068 2)."""
    query = "&".join(f"{name}={_encoded(value)}" for name, value in fields.items() if value)
    uri = f"mailto:{quote(address, safe=_ADDRESS_SAFE)}"
    return f"{uri}?{query}" if query else uri


@functools.lru_cache(maxsize=4096)
def _encoded(value: str) -> str:
    """A field value percent-encoded whole. Kept: a thread page's links share their
    subject and References, a list's copies their List-* values."""
    return quote(value, safe="")
