"""Mail the gateway writes itself (notices, replies): composed from a template and queued
with its bytes like any delivery, so it is sent, retried and resumed the same way."""

from __future__ import annotations

import datetime as dt
import email.message
import email.policy
import email.utils
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy.orm import Session

from gateway.outbound.deliveries import enqueue_mail
from gateway.outbound.render import LOOP_HEADER
from gateway.settings import Settings
from gateway.store.models import Delivery

if TYPE_CHECKING:
    import jinja2


def compose(
    templates: jinja2.Environment,
    settings: Settings,
    key: str,
    to: str,
    values: Mapping[str, Any],
    now: dt.datetime,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """A plain-text mail from templates/mail/<key>.<language>.txt: its `subject` and `body`
    blocks. Marked auto-generated (RFC 3834), so that responders do not answer it.
    `headers` adds more (List-Unsubscribe for the monthly mail)."""
    domain = settings.gateway.domain
    template = templates.get_template(f"mail/{key}.{settings.gateway.language}.txt")
    context = template.new_context({"domain": domain, **values})
    subject = " ".join("".join(template.blocks["subject"](context)).split())
    body = "".join(template.blocks["body"](context)).lstrip("\n")
    message = email.message.EmailMessage(policy=email.policy.SMTP)
    message["From"] = f"help@{domain}"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = email.utils.make_msgid(key.replace("_", "-"), domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message[LOOP_HEADER] = domain
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body, charset="utf-8")
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
) -> Delivery:
    """Compose a notice and queue it in the caller's transaction."""
    raw = compose(templates, settings, key, to, values, now)
    return enqueue_mail(session, to, raw, key, now, person_id=person_id)
