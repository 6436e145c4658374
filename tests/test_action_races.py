"""Moderators and action mail on two nodes at once (PostgreSQL): one node's decision is
written but not yet committed while the other node makes one about the same thing.
Each case checks that the second sees what the first decided, and that whoever wrote
in is answered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.actions import tokens
from gateway.actions.runner import run_actions
from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.held import reject
from gateway.community.members import add_members
from gateway.community.people import ProfileChanges
from gateway.community.people import apply_profile_changes
from gateway.community.people import find_person
from gateway.community.publishing import publish_held
from gateway.engagement.answers import accept_answer
from gateway.errors import InvalidInput
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import InboundMail
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import ActionMail
from gateway.store.models import Confirmation
from gateway.store.models import Delivery
from gateway.store.models import Message
from gateway.store.models import MessageStatus
from gateway.store.models import Policy
from gateway.store.models import Role
from tests.factories import AT
from tests.factories import DOMAIN
from tests.factories import as_bytes
from tests.factories import ingest_post
from tests.factories import new_message_id
from tests.factories import post
from tests.races import WAIT_SECONDS
from tests.races import in_thread
from tests.races import joined
from tests.races import two_nodes
from tests.races import wait_for_a_lock_wait
from tests.test_engagement_answers import LATER
from tests.test_engagement_answers import act
from tests.test_engagement_answers import chosen
from tests.test_engagement_answers import last_answer_to
from tests.test_engagement_answers import make_question
from tests.test_engagement_answers import token_for
from tests.test_engagement_answers import trusted

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True
)


PEER = "192.0.2.1"  # a relay the actions trust: its mail needs no confirmation


@pytest.fixture
def nodes(settings: Settings) -> Iterator[tuple[App, App]]:
    with two_nodes(settings) as apps:
        yield apps


class Held:
    """Work done in a transaction of node A, held uncommitted until released."""

    def __init__(self, app: App, work: Callable[[Session], object]) -> None:
        self.done = threading.Event()
        self.released = threading.Event()
        self.worker = in_thread(lambda: self._run(app, work))
        assert self.done.wait(WAIT_SECONDS)

    def _run(self, app: App, work: Callable[[Session], object]) -> None:
        with transaction(app.sessions) as session:
            work(session)
            self.done.set()
            assert self.released.wait(WAIT_SECONDS)


def post_in_wait(app: App) -> str:
    """A post waiting for the moderators of design (moderated); its Message-ID."""
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", policy=Policy.MODERATED)
        add_members(session, design, ["mona@example.com"], role=Role.MODERATOR)
        add_members(session, design, ["alice@example.com"])
    return ingest_post(app, "design", subject="Colours", expect="held")


def the_message(session: Session, message_id: str) -> Message:
    return session.scalars(select(Message).where(Message.message_id == message_id)).one()


def test_a_post_rejected_while_another_node_approves_it_stays_published(
    nodes: tuple[App, App],
) -> None:
    node_a, node_b = nodes
    message_id = post_in_wait(node_a)
    approval = Held(node_a, lambda s: publish_held(s, the_message(s, message_id), AT))

    def rejection() -> None:
        with transaction(node_b.sessions) as session:
            message = the_message(session, message_id)
            reject(session, node_b.templates, node_b.settings, message, "No.", AT)

    second = in_thread(rejection)
    assert wait_for_a_lock_wait(node_a, second)
    approval.released.set()
    joined(approval.worker, second)
    assert approval.worker.error is None
    # The rejection found the post decided already, and changed nothing.
    assert isinstance(second.error, InvalidInput)
    assert "is published, not held" in str(second.error)
    with transaction(node_a.read_sessions) as session:
        assert the_message(session, message_id).status is MessageStatus.PUBLISHED
        notices = select(Delivery.id).where(Delivery.recipient == "alice@example.com")
        assert session.scalars(notices.where(Delivery.kind != "post")).all() == []


def test_an_answer_chosen_by_mail_while_another_node_chooses_one_is_chosen_and_answered(
    nodes: tuple[App, App],
) -> None:
    node_a, node_b = nodes
    asked = make_question(node_a)
    # Node A: Bob's reply chosen (by the thread's moderator, say), not yet committed.
    first = Held(node_a, lambda s: accept_answer(s, asked.thread_id, asked.bob, None, LATER))
    # Node B: the asker's link for Carl's reply, meanwhile. Its choice waits for A's, is
    # refused by it (the thread has an answer now), and is made again.
    link = token_for(node_b, asked, asked.carl)
    rows: list[ActionMail] = []
    second = in_thread(lambda: rows.append(act(node_b, "ann@example.com", link, PEER)))
    assert wait_for_a_lock_wait(node_a, second)
    first.released.set()
    joined(first.worker, second)
    assert first.worker.error is None and second.error is None
    assert rows[0].outcome != "failed"
    assert chosen(node_a, asked.thread_id) == asked.carl
    answer = last_answer_to(node_a, "ann@example.com")
    assert "Marked as the answer" in str(answer["Subject"])


def test_a_confirmation_sent_twice_to_two_nodes_at_once_is_used_once(
    nodes: tuple[App, App],
) -> None:
    node_a, node_b = nodes
    asked = make_question(node_a)
    act(node_a, "ann@example.com", token_for(node_a, asked, asked.bob))  # not authenticated
    confirm = str(last_answer_to(node_a, "ann@example.com")["Reply-To"])
    token = confirm.split("+", 1)[1].split("@", 1)[0]

    def use(session: Session) -> None:  # as node A's action round does with the first copy
        used = tokens.check(session, token, "ann@example.com", LATER)
        assert isinstance(used, Confirmation)
        used.used_at = LATER

    first = Held(node_a, use)
    mail = post("Re: confirm", "\n", message_id=new_message_id(), sender="ann@example.com",
                to=confirm)  # fmt: skip
    second = in_thread(lambda: act_on(node_b, mail, confirm))
    assert wait_for_a_lock_wait(node_a, second)
    first.released.set()
    joined(first.worker, second)
    assert first.worker.error is None and second.error is None
    assert chosen(node_a, asked.thread_id) is None  # the second copy did nothing
    assert "used" in str(last_answer_to(node_a, "ann@example.com")["Subject"])


def test_two_profile_mails_at_once_on_two_nodes_leave_the_later_ones_tags(
    nodes: tuple[App, App],
) -> None:
    node_a, node_b = nodes
    make_question(node_a)  # ann is a member, with no expertise yet

    def first_mail(session: Session) -> None:  # as node A's action round applies it
        ann = find_person(session, "ann@example.com")
        assert ann is not None
        apply_profile_changes(ann, ProfileChanges(expertise=["colour", "grids"]))
        session.flush()

    first = Held(node_a, first_mail)
    mail = post("profile", "Expertise: typography\n", message_id=new_message_id(),
                sender="ann@example.com", to=f"profile@{DOMAIN}")  # fmt: skip
    second = in_thread(lambda: act_on(node_b, mail, f"profile@{DOMAIN}", PEER))
    assert wait_for_a_lock_wait(node_a, second)
    first.released.set()
    joined(first.worker, second)
    assert first.worker.error is None and second.error is None
    with transaction(node_a.read_sessions) as session:
        ann = find_person(session, "ann@example.com")
        assert ann is not None
        assert [tag.label for tag in ann.tags] == ["typography"]


def act_on(app: App, mail: EmailMessage, address: str, peer: str = "") -> None:
    """`mail` from ann to `address` (through `peer`, a relay the actions trust), acted on."""
    raw = as_bytes(mail)
    ingest_now(app, [InboundMail(raw, "ann@example.com", (address,), LATER, peer=peer)])
    settings = trusted(app.settings, peer) if peer else app.settings
    run_actions(app.sessions, app.blobs, app.templates, settings, lambda: LATER)
