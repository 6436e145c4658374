"""Mail relayed by another list, sent to a real gateway server: a real list month (292
posts with List-Id and Precedence: list, some bulk) is published whole, or held whole
for a community that holds list mail; and a reply that says it is automatic is not."""

from __future__ import annotations

import email.utils

from sqlalchemy import func
from sqlalchemy import select

from gateway.app import App
from gateway.community.communities import create_community
from gateway.mail.parse import parse_message
from gateway.settings import Settings
from gateway.smtp import replies
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.models import MessageStatus
from gateway.store.models import Policy
from tests.conftest import RunningGateway
from tests.conftest import crlf
from tests.corpus import mbox_messages
from tests.corpus import needs_corpus

DOMAIN = "lists.example.com"
MONTH = "mbox/fedora-devel-list-2010-01.mbox"


def send_month(server: RunningGateway, slug: str) -> set[str]:
    """Each mail of the month from its author to SLUG@; the Message-IDs sent."""
    sent = set()
    with server.client() as smtp:
        smtp.ehlo()
        for raw in mbox_messages(MONTH):
            parsed = parse_message(raw)
            author = email.utils.parseaddr(parsed.headers.get("from", ""))[1] or "a@example.org"
            smtp.mail(author)
            smtp.rcpt(f"{slug}@{DOMAIN}")
            code, text = smtp.data(crlf(raw))
            assert f"{code} {text.decode()}" == replies.ACCEPTED
            assert parsed.message_id
            sent.add(parsed.message_id)
    server.settle()
    return sent


def statuses(app: App) -> dict[str, MessageStatus]:
    with transaction(app.read_sessions) as session:
        return {
            mid: status
            for mid, status in session.execute(select(Message.message_id, Message.status))
        }


@needs_corpus
def test_a_real_list_month_is_published_whole(app: App, settings: Settings) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "fedora", "Fedora", policy=Policy.OPEN)
    server = RunningGateway(settings).start()
    try:
        sent = send_month(server, "fedora")
    finally:
        server.stop()
    stored = statuses(app)
    assert len(sent) == 292
    assert set(stored) == sent
    assert set(stored.values()) == {MessageStatus.PUBLISHED}


@needs_corpus
def test_a_community_that_holds_list_mail_holds_the_month(app: App, settings: Settings) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "fedora", "Fedora", policy=Policy.OPEN, hold_list_mail=True)
    server = RunningGateway(settings).start()
    try:
        sent = send_month(server, "fedora")
        reply = server.send(
            b"From: Zoe <zoe@example.com>\r\nSubject: Out of office\r\nMessage-ID: <ooo@x>\r\n"
            b"Auto-Submitted: auto-replied\r\n\r\nBack on Monday.\r\n",
            [f"fedora@{DOMAIN}"],
            sender="zoe@example.com",
        )
        assert reply == replies.ACCEPTED
    finally:
        server.stop()
    stored = statuses(app)
    assert set(stored) == sent  # the auto-reply is not among them
    assert set(stored.values()) == {MessageStatus.HELD}
    with transaction(app.read_sessions) as session:
        held = session.scalar(select(func.count()).select_from(Message))
    assert held == 292
