"""What a mail's headers say about who sent it: our own mail back (a loop), an
automatic reply, a delivery report, list mail, or a robot. Defined once, for ingest and
actions. A post is automatic only when it says so (is_auto_reply); the email actions
answer nothing that might be automatic (is_automatic), list mail included.
"""

from __future__ import annotations

from collections.abc import Mapping

# Set on every mail the gateway sends; its value is our domain. Mail that comes back
# with it is our own.
LOOP_HEADER = "X-Gateway-Loop"

BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
AUTOMATIC_PRECEDENCE = frozenset({"bulk", "junk", "list"})
LIST_PRECEDENCE = frozenset({"bulk", "list"})
# Headers that vacation responders set besides (or instead of) Auto-Submitted.
AUTO_REPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder")
# Local parts of addresses that belong to software, not people (RFC 3834 section 2).
ROBOT_LOCAL_PARTS = frozenset(
    {
        "mailer-daemon",
        "postmaster",
        "noreply",
        "no-reply",
        "no_reply",
        "donotreply",
        "do-not-reply",
        "bounce",
        "bounces",
    }
)


def is_loop(headers: Mapping[str, str], domain: str) -> bool:
    """Our loop header, or one of our List-Ids (<slug.domain>)."""
    loop = headers.get(LOOP_HEADER.lower(), "").strip().lower()
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


def is_from_mailer(headers: Mapping[str, str], envelope_sender: str) -> bool:
    """Sent by mail software, as bounces are: a null envelope sender, a robot's From
    address (mailer-daemon, postmaster...) or X-Failed-Recipients."""
    if envelope_sender.strip("<> ") == "" or headers.get("x-failed-recipients"):
        return True
    from_local = headers.get("from", "").lower().partition("@")[0].split("<")[-1].strip()
    return from_local in ROBOT_LOCAL_PARTS


def is_auto_reply(headers: Mapping[str, str]) -> bool:
    """Mail that says it is automatic: RFC 3834 Auto-Submitted other than "no", or a
    responder's own header. Precedence alone does not say it: people's mail relayed by
    another list carries Precedence: list (see is_list_mail)."""
    auto_submitted = headers.get("auto-submitted", "").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return True
    return any(headers.get(name) for name in AUTO_REPLY_HEADERS)


def is_list_mail(headers: Mapping[str, str]) -> bool:
    """Mail relayed by a mailing list: a List-Id, or Precedence list or bulk. (Our own
    List-Ids are a loop: is_loop is asked first.)"""
    if headers.get("list-id", "").strip():
        return True
    return headers.get("precedence", "").strip().lower() in LIST_PRECEDENCE


def is_automatic(headers: Mapping[str, str], sender: str, domain: str) -> bool:
    """Auto-submitted, bulk, junk or list mail, our own mail, or a robot's address: mail
    the email actions never answer nor act on."""
    if is_loop(headers, domain) or is_auto_reply(headers) or is_list_mail(headers):
        return True
    if headers.get("precedence", "").strip().lower() in AUTOMATIC_PRECEDENCE:
        return True
    local, _, host = sender.rpartition("@")
    if host == domain:
        return True
    base = local.partition("+")[0]
    return not local or base in ROBOT_LOCAL_PARTS or base.startswith(("noreply", "no-reply"))
