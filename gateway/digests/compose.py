"""A digest as a mail: plain text and HTML (multipart/alternative) from templates/mail/.

Each thread's block is rendered once per window and community and shared by
every reader who gets it (DigestWriter caches them), so a digest costs one small
render of its outer template per part, not one render per thread.
"""

from __future__ import annotations

import binascii
import datetime as dt
import email.utils
import secrets
from typing import TYPE_CHECKING
from typing import Any

from markupsafe import Markup

from gateway import links
from gateway.digests.assemble import Digest
from gateway.digests.news import CommunityRef
from gateway.digests.news import ThreadNews
from gateway.mail.headers import LOOP_HEADER
from gateway.mail.sizes import human_size
from gateway.outbound.mime import CRLF
from gateway.outbound.mime import fold
from gateway.settings import Settings

if TYPE_CHECKING:
    import jinja2

ACTIONS = ("instant", "daily", "weekly", "nomail")


class DigestWriter:
    """Renders digests for one run; keeps the thread blocks it has rendered."""

    def __init__(self, settings: Settings, templates: jinja2.Environment) -> None:
        self.domain = settings.gateway.domain
        self.base_url = settings.archive.base_url
        language = settings.gateway.language
        self._text = templates.get_template(f"mail/digest.{language}.txt")
        self._html = templates.get_template(f"mail/digest.{language}.html")
        self._thread_text = templates.get_template(f"mail/digest_thread.{language}.txt")
        self._thread_html = templates.get_template(f"mail/digest_thread.{language}.html")
        self._blocks: dict[tuple[int, int], tuple[str, Markup]] = {}
        self._communities: dict[int, CommunityRef] = {}

    def new_window(self, communities: dict[int, CommunityRef]) -> None:
        """Thread blocks are per window: forget those of the last one."""
        self._blocks.clear()
        self._communities = communities

    def subject_and_parts(self, digest: Digest, names: dict[int, str]) -> tuple[str, str, str]:
        """The subject, the plain text and the HTML of a digest."""
        values = self._values(digest, names)
        context = self._text.new_context(values)
        subject = " ".join("".join(self._text.blocks["subject"](context)).split())
        text = "".join(self._text.blocks["body"](context)).lstrip("\n")
        return subject, text, self._html.render(values)

    def mail(self, digest: Digest, names: dict[int, str], now: dt.datetime) -> tuple[str, bytes]:
        """The subject and the whole message, ready for the delivery queue."""
        subject, text, html = self.subject_and_parts(digest, names)
        boundary = f"=_digest_{secrets.token_hex(12)}"
        slugs = [section.community.slug for section in digest.sections]
        reader = digest.reader
        head = [
            fold("From", f"help@{self.domain}"),
            fold("To", email.utils.formataddr((reader.name, reader.address))),
            fold("Subject", subject),
            fold("Date", email.utils.format_datetime(now)),
            fold(
                "Message-ID",
                f"<digest.{digest.cadence.value}.{digest.period}.{reader.id}@{self.domain}>",
            ),
            fold("List-Id", f"Digest <digest.{self.domain}>"),
            fold("List-Help", f"<mailto:help@{self.domain}?subject=help>"),
            fold(
                "List-Unsubscribe",
                ", ".join(f"<mailto:{slug}-nomail@{self.domain}?subject=nomail>" for slug in slugs),
            ),
            fold("Precedence", "list"),
            fold("Auto-Submitted", "auto-generated"),
            fold(LOOP_HEADER, self.domain),
            fold("MIME-Version", "1.0"),
            fold("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ]
        parts = b"".join(
            b"--" + boundary.encode() + CRLF
            + f'Content-Type: text/{subtype}; charset="utf-8"'.encode() + CRLF
            + b"Content-Transfer-Encoding: quoted-printable" + CRLF + CRLF
            + _quoted_printable(body) + CRLF
            for subtype, body in (("plain", text), ("html", html))
        )  # fmt: skip
        return subject, b"".join(head) + CRLF + parts + b"--" + boundary.encode() + b"--" + CRLF

    def _values(self, digest: Digest, names: dict[int, str]) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "reader": {"name": digest.reader.name, "address": digest.reader.address},
            "cadence": digest.cadence.value,
            "since": digest.start,
            "message_count": digest.message_count,
            "thread_count": digest.thread_count,
            "community_names": [section.community.name for section in digest.sections],
            "sections": [
                {
                    **self._community(section.community),
                    "threads": [
                        self._block(thread, section.community) for thread in section.threads
                    ],
                }
                for section in digest.sections
            ],
            "most_active": [_thread(t) for t in digest.most_active],
            "questions": [
                {
                    **_thread_ref(q.subject, q.url),
                    "author": q.author,
                    "matched": matched,
                    "community": names.get(q.community_id, ""),
                    "excerpt": q.excerpt,
                    "asked_at": q.asked_at,
                }  # fmt: skip
                for q, matched in digest.questions
            ],
            "new_members": [
                {
                    "name": m.name or m.address,
                    "address": m.address,
                    "community": names.get(m.community_id, ""),
                    "expertise": list(m.expertise),
                }  # fmt: skip
                for m in digest.new_members
            ],
            "profile_empty": digest.reader.profile_empty,
            "profile_address": f"profile@{self.domain}",
        }

    def _community(self, community: CommunityRef) -> dict[str, Any]:
        return {
            "name": community.name,
            "slug": community.slug,
            "address": f"{community.slug}@{self.domain}",
            "url": links.community_url(self.base_url, community.slug) if community.public else "",
            "actions": {
                action: f"mailto:{community.slug}-{action}@{self.domain}?subject={action}"
                for action in ACTIONS
            },
        }

    def _block(self, thread: ThreadNews, community: CommunityRef) -> dict[str, Any]:
        key = (thread.thread_id, community.id)
        if key not in self._blocks:
            values = {
                "thread": _thread(thread),
                # Shared by every reader: only public communities are named.
                "also": [
                    ref.name
                    for ref in (self._communities.get(c) for c in thread.community_ids)
                    if ref is not None and ref.id != community.id and ref.public
                ],
                "entries": thread.entries,
                "mute": f"mailto:mute+{thread.thread_id}@{self.domain}?subject=mute",
                "files": [
                    {"filename": f.filename, "url": f.url, "size": human_size(f.size)}
                    for f in thread.files
                ],
            }
            self._blocks[key] = (
                self._thread_text.render(values),
                Markup(self._thread_html.render(values)),
            )
        text, html = self._blocks[key]
        return {"text": text, "html": html}


def _thread(thread: ThreadNews) -> dict[str, Any]:
    return {
        **_thread_ref(thread.subject, thread.url),
        "new_count": thread.new_count,
        "authors": thread.authors,
    }


def _thread_ref(subject: str, url: str) -> dict[str, Any]:
    return {"subject": subject, "url": url}


def _quoted_printable(text: str) -> bytes:
    """RFC 2045 quoted-printable with CRLF line ends: 7-bit safe for any relay."""
    encoded = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return encoded.replace(b"\n", CRLF)
