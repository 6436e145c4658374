"""Bounces: which recipients a delivery status notification reports on, and how badly.

RFC 3464 reports are read field by field here, for what flufl.bounce does not give: the
status code and the diagnostic that owners are shown. Every other bounce (qmail, Exim,
Exchange, Yahoo, plain-text Postfix...) is read by flufl.bounce, the detectors GNU
Mailman maintains (gateway.mail.bounce_scan), and only when the mail comes from a
mailer, because unsubscribing the wrong member is worse than missing a bounce.
Bounces come from strangers: work is bounded and no exception escapes `parse_bounce`.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import logging
import re
from dataclasses import dataclass
from email.header import Header
from email.header import decode_header
from email.message import Message

from gateway.mail.bounce_scan import scan_bounce
from gateway.mail.structure import too_complex

log = logging.getLogger("gateway.bounces")

ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})
_MAX_DEPTH = 8  # multipart nesting followed; an enclosed message/rfc822 is never opened
_MAX_PARTS = 200  # MIME parts looked at, and blocks read per delivery-status part
_MAX_DIAGNOSTIC = 500

_ADDRESS = r"[^\s<>@,;:\"()\[\]\ufffd]+@[^\s<>@,;:\"()\[\]\ufffd]+"
_BARE_ADDRESS = re.compile(_ADDRESS)
# RFC 3463 class.subject.detail
_STATUS = re.compile(r"(?<![\w.])[245]\.\d{1,3}\.\d{1,3}(?!\.?\d)")
_TYPE_PREFIX = re.compile(r"\s*[A-Za-z][A-Za-z0-9-]*\s*;")  # "rfc822;", "smtp;", "utf-8;"
# Exchange 2003-2010 notices (which flufl.bounce does not read), in any language:
# "dave@corp.example.org on 03/12/2026 10:20" ("le" in French, "am" in German...), then
# the server's "<host #5.1.1>" a few lines below.
_EXCHANGE_RECIPIENT = re.compile(rf"^[ \t]*({_ADDRESS})[ \t]+\w{{1,4}}[ \t]+\d", re.MULTILINE)
_EXCHANGE_STATUS = re.compile(r"#([45]\.\d{1,3}\.\d{1,3})>")
_MAX_TEXT = 64 * 1024  # characters of an Exchange notice read
_DAEMONS = ("mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster")
_ENVELOPE_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Return-Path", "Delivered-To")


@dataclass(frozen=True)
class BounceReport:
    """What a bounce says about one recipient."""

    recipient: str
    action: str
    status: str
    diagnostic: str

    @property
    def permanent(self) -> bool:
        if self.action in ACTIONS:
            return self.action == "failed"
        return self.status.startswith("5")

    @property
    def transient(self) -> bool:
        return not self.permanent and (self.action == "delayed" or self.status.startswith("4"))


def parse_bounce(raw: bytes, null_sender: bool = False) -> list[BounceReport]:
    """Every recipient a bounce reports on; [] when the mail is not a recognisable bounce.

    `null_sender`: it came with a null envelope sender, so a mailer sent it, whatever
    its headers say."""
    found: dict[str, BounceReport] = {}
    if too_complex(raw):  # the stdlib would exhaust its stack; no real bounce nests so
        log.debug("bounce past the structure bounds, not read")
        return []
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        parts = _parts(msg)
        for part in parts:
            if part.get_content_type() == "message/delivery-status":
                _read_status_part(part, found)
        if not found and (null_sender or _looks_automated(msg)):
            _read_other_bounce(msg, raw, found)
        if not found and msg.get("X-MS-Embedded-Report") is not None:
            _read_exchange_ndr(parts, found)
    except Exception:  # hostile input: keep what was read, never fail the caller
        log.debug("unreadable bounce, kept %d report(s)", len(found), exc_info=True)
    return list(found.values())


def _parts(msg: Message) -> list[Message]:
    """The parts in document order, opening multiparts (bounded) but never an enclosed mail."""
    out: list[Message] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack and len(out) < _MAX_PARTS:
        part, depth = stack.pop()
        out.append(part)
        payload = part.get_payload()
        if part.get_content_maintype() == "multipart" and isinstance(payload, list):
            if depth < _MAX_DEPTH:
                children = [child for child in payload[:_MAX_PARTS] if isinstance(child, Message)]
                stack.extend((child, depth + 1) for child in reversed(children))
    return out


def _read_status_part(part: Message, found: dict[str, BounceReport]) -> None:
    # The stdlib parses message/delivery-status into one Message per block: the first holds
    # the per-message fields, the others one recipient each (RFC 3464 section 2.1). Blocks
    # are told apart by their fields, since broken reporters omit the per-message block.
    blocks = part.get_payload()
    if not isinstance(blocks, list):
        return
    for block in blocks[:_MAX_PARTS]:
        if not isinstance(block, Message):
            continue
        recipient = _recipient(_field(block, "Final-Recipient")) or _recipient(
            _field(block, "Original-Recipient")
        )
        words = _field(block, "Action").lower().split()
        status = _STATUS.search(_field(block, "Status"))
        if not recipient or not (words or status):  # both are required; a cut block says nothing
            continue
        action = words[0][:20] if words else ""
        diagnostic = _one_line(_untyped(_field(block, "Diagnostic-Code")))
        _add(found, BounceReport(recipient, action, status.group() if status else "", diagnostic))


def _read_other_bounce(msg: Message, raw: bytes, found: dict[str, BounceReport]) -> None:
    """A bounce without a readable report: what flufl.bounce finds, failed or delayed;
    never an address of the bounce's own headers (its sender, or us)."""
    headers = [_field(msg, name) for name in _ENVELOPE_HEADERS]
    ours = {address.lower() for _, address in email.utils.getaddresses(headers) if address}
    failures = scan_bounce(raw)
    for action, addresses in (("failed", failures.permanent), ("delayed", failures.temporary)):
        for address in sorted(addresses)[:_MAX_PARTS]:
            recipient = _recipient(address)
            if recipient and recipient not in ours:
                _add(found, BounceReport(recipient, action, "", ""))


def _read_exchange_ndr(parts: list[Message], found: dict[str, BounceReport]) -> None:
    """An Exchange notice without a report: each address line with the status below it."""
    part = next((p for p in parts if p.get_content_type() == "text/plain"), None)
    if part is None:
        return
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return
    text = data[:_MAX_TEXT].decode(part.get_content_charset() or "latin-1", "replace")
    heads = list(_EXCHANGE_RECIPIENT.finditer(text))[:_MAX_PARTS]
    for head, following in zip(heads, [*heads[1:], None], strict=True):
        block = text[head.end() : following.start() if following else len(text)]
        status = _EXCHANGE_STATUS.search(block)
        recipient = _recipient(head.group(1))
        if recipient and status:
            code = status.group(1)
            action = "failed" if code.startswith("5") else "delayed"
            _add(found, BounceReport(recipient, action, code, ""))


def _add(found: dict[str, BounceReport], report: BounceReport) -> None:
    if report.recipient not in found and len(found) < _MAX_PARTS:
        found[report.recipient] = report


def _looks_automated(msg: Message) -> bool:
    """Whether a mail without a report is from a mailer, not a person quoting an error."""
    sender = email.utils.parseaddr(_field(msg, "From"))[1].lower()
    envelope = (_field(msg, "Return-Path") or _field(msg, "X-Envelope-From")).strip()
    return (
        sender.startswith(_DAEMONS)
        or envelope == "<>"
        or msg.get_content_type() == "multipart/report"
        or bool(_field(msg, "X-Failed-Recipients"))
    )


def _untyped(value: str) -> str:
    prefix = _TYPE_PREFIX.match(value)
    return value[prefix.end() :] if prefix else value


def _recipient(value: str) -> str:
    """`rfc822; <User@Example.com>` -> `user@example.com`; "" when it is not an address."""
    address = _untyped(value).strip().removeprefix("<").removesuffix(">").strip().lower()
    return address if _BARE_ADDRESS.fullmatch(address) and len(address) <= 254 else ""


def _field(msg: Message, name: str) -> str:
    value = msg.get(name)
    if isinstance(value, Header):  # compat32 wraps raw 8-bit fields; read them as UTF-8 (RFC 6533)
        value = "".join(
            chunk.decode("utf-8", "replace") if isinstance(chunk, bytes) else chunk
            for chunk, _ in decode_header(value)
        )
    return "" if value is None else str(value).encode("utf-8", "replace").decode("utf-8")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:_MAX_DIAGNOSTIC]
