"""Threading on two nodes at once (PostgreSQL): a post is held, written but not yet
committed, while the other node takes in a post that meets it, then committed.

Batches take turns only where they meet (gateway.ingest.stages.write_messages): on a
Message-ID, a subject, or a thread they read (locked as a row). Each case checks what
the store holds once both committed: what one node taking the two posts in turn would
have stored. And a post that meets none of these is not held up.
Only on PostgreSQL: with SQLite the first writer holds the whole database until its
commit, so two nodes' batches never overlap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence

import pytest
from sqlalchemy import func
from sqlalchemy import select

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.publishing import publish_held
from gateway.community.publishing import set_status
from gateway.ingest import pipeline
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import InboundMail
from gateway.ingest.context import IngestContext
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Policy
from gateway.store.models import Thread
from tests.factories import AT
from tests.factories import community_address
from tests.factories import ingest
from tests.factories import raw_post
from tests.races import WAIT_SECONDS
from tests.races import in_thread
from tests.races import joined
from tests.races import two_nodes
from tests.races import wait_for_a_lock_wait

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True
)


@pytest.fixture
def nodes(settings: Settings) -> Iterator[tuple[App, App]]:
    """Two nodes on the test's database, with the community design."""
    with two_nodes(settings) as apps:
        with transaction(apps[0].sessions) as session:
            create_community(session, "design", "Design", policy=Policy.OPEN)
        yield apps


class Hold:
    """The last ingest stage: holds the transaction of the mail with this Message-ID,
    everything written and nothing committed, until released."""

    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self.reached = threading.Event()
        self.released = threading.Event()

    def run(self, ctx: IngestContext) -> None:
        if ctx.message_id == self.message_id:
            self.reached.set()
            assert self.released.wait(WAIT_SECONDS)


def mail(message_id: str, subject: str = "Colours", **headers: str) -> bytes:
    return raw_post(subject, "Body\n", message_id=message_id, sender="alice@example.com", **headers)


def meanwhile(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch, held: bytes, *others: bytes
) -> bool:
    """Node A takes in `held` and holds it uncommitted while node B takes in `others`,
    in one batch; then A commits. Whether B had to wait for A (a lock wait seen in
    pg_stat_activity)."""
    node_a, node_b = nodes
    return while_held(node_a, monkeypatch, held, lambda: ingest_batch(node_b, others))


def while_held(
    node: App, monkeypatch: pytest.MonkeyPatch, held: bytes, work: Callable[[], object]
) -> bool:
    """`node` takes in `held` and holds it uncommitted while `work` runs; then commits.
    Whether `work` had to wait for it."""
    hold = Hold(message_id_of(held))
    monkeypatch.setattr(pipeline, "STAGES", (*pipeline.STAGES, hold))
    first = in_thread(lambda: ingest(node, held))
    assert hold.reached.wait(WAIT_SECONDS)
    second = in_thread(work)
    waited = wait_for_a_lock_wait(node, second)
    hold.released.set()
    joined(first, second)
    assert first.error is None and second.error is None
    return waited


def ingest_batch(app: App, mails: Sequence[bytes]) -> None:
    """The mails in one batch, as the inbox processor takes them; each stored."""
    recipients = (community_address("design"),)
    outcomes = ingest_now(
        app, [InboundMail(raw, "alice@example.com", recipients, AT) for raw in mails]
    )
    assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)]


def message_id_of(raw: bytes) -> str:
    line = next(x for x in raw.split(b"\r\n") if x.lower().startswith(b"message-id:"))
    return line.split(b":", 1)[1].strip().decode().strip("<>")


def threads(app: App) -> list[tuple[list[str], int]]:
    """Each thread's messages (by Message-ID, in order) and its message count."""
    with transaction(app.read_sessions) as session:
        orphans = session.scalars(select(Message.message_id).where(Message.thread_id.is_(None)))
        assert orphans.all() == []
        found = []
        for thread in session.scalars(select(Thread).order_by(Thread.id)):
            ids = session.scalars(
                select(Message.message_id)
                .where(Message.thread_id == thread.id)
                .order_by(Message.id)
            )
            found.append((ids.all(), thread.message_count))
        return found


def parent_of(app: App, message_id: str) -> str | None:
    with transaction(app.read_sessions) as session:
        parent = select(Message.message_id).where(
            Message.id
            == select(Message.parent_id).where(Message.message_id == message_id).scalar_subquery()
        )
        return session.scalar(parent)


def test_a_post_that_meets_no_other_is_not_held_up(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    waited = meanwhile(nodes, monkeypatch, mail("alpha@x", "Alpha"), mail("beta@x", "Beta"))
    assert not waited
    assert threads(nodes[0]) == [(["alpha@x"], 1), (["beta@x"], 1)]


def test_a_reply_waits_for_its_parent_written_on_the_other_node(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = mail("reply@x", "Re: Colours", In_Reply_To="<parent@x>", References="<parent@x>")
    assert meanwhile(nodes, monkeypatch, mail("parent@x"), reply)
    assert threads(nodes[0]) == [(["parent@x", "reply@x"], 2)]
    assert parent_of(nodes[0], "reply@x") == "parent@x"


def test_a_late_parent_adopts_a_reply_written_on_the_other_node(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = mail("reply@x", "Re: Colours", In_Reply_To="<parent@x>", References="<parent@x>")
    assert meanwhile(nodes, monkeypatch, reply, mail("parent@x"))
    assert [ids for ids, _ in threads(nodes[0])] == [["reply@x", "parent@x"]]
    assert parent_of(nodes[0], "reply@x") == "parent@x"


def test_replies_to_one_absent_parent_on_two_nodes_share_a_thread(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = (
        mail(f"{n}@x", "Re: Colours", In_Reply_To="<ghost@x>", References="<ghost@x>")
        for n in ("one", "two")
    )
    assert meanwhile(nodes, monkeypatch, one, two)
    assert threads(nodes[0]) == [(["one@x", "two@x"], 2)]


def test_a_reply_without_references_finds_the_thread_its_subject_is_starting(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert meanwhile(nodes, monkeypatch, mail("lunch@x", "Lunch"), mail("re@x", "Re: Lunch"))
    assert threads(nodes[0]) == [(["lunch@x", "re@x"], 2)]


def test_two_replies_to_two_messages_of_one_thread_are_both_counted(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(nodes[0], mail("root@x"))
    ingest(nodes[0], mail("child@x", "Re: Colours", In_Reply_To="<root@x>"))
    # They name different messages (no key in common) and meet on the thread's row.
    to_root = mail("a@x", "Re: Colours", In_Reply_To="<root@x>")
    to_child = mail("b@x", "Re: Colours", In_Reply_To="<child@x>")
    assert meanwhile(nodes, monkeypatch, to_root, to_child)
    assert threads(nodes[0]) == [(["root@x", "child@x", "a@x", "b@x"], 4)]


@pytest.mark.parametrize("merge_first", [True, False], ids=["merge-held", "reply-held"])
def test_a_reply_into_a_thread_that_a_late_parent_merges_away_is_kept(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch, merge_first: bool
) -> None:
    # early@x names parent@x, absent: a thread of its own, which parent@x merges into
    # its own. later@x replies to early@x alone: it shares no key with parent@x.
    ingest(nodes[0], mail("early@x", "Re: Colours", In_Reply_To="<parent@x>"))
    merge, reply = mail("parent@x"), mail("later@x", "Re: Colours", In_Reply_To="<early@x>")
    held, other = (merge, reply) if merge_first else (reply, merge)
    assert meanwhile(nodes, monkeypatch, held, other)
    [(ids, count)] = threads(nodes[0])
    assert sorted(ids) == ["early@x", "later@x", "parent@x"] and count == 3
    assert parent_of(nodes[0], "early@x") == "parent@x"
    assert parent_of(nodes[0], "later@x") == "early@x"
    with transaction(nodes[0].read_sessions) as session:
        assert session.scalar(select(func.count()).select_from(Thread)) == 1


def test_a_batch_that_lost_a_race_is_taken_again_whole(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Not mail by mail, where each mail would take its locks while holding the others'."""
    ingest(nodes[0], mail("early@x", "Re: Colours", In_Reply_To="<parent@x>"))
    reply = mail("later@x", "Re: Colours", In_Reply_To="<early@x>")
    with caplog.at_level(logging.INFO, logger="gateway.ingest"):
        assert meanwhile(nodes, monkeypatch, mail("parent@x"), reply, mail("other@x", "Other"))
    raced = [r.getMessage() for r in caplog.records if "raced" in r.getMessage()]
    assert raced == ["a batch of 2 mails raced another transaction (threads [1] were merged"
                     " away by another transaction); once more"]  # fmt: skip
    assert not [r for r in caplog.records if "one by one" in r.getMessage()]
    assert [sorted(ids) for ids, _ in threads(nodes[0])] == [
        ["early@x", "later@x", "parent@x"],
        ["other@x"],
    ]


def test_a_post_a_moderator_publishes_meanwhile_is_counted_with_the_other_nodes_reply(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    node_a, node_b = nodes
    ingest(node_b, mail("root@x"))
    ingest(node_b, mail("held@x", "Re: Colours", In_Reply_To="<root@x>"))
    with transaction(node_b.sessions) as session:
        held = session.scalars(select(Message).where(Message.message_id == "held@x")).one()
        where = session.scalars(
            select(MessageCommunity.community_id).where(MessageCommunity.message_id == held.id)
        )
        set_status(session, held, where.all(), MessageStatus.HELD)
    assert threads(node_a) == [(["root@x", "held@x"], 1)]

    def publish() -> None:
        with transaction(node_b.sessions) as session:
            message = session.scalars(select(Message).where(Message.message_id == "held@x"))
            publish_held(session, message.one(), AT)

    reply = mail("reply@x", "Re: Colours", In_Reply_To="<root@x>")
    assert while_held(node_a, monkeypatch, reply, publish)
    assert threads(node_a) == [(["root@x", "held@x", "reply@x"], 3)]
