"""Stage screen: drop our own mail coming back and automatic replies; spot delivery reports.

Reports (DSNs) are not posts: the store stage records them for bounce handling.
Imported archives are list mail by nature (List-Id, Precedence: list): only
their delivery reports are left out.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.ingest.context import IngestContext
from gateway.ingest.errors import Discard
from gateway.ingest.errors import Reason
from gateway.store.models import Origin

# Set on every mail the gateway sends (issue "Mail out"); its value is our domain.
LOOP_HEADER = "x-gateway-loop"
BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
AUTOMATIC_PRECEDENCE = frozenset({"bulk", "junk", "list"})
# Headers that vacation responders set besides (or instead of) Auto-Submitted.
AUTO_REPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder")


def run(ctx: IngestContext) -> None:
    assert ctx.parsed is not None
    headers = ctx.parsed.headers
    if ctx.mail.origin is Origin.IMPORT:
        if is_delivery_report(headers, ctx.mail.mail_from):
            raise Discard(Reason.REPORT_IN_ARCHIVE)
        return
    if is_loop(headers, ctx.domain):
        raise Discard(Reason.LOOP)
    if is_delivery_report(headers, ctx.mail.mail_from):
        ctx.is_report = True
        return
    if is_auto_reply(headers):
        raise Discard(Reason.AUTO_REPLY)


def is_loop(headers: Mapping[str, str], domain: str) -> bool:
    """Our loop header, or one of our List-Ids (<slug.domain>)."""
    loop = headers.get(LOOP_HEADER, "").strip().lower()
    list_id = headers.get("list-id", "").strip().lower().rstrip(">")
    return loop == domain or list_id.endswith("." + domain)


def is_delivery_report(headers: Mapping[str, str], envelope_sender: str) -> bool:
    """An RFC 3464 report, or an older plain-text bounce: null sender, from a mailer daemon."""
    content_type = headers.get("content-type", "").lower()
    if content_type.startswith("message/delivery-status") or (
        content_type.startswith("multipart/report") and "delivery-status" in content_type
    ):
        return True
    from_local = headers.get("from", "").lower().partition("@")[0].split("<")[-1].strip()
    return envelope_sender.strip("<> ") == "" and from_local in BOUNCE_SENDERS


def is_auto_reply(headers: Mapping[str, str]) -> bool:
    """RFC 3834 Auto-Submitted, Precedence bulk/junk/list, or a responder's own header."""
    auto_submitted = headers.get("auto-submitted", "").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return True
    if headers.get("precedence", "").strip().lower() in AUTOMATIC_PRECEDENCE:
        return True
    return any(headers.get(name) for name in AUTO_REPLY_HEADERS)
