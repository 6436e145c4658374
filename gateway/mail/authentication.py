"""What an Authentication-Results header (RFC 8601) says of a mail's From domain: whether
DMARC passed for it, or a DKIM signature of a domain aligned with it verified.

Read simply and strictly: only the first (topmost) header, the one the nearest relay
added, and only when that relay is trusted (the caller's decision): any header further
down could have been written by the sender.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gateway.mail.headers import without_comments

_RESULT = re.compile(r"^([a-z0-9-]+)\s*=\s*([a-z0-9-]+)\s*(.*)$", re.DOTALL)
_PROPERTY = re.compile(r'([a-z0-9-]+)\.([a-z0-9-]+)\s*=\s*("[^"]*"|[^\s;]+)')


def results(value: str) -> list[tuple[str, str, dict[str, str]]]:
    """The (method, result, {ptype.property: value}) of each result of one
    Authentication-Results value, lowercased; the authserv-id is left out."""
    _authserv_id, _, rest = without_comments(value).partition(";")
    found: list[tuple[str, str, dict[str, str]]] = []
    for item in rest.split(";"):
        match = _RESULT.match(item.strip().lower())
        if match is None:
            continue
        method, result, tail = match.groups()
        properties = {
            f"{ptype}.{name}": text.strip('"') for ptype, name, text in _PROPERTY.findall(tail)
        }
        found.append((method, result, properties))
    return found


def aligned(domain: str, signer: str) -> bool:
    """Relaxed alignment (RFC 7489 section 3.1.1) without a public-suffix list: the
    signing domain is the From domain or a parent of it that is not a top-level one."""
    domain, signer = domain.lower().rstrip("."), signer.lower().rstrip(".")
    return bool(signer) and "." in signer and (domain == signer or domain.endswith("." + signer))


def authenticates(values: Sequence[str], from_address: str) -> bool:
    """Whether the first Authentication-Results value shows dmarc=pass for the From
    domain, or dkim=pass with a d= aligned with it."""
    if not values or "@" not in from_address:
        return False
    domain = from_address.rpartition("@")[2].lower()
    for method, result, properties in results(values[0]):
        if result != "pass":
            continue
        if method == "dmarc" and properties.get("header.from") == domain:
            return True
        if method == "dkim" and aligned(domain, properties.get("header.d", "")):
            return True
    return False
