"""The archive's "Reply by mail", end to end: a post sent to a real `gateway serve`, the
site built and read in Chromium, the link's href taken from the page, and a mail
written exactly as the link says (To, Subject, In-Reply-To, References) sent back to
the gateway over SMTP: it lands in the same thread, under the message it answers,
and the next build shows it there. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

from sqlalchemy import select

from archive.build import SiteBuilder
from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.models import Policy
from tests.browser import serving
from tests.browser import watched_page
from tests.conftest import running
from tests.factories import post

DOMAIN = "lists.example.com"
ALICE = "alice@example.com"
BOB = "bob@example.com"


def stored(app: App, message_id: str) -> tuple[int, int | None, int]:
    """(id, parent id, thread id) of a stored post."""
    with transaction(app.read_sessions) as session:
        row = session.execute(
            select(Message.id, Message.parent_id, Message.thread_id).where(
                Message.message_id == message_id
            )
        ).one()
    return row.id, row.parent_id, row.thread_id


def reply_link(
    chromium: Any, site: Path, thread_id: int, message: int, css: str
) -> tuple[str, str]:
    """The text and href of a reply link of a thread page, as Chromium reads them."""
    with serving(site) as server, watched_page(chromium, server.origin) as watched:
        watched.page.goto(server.url(f"t/{thread_id}/"))
        scope = watched.page.locator(f"#m{message}") if message else watched.page
        link = scope.locator(f"a.{css}")
        href = link.get_attribute("href")
        assert link.is_visible() and href is not None
        return link.inner_text(), str(href)


def mail_from_link(href: str, sender: str, body: str) -> tuple[EmailMessage, str]:
    """The mail a mail client writes from a mailto: link (RFC 6068), and its address."""
    parts = urlsplit(href)
    assert parts.scheme == "mailto"
    fields = {name: values[0] for name, values in parse_qs(parts.query).items()}
    message = EmailMessage()
    message["From"] = sender
    message["To"] = unquote(parts.path)
    for name, value in fields.items():
        message[name] = value
    message["Message-ID"] = f"<from-the-page-{len(body)}@example.com>"
    message.set_content(body)
    return message, unquote(parts.path)


def test_a_mail_written_as_the_reply_link_says_lands_under_its_message(
    app: App, settings: Settings, chromium: Any, tmp_path: Path
) -> None:
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", policy=Policy.MEMBERS)
        add_members(session, design, [ALICE, BOB])
    site = tmp_path / "site"
    with running(settings) as gateway:
        for message in (
            post("Grid system", "Twelve columns?\n", message_id="root@example.com", sender=ALICE),
            post(
                "Re: [design] Grid system", "Or eight.\n", message_id="second@example.com",
                sender=BOB, parent="root@example.com",
            ),
        ):  # fmt: skip
            sender = message["From"].addresses[0].addr_spec
            reply = gateway.send(message.as_bytes(), [f"design@{DOMAIN}"], sender=sender)
            assert reply.startswith("250"), reply
        root, _, thread = stored(app, "root@example.com")
        second, _, _ = stored(app, "second@example.com")
        SiteBuilder(app, site, search=False).run()

        # "Reply by mail" under the second message answers it, with the thread's subject.
        text, href = reply_link(chromium, site, thread, second, "reply-by-mail")
        assert text == "Reply by mail"
        below, address = mail_from_link(href, ALICE, "Eight, then.\n")
        assert address == f"design@{DOMAIN}"
        assert below["Subject"] == "Re: Grid system"
        assert below["In-Reply-To"] == "<second@example.com>"

        # "Reply by mail" under the first message: answer it, not the newest.
        text, href = reply_link(chromium, site, thread, root, "reply-by-mail")
        assert text == "Reply by mail"
        answer, address = mail_from_link(href, BOB, "Twelve, for the print grid.\n")
        assert address == f"design@{DOMAIN}"
        assert answer["Subject"] == "Re: Grid system"
        assert answer["In-Reply-To"] == "<root@example.com>"
        reply = gateway.send(answer.as_bytes(), [address], sender=BOB)
        assert reply.startswith("250"), reply

        # "Reply to the thread": its newest message.
        text, href = reply_link(chromium, site, thread, 0, "reply-thread")
        assert text == "Reply to the thread"
        latest, address = mail_from_link(href, ALICE, "Eight it is.\n")
        assert address == f"design@{DOMAIN}"
        assert latest["Subject"] == "Re: Grid system"
        assert latest["In-Reply-To"] == "<second@example.com>"
        reply = gateway.send(latest.as_bytes(), [address], sender=ALICE)
        assert reply.startswith("250"), reply

    answered = stored(app, str(answer["Message-ID"]).strip("<>"))
    assert answered[1:] == (root, thread)  # in the thread, under the first message
    assert stored(app, str(latest["Message-ID"]).strip("<>"))[1:] == (second, thread)
    update = SiteBuilder(app, site, search=False).run()
    assert update.threads == 1
    page = (site / "t" / str(thread) / "index.html").read_text()
    assert "Twelve, for the print grid." in page and "Eight it is." in page
    assert page.count('class="reply-by-mail"') == 4  # the new posts can be answered too
