"""Reply links (RFC 6068 mailto URIs) that open a reply to a thread or to an author, with
the thread's subject and the In-Reply-To of the message answered, so that the reply
reaches ingest as any reply and is threaded (gateway.threads) by its In-Reply-To.

Every header value is percent-encoded whole (RFC 6068 section 2: "<", ">", "@", spaces
and "+" are not left as they are), so that mail clients and urllib read back exactly
what was meant.
"""

from __future__ import annotations

import functools

from gateway.outbound.mailto import mailto
from gateway.threads.rules import normalize_subject


@functools.lru_cache(maxsize=4096)
def reply_subject(subject: str, prefixes: tuple[str, ...] = ()) -> str:
    """The subject after "Re: ", without its own reply prefixes and these community
    prefixes (the gateway adds the community's own to what it sends out): never
    "Re: Re: ...". Kept: every message of a thread page asks for the same few."""
    base, _ = normalize_subject(subject, prefixes)
    return f"Re: {base}" if base else "Re:"


def reply_mailto(address: str, subject: str, in_reply_to: str = "") -> str:
    """mailto:ADDRESS?subject=Re%3A%20...&In-Reply-To=%3Cid%3E, for a reply to a message
    whose Message-ID is `in_reply_to` (without angle brackets)."""
    replied = f"<{in_reply_to}>" if in_reply_to else ""
    return mailto(address, subject=reply_subject(subject), **{"In-Reply-To": replied})
