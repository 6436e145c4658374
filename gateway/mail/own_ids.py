"""The gateway's own Message-IDs, recognized in a reply's In-Reply-To and References.

Every mail the gateway writes has a Message-ID of its domain (gateway.outbound.composer:
make_msgid(kind, domain), or a digest's digest_message_id here), and no
one else writes from that domain (gateway.ingest.stages.screen): a reply naming such an
id answers the gateway's own mail (a notice, a monthly mail, a digest).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGEST = re.compile(r"digest\.(daily|weekly)\.([0-9W-]{4,16})\.([0-9]+)")


@dataclass(frozen=True)
class DigestId:
    """What a digest's Message-ID names: its cadence, period and reader."""

    cadence: str
    period: str
    person_id: int


def is_own(message_id: str, domain: str) -> bool:
    """Whether a Message-ID (without angle brackets) was made by the gateway of `domain`."""
    local, at, host = message_id.strip().strip("<>").rpartition("@")
    return bool(at and local) and host.lower().rstrip(".") == domain.lower()


def digest_message_id(cadence: str, period: str, person_id: int, domain: str) -> str:
    """A digest's Message-ID (with angle brackets): digest.CADENCE.PERIOD.PERSON@domain,
    which digest_id reads back."""
    return f"<digest.{cadence}.{period}.{person_id}@{domain}>"


def digest_id(message_id: str, domain: str) -> DigestId | None:
    """The digest a Message-ID names, or None for any other id."""
    if not is_own(message_id, domain):
        return None
    match = _DIGEST.fullmatch(message_id.strip().strip("<>").rpartition("@")[0])
    if match is None:
        return None
    cadence, period, person_id = match.groups()
    return DigestId(cadence, period, int(person_id))
