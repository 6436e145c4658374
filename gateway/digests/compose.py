"""A digest as a mail: plain text and HTML (multipart/alternative) from templates/mail/,
composed by gateway.outbound.composer.

Each thread's block is rendered once per window and community and shared by
every reader who gets it (DigestWriter caches them), so a digest costs one small
render of its outer template per part, not one render per thread. So are the
thumbnails of its attached images (gateway.digests.thumbnails), made once per run;
a digest carries those of its first threads up to DIGEST_BUDGET bytes, and the
blocks of the threads past it are rendered without theirs.

A block has a Reply link to the thread (to the community, In-Reply-To its newest
message shown), in HTML one to the community in answer to each message shown, and one
to each author (gateway.outbound.reply_links): links that are
the same for every reader. Only an author reading their own thread gets a variant,
without the link to reply to themselves (one more render per such author).

Digests come From digest@ (DIGEST_SENDER): a reply to the digest itself is read by
gateway.actions.replies, posted to the thread it answers when that can be told. The
From name says what it is: "Design practice digest" for one community, "<gateway
name> digest" for several (templates/mail/sender.<language>.txt).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from markupsafe import Markup

from gateway import links
from gateway.digests.assemble import Digest
from gateway.digests.news import CommunityRef
from gateway.digests.news import ThreadNews
from gateway.digests.thumbnails import DIGEST_BUDGET
from gateway.digests.thumbnails import THUMBNAILS_PER_THREAD
from gateway.digests.thumbnails import Thumbnails
from gateway.mail.addresses import DIGEST_SENDER
from gateway.mail.images import is_image
from gateway.mail.own_ids import digest_message_id
from gateway.mail.sizes import human_size
from gateway.outbound.composer import Composer
from gateway.outbound.composer import InlineImage
from gateway.outbound.composer import ListFields
from gateway.outbound.composer import Parts
from gateway.outbound.mailto import mailto
from gateway.outbound.one_click import OneClick
from gateway.outbound.reply_links import reply_mailto
from gateway.settings import Settings
from gateway.web.tokens import Stop
from gateway.web.tokens import Unsubscribe

if TYPE_CHECKING:
    import jinja2

    from gateway.blobs import BlobStore

ACTIONS = ("instant", "daily", "weekly", "nomail")


@dataclass(frozen=True)
class Block:
    """A thread as every digest shows it: its text, its HTML with its thumbnails (and
    the images they show), and its HTML without them (for a digest past its budget)."""

    text: str
    html: Markup
    bare_html: Markup
    images: tuple[InlineImage, ...]


@dataclass
class _Shown:
    """The thumbnails one digest shows so far, by cid, and their bytes (DIGEST_BUDGET)."""

    images: dict[str, InlineImage] = field(default_factory=dict)
    size: int = 0


class DigestWriter:
    """Renders digests for one run; keeps the thread blocks and thumbnails it made."""

    def __init__(self, settings: Settings, templates: jinja2.Environment, blobs: BlobStore) -> None:
        self.domain = settings.gateway.domain
        self.base_url = settings.archive.base_url
        self._composer = Composer(templates, settings)
        self._one_click = OneClick(settings)
        self.language = language = settings.gateway.language
        self._thread_text = templates.get_template(f"mail/digest_thread.{language}.txt")
        self._thread_html = templates.get_template(f"mail/digest_thread.{language}.html")
        self._blocks: dict[tuple[int, int, str], Block] = {}
        self._communities: dict[int, CommunityRef] = {}
        self._thumbnails = Thumbnails(blobs, self.domain)

    def new_window(self, communities: dict[int, CommunityRef]) -> None:
        """Thread blocks are per window: forget those of the last one."""
        self._blocks.clear()
        self._communities = communities

    def parts(self, digest: Digest, names: dict[int, str]) -> Parts:
        """The subject, the plain text, the HTML of a digest and its thumbnails."""
        shown = _Shown()
        values = self._values(digest, names, shown)
        parts = self._composer.render("digest", values)
        return dataclasses.replace(parts, images=tuple(shown.images.values()))

    def mail(self, digest: Digest, names: dict[int, str], now: dt.datetime) -> tuple[str, bytes]:
        """The subject and the whole message, ready for the delivery queue. Its Message-ID
        names the digest, so that a digest sent twice shows as one."""
        parts = self.parts(digest, names)
        reader = digest.reader
        digest_list = ListFields(
            id=f"Digest <digest.{self.domain}>",
            help=mailto(f"help@{self.domain}", subject="help"),
            unsubscribe=tuple(
                mailto(f"{section.community.slug}-nomail@{self.domain}", subject="nomail")
                for section in digest.sections
            ),
            # One click stops mail from the digest's communities, as each -nomail@ does.
            one_click=self._one_click.url(
                Unsubscribe(reader.id, Stop.NOMAIL, tuple(s.community.id for s in digest.sections))
            ),
        )
        raw = self._composer.message(
            parts,
            email.utils.formataddr((reader.name, reader.address)),
            now,
            kind="digest",
            sender=DIGEST_SENDER,  # named by the parts: templates/mail/sender.<language>.txt
            message_id=digest_message_id(
                digest.cadence.value, digest.period, reader.id, self.domain
            ),
            list_fields=digest_list,
        )
        return parts.subject, raw

    def _values(self, digest: Digest, names: dict[int, str], shown: _Shown) -> dict[str, Any]:
        """The template's values; `shown` gets the thumbnails the HTML shows."""
        return {
            "reader": {"name": digest.reader.name, "address": digest.reader.address},
            # Dates and times in the reader's zone (Composer: else the configured one).
            "zone": digest.reader.timezone,
            "cadence": digest.cadence.value,
            "since": digest.start,
            "until": digest.end,
            "message_count": digest.message_count,
            "thread_count": digest.thread_count,
            "community_names": [section.community.name for section in digest.sections],
            "sections": [
                {
                    **self._community(section.community),
                    "threads": [
                        self._shown(
                            self._block(thread, section.community, digest.reader.address), shown
                        )
                        for thread in section.threads
                    ],
                }
                for section in digest.sections
            ],
            "most_active": [_thread(t, self.language) for t in digest.most_active],
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

    def _shown(self, block: Block, shown: _Shown) -> dict[str, Any]:
        """A thread's block in one digest: with its thumbnails while the digest's budget
        allows them (the same image twice counts once), else without."""
        new = [image for image in block.images if image.content_id not in shown.images]
        size = sum(len(image.data) for image in new)
        if shown.size + size > DIGEST_BUDGET:
            return {"text": block.text, "html": block.bare_html}
        shown.images.update((image.content_id, image) for image in new)
        shown.size += size
        return {"text": block.text, "html": block.html}

    def _thumbnails_of(self, thread: ThreadNews, public: bool) -> list[dict[str, Any]]:
        shown: list[dict[str, Any]] = []
        for file in thread.files:
            if len(shown) == THUMBNAILS_PER_THREAD:
                break
            if not file.sha256 or not is_image(file.filename, file.content_type):
                continue
            made = self._thumbnails.of(file.sha256, file.filename, file.size)
            if made is not None:
                shown.append(
                    {
                        "cid": made.image.content_id,
                        "image": made.image,
                        "width": made.width,
                        "height": made.height,
                        "filename": file.filename,
                        # Shared by every reader: linked only where the archive shows it.
                        "url": file.url if public else "",
                    }
                )
        return shown

    def _block(self, thread: ThreadNews, community: CommunityRef, reader: str) -> Block:
        author = reader if any(e.address == reader for e in thread.entries) else ""
        key = (thread.thread_id, community.id, author)
        if key not in self._blocks:
            values = {
                "thread": _thread(thread, self.language),
                # Shared by every reader: only public communities are named.
                "also": [
                    ref.name
                    for ref in (self._communities.get(c) for c in thread.community_ids)
                    if ref is not None and ref.id != community.id and ref.public
                ],
                "entries": thread.entries,
                "mute": f"mailto:mute+{thread.thread_id}@{self.domain}?subject=mute",
                "reply": reply_mailto(
                    f"{community.slug}@{self.domain}", thread.subject, thread.latest_message_id
                ),
                # message id -> a reply to the community in answer to that message (HTML
                # only: the text part keeps one Reply line per thread)
                "message_replies": {
                    e.message_id: reply_mailto(
                        f"{community.slug}@{self.domain}", thread.subject, e.message_id
                    )
                    for e in thread.entries
                    if e.message_id
                },
                # message id -> a reply to its author, unless the author is the reader
                "author_replies": {
                    e.message_id: reply_mailto(e.address, thread.subject, e.message_id)
                    for e in thread.entries
                    if e.address and e.address != author
                },
                "files": [
                    {
                        "filename": f.filename,
                        "url": f.url,
                        "size": human_size(f.size, self.language),
                    }
                    for f in thread.files
                ],
            }
            thumbnails = self._thumbnails_of(thread, community.public)
            html = Markup(self._thread_html.render(values, thumbnails=thumbnails))
            self._blocks[key] = Block(
                text=self._thread_text.render(values),
                html=html,
                bare_html=(
                    Markup(self._thread_html.render(values, thumbnails=[])) if thumbnails else html
                ),
                images=tuple(thumb["image"] for thumb in thumbnails),
            )
        return self._blocks[key]


def _thread(thread: ThreadNews, language: str) -> dict[str, Any]:
    return {
        **_thread_ref(thread.subject, thread.url),
        "new_count": thread.new_count,
        "authors": thread.authors,
        # Beside the thread: "Answered", then "👍 3 · 🙏 2" (names on hover in HTML).
        "answered": thread.answered,
        "reactions": [r.shown(language) for r in thread.reactions],
    }


def _thread_ref(subject: str, url: str) -> dict[str, Any]:
    return {"subject": subject, "url": url}
