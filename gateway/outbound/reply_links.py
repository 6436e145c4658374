"""Reply links (RFC 6068 mailto URIs) that open a reply to a thread or to an author, with
the thread's subject and the In-Reply-To of the message answered, so that the reply
reaches ingest as any reply and is threaded (gateway.threads) by its In-Reply-To.

Every header value is percent-encoded whole (RFC 6068 section 2: "<", ">", "@", spaces
and "+" are not left as they are), so that mail clients and urllib read back exactly
what was meant.
"""

from __future__ import annotations

from gateway.outbound.mailto import mailto
from gateway.threads.rules import normalize_subject


def reply_subject(subject: str) -> str:
    """The subject after "Re: ", without its own reply prefixes: never "Re: Re: ..."."""
    base, _ = normalize_subject(subject)
    return f"Re: {base}" if base else "Re:"


def reply_mailto(address: str, subject: str, in_reply_to: str = "") -> str:
    """mailto:ADDRESS?subject=Re%3A%20...&In-Reply-To=%3Cid%3E, for a reply to a message
    whose Message-ID is `in_reply_to` (without angle brackets)."""
    replied = f"<{in_reply_to}>" if in_reply_to else ""
    return mailto(address, subject=reply_subject(subject), **{"In-Reply-To": replied})
