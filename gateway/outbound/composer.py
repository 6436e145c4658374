"""Every mail the gateway writes itself: a template pair rendered for a kind and a
language, the headers all such mail carries, the list headers, and notices queued.

Every kind goes out as multipart/alternative, its text first, then its HTML in the
one shared layout (templates/mail/layout.html): a kind with an HTML template of its
own (the digest) extends the layout; the others have their text converted into it
(gateway.outbound.text_html), so that each wording is written once. Images shown in
the HTML (the digest's thumbnails) go with it in a multipart/related, by cid.

Notices (answers to email actions, held and bounce notices), digests, monthly mails
and import announcements are all built here; a member's copy of a post is not
(gateway.outbound.render keeps the post's own bytes), but its list headers are.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from sqlalchemy.orm import Session

from gateway.mail.headers import LOOP_HEADER
from gateway.outbound import text_html
from gateway.outbound.deliveries import enqueue_mail
from gateway.outbound.mailto import mailto
from gateway.outbound.mime import CRLF
from gateway.outbound.mime import MAX_LINE
from gateway.outbound.mime import fold
from gateway.outbound.mime import multipart
from gateway.outbound.mime import to_crlf
from gateway.outbound.one_click import POST_FIELD
from gateway.outbound.one_click import has_post_field
from gateway.outbound.typography import french
from gateway.outbound.typography import french_html
from gateway.settings import Settings
from gateway.store.models import Delivery

log = logging.getLogger("gateway.relay")
# Notices to a community's moderators and owners about that community: From them
# (templates/mail/sender.<language>.txt names them).
MODERATOR_KINDS = frozenset({"action_held", "action_join_request", "bounce_disabled"})
# RFC 5321 4.5.3.1.6: a line of text is at most 1000 octets with its CRLF.
MAX_SMTP_LINE = 998


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML shows by `cid:<content_id>`, sent in the mail itself: clients
    block remote images, and a thumbnail must not tell anyone who opened the mail."""

    content_id: str  # without angle brackets
    data: bytes
    mime_type: str = "image/png"
    filename: str = "image.png"

    def part(self) -> bytes:
        return b"".join(
            (
                fold("Content-Type", f'{self.mime_type}; name="{self.filename}"'),
                fold("Content-Transfer-Encoding", "base64"),
                fold("Content-ID", f"<{self.content_id}>"),
                fold("Content-Disposition", f'inline; filename="{self.filename}"'),
                CRLF,
                to_crlf(base64.encodebytes(self.data)),
            )
        )


@dataclass(frozen=True)
class Parts:
    """What a mail says, rendered from its template pair, before any header."""

    subject: str
    text: str
    html: str | None = None
    images: tuple[InlineImage, ...] = ()
    # The From display name (templates/mail/sender.<language>.txt); "": the gateway's.
    sender: str = ""


@dataclass(frozen=True)
class ListFields:
    """The list a mail comes from, as RFC 2919 (List-Id) and RFC 2369 (the URIs) say it."""

    id: str = ""  # "Design <design.example.org>"
    post: str = ""
    help: str = ""
    subscribe: str = ""
    unsubscribe: tuple[str, ...] = ()
    archive: str = ""
    # The person's one-click URL (gateway.outbound.one_click), listed before the mailtos.
    one_click: str = ""

    def headers(self) -> list[tuple[str, str]]:
        """The fields in one order, each URI in angle brackets. Mail from a list (it has a
        List-Id) is also Precedence: list, so that responders leave it alone (RFC 3834 2).
        List-Unsubscribe-Post only with an https one-click URL (RFC 8058 3.1)."""
        fields = [
            ("List-Id", self.id),
            ("List-Post", _uris(self.post)),
            ("List-Help", _uris(self.help)),
            ("List-Subscribe", _uris(self.subscribe)),
            ("List-Unsubscribe", _uris(self.one_click, *self.unsubscribe)),
            POST_FIELD if has_post_field(self.one_click) else ("", ""),
            ("List-Archive", _uris(self.archive)),
            ("Precedence", "list" if self.id else ""),
        ]
        return [(name, value) for name, value in fields if value]


def community_list(domain: str, slug: str, name: str, archive_url: str = "") -> ListFields:
    """A community's list fields: post to its address, ask for help, join and leave by
    mail to its action addresses."""
    return ListFields(
        id=f"{name} <{slug}.{domain}>",
        post=mailto(f"{slug}@{domain}"),
        help=mailto(f"{slug}-help@{domain}", subject="help"),
        subscribe=mailto(f"{slug}-join@{domain}", subject="join"),
        unsubscribe=(mailto(f"{slug}-leave@{domain}", subject="leave"),),
        archive=archive_url,
    )


def _uris(*uris: str) -> str:
    return ", ".join(f"<{uri}>" for uri in uris if uri)


class Composer:
    """Renders and builds the gateway's own mail for its domain and language."""

    def __init__(self, templates: jinja2.Environment, settings: Settings) -> None:
        self.templates = templates
        self.domain = settings.gateway.domain
        self.language = settings.gateway.language
        # Dates and times are said in this zone unless the caller gives the reader's.
        self.zone = settings.digests.timezone
        self.name = settings.gateway.name
        self._html: dict[str, jinja2.Template | None] = {}

    def render(self, kind: str, values: Mapping[str, Any], heading: str = "") -> Parts:
        """templates/mail/<kind>.<language>.txt, its `subject` and `body` blocks, and its
        HTML: the <kind>.<language>.html beside it when there is one (it extends the
        layout), else the text converted into the layout. `heading` heads the HTML
        (without it, the community the values name, else the gateway's name).

        `zone` in values is the reader's time zone (gateway.outbound.wording says dates
        and times in it); without it, or when it is empty, the configured one."""
        values = {"domain": self.domain, **values, "zone": values.get("zone") or self.zone}
        template = self.templates.get_template(f"mail/{kind}.{self.language}.txt")
        context = template.new_context(values)
        subject = " ".join("".join(template.blocks["subject"](context)).split())
        text = "".join(template.blocks["body"](context)).lstrip("\n")
        sender = self._sender(kind, values)
        layout = {
            "lang": self.language,
            "title": subject,
            "preheader": "",
            "heading": heading or self._heading(values),
        }
        # `style` and `linkify` are the environment's globals (gateway.app).
        own = self._html_template(kind)
        if own is not None:
            # Its own HTML says the text again: only the preheader is taken from it.
            layout["preheader"] = text_html.preheader(text)
            html = own.render({**values, "layout": layout, "from_name": sender})
        else:
            converted = text_html.convert(text)
            layout["preheader"] = converted.preheader
            html = self.templates.get_template("mail/layout.html").render(
                {**values, "layout": layout, "content": converted.body, "footer": converted.footer}
            )
        if self.language == "fr":
            subject, text, html = french(subject), french(text), french_html(html)
            sender = french(sender)
        return Parts(subject, text, html, sender=sender)

    def _sender(self, kind: str, values: Mapping[str, Any]) -> str:
        """The From display name: the community's moderators for their notices, a
        digest's name, else the gateway's (templates/mail/sender.<language>.txt)."""
        template = self.templates.get_template(f"mail/sender.{self.language}.txt")
        named = {
            **values,
            "kind": kind,
            "gateway_name": self.name,
            "moderator_kinds": MODERATOR_KINDS,
        }
        return " ".join(template.render(named).split())

    def _heading(self, values: Mapping[str, Any]) -> str:
        community = values.get("community")
        if isinstance(community, Mapping) and community.get("name"):
            return str(community["name"])
        return self.name

    def compose(
        self, kind: str, to: str, values: Mapping[str, Any], now: dt.datetime, **options: Any
    ) -> bytes:
        """The mail of `kind` to `to`, rendered from `values` (options: see message),
        From the community's moderators for their notices, else from the gateway."""
        return self.message(self.render(kind, values), to, now, kind=kind, **options)

    def message(
        self,
        parts: Parts,
        to: str,
        now: dt.datetime,
        *,
        kind: str,
        sender: str = "help",
        sender_name: str | None = None,
        reply_to: str = "",
        in_reply_to: str = "",
        message_id: str = "",
        list_fields: ListFields | None = None,
        attached: bytes | None = None,
        automatic: bool = True,
    ) -> bytes:
        """The whole mail: text, or text and HTML as multipart/alternative (the HTML and
        its images in a multipart/related).

        `sender` is the local part of From, `sender_name` its display name (without
        it, the one the parts name, else the gateway's name); `reply_to` an address
        replies should go to (confirm+TOKEN@); `in_reply_to` the Message-ID answered,
        so that clients thread the answer; `message_id` one chosen by the caller
        (without it, a new one named after `kind`); `attached` a mail's raw bytes, sent
        along as a message/rfc822 part. Mail is marked auto-generated (RFC 3834) and
        with our loop header, so that responders do not answer it and it never comes
        back in; not when `automatic` is False: a post the gateway writes into a
        community goes through ingest like any.
        """
        name = (parts.sender or self.name) if sender_name is None else sender_name
        fields = [("From", email.utils.formataddr((name, f"{sender}@{self.domain}"))), ("To", to)]
        if reply_to:
            fields.append(("Reply-To", reply_to))
        fields.append(("Subject", parts.subject))
        fields.append(("Date", email.utils.format_datetime(now)))
        message_id = message_id or email.utils.make_msgid(kind.replace("_", "-"), self.domain)
        fields.append(("Message-ID", message_id))
        if in_reply_to:
            fields.append(("In-Reply-To", f"<{in_reply_to}>"))
            fields.append(("References", f"<{in_reply_to}>"))
        if list_fields is not None:
            fields.extend(list_fields.headers())
        if automatic:
            fields.append(("Auto-Submitted", "auto-generated"))
            fields.append((LOOP_HEADER, self.domain))
        content = _text("plain", parts.text)
        if parts.html is not None:
            html = _text("html", parts.html)
            if parts.images:
                html = multipart(
                    "related",
                    [html, *(image.part() for image in parts.images)],
                    'type="text/html"',
                )
            content = multipart("alternative", [content, html])
        if attached is not None:
            content = multipart("mixed", [content, _attached(attached)])
        head = b"".join(fold(name, value) for name, value in fields)
        return head + fold("MIME-Version", "1.0") + content

    def _html_template(self, kind: str) -> jinja2.Template | None:
        if kind not in self._html:
            try:
                html = self.templates.get_template(f"mail/{kind}.{self.language}.html")
            except jinja2.TemplateNotFound:
                html = None
            self._html[kind] = html
        return self._html[kind]


def _text(subtype: str, text: str) -> bytes:
    """A text part in UTF-8: as it is when it is short-lined ASCII, else quoted-printable
    (RFC 2045 6.7), so that the mail is 7-bit safe for any relay, 8BITMIME or not."""
    data = text.encode("utf-8").replace(b"\r\n", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"
    if data.isascii() and max(len(line) for line in data.split(b"\n")) <= MAX_LINE:
        encoding, body = "7bit", data
    else:
        encoding, body = "quoted-printable", binascii.b2a_qp(data, istext=True)
    return b"".join(
        (
            fold("Content-Type", f'text/{subtype}; charset="utf-8"'),
            fold("Content-Transfer-Encoding", encoding),
            CRLF,
            to_crlf(body),
        )
    )


def _attached(raw: bytes) -> bytes:
    """A mail sent along as it came, headers and all, as a message/rfc822 part (RFC 2046
    5.2.1: 7bit or 8bit, so lines of at most 998 octets and no NUL); a mail that is not
    such goes as a file, message.eml, in base64."""
    mail = to_crlf(raw)
    if b"\0" not in mail and max(len(line) for line in mail.split(CRLF)) <= MAX_SMTP_LINE:
        return b"".join(
            (
                fold("Content-Type", "message/rfc822"),
                fold("Content-Disposition", "inline"),
                fold("Content-Transfer-Encoding", "7bit" if mail.isascii() else "8bit"),
                CRLF,
                mail,
            )
        )
    log.warning("attached mail sent as a file: not fit for a message/rfc822 part")
    return b"".join(
        (
            fold("Content-Type", "application/octet-stream"),
            fold("Content-Disposition", 'attachment; filename="message.eml"'),
            fold("Content-Transfer-Encoding", "base64"),
            CRLF,
            to_crlf(base64.encodebytes(raw)),
        )
    )


def send_notice(
    session: Session,
    templates: jinja2.Environment,
    settings: Settings,
    kind: str,
    to: str,
    values: Mapping[str, Any],
    now: dt.datetime,
    person_id: int | None = None,
    **options: Any,
) -> Delivery:
    """Compose a notice and queue it in the caller's transaction (options: see
    Composer.message): it is sent, retried and resumed like any delivery."""
    raw = Composer(templates, settings).compose(kind, to, values, now, **options)
    return enqueue_mail(session, to, raw, kind, now, person_id=person_id)
