"""Mail the gateway writes itself (notices, replies): composed from a template and queued
with its bytes like any delivery, so it is sent, retried and resumed the same way."""

from __future__ import annotations

import copy
import datetime as dt
import email
import email.message
import email.policy
import email.utils
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy.orm import Session

from gateway.mail.headers import LOOP_HEADER
from gateway.outbound.deliveries import enqueue_mail
from gateway.settings import Settings
from gateway.store.models import Delivery

if TYPE_CHECKING:
    import jinja2

log = logging.getLogger("gateway.relay")


def compose(
    templates: jinja2.Environment,
    settings: Settings,
    key: str,
    to: str,
    values: Mapping[str, Any],
    now: dt.datetime,
    *,
    sender: str = "help",
    reply_to: str = "",
    in_reply_to: str = "",
    attached: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """A plain-text mail from templates/mail/<key>.<language>.txt: its `subject` and `body`
    blocks. Marked auto-generated (RFC 3834), so that responders do not answer it.

    `sender` is the local part of From; `reply_to` an address replies should go to
    (confirm+TOKEN@); `in_reply_to` the Message-ID answered, so that clients thread
    the answer; `attached` a mail's raw bytes, sent along as a message/rfc822 part;
    `headers` more headers (List-Unsubscribe for the monthly mail)."""
    domain = settings.gateway.domain
    template = templates.get_template(f"mail/{key}.{settings.gateway.language}.txt")
    context = template.new_context({"domain": domain, **values})
    subject = " ".join("".join(template.blocks["subject"](context)).split())
    body = "".join(template.blocks["body"](context)).lstrip("\n")
    message = email.message.EmailMessage(policy=email.policy.SMTP)
    message["From"] = f"{sender}@{domain}"
    message["To"] = to
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = email.utils.make_msgid(key.replace("_", "-"), domain=domain)
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
        message["References"] = f"<{in_reply_to}>"
    message["Auto-Submitted"] = "auto-generated"
    message[LOOP_HEADER] = domain
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body, charset="utf-8")
    if attached is not None:
        return _with_attachment(message, attached)
    return message.as_bytes()


def _with_attachment(message: email.message.EmailMessage, raw: bytes) -> bytes:
    """The mail as a message/rfc822 part, so the reader sees it as it came, headers and
    all; a mail the email package cannot re-serialize goes as a plain .eml file."""
    attempt = copy.deepcopy(message)
    try:
        attempt.add_attachment(
            email.message_from_bytes(raw, policy=email.policy.SMTP), disposition="inline"
        )
        return attempt.as_bytes()
    except Exception as error:  # any mail the email package trips on: sent as bytes
        log.warning("attached mail sent as a file: %r", error)
        message.add_attachment(
            raw, maintype="application", subtype="octet-stream", filename="message.eml"
        )
        return message.as_bytes()


def send_notice(
    session: Session,
    templates: jinja2.Environment,
    settings: Settings,
    key: str,
    to: str,
    values: Mapping[str, Any],
    now: dt.datetime,
    person_id: int | None = None,
    **options: Any,
) -> Delivery:
    """Compose a notice and queue it in the caller's transaction (options: see compose)."""
    raw = compose(templates, settings, key, to, values, now, **options)
    return enqueue_mail(session, to, raw, key, now, person_id=person_id)
