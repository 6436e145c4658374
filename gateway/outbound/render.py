"""A post as its community's members receive it: list headers, Subject prefix, footer.

Rendered once per (message, community) and sent to every recipient as the same
bytes: nothing in it is personal, so a thousand recipients can share one SMTP
transaction. The envelope alone names the recipient (VERP). The one exception is the
thread's first author's copy of a reply, rendered again with the link that accepts
it as the answer (`answer`; gateway.outbound.worker sends it on its own).
"""

from __future__ import annotations

import datetime as dt
import email.utils
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway import links
from gateway.mail.headers import LOOP_HEADER
from gateway.mail.sizes import human_size
from gateway.mail.subjects import community_subject
from gateway.mail.traces import for_clause
from gateway.outbound.body import Footer
from gateway.outbound.body import rewrite_body
from gateway.outbound.composer import community_list
from gateway.outbound.mime import CRLF
from gateway.outbound.mime import Field
from gateway.outbound.mime import entity
from gateway.outbound.mime import fold
from gateway.outbound.mime import is_content_field
from gateway.outbound.mime import split_message
from gateway.outbound.mime import to_crlf
from gateway.outbound.typography import french
from gateway.outbound.typography import french_html
from gateway.outbound.typography import typeset
from gateway.settings import Settings

if TYPE_CHECKING:
    import jinja2

# Fields of the original that we replace, or that belong to the hop it came from.
_DROPPED = frozenset(
    {
        "return-path",
        "delivered-to",
        "x-original-to",
        "envelope-to",
        "errors-to",
        "sender",
        "precedence",
        "to",
        "list-id",
        "list-post",
        "list-help",
        "list-subscribe",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "list-archive",
        "list-owner",
        LOOP_HEADER.lower(),
    }
)


@dataclass(frozen=True)
class Destination:
    """The community a copy goes out for, and the others the post was also sent to."""

    slug: str
    name: str
    subject_prefix: str
    reply_to: str  # "community", "sender" or an address
    public: bool
    also: tuple[tuple[str, str], ...] = ()  # (slug, name) of the other communities
    # The subject prefixes of the gateway's other communities: a reply to a cross-post
    # loses them ("Re: [atlas] x" is "Re: [design] x" for design).
    other_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Post:
    raw: bytes
    message_id: str
    subject: str
    sender_name: str
    sender_address: str
    thread_id: int | None
    received_at: dt.datetime
    # sha256 -> the stored (sanitized) filename, for links to large attachments
    attachment_names: dict[str, str]
    # From becomes "Name via Community <slug@domain>" (gateway.outbound.from_rewriting
    # decides, per post: its author's DMARC policy).
    rewrite_from: bool = False


class Renderer:
    """Everything a rendering needs from the settings and templates, built once."""

    def __init__(self, settings: Settings, templates: jinja2.Environment) -> None:
        self.domain = settings.gateway.domain
        self.language = settings.gateway.language
        self.base_url = settings.archive.base_url
        self.max_attachment_size = settings.delivery.max_attachment_size
        self.templates = templates
        # "for <board@DOMAIN>" in a Received field: the envelope recipient an MTA noted,
        # a private community's address when its copy was the one stored (a Bcc).
        self._for_us = for_clause(self.domain)

    def address(self, local: str) -> str:
        return f"{local}@{self.domain}"

    def render(self, post: Post, to: Destination, answer: str = "") -> bytes:
        """The copy for `to`'s members; `answer`: the mailto: link that accepts this reply
        as its thread's answer, for the thread's first author's copy only."""
        fields, body = split_message(to_crlf(post.raw))
        thread_url = (
            links.thread_url(self.base_url, post.thread_id)
            if to.public and post.thread_id is not None
            else ""
        )
        new_entity = rewrite_body(
            entity(fields, body),
            self._footer(to, thread_url, post.thread_id, answer),
            self.max_attachment_size,
            lambda sha256, name, size: self._link_text(post, sha256, name, size),
        )
        entity_fields, entity_body = split_message(new_entity)
        head = self._headers(post, to, fields, thread_url)
        replaced = self._replaced(post, to)
        kept = [
            self._for_us.sub(b"", f.raw) if f.name == "received" else f.raw
            for f in fields
            if f.name not in replaced and not is_content_field(f.name)
        ]
        content = [f.raw for f in entity_fields if f.name.startswith("content-")]
        return b"".join((*head, *kept, fold("MIME-Version", "1.0"), *content, CRLF, entity_body))

    def _replaced(self, post: Post, to: Destination) -> frozenset[str]:
        replaced = set(_DROPPED)
        if to.subject_prefix:
            replaced.add("subject")
        if to.reply_to != "sender" or post.rewrite_from:
            replaced.add("reply-to")
        if post.rewrite_from:
            replaced.add("from")
        return frozenset(replaced)

    def _headers(
        self, post: Post, to: Destination, fields: list[Field], thread_url: str
    ) -> list[bytes]:
        community = self.address(to.slug)
        names = {f.name for f in fields}
        head: list[bytes] = []
        if post.rewrite_from:
            author = post.sender_name or post.sender_address
            head.append(
                fold("From", email.utils.formataddr((f"{author} via {to.name}", community)))
            )
        elif "from" not in names and post.sender_address:  # RFC 5322 3.6 requires one
            head.append(
                fold("From", email.utils.formataddr((post.sender_name, post.sender_address)))
            )
        reply_to = self._reply_to(post, to, community)
        if reply_to:
            head.append(fold("Reply-To", reply_to))
        head.append(fold("To", email.utils.formataddr((to.name, community))))
        if to.subject_prefix:
            head.append(
                fold(
                    "Subject", community_subject(post.subject, to.subject_prefix, to.other_prefixes)
                )
            )
        if "message-id" not in names:
            head.append(fold("Message-ID", f"<{post.message_id}>"))
        if "date" not in names:
            head.append(fold("Date", email.utils.format_datetime(post.received_at)))
        list_fields = community_list(self.domain, to.slug, to.name, thread_url)
        head.extend(fold(name, value) for name, value in list_fields.headers())
        head.append(fold(LOOP_HEADER, self.domain))
        return head

    def _reply_to(self, post: Post, to: Destination, community: str) -> str:
        if to.reply_to == "community":
            return email.utils.formataddr((to.name, community))
        if to.reply_to == "sender":
            if not post.rewrite_from:
                return ""  # the original Reply-To, if any, is kept
            return email.utils.formataddr((post.sender_name, post.sender_address))
        return to.reply_to

    def _footer(
        self, to: Destination, thread_url: str, thread_id: int | None, answer: str = ""
    ) -> Footer:
        values = {
            "community": {"name": to.name, "address": self.address(to.slug), "slug": to.slug},
            # Not personal (copies are shared): the thread's number, and the writer's address.
            "mute": (
                f"mailto:{self.address(f'mute+{thread_id}')}?subject=mute"
                if thread_id is not None
                else ""
            ),
            "answer": answer,  # personal: only in the thread's first author's copy
            "also": [{"name": name, "address": self.address(slug)} for slug, name in to.also],
            "thread_url": thread_url,
            "actions": {
                action: f"mailto:{self.address(f'{to.slug}-{action}')}?subject={action}"
                for action in ("instant", "daily", "weekly", "nomail", "leave")
            },
        }
        text = self._template("footer", "txt").render(values)
        # In the style of the gateway's own mail (gateway.outbound.mail_style).
        html = self._template("footer", "html").render(values)  # `style`: gateway.app
        if self.language == "fr":
            text, html = french(text), french_html(html)
        return Footer(text=text, html=html)

    def _link_text(self, post: Post, sha256: str, name: str, size: int) -> str:
        filename = post.attachment_names.get(sha256, name)
        text = self._template("large_attachment", "txt").render(
            filename=filename,
            size=human_size(size, self.language),
            url=links.attachment_url(self.base_url, sha256, filename),
        )
        return typeset(text, self.language)

    def _template(self, key: str, extension: str) -> jinja2.Template:
        return self.templates.get_template(f"mail/{key}.{self.language}.{extension}")
