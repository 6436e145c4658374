"""Accepted answers (issue 22, point 2): who may choose, which reply can be chosen, the
signed answer+TOKEN@ links, "solved" replies, the email action and `gateway thread
answer`, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from archive.publisher import store_fingerprint
from gateway.actions.runner import run_actions
from gateway.app import App
from gateway.app import make_template_environment
from gateway.community.communities import close_community
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.community.members import remove_members
from gateway.community.people import find_person
from gateway.engagement.answer_links import LINK_DAYS
from gateway.engagement.answer_links import AnswerLinks
from gateway.engagement.answer_links import AnswerRequest
from gateway.engagement.answer_links import ExpiredToken
from gateway.engagement.answer_links import ForgedToken
from gateway.engagement.answers import AnswerRefused
from gateway.engagement.answers import UnknownThread
from gateway.engagement.answers import accept_answer
from gateway.engagement.answers import askers_of_replies
from gateway.engagement.answers import check_answer
from gateway.engagement.answers import clear_answer
from gateway.engagement.answers import may_accept
from gateway.engagement.answers import thread_communities
from gateway.engagement.solved import says_solved
from gateway.errors import NotFound
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import Disposition
from gateway.ingest.context import InboundMail
from gateway.mail.recipients import Kind
from gateway.mail.recipients import parse_recipient
from gateway.outbound.render import Destination
from gateway.outbound.render import Post
from gateway.outbound.render import Renderer
from gateway.outbound.worker import DeliveryWorker
from gateway.relay.envelope import Envelope
from gateway.relay.envelope import Reply
from gateway.relay.maildir import MaildirRelay
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import ActionKind
from gateway.store.models import ActionMail
from gateway.store.models import Community
from gateway.store.models import Confirmation
from gateway.store.models import Delivery
from gateway.store.models import Message
from gateway.store.models import MessageStatus
from gateway.store.models import Policy
from gateway.store.models import Role
from gateway.store.models import ThreadAnswer
from tests.conftest import GatewayCli
from tests.factories import AT
from tests.factories import DOMAIN
from tests.factories import as_bytes
from tests.factories import ingest
from tests.factories import ingest_post
from tests.factories import new_message_id
from tests.factories import post

TODAY = dt.date(2026, 11, 20)
LATER = AT + dt.timedelta(hours=2)


@dataclasses.dataclass
class Question:
    """design (members): ann asked, bob and carl replied, mona moderates, olga owns."""

    thread_id: int
    question: int
    bob: int  # bob's reply
    carl: int  # carl's reply to bob's
    ids: dict[str, str]  # name -> Message-ID


@pytest.fixture
def asked(app: App) -> Question:
    return make_question(app)


def make_question(app: App) -> Question:
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design")
        add_members(session, design, ["ann@example.com", "bob@example.com", "carl@example.com"])
        add_members(session, design, ["mona@example.com"], role=Role.MODERATOR)
        add_members(session, design, ["olga@example.com"], role=Role.OWNER)
    ids = {"question": ingest_post(app, "design", subject="Grid?", sender="ann@example.com")}
    ids["bob"] = ingest_post(app, "design", subject="Re: Grid?", sender="bob@example.com",
                             parent=ids["question"], at=AT + dt.timedelta(minutes=5))  # fmt: skip
    ids["carl"] = ingest_post(app, "design", subject="Re: Grid?", sender="carl@example.com",
                              parent=ids["bob"], at=AT + dt.timedelta(minutes=9))  # fmt: skip
    with transaction(app.read_sessions) as session:
        rows = {m.message_id: m for m in session.scalars(select(Message))}
        thread_id = rows[ids["question"]].thread_id
        assert thread_id is not None
        assert {m.thread_id for m in rows.values()} == {thread_id}
        return Question(
            thread_id,
            rows[ids["question"]].id,
            rows[ids["bob"]].id,
            rows[ids["carl"]].id,
            ids,
        )


def person_id(session: Session, address: str) -> int:
    person = find_person(session, address)
    assert person is not None
    return person.id


def chosen(app: App, thread_id: int) -> int | None:
    with transaction(app.read_sessions) as session:
        row = session.get(ThreadAnswer, thread_id)
        return row.message_id if row is not None else None


# --- who may choose, and what -------------------------------------------------------


def test_the_asker_and_the_staff_may_accept_and_no_one_else(app: App, asked: Question) -> None:
    with transaction(app.sessions) as session:
        thread = check_answer(session, asked.thread_id, asked.bob)
        allowed = {
            address: may_accept(session, thread, find_person(session, address))  # type: ignore[arg-type]
            for address in ["ann", "bob", "carl", "mona", "olga"]
            for address in [f"{address}@example.com"]
        }
        assert allowed == {
            "ann@example.com": True,
            "bob@example.com": False,
            "carl@example.com": False,
            "mona@example.com": True,
            "olga@example.com": True,
        }
        # The asker removed from the community marks nothing there any more.
        design = thread_community(session, asked.thread_id)
        remove_members(session, design, ["ann@example.com"])
        ann = find_person(session, "ann@example.com")
        assert ann is not None and not may_accept(session, thread, ann)
        # In an open community, posting needs no membership: the asker may.
        design.policy = Policy.OPEN
        assert may_accept(session, thread, ann)
        # A closed community takes no choice, not even the staff's.
        close_community(session, "design")
        mona = find_person(session, "mona@example.com")
        assert mona is not None and not may_accept(session, thread, mona)


def thread_community(session: Session, thread_id: int) -> Community:
    [community] = thread_communities(session, thread_id)
    return community


def test_a_reply_is_accepted_a_later_one_replaces_it_and_the_same_changes_nothing(
    app: App, asked: Question
) -> None:
    with transaction(app.sessions) as session:
        ann = person_id(session, "ann@example.com")
        assert accept_answer(session, asked.thread_id, asked.bob, ann, AT)
        assert not accept_answer(session, asked.thread_id, asked.bob, ann, LATER)
        row = session.get(ThreadAnswer, asked.thread_id)
        assert row is not None and row.answered_at == AT  # the same choice: untouched
        assert accept_answer(session, asked.thread_id, asked.carl, None, LATER)
    with transaction(app.read_sessions) as session:
        rows = session.scalars(select(ThreadAnswer)).all()
        assert [(r.message_id, r.answered_by_id, r.answered_at) for r in rows] == [
            (asked.carl, None, LATER)
        ]
    with transaction(app.sessions) as session:
        assert clear_answer(session, asked.thread_id)
        assert not clear_answer(session, asked.thread_id)
    assert chosen(app, asked.thread_id) is None


def test_the_archive_publisher_sees_an_answer_accepted_replaced_and_taken_back(
    app: App, asked: Question
) -> None:
    def fingerprint() -> tuple[object, ...]:
        with transaction(app.read_sessions) as session:
            return store_fingerprint(session)

    seen = [fingerprint()]
    for choice in (asked.bob, asked.carl, None):
        with transaction(app.sessions) as session:
            if choice is None:
                clear_answer(session, asked.thread_id)
            else:
                accept_answer(session, asked.thread_id, choice, None, LATER)
        seen.append(fingerprint())
    assert len(set(seen[:3])) == 3 and seen[3] != seen[2]


def test_only_a_published_reply_of_the_thread_can_be_its_answer(app: App, asked: Question) -> None:
    other = ingest_post(app, "design", subject="Other", sender="bob@example.com")
    with transaction(app.sessions) as session:
        other_id = session.scalar(select(Message.id).where(Message.message_id == other))
        assert other_id is not None

        def refusal(thread_id: int, message_id: int) -> str:
            with pytest.raises(AnswerRefused) as refused:
                accept_answer(session, thread_id, message_id, None, AT)
            return str(refused.value)

        assert "starts thread" in refusal(asked.thread_id, asked.question)
        assert "is not in thread" in refusal(asked.thread_id, other_id)
        assert refusal(asked.thread_id, 999_999) == "no message 999999"
        with pytest.raises(UnknownThread) as unknown:
            accept_answer(session, 999_999, asked.bob, None, AT)
        assert isinstance(unknown.value, NotFound)
        with pytest.raises(NotFound):
            clear_answer(session, 999_999)
        session.execute(
            update(Message).where(Message.id == asked.carl).values(status=MessageStatus.HELD)
        )
        assert "held, not published" in refusal(asked.thread_id, asked.carl)
        assert session.scalars(select(ThreadAnswer)).all() == []


def test_the_asker_of_a_reply_is_the_threads_first_author(app: App, asked: Question) -> None:
    with transaction(app.read_sessions) as session:
        ann = person_id(session, "ann@example.com")
        # One query for all the posts of a delivery round; the question has no asker.
        found = askers_of_replies(session, [asked.bob, asked.carl, asked.question, 999_999])
        assert found == {asked.bob: (asked.thread_id, ann), asked.carl: (asked.thread_id, ann)}
        assert askers_of_replies(session, []) == {}


# --- "solved" ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["solved", "Solved!", "SOLVED.", "Résolu", "résolu, merci", "Resolu merci beaucoup !",
     "C'est résolu", "C\u2019est résolu 🎉", "Problem solved, thanks all", "Problème résolu.",
     "Resolved, thank you!", "Solved, thanks\nAnn Lee", "Solved, thanks Bob",
     "Merci Bob, résolu", "Résolu, merci Bob Stone !"],
)  # fmt: skip
def test_a_reply_that_only_says_solved(text: str) -> None:
    assert says_solved(text, ["Ann Lee", "Bob Stone"])  # the sender's, the answered author's


@pytest.mark.parametrize(
    "text",
    ["", "Thanks!", "Merci !", "Résolu ?", "Is it solved", "not solved", "Pas encore résolu",
     "Solved by restarting the proxy, then clearing the cache on every node of the cluster.",
     "Solved it with the 12-column grid", "+1", "solvedd", "irrésolu", "Résolu\uff1f",
     "Solved, thanks Carl"],
)  # fmt: skip
def test_a_reply_that_says_more_or_else(text: str) -> None:
    assert not says_solved(text, ["Ann Lee", "Bob Stone"])


def reply(sender: str, parent: str, body: str, message_id: str) -> EmailMessage:
    quoted = "> Use the 12-column grid.\n"
    return post("Re: Grid?", f"{body}\n\nOn Friday, someone wrote:\n{quoted}",
                message_id=message_id, sender=sender, parent=parent)  # fmt: skip


def stored(app: App, message_id: str) -> bool:
    with transaction(app.read_sessions) as session:
        return (
            session.scalar(select(Message.id).where(Message.message_id == message_id)) is not None
        )


def test_the_askers_solved_reply_marks_the_answer_and_is_not_posted(
    app: App, asked: Question
) -> None:
    with transaction(app.read_sessions) as session:
        queued = session.scalar(select(Delivery.id).order_by(Delivery.id.desc()).limit(1))
    solved = reply("Ann <ann@example.com>", asked.ids["bob"], "Résolu, merci !", "solved-1@x")
    outcome = ingest(app, solved, sender="ann@example.com", at=LATER)
    assert outcome.disposition is Disposition.ANSWER
    assert outcome.communities == ("design",)
    assert chosen(app, asked.thread_id) == asked.bob
    assert not stored(app, "solved-1@x")
    with transaction(app.read_sessions) as session:  # reaches no one
        assert session.scalar(select(Delivery.id).where(Delivery.id > (queued or 0))) is None
        [row] = session.scalars(select(ThreadAnswer)).all()
        assert row.answered_by_id == person_id(session, "ann@example.com")
        assert row.answered_at == LATER
    # The moderator's "solved" moves it; the same mail again changes nothing more.
    again = reply("mona@example.com", asked.ids["carl"], "Solved.", "solved-2@example.com")
    assert ingest(app, again, sender="mona@example.com").disposition is Disposition.ANSWER
    assert chosen(app, asked.thread_id) == asked.carl
    assert ingest(app, again, sender="mona@example.com").disposition is Disposition.ANSWER
    assert chosen(app, asked.thread_id) == asked.carl


def test_a_solved_reply_may_thank_an_author_who_sends_no_name_by_their_local_part(
    app: App, asked: Question
) -> None:
    # bob@example.com posted with no name in From: he is "bob", as the pages call him.
    solved = reply("ann@example.com", asked.ids["bob"], "Solved, thanks Bob!", "solved-b@x")
    assert ingest(app, solved, sender="ann@example.com").disposition is Disposition.ANSWER
    assert chosen(app, asked.thread_id) == asked.bob


@pytest.mark.parametrize(
    ("sender", "parent", "body"),
    [
        ("bob@example.com", "carl", "Solved!"),  # not the asker: a post like any other
        ("ann@example.com", "question", "Solved!"),  # the question is not its own answer
        ("ann@example.com", "bob", "Not solved yet: the grid breaks on phones."),
        ("ann@example.com", "", "Solved!"),  # a reply to nothing
    ],
)
def test_other_solved_replies_are_posts(
    app: App, asked: Question, sender: str, parent: str, body: str
) -> None:
    mail = reply(sender, asked.ids[parent] if parent else "", body, "post-1@example.com")
    outcome = ingest(app, mail, sender=sender, at=LATER)
    assert outcome.disposition is Disposition.PUBLISHED
    assert stored(app, "post-1@example.com")
    assert chosen(app, asked.thread_id) is None


def test_a_solved_reply_the_sender_may_not_post_is_held_and_marks_nothing(
    app: App, asked: Question
) -> None:
    with transaction(app.sessions) as session:
        remove_members(session, thread_community(session, asked.thread_id), ["ann@example.com"])
    mail = reply("ann@example.com", asked.ids["bob"], "Solved!", "held-1@example.com")
    assert ingest(app, mail, sender="ann@example.com").disposition is Disposition.HELD
    assert chosen(app, asked.thread_id) is None


def test_a_solved_reply_thanking_the_answers_author_by_name_marks_it(
    app: App, asked: Question
) -> None:
    dora = ingest_post(app, "design", subject="Re: Grid?", sender="olga@example.com",
                       name="Olga Petit", parent=asked.ids["question"], at=LATER)  # fmt: skip
    mail = reply("Ann <ann@example.com>", dora, "Solved, thanks Olga!", "named-1@example.com")
    assert ingest(app, mail, sender="ann@example.com").disposition is Disposition.ANSWER
    with transaction(app.read_sessions) as session:
        olga_reply = session.scalar(select(Message.id).where(Message.message_id == dora))
    assert chosen(app, asked.thread_id) == olga_reply


def test_a_solved_reply_held_or_sent_beyond_the_threads_communities_is_a_post(
    app: App, asked: Question
) -> None:
    with transaction(app.sessions) as session:
        ops = create_community(session, "ops", "Ops")  # members only; ann is not one
        add_members(session, ops, ["olga@example.com"])
        create_community(session, "team", "Team", policy=Policy.OPEN)
    # Held in ops (ann may not post there), published in design: it marks nothing.
    held = reply("ann@example.com", asked.ids["bob"], "Solved!", "cross-1@example.com")
    outcome = ingest(app, held, ("design", "ops"), sender="ann@example.com", at=LATER)
    assert outcome.disposition is Disposition.PUBLISHED and "ops" in outcome.communities
    assert stored(app, "cross-1@example.com")
    # Held nowhere, but team is none of the thread's communities: a post as well.
    beyond = reply("ann@example.com", asked.ids["bob"], "Solved!", "cross-2@example.com")
    outcome = ingest(app, beyond, ("design", "team"), sender="ann@example.com", at=LATER)
    assert outcome.disposition is Disposition.PUBLISHED
    assert stored(app, "cross-2@example.com")
    assert chosen(app, asked.thread_id) is None


# --- the signed links ---------------------------------------------------------------


def test_answer_tokens_are_signed_lowercase_short_and_expire(tmp_path: Path) -> None:
    links = AnswerLinks.for_data_dir(tmp_path)
    request = AnswerRequest(123_456_789, 987_654_321, 555_555_555)
    token = links.token(request, TODAY)
    assert token == token.lower()
    local = f"answer+{token}"
    assert len(local) <= 64  # RFC 5321 4.5.3.1.1
    assert links.read(token, TODAY) == request
    assert links.read(token, TODAY + dt.timedelta(days=LINK_DAYS)) == request
    with pytest.raises(ExpiredToken):
        links.read(token, TODAY + dt.timedelta(days=LINK_DAYS + 1))
    thread, message, person, day, mac = token.split("-")
    forged = [
        f"{thread}-{int(message) + 1}-{person}-{day}-{mac}",  # another reply
        f"{thread}-{message}-{int(person) + 1}-{day}-{mac}",  # another person
        f"{thread}-{message}-{person}-{int(day) + 30}-{mac}",  # made younger
        f"{thread}-{message}-{person}-{day}-{mac[:-1]}a" if mac[-1] != "a" else token[:-1] + "b",
        token[:-3],
        "",
        "42",
    ]
    for bad in forged:
        with pytest.raises(ForgedToken):
            links.read(bad, TODAY)
    with pytest.raises(ForgedToken):  # another installation's key
        AnswerLinks.for_data_dir(tmp_path / "other").read(token, TODAY)
    assert AnswerLinks.for_data_dir(tmp_path).read(token, TODAY) == request  # the key is kept
    link = links.link(request, TODAY, DOMAIN)
    assert link == f"mailto:answer+{token}@{DOMAIN}?subject=answer"
    recipient = parse_recipient(f"Answer+{token}@{DOMAIN}", DOMAIN)
    assert (recipient.kind, recipient.action, recipient.token) == (
        Kind.ACTION,
        ActionKind.ANSWER,
        token,
    )


# --- the link in the asker's copy ------------------------------------------------------


class RecordingMaildir(MaildirRelay):
    """The Maildir relay, keeping each envelope it is given."""

    def __init__(self, path: Path, domain: str) -> None:
        super().__init__(path, domain)
        self.envelopes: list[Envelope] = []

    async def send(self, envelope: Envelope) -> list[Reply]:
        self.envelopes.append(envelope)
        return await super().send(envelope)


def copies(app: App, tmp_path: Path) -> dict[tuple[str, str], str]:
    """Deliver what is due: (Message-ID, recipient) -> the copy's plain text."""

    async def rounds() -> RecordingMaildir:
        relay = RecordingMaildir(tmp_path / "outbox", DOMAIN)
        worker = DeliveryWorker(app, relay)
        await worker.start()
        try:
            while await worker.deliver_round():
                pass
        finally:
            await worker.close()
        return relay

    found: dict[tuple[str, str], str] = {}
    for envelope in asyncio.run(rounds()).envelopes:
        message = email.message_from_bytes(envelope.payload, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        text = body.get_content() if body is not None else ""
        text += html.get_content() if html is not None else ""
        for recipient in envelope.recipients:
            found[str(message["Message-ID"]).strip("<>"), recipient] = text
    return found


def test_only_the_askers_copy_of_a_reply_has_the_answer_link(
    app: App, asked: Question, tmp_path: Path
) -> None:
    sent = copies(app, tmp_path)
    ids = asked.ids
    with_link = {key for key, text in sent.items() if "Mark this reply as the answer" in text}
    assert with_link == {(ids["bob"], "ann@example.com"), (ids["carl"], "ann@example.com")}
    assert (ids["bob"], "carl@example.com") in sent  # the others had theirs, without it
    assert not any("answer+" in text for key, text in sent.items() if key not in with_link)
    [link] = re.findall(
        r"mailto:answer\+[^\s?]+\?subject=answer", sent[ids["bob"], "ann@example.com"]
    )
    token = link.removeprefix("mailto:answer+").split("@")[0]
    act(app, "ann@example.com", token, peer="192.0.2.1", now=dt.datetime.now(dt.UTC))
    assert chosen(app, asked.thread_id) == asked.bob  # the worker's clock wrote the day


@pytest.mark.parametrize(
    ("language", "label"),
    [("en", "Mark this reply as the answer"), ("fr", "Marquer cette réponse comme la solution")],
)
def test_the_answer_link_in_both_footers(language: str, label: str) -> None:
    settings = Settings()
    settings = dataclasses.replace(
        settings, gateway=dataclasses.replace(settings.gateway, language=language)
    )
    raw = (
        b"From: Bob <bob@example.com>\r\nSubject: Re: Grid?\r\nMessage-ID: <r1@x>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nThe 12 columns.\r\n"
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>The 12 columns.</p>\r\n--b--\r\n"
    )
    post = Post(raw, "r1@x", "Re: Grid?", "Bob", "bob@example.com", 7, AT, {})
    to = Destination("design", "Design", "[design]", "community", public=True)
    renderer = Renderer(settings, make_template_environment())
    link = f"mailto:answer+7-2-1-20412-abcdefghijklmnop@{DOMAIN}?subject=answer"
    mine = email.message_from_bytes(renderer.render(post, to, link), policy=email.policy.default)
    theirs = email.message_from_bytes(renderer.render(post, to), policy=email.policy.default)
    plain, html = (mine.get_body(preferencelist=(kind,)) for kind in ("plain", "html"))
    colon = "\u00a0:" if language == "fr" else ":"
    assert f"{label}{colon} {link}\r\n" in plain.get_content()  # type: ignore[union-attr]
    assert f'<a href="{link}"' in html.get_content()  # type: ignore[union-attr]
    assert f">{label}</a>" in html.get_content()  # type: ignore[union-attr]
    assert b"answer+" not in theirs.as_bytes()


# --- the email action ---------------------------------------------------------------


def trusted(settings: Settings, peer: str) -> Settings:
    return dataclasses.replace(
        settings, actions=dataclasses.replace(settings.actions, trusted_relays=(peer,))
    )


def act(app: App, sender: str, token: str, peer: str = "", now: dt.datetime = LATER) -> ActionMail:
    """Mail answer+TOKEN@ from `sender` (through `peer`, which the actions trust), and
    let the actions run."""
    address = f"answer+{token}@{DOMAIN}"
    message_id = new_message_id()
    mail = post("answer", "\n", message_id=message_id, sender=sender, to=address)
    [outcome] = ingest_now(app, [InboundMail(as_bytes(mail), sender, (address,), now, peer=peer)])
    assert not isinstance(outcome, Exception)
    settings = trusted(app.settings, peer) if peer else app.settings
    run_actions(app.sessions, app.blobs, app.templates, settings, lambda: now)
    with transaction(app.read_sessions) as session:
        row = session.scalar(select(ActionMail).where(ActionMail.message_id == message_id))
        assert row is not None and row.handled_at is not None
        session.expunge(row)
        return row


def last_answer_to(app: App, address: str) -> EmailMessage:
    with transaction(app.read_sessions) as session:
        content = session.scalar(
            select(Delivery.content)
            .where(Delivery.recipient == address, Delivery.content.is_not(None))
            .order_by(Delivery.id.desc())
            .limit(1)
        )
    assert content is not None
    return email.message_from_bytes(content, policy=email.policy.default)


def token_for(app: App, asked: Question, message: int, person: str = "ann@example.com") -> str:
    with transaction(app.read_sessions) as session:
        request = AnswerRequest(asked.thread_id, message, person_id(session, person))
    return AnswerLinks.for_data_dir(app.settings.gateway.data_dir).token(request, LATER.date())


def test_the_askers_links_from_a_trusted_relay_choose_and_choose_again(
    app: App, asked: Question
) -> None:
    token = token_for(app, asked, asked.bob)
    act(app, "ann@example.com", token, peer="192.0.2.1")
    assert chosen(app, asked.thread_id) == asked.bob
    assert "Marked as the answer" in str(last_answer_to(app, "ann@example.com")["Subject"])
    # Carl's reply chosen since; Bob's link again goes back to Bob's reply.
    act(app, "ann@example.com", token_for(app, asked, asked.carl), peer="192.0.2.1")
    assert chosen(app, asked.thread_id) == asked.carl
    act(app, "ann@example.com", token, peer="192.0.2.1")
    assert chosen(app, asked.thread_id) == asked.bob
    assert "Marked as the answer" in str(last_answer_to(app, "ann@example.com")["Subject"])
    # The same link once more: already the answer, nothing changes.
    act(app, "ann@example.com", token, peer="192.0.2.1")
    assert chosen(app, asked.thread_id) == asked.bob
    assert "Already the answer" in str(last_answer_to(app, "ann@example.com")["Subject"])


def test_forged_expired_and_others_tokens_change_nothing(app: App, asked: Question) -> None:
    token = token_for(app, asked, asked.bob)
    thread, message, person, day, mac = token.split("-")
    cases = [
        ("ann@example.com", f"{thread}-{asked.carl}-{person}-{day}-{mac}", "not valid"),
        ("ann@example.com", f"{asked.thread_id}", "not valid"),  # a mute-style number
        ("bob@example.com", token, "not valid"),  # ann's link, from bob: (subject) other-person
    ]
    for sender, bad, _ in cases:
        row = act(app, sender, bad)
        assert row.outcome == "answered"
    assert "not valid" in str(last_answer_to(app, "bob@example.com")["Subject"])
    old = AnswerLinks.for_data_dir(app.settings.gateway.data_dir).token(
        AnswerRequest(asked.thread_id, asked.bob, int(person)),
        LATER.date() - dt.timedelta(days=LINK_DAYS + 1),
    )
    act(app, "ann@example.com", old)
    assert "expired" in str(last_answer_to(app, "ann@example.com")["Subject"])
    assert chosen(app, asked.thread_id) is None


def test_an_unauthenticated_link_is_confirmed_first(app: App, asked: Question) -> None:
    act(app, "ann@example.com", token_for(app, asked, asked.bob))
    assert chosen(app, asked.thread_id) is None  # nothing before the confirmation
    asked_mail = last_answer_to(app, "ann@example.com")
    assert "Please confirm" in str(asked_mail["Subject"])
    confirm = str(asked_mail["Reply-To"])
    assert confirm.startswith("confirm+")
    mail = post("Re: confirm", "\n", message_id="yes-1@example.com",
                sender="ann@example.com", to=confirm)  # fmt: skip
    ingest_now(app, [InboundMail(as_bytes(mail), "ann@example.com", (confirm,), LATER)])
    run_actions(app.sessions, app.blobs, app.templates, app.settings, lambda: LATER)
    assert chosen(app, asked.thread_id) == asked.bob
    assert "Marked as the answer" in str(last_answer_to(app, "ann@example.com")["Subject"])
    # The link again: nothing would change, so nothing to confirm.
    act(app, "ann@example.com", token_for(app, asked, asked.bob))
    assert "Already the answer" in str(last_answer_to(app, "ann@example.com")["Subject"])
    with transaction(app.read_sessions) as session:
        assert len(session.scalars(select(Confirmation)).all()) == 1


def test_a_link_of_someone_no_longer_allowed_is_refused(app: App, asked: Question) -> None:
    token = token_for(app, asked, asked.bob)
    with transaction(app.sessions) as session:
        remove_members(session, thread_community(session, asked.thread_id), ["ann@example.com"])
    act(app, "ann@example.com", token)
    assert "Not marked as the answer" in str(last_answer_to(app, "ann@example.com")["Subject"])
    assert chosen(app, asked.thread_id) is None


# --- gateway thread answer -----------------------------------------------------------


def test_thread_answer_cli(gateway_cli: GatewayCli, app: App, asked: Question) -> None:
    thread = str(asked.thread_id)
    bob, carl, question = asked.ids["bob"], asked.ids["carl"], asked.ids["question"]
    # As a Message-ID header is read: pasted with its name, or in brackets, or bare.
    said = gateway_cli("thread", "answer", thread, f"Message-ID: <{bob}>").stdout
    assert f"<{bob}> is now the answer" in said
    assert chosen(app, asked.thread_id) == asked.bob
    assert "already the answer" in gateway_cli("thread", "answer", thread, bob).stdout
    shown = gateway_cli.json("thread", "show", thread)
    assert shown["answer"]["message_id"] == bob and shown["answer"]["chosen_by"] is None
    text = gateway_cli("thread", "show", thread).stdout
    assert f"Answer: <{bob}> from bob@example.com" in text
    assert f"<{bob}> [answer]" in text and f"<{carl}> [answer]" not in text
    gateway_cli("thread", "answer", thread, carl)
    assert chosen(app, asked.thread_id) == asked.carl
    other = ingest_post(app, "design", subject="Other", sender="bob@example.com")
    assert "no thread 999999" in gateway_cli.error("thread", "answer", "999999", bob)
    assert "no message <nope@x>" in gateway_cli.error("thread", "answer", thread, "nope@x")
    assert f"is not in thread {thread}" in gateway_cli.error("thread", "answer", thread, other)
    assert f"starts thread {thread}" in gateway_cli.error("thread", "answer", thread, question)
    assert "either MESSAGE_ID or --clear" in gateway_cli.error("thread", "answer", thread, expect=2)
    assert "either" in gateway_cli.error("thread", "answer", thread, bob, "--clear", expect=2)
    assert chosen(app, asked.thread_id) == asked.carl  # no mistake changed it
    assert "no answer now" in gateway_cli("thread", "answer", thread, "--clear").stdout
    assert "had no answer" in gateway_cli("thread", "answer", thread, "--clear").stdout
    assert gateway_cli.json("thread", "show", thread)["answer"] is None
    assert "no thread 999999" in gateway_cli.error("thread", "answer", "999999", "--clear")
