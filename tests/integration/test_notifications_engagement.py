"""Instant notifications never carry reactions nor "Answered": posts sent over SMTP to a
running gateway, in a thread whose messages have reactions and an accepted answer,
reach the instant members through a real SMTP sink as the posts they are."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.community.people import ensure_person
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.models import Reaction
from gateway.store.models import ReactionSource
from gateway.store.models import ThreadAnswer
from tests.conftest import running
from tests.conftest import wait_for
from tests.factories import post
from tests.integration.test_mail_out import copies_to
from tests.integration.test_mail_out import relayed
from tests.sink import Sink

DOMAIN = "lists.example.com"
REACTORS = {"dee@example.com": ("Dee Reactwell", "👍"), "fay@example.com": ("Fay Thankful", "🙏")}


def engage(app: App, message_id: str) -> None:
    """Reactions from two people on this message, and it accepted as its thread's answer
    (a later choice replaces an earlier one)."""
    with transaction(app.sessions) as session:
        message = session.scalars(select(Message).where(Message.message_id == message_id)).one()
        for address, (name, emoji) in REACTORS.items():
            person = ensure_person(session, address)
            person.name = name
            session.flush()
            session.add(
                Reaction(
                    message_id=message.id,
                    person_id=person.id,
                    emoji=emoji,
                    source=ReactionSource.RFC9078,
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
        assert message.thread_id is not None
        session.merge(ThreadAnswer(thread_id=message.thread_id, message_id=message.id))


def test_notifications_in_an_engaged_thread_carry_no_reaction(
    app: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design")
        add_members(session, design, ["alice@example.com", "carol@example.com"])
    question = post("Which grid?", "Twelve columns or eight?\n", message_id="q@example.com")
    answer = post(
        "Re: Which grid?", "Twelve.\n", message_id="a@example.com", parent="q@example.com",
        sender="Carol <carol@example.com>",
    )  # fmt: skip
    follow_up = post(
        "Re: Which grid?", "Thanks, twelve it is.\n", message_id="f@example.com",
        parent="a@example.com",
    )  # fmt: skip
    with running(relayed(settings, port)) as gateway:
        for mail in (question, answer):
            sender = mail["From"].addresses[0].addr_spec
            assert gateway.send(mail.as_bytes(), [f"design@{DOMAIN}"], sender=sender)[:3] == "250"
        wait_for(lambda: len(copies_to(handler, "alice@example.com")) == 1, what="the answer")
        engage(app, "q@example.com")
        engage(app, "a@example.com")
        reply = gateway.send(follow_up.as_bytes(), [f"design@{DOMAIN}"])
        assert reply.startswith("250")
        wait_for(lambda: len(copies_to(handler, "carol@example.com")) == 2, what="the follow-up")

    # Each post once to each instant member but its sender; the reactions sent nothing.
    assert len(handler.copies()) == 3
    for notification in [
        *copies_to(handler, "carol@example.com"),
        *copies_to(handler, "alice@example.com"),
    ]:
        whole = notification.as_string()
        for part in notification.walk():
            if part.get_content_maintype() == "text":
                whole += part.get_content()
        for name, emoji in REACTORS.values():
            assert name not in whole and emoji not in whole, notification["Message-ID"]
        assert "✓" not in whole and "&#10003;" not in whole and "Answered" not in whole
