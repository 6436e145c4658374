"""Accepted answers end to end (issue 22, point 2): a real gateway on loopback, posts and
replies over SMTP, the copies captured by an SMTP sink, in English and in French. The
asker's copy of each reply carries the link that accepts it, nobody else's does;
mailing that link marks the answer (confirmed first: the sender is not authenticated),
and again changes nothing;
a "résolu" reply marks it and reaches no one; `gateway thread answer` marks it; a forged
link and a "solved" from someone else change nothing, and so does a "solved" sent back to
a digest (the gateway chose the message it replies to, not the reader)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.community.people import find_person
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import ActionMail
from gateway.store.models import DiscardedMail
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import Role
from gateway.store.models import ThreadAnswer
from tests.conftest import GatewayCli
from tests.conftest import running
from tests.conftest import wait_for
from tests.integration import test_replies_end_to_end as replies
from tests.integration.test_email_actions import DOMAIN
from tests.integration.test_email_actions import Mail
from tests.integration.test_email_actions import assert_both_parts
from tests.integration.test_email_actions import configured
from tests.integration.test_email_actions import confirm_address
from tests.integration.test_email_actions import handled
from tests.integration.test_email_actions import text
from tests.received import plain_text
from tests.sink import Sink

ANN, BOB, CARL = "ann@example.com", "bob@example.com", "carl@example.com"
LINK_WORDS = {
    "en": "Mark this reply as the answer: mailto:answer+",
    "fr": "Marquer cette réponse comme la solution\u00a0: mailto:answer+",
}
MARKED = {"en": "Marked as the answer", "fr": "Marquée comme la solution"}
ALREADY = {"en": "Already the answer", "fr": "Déjà la solution"}
CONFIRM = {"en": "Please confirm: the answer", "fr": "Confirmez\u00a0: la solution"}


@pytest.fixture
def seeded(app: App) -> App:
    """design (members only): ann, bob and carl, every post as it arrives."""
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design")
        add_members(session, design, [ANN, BOB, CARL])
    return app


@pytest.fixture(params=["en", "fr"])
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mail(seeded: App, settings: Settings, sink: tuple[Sink, int], language: str) -> Iterator[Mail]:
    with running(configured(settings, sink[1], language)) as gateway:
        yield Mail(gateway, sink[0], language)
    assert_both_parts(sink[0])


def copy_of(mail: Mail, recipient: str, message_id: str) -> EmailMessage:
    """`recipient`'s copy of the post `message_id`, once it came."""

    def found() -> list[EmailMessage]:
        return [m for m in mail.to(recipient) if str(m["Message-ID"]) == message_id]

    wait_for(lambda: len(found()) == 1, what=f"{message_id} to {recipient}")
    return found()[0]


def answer_link(copy: EmailMessage) -> str:
    [address] = re.findall(r"mailto:(answer\+[^?\s]+)\?subject=answer", text(copy))
    return str(address)


def answer(app: App) -> str | None:
    """The Message-ID of the thread's answer (the tests have one thread of replies)."""
    with transaction(app.read_sessions) as session:
        row = session.scalar(select(ThreadAnswer))
        if row is None:
            return None
        message = session.get(Message, row.message_id)
        assert message is not None
        return f"<{message.message_id}>"


def test_answers_by_link_by_solved_reply_and_by_command(
    mail: Mail, seeded: App, language: str, gateway_cli: GatewayCli
) -> None:
    question = mail.send(ANN, f"design@{DOMAIN}", "Grid?", "Which grid for the forms?")
    copy_of(mail, BOB, question)
    bob = mail.send(BOB, f"design@{DOMAIN}", "Re: Grid?", "The 12 columns.", In_Reply_To=question)

    # Only the asker's copy of the reply offers to accept it, in their language.
    asker_copy = copy_of(mail, ANN, bob)
    assert LINK_WORDS[language] in text(asker_copy)
    assert "answer+" not in text(copy_of(mail, CARL, bob))
    assert "answer+" not in text(copy_of(mail, CARL, question))
    link = answer_link(asker_copy)

    # A forged link changes nothing, and is answered as a bad token is.
    thread, message, person, day, mac = link.split("@")[0].removeprefix("answer+").split("-")
    forged = f"answer+{thread}-{int(message) - 1}-{person}-{day}-{mac}@{DOMAIN}"
    mail.send(ANN, forged, "answer")
    mail.wait(ANN, "forged")
    # Ann's link, from Bob: not his.
    mail.send(BOB, link, "answer")
    wait_for(lambda: handled(seeded))
    assert answer(seeded) is None

    # The link from Ann: her address confirms (nothing changes before), then it is marked.
    mail.send(ANN, link, "answer")
    wait_for(lambda: any(CONFIRM[language] in str(m["Subject"]) for m in mail.to(ANN)))
    [asked] = [m for m in mail.to(ANN) if CONFIRM[language] in str(m["Subject"])]
    assert answer(seeded) is None
    mail.send(ANN, confirm_address(asked))
    wait_for(lambda: any(MARKED[language] in str(m["Subject"]) for m in mail.to(ANN)))
    assert answer(seeded) == bob
    # The same link again is a replay: nothing changes, and nothing to confirm.
    confirmations = len([m for m in mail.to(ANN) if CONFIRM[language] in str(m["Subject"])])
    mail.send(ANN, link, "answer")
    wait_for(lambda: any(ALREADY[language] in str(m["Subject"]) for m in mail.to(ANN)))
    assert answer(seeded) == bob
    assert len([m for m in mail.to(ANN) if CONFIRM[language] in str(m["Subject"])]) == confirmations

    # Carl answers better; Ann's "résolu" reply to it marks it, and reaches no one.
    carl = mail.send(CARL, f"design@{DOMAIN}", "Re: Grid?", "Use the 8-point grid.",
                     In_Reply_To=bob)  # fmt: skip
    copy_of(mail, ANN, carl)
    solved = mail.send(ANN, f"design@{DOMAIN}", "Re: Grid?",
                       "Résolu, merci !\n\nLe vendredi, Carl a écrit :\n> Use the 8-point grid.\n",
                       In_Reply_To=carl)  # fmt: skip
    wait_for(lambda: answer(seeded) == carl, what="the solved reply")
    # A "solved" from Bob (not the asker) is a post like any other.
    bob_solved = mail.send(BOB, f"design@{DOMAIN}", "Re: Grid?", "Solved!", In_Reply_To=carl)
    copy_of(mail, CARL, bob_solved)
    copy_of(mail, ANN, bob_solved)
    assert answer(seeded) == carl
    everyone = {rcpt for _, rcpt, data in mail.sink.copies() if solved.encode() in data}
    assert everyone == set(), "the solved reply went out"
    with transaction(seeded.read_sessions) as session:
        ids = {f"<{m}>" for m in session.scalars(select(Message.message_id))}
        assert solved not in ids and bob_solved in ids
        assert session.scalars(select(DiscardedMail)).all() == []  # marked, not discarded

    # An owner's command: Bob's reply again; the thread says so.
    with transaction(seeded.read_sessions) as session:
        thread_id = session.scalar(select(ThreadAnswer.thread_id))
    gateway_cli("thread", "answer", str(thread_id), bob)
    assert answer(seeded) == bob
    assert f"Answer: {bob} from {BOB}" in gateway_cli("thread", "show", str(thread_id)).stdout


def test_a_solved_sent_back_to_a_digest_is_a_post_and_marks_nothing(
    app: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    replies.seed(app)  # design: alice (owner) and carol instant, bob a daily digest
    with transaction(app.sessions) as session:  # bob may mark answers: a moderator
        session.execute(
            update(Membership)
            .where(Membership.person_id == person_of(session, replies.BOB))
            .values(role=Role.MODERATOR)
        )
    with running(configured(settings, sink[1], "en")) as gateway:
        site = replies.Site(app, gateway, sink[0])
        digest, ids = replies.digest_for_bob(site)
        shown = plain_text(digest)
        start = shown.index("* Colours")
        block = shown[start : shown.index("\n", shown.index("mute+", start)) + 1]
        solved = replies.reply_to(digest, "Solved!\n\n" + replies.quoted(block))

        site.send(solved, f"digest@{DOMAIN}")

        wait_for(lambda: handled(app), what="the reply handled")
        # A post under the thread's newest message (carol's reply): the gateway's pick.
        stored = site.stored(str(solved["Message-ID"]))
        assert stored is not None and stored[0] == "Colours" and stored[3] == ids["reply"]
        assert answer(app) is None
        with transaction(app.read_sessions) as session:
            assert "posted" in session.scalars(select(ActionMail.outcome)).all()


def person_of(session: Session, address: str) -> int:
    person = find_person(session, address)
    assert person is not None
    return person.id
