"""Reactions end to end through a real `gateway serve` over SMTP (issue 22, point 1): an RFC
9078 reaction, a Gmail reaction, a "+1" reply and Apple Mail's "Merci !" each become a
reaction and reach no one, while a longer reply still goes out; a replayed reaction
changes nothing; a non-member's reaction gets what a non-member's post gets; a community
that does not fold thanks sends "+1" on; a "Thanks!" sent back to a digest is a reaction in
the thread it answers."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import email.utils
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.message import Message as MimeMessage
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import ActionMail
from gateway.store.models import Delivery
from gateway.store.models import Message
from gateway.store.models import MessageStatus
from gateway.store.models import Person
from gateway.store.models import Reaction
from gateway.store.models import Role
from tests.conftest import RunningGateway
from tests.conftest import running
from tests.conftest import wait_for
from tests.factories import post
from tests.integration import test_replies_end_to_end as replies
from tests.integration.test_email_actions import configured
from tests.integration.test_email_actions import handled
from tests.received import parse_mail
from tests.received import plain_text
from tests.sink import Sink

FIXTURES = Path(__file__).parent.parent / "fixtures" / "reactions"
DESIGN = "design@lists.example.com"
ALICE, BOB, CAROL, EVE = (f"{n}@example.com" for n in ("alice", "bob", "carol", "eve"))
THUMBS_UP = "\U0001f44d"
FOLDED_HANDS = "\U0001f64f"


@dataclasses.dataclass
class Site:
    app: App
    gateway: RunningGateway
    sink: Sink

    def send(self, raw: bytes, sender: str) -> None:
        reply = self.gateway.send(raw, [DESIGN], sender=sender)
        assert reply.startswith("250"), reply

    def copies(self, message_id: str) -> list[str]:
        """Who got a mail with this Message-ID."""
        return sorted(
            rcpt
            for _, rcpt, data in self.sink.copies()
            if parse_mail(data)["Message-ID"] == f"<{message_id}>"
        )

    def received_by(self, recipient: str) -> list[EmailMessage]:
        return [parse_mail(data) for _, rcpt, data in self.sink.copies() if rcpt == recipient]

    def reactions(self) -> list[tuple[str, str, str, str]]:
        """(person, answered Message-ID, emoji, source) of every reaction."""
        with transaction(self.app.read_sessions) as session:
            rows = session.execute(
                select(Person.address, Message.message_id, Reaction.emoji, Reaction.source)
                .join(Person, Person.id == Reaction.person_id)
                .join(Message, Message.id == Reaction.message_id)
            )
            return sorted((a, m, e, s.value) for a, m, e, s in rows)

    def count(self, model: type[object]) -> int:
        with transaction(self.app.read_sessions) as session:
            return session.scalar(select(func.count()).select_from(model)) or 0


def seed(app: App, *, fold_thanks: bool = True) -> None:
    """design: alice (owner), bob and carol, every post at once."""
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", fold_thanks=fold_thanks)
        add_members(session, design, [ALICE], role=Role.OWNER)
        add_members(session, design, [BOB, CAROL])


@contextmanager
def started(app: App, settings: Settings, sink: tuple[Sink, int]) -> Iterator[Site]:
    with running(configured(settings, sink[1], "en")) as gateway:
        yield Site(app, gateway, sink[0])


@pytest.fixture
def site(app: App, settings: Settings, sink: tuple[Sink, int]) -> Iterator[Site]:
    seed(app)
    with started(app, settings, sink) as running_site:
        yield running_site


def ask(site: Site) -> str:
    """Alice's question, once every other member has it."""
    question = post("Planning", "When is lot 3 due?\n", message_id=new_id(),
                    sender=f"Alice Martin <{ALICE}>")  # fmt: skip
    message_id = str(question["Message-ID"]).strip("<>")
    site.send(question.as_bytes(), ALICE)
    wait_for(lambda: site.copies(message_id) == [BOB, CAROL], what="the question's copies")
    return message_id


def new_id() -> str:
    return email.utils.make_msgid(domain="example.com").strip("<>")


def rfc9078(emoji: str, sender: str, parent: str, message_id: str | None = None) -> bytes:
    message = post("Re: Planning", f"{emoji}\n", message_id=message_id or new_id(),
                   sender=sender, parent=parent)  # fmt: skip
    message.replace_header("Content-Type", 'text/plain; charset="utf-8"')
    message["Content-Disposition"] = "reaction"
    return message.as_bytes()


def from_fixture(name: str, sender: str, parent: str) -> bytes:
    """A fixture mail (as its client wrote it) sent by `sender` in answer to `parent`."""
    mail: MimeMessage = email.message_from_bytes((FIXTURES / name).read_bytes(),
                                                 policy=email.policy.compat32)  # fmt: skip
    headers = {"From": sender, "Message-ID": f"<{new_id()}>", "In-Reply-To": f"<{parent}>",
               "References": f"<{parent}>"}  # fmt: skip
    for header, value in headers.items():
        del mail[header]
        mail[header] = value
    return mail.as_bytes()


def test_reactions_are_recorded_and_reach_no_one_while_a_longer_reply_goes_out(
    site: Site,
) -> None:
    question = ask(site)
    sent_before = len(site.sink.copies())

    site.send(rfc9078(THUMBS_UP, f"Bob <{BOB}>", question), BOB)
    site.send(from_fixture("gmail-reaction.eml", f"Carol <{CAROL}>", question), CAROL)
    site.send(post("Re: Planning", "+1\n\n> When is lot 3 due?\n", message_id=new_id(),
                   sender=f"Bob <{BOB}>", parent=question).as_bytes(), BOB)  # fmt: skip
    site.send(from_fixture("apple-mail-fr-merci.eml", f"Alice Martin <{ALICE}>", question), ALICE)
    longer = post("Re: Planning", "Thanks, but the build still fails on ARM.\n",
                  message_id=new_id(), sender=f"Carol <{CAROL}>", parent=question)  # fmt: skip
    site.send(longer.as_bytes(), CAROL)

    longer_id = str(longer["Message-ID"]).strip("<>")
    wait_for(lambda: site.copies(longer_id) == [ALICE, BOB], what="the longer reply's copies")
    wait_for(lambda: handled(site.app), what="the email actions")
    assert site.reactions() == [
        (ALICE, question, FOLDED_HANDS, "reply"),
        (BOB, question, THUMBS_UP, "reply"),  # the "+1" renewed the RFC 9078 👍
        (CAROL, question, THUMBS_UP, "gmail"),
    ]
    # Nothing but the longer reply went out: no copy of a reaction, no answer to its sender.
    assert len(site.sink.copies()) == sent_before + 2
    assert site.count(Message) == 2
    assert site.count(Delivery) == 4  # the question's two copies and the reply's two
    assert site.count(ActionMail) == 0


def test_a_replayed_reaction_changes_nothing(site: Site) -> None:
    question = ask(site)
    reaction = rfc9078(f"{THUMBS_UP} \U0001f389", f"Bob <{BOB}>", question)
    site.send(reaction, BOB)
    with transaction(site.app.read_sessions) as session:
        first = sorted(session.execute(select(Reaction.emoji, Reaction.created_at)).all())

    site.send(reaction, BOB)  # an MTA that sends it again, or a forged replay

    with transaction(site.app.read_sessions) as session:
        again = sorted(session.execute(select(Reaction.emoji, Reaction.created_at)).all())
    assert again == first and len(first) == 2
    assert site.count(Message) == 1 and site.count(ActionMail) == 0


def test_a_non_members_reaction_gets_what_a_non_members_post_gets(site: Site) -> None:
    question = ask(site)
    reaction_id, post_id = new_id(), new_id()

    site.send(rfc9078(THUMBS_UP, f"Eve <{EVE}>", question, reaction_id), EVE)
    site.send(post("Re: Planning", "I know the date.\n", message_id=post_id,
                   sender=f"Eve <{EVE}>", parent=question).as_bytes(), EVE)  # fmt: skip

    wait_for(lambda: site.count(ActionMail) == 2 and handled(site.app), what="the notices")
    wait_for(
        lambda: len(site.received_by(ALICE)) >= 2 and len(site.received_by(EVE)) >= 2,
        what="the notices delivered",
    )
    assert site.reactions() == []
    with transaction(site.app.read_sessions) as session:
        statuses = {m: s for m, s in session.execute(select(Message.message_id, Message.status))}
    assert statuses[reaction_id] == statuses[post_id] == MessageStatus.HELD
    # The owner is asked about each, and Eve told each waits: the same mail for both.
    to_alice = [str(m["Subject"]) for m in site.received_by(ALICE)]
    to_eve = [str(m["Subject"]) for m in site.received_by(EVE)]
    assert len(to_alice) == len(to_eve) == 2
    assert to_alice[0] == to_alice[1] and to_eve[0] == to_eve[1]
    assert site.copies(reaction_id) == []


def test_a_community_that_does_not_fold_thanks_sends_plus_one_on(
    app: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    seed(app, fold_thanks=False)
    with started(app, settings, sink) as site:
        question = ask(site)
        plus_one = post("Re: Planning", "+1\n", message_id=new_id(), sender=f"Bob <{BOB}>",
                        parent=question)  # fmt: skip
        site.send(plus_one.as_bytes(), BOB)
        plus_one_id = str(plus_one["Message-ID"]).strip("<>")
        wait_for(lambda: site.copies(plus_one_id) == [ALICE, CAROL], what="the +1's copies")
        assert site.reactions() == []


def test_a_thank_you_sent_back_to_a_digest_is_a_reaction_in_its_thread(
    app: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    replies.seed(app)  # design: alice (owner) and carol instant, bob a daily digest
    with running(configured(settings, sink[1], "en")) as gateway:
        site = replies.Site(app, gateway, sink[0])
        digest, ids = replies.digest_for_bob(site)
        text = plain_text(digest)
        start = text.index("* Fonts")
        block = text[start : text.index("\n", text.index("mute+", start)) + 1]
        thanks = replies.reply_to(digest, "Thanks!\n\n" + replies.quoted(block))
        before = len(sink[0].copies())

        site.send(thanks, "digest@lists.example.com")

        wait_for(lambda: handled(app), what="the reply handled")
        assert Site(app, gateway, sink[0]).reactions() == [
            (replies.BOB, ids["fonts"], FOLDED_HANDS, "reply")
        ]
        assert site.stored(str(thanks["Message-ID"])) is None
        with transaction(app.read_sessions) as session:
            outcomes = session.scalars(select(ActionMail.outcome)).all()
        assert "reacted" in outcomes
        assert len(sink[0].copies()) == before  # no copy, no answer to bob
