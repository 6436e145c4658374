"""Cross-posts end to end through a real `gateway serve` over SMTP (issue 18, item 4): a post
is published where its sender may post and held only where a policy holds it, the held
notice goes to that community's moderators naming it and why, approving by reply delivers
it to that community's members who had no copy, each copy carries only its community's
Subject prefix, and a person who joins by mail keeps their From display name."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from email.headerregistry import Address
from email.message import EmailMessage

import pytest
from sqlalchemy import func
from sqlalchemy import select

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.community.people import find_person
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Community
from gateway.store.models import Delivery
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Person
from gateway.store.models import Policy
from gateway.store.models import Role
from gateway.store.models import Thread
from tests.conftest import running
from tests.conftest import wait_for
from tests.integration.test_email_actions import DOMAIN
from tests.integration.test_email_actions import WORDS
from tests.integration.test_email_actions import Mail
from tests.integration.test_email_actions import configured
from tests.integration.test_email_actions import text
from tests.sink import Sink

PAUL = "paul@example.com"  # a member of atlas only
BOTH = "bea@example.com"  # a member of atlas and of design
# How each language names the hold reason NOT_MEMBER for design.
NOT_MEMBER = {"en": "not a member of Design", "fr": "pas membre de Design"}
PUBLISHED_IN = {"en": "already published in Atlas", "fr": "déjà publié dans Atlas"}


@pytest.fixture
def communities(app: App) -> App:
    """atlas (open): ana owner, paul and bea members; design (members only): dora owner,
    mike moderator, bob and bea members. Every one gets each post as it arrives."""
    with transaction(app.sessions) as session:
        atlas = create_community(session, "atlas", "Atlas", policy=Policy.OPEN)
        design = create_community(session, "design", "Design", policy=Policy.MEMBERS)
        add_members(session, atlas, ["ana@example.com"], role=Role.OWNER)
        add_members(session, atlas, [PAUL, BOTH])
        add_members(session, design, ["dora@example.com"], role=Role.OWNER)
        add_members(session, design, ["mike@example.com"], role=Role.MODERATOR)
        add_members(session, design, ["bob@example.com", BOTH])
    return app


@pytest.fixture(params=["en", "fr"])
def mail(
    communities: App, settings: Settings, sink: tuple[Sink, int], request: pytest.FixtureRequest
) -> Iterator[Mail]:
    with running(configured(settings, sink[1], request.param)) as gateway:
        yield Mail(gateway, sink[0], request.param)


def posts(mail: Mail, recipient: str, words: str = "") -> list[EmailMessage]:
    """The copies of posts `recipient` got (a List-Id: not the gateway's own notices)."""
    return [m for m in mail.to(recipient) if m["List-Id"] and words in str(m["Subject"])]


def cross_post(mail: Mail, sender: str, subject: str, body: str, parent: str = "") -> str:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = f"atlas@{DOMAIN}, design@{DOMAIN}"
    message["Subject"] = subject
    message_id = email.utils.make_msgid(domain="example.com")
    message["Message-ID"] = message_id
    if parent:
        message["In-Reply-To"] = message["References"] = parent
    message.set_content(body)
    reply = mail.gateway.send(message.as_bytes(), [f"atlas@{DOMAIN}", f"design@{DOMAIN}"], sender)
    assert reply.startswith("250"), reply
    return message_id


def deliveries_per_person(app: App, message_id: str) -> dict[str, int]:
    with transaction(app.read_sessions) as session:
        rows = session.execute(
            select(Delivery.recipient, func.count())
            .join(Message, Message.id == Delivery.message_id)
            .where(Message.message_id == message_id.strip("<>"))
            .group_by(Delivery.recipient)
        )
        return {recipient: count for recipient, count in rows}


def statuses(app: App, message_id: str) -> dict[str, str]:
    with transaction(app.read_sessions) as session:
        rows = session.execute(
            select(Community.slug, MessageCommunity.status)
            .join(MessageCommunity, MessageCommunity.community_id == Community.id)
            .join(Message, Message.id == MessageCommunity.message_id)
            .where(Message.message_id == message_id.strip("<>"))
        )
        return {slug: status.value for slug, status in rows}


def test_a_cross_post_is_published_where_its_sender_may_post_and_held_only_where_not(
    mail: Mail, communities: App
) -> None:
    language = "fr" if mail.words is WORDS["fr"] else "en"
    first = cross_post(mail, PAUL, "Colours", "Which blue do we use?\n")
    # Published in atlas at once: its members have it, with atlas's prefix; bea, in both
    # communities, has one copy.
    for person in ("ana@example.com", BOTH):
        wait_for(lambda p=person: posts(mail, p, "Colours"), what=f"the post to {person}")
    assert [str(m["Subject"]) for m in posts(mail, BOTH)] == ["[atlas] Colours"]
    # Held in design: one notice, to design's owner and moderator, naming Design and why.
    notices = {p: mail.wait(p, "held") for p in ("dora@example.com", "mike@example.com")}
    told = mail.wait(PAUL, "held_sender")
    for notice in (*notices.values(), told):
        body = text(notice)
        assert "Design" in str(notice["Subject"]) and NOT_MEMBER[language] in body, body
        assert "Atlas" not in str(notice["Subject"])
        assert PUBLISHED_IN[language] in body  # where it is already published
        assert "gateway held" not in body  # no shell command for owners
    # atlas's owner gets the post, and no notice; dora one notice, for design.
    assert [str(m["Subject"]) for m in mail.to("ana@example.com")] == ["[atlas] Colours"]
    assert len([m for m in mail.to("dora@example.com") if mail.words["held"] in m["Subject"]]) == 1
    assert posts(mail, "bob@example.com") == [] and posts(mail, "dora@example.com") == []
    assert statuses(communities, first) == {"atlas": "published", "design": "held"}

    # dora approves by replying to her notice: design's members who had no copy get it.
    approve = str(notices["dora@example.com"]["Reply-To"])
    assert approve.startswith("confirm+") and approve in text(notices["dora@example.com"])
    mail.send("dora@example.com", approve, f"Re: {notices['dora@example.com']['Subject']}", "OK")
    mail.wait("dora@example.com", "approved")
    for person in ("bob@example.com", "dora@example.com", "mike@example.com"):
        wait_for(lambda p=person: posts(mail, p, "Colours"), what=f"the approved post to {person}")
    assert [str(m["Subject"]) for m in posts(mail, "bob@example.com")] == ["[design] Colours"]
    assert statuses(communities, first) == {"atlas": "published", "design": "published"}
    # mike's approval comes too late; nobody had a second copy.
    mike_approve = str(notices["mike@example.com"]["Reply-To"])
    mail.send("mike@example.com", mike_approve, "Re: approve", "OK")
    mail.wait("mike@example.com", "already_decided")
    sent = deliveries_per_person(communities, first)
    assert sent == dict.fromkeys(
        ["ana@example.com", BOTH, "bob@example.com", "dora@example.com", "mike@example.com"], 1
    )
    assert len(posts(mail, BOTH, "Colours")) == 1

    # bob (design only) replies to all from his design copy: published in both (atlas is
    # open), each community's members see its own prefix once.
    [bob_copy] = posts(mail, "bob@example.com")
    reply = cross_post(mail, "bob@example.com", f"Re: {bob_copy['Subject']}", "Navy.\n", first)
    wait_for(lambda: len(posts(mail, "dora@example.com")) == 2, what="the reply in design")
    wait_for(lambda: len(posts(mail, PAUL)) == 1, what="the reply in atlas")
    assert [str(m["Subject"]) for m in posts(mail, PAUL)] == ["Re: [atlas] Colours"]
    assert str(posts(mail, "dora@example.com")[-1]["Subject"]) == "Re: [design] Colours"
    assert statuses(communities, reply) == {"atlas": "published", "design": "published"}
    wait_for(lambda: len(posts(mail, BOTH)) == 2, what="the reply to bea")
    assert str(posts(mail, BOTH)[-1]["Subject"]) == "Re: [atlas] Colours"  # one copy, atlas's
    assert not [m for m in mail.to("dora@example.com") if "Navy" in text(m) and not m["List-Id"]]

    # paul (atlas only) answers bob, to both: published in atlas, held in design alone.
    answer = cross_post(mail, PAUL, "Re: [atlas] Colours", "Or teal?\n", reply)
    wait_for(lambda: len(posts(mail, "ana@example.com")) == 3, what="paul's answer in atlas")
    mail.wait("dora@example.com", "held", count=2)
    assert statuses(communities, answer) == {"atlas": "published", "design": "held"}
    assert len(posts(mail, "mike@example.com")) == 2  # not yet in design
    with transaction(communities.read_sessions) as session:
        thread = session.scalar(select(Thread).join(Message, Message.thread_id == Thread.id))
        assert thread is not None and thread.message_count == 3  # published somewhere: counted
        assert set(session.scalars(select(Message.status))) == {MessageStatus.PUBLISHED}


def test_joining_by_mail_keeps_the_from_display_name(mail: Mail, communities: App) -> None:
    hugo = Address("Hugo Lefèvre", addr_spec="hugo@example.com")
    message = EmailMessage()
    message["From"] = hugo
    message["To"] = f"design-join@{DOMAIN}"
    message["Subject"] = "join"
    message["Message-ID"] = email.utils.make_msgid(domain="example.com")
    message.set_content("\n")
    reply = mail.gateway.send(message.as_bytes(), [f"design-join@{DOMAIN}"], "hugo@example.com")
    assert reply.startswith("250"), reply
    asked = mail.wait("hugo@example.com", "confirm_join")
    # The confirming reply from a client that sends no display name.
    mail.send("hugo@example.com", str(asked["Reply-To"]), f"Re: {asked['Subject']}", "yes")
    mail.wait("hugo@example.com", "welcome")
    with transaction(communities.read_sessions) as session:
        person = find_person(session, "hugo@example.com")
        assert person is not None and person.name == "Hugo Lefèvre"
    # A name in the profile is never replaced by a join.
    with transaction(communities.sessions) as session:
        bob = session.scalar(select(Person).where(Person.address == "bob@example.com"))
        assert bob is not None
        bob.name = "Robert"
    for field in ("From", "To", "Message-ID"):
        del message[field]
    message["From"] = Address("Bobby", addr_spec="bob@example.com")
    message["To"] = f"atlas-join@{DOMAIN}"
    message["Message-ID"] = email.utils.make_msgid(domain="example.com")
    mail.gateway.send(message.as_bytes(), [f"atlas-join@{DOMAIN}"], "bob@example.com")
    asked = mail.wait("bob@example.com", "confirm_join")
    mail.send("bob@example.com", str(asked["Reply-To"]), f"Re: {asked['Subject']}", "yes")
    mail.wait("bob@example.com", "welcome")
    with transaction(communities.read_sessions) as session:
        person = find_person(session, "bob@example.com")
        assert person is not None and person.name == "Robert"
