"""Threading rules, message by message, on a real store: parents, ghosts, cycles,
Thread-Index, subjects, and the thread CLI's shapes."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.community.communities import create_community
from gateway.ingest.context import InboundMail
from gateway.ingest.context import IngestContext
from gateway.ingest.pipeline import run_batch
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.models import Person
from gateway.store.models import Policy
from gateway.store.models import Thread
from gateway.store.models import ThreadAnswer
from gateway.store.models import ThreadMute
from gateway.threads.rules import decode_thread_index
from gateway.threads.rules import normalize_subject
from tests.conftest import GatewayCli
from tests.corpus import sample
from tests.factories import ingest
from tests.factories import raw_post

DOMAIN = "lists.example.com"
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)

Post = Callable[..., Message]
Batch = Callable[..., dict[str, Message]]


def raw_mail(message_id: str | None, subject: str = "Colours", **headers: str) -> bytes:
    """A post by alice to design (the threading headers by keyword: In_Reply_To=...)."""
    return raw_post(subject, "Body\n", message_id=message_id, sender="alice@example.com", **headers)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Colours", ("Colours", False)),
        ("Re: Colours", ("Colours", True)),
        ("RE: Re: re: Colours", ("Colours", True)),
        ("Fwd: Colours", ("Colours", True)),
        ("FW: Colours", ("Colours", True)),
        ("TR : Colours", ("Colours", True)),
        ("AW: Farben", ("Farben", True)),
        ("SV: Färger", ("Färger", True)),
        # German and Nordic forwards (WG: Weitergeleitet, VS: Videresendt)
        ("WG: Farben", ("Farben", True)),
        ("VS: Farger", ("Farger", True)),
        ("WG: AW: [design] Farben", ("Farben", True)),
        ("Réf. : Couleurs", ("Couleurs", True)),
        ("Re[2]: Colours", ("Colours", True)),
        ("[design] Re: Colours", ("Colours", True)),
        ("Re: [design] Colours", ("Colours", True)),
        ("[design] Colours", ("Colours", False)),
        ("  Re:   Lots   of   space ", ("Lots of space", True)),
        ("Regarding: Colours", ("Regarding: Colours", False)),
        ("[other] Colours", ("[other] Colours", False)),
    ],
)
def test_normalize_subject(subject: str, expected: tuple[str, bool]) -> None:
    assert normalize_subject(subject, ["[design]"]) == expected


def test_thread_index_must_be_base64_of_at_least_22_bytes() -> None:
    assert decode_thread_index(base64.b64encode(b"x" * 22).decode()) == b"x" * 22
    assert decode_thread_index(base64.b64encode(b"x" * 21).decode()) == b""
    assert decode_thread_index("not base64 !!") == b""
    assert decode_thread_index("") == b""


@pytest.fixture
def post(session: Session, app: App) -> Post:
    """Run one mail through the pipeline into the `design` community (open policy)."""
    create_community(session, "design", "Design", policy=Policy.OPEN)
    clock = iter(range(1000))

    def send(message_id: str | None, subject: str = "Colours", raw: bytes | None = None,
             **headers: str) -> Message:  # fmt: skip
        if raw is None:
            raw = raw_mail(message_id, subject, **headers)
        received = T0 + dt.timedelta(minutes=next(clock))
        mail = InboundMail(raw, "alice@example.com", (f"design@{DOMAIN}",), received)
        ctx = IngestContext(mail=mail, session=session, blobs=app.blobs, domain=DOMAIN)
        [result] = run_batch([ctx])
        session.flush()
        return session.scalars(select(Message).where(Message.message_id == result.message_id)).one()

    return send


@pytest.fixture
def batch(session: Session, app: App) -> Batch:
    """Run mails through the pipeline together, as one batch, into `design` (open policy)."""
    create_community(session, "design", "Design", policy=Policy.OPEN)
    clock = iter(range(1000))

    def send(*raws: bytes) -> dict[str, Message]:
        mails = [
            InboundMail(
                raw,
                "alice@example.com",
                (f"design@{DOMAIN}",),
                T0 + dt.timedelta(minutes=next(clock)),
            )  # fmt: skip
            for raw in raws
        ]
        contexts = [
            IngestContext(mail=mail, session=session, blobs=app.blobs, domain=DOMAIN)
            for mail in mails
        ]
        results = run_batch(contexts)
        assert {result.disposition for result in results} <= {"published", "duplicate"}
        session.flush()
        session.expire_all()
        return {m.message_id: m for m in session.scalars(select(Message))}

    return send


def test_in_reply_to_names_the_parent(post: Post) -> None:
    root = post("a@x")
    reply = post("b@x", "Re: Colours", In_Reply_To="<a@x>")
    assert (reply.parent_id, reply.thread_id) == (root.id, root.thread_id)


def test_the_newest_held_reference_is_the_parent_when_in_reply_to_is_unknown(post: Post) -> None:
    root = post("a@x")
    middle = post("b@x", References="<a@x>")
    reply = post("c@x", References="<a@x> <b@x> <missing@x>", In_Reply_To="<missing@x>")
    assert reply.parent_id == middle.id
    assert reply.thread_id == root.thread_id


def test_replies_to_one_absent_message_share_a_thread_and_join_it_later(post: Post) -> None:
    first = post("b@x", In_Reply_To="<ghost@x>")
    second = post("c@x", In_Reply_To="<ghost@x>")
    assert first.thread_id == second.thread_id
    assert first.parent_id is None and second.parent_id is None
    ghost = post("ghost@x")
    assert first.parent_id == ghost.id and second.parent_id == ghost.id
    assert {first.thread_id, second.thread_id} == {ghost.thread_id}


def test_a_late_parent_merges_the_threads_of_its_replies(post: Post, session: Session) -> None:
    grandchild = post("c@x", References="<a@x> <b@x>", In_Reply_To="<b@x>")
    root = post("a@x")
    child = post("b@x", References="<a@x>", In_Reply_To="<a@x>")
    assert child.parent_id == root.id
    assert grandchild.parent_id == child.id
    assert {root.thread_id, child.thread_id, grandchild.thread_id} == {root.thread_id}
    assert session.scalar(select(func.count()).select_from(Thread)) == 1


def test_a_merge_keeps_the_mutes_and_the_answer_of_the_thread_it_absorbs(
    post: Post, session: Session
) -> None:
    root = post("a@x")
    early = post("c@x", "Re: Colours", In_Reply_To="<b@x>")  # before its parent
    erin, finn = Person(address="erin@example.com"), Person(address="finn@example.com")
    session.add_all([erin, finn])
    session.flush()
    session.add_all(
        [
            ThreadMute(person_id=erin.id, thread_id=root.thread_id),
            ThreadMute(person_id=erin.id, thread_id=early.thread_id),
            ThreadMute(person_id=finn.id, thread_id=early.thread_id),
            ThreadAnswer(thread_id=early.thread_id, message_id=early.id),
        ]
    )
    session.flush()
    post("b@x", "Re: Colours", In_Reply_To="<a@x>", References="<a@x>")  # merges the two
    session.expire_all()
    assert early.thread_id == root.thread_id
    mutes = session.execute(select(ThreadMute.person_id, ThreadMute.thread_id)).all()
    assert sorted(mutes) == [(erin.id, root.thread_id), (finn.id, root.thread_id)]
    answers = session.execute(select(ThreadAnswer.thread_id, ThreadAnswer.message_id)).all()
    assert answers == [(root.thread_id, early.id)]


def test_a_merge_leaves_the_answer_of_the_thread_it_joins(post: Post, session: Session) -> None:
    root = post("a@x")
    answer = post("d@x", "Re: Colours", In_Reply_To="<a@x>")
    early = post("c@x", "Re: Colours", In_Reply_To="<b@x>")
    session.add_all(
        [
            ThreadAnswer(thread_id=root.thread_id, message_id=answer.id),
            ThreadAnswer(thread_id=early.thread_id, message_id=early.id),
        ]
    )
    session.flush()
    post("b@x", "Re: Colours", In_Reply_To="<a@x>")
    session.expire_all()
    answers = session.execute(select(ThreadAnswer.thread_id, ThreadAnswer.message_id)).all()
    assert answers == [(root.thread_id, answer.id)]


def test_an_in_reply_to_loop_does_not_make_a_cycle(post: Post) -> None:
    first = post(None, raw=sample("notmuch/broken/loop/loop-12.eml"))
    second = post(None, raw=sample("notmuch/broken/loop/loop-21.eml"))
    assert first.thread_id == second.thread_id
    assert not (first.parent_id == second.id and second.parent_id == first.id)


def test_outlook_thread_index_alone_threads_replies(post: Post) -> None:
    conversation = b"\x01" + bytes(range(21))
    root = post("a@x", Thread_Index=base64.b64encode(conversation).decode())
    reply_index = conversation + b"\x00\x00\x00\x10\x20"
    reply = post("b@x", "RE: Colours", Thread_Index=base64.b64encode(reply_index).decode())
    deeper_index = base64.b64encode(reply_index + b"\x00\x00\x00\x20\x30").decode()
    deeper = post("c@x", "RE: Colours", Thread_Index=deeper_index)
    assert reply.parent_id == root.id
    assert deeper.parent_id == reply.id
    assert {reply.thread_id, deeper.thread_id} == {root.thread_id}


def test_a_thread_index_reply_before_its_parent_is_adopted(post: Post) -> None:
    conversation = b"\x02" + bytes(range(21))
    reply_index = base64.b64encode(conversation + b"\x00\x00\x00\x10\x20").decode()
    reply = post("b@x", "RE: x", Thread_Index=reply_index)
    root = post("a@x", "x", Thread_Index=base64.b64encode(conversation).decode())
    assert reply.parent_id == root.id and reply.thread_id == root.thread_id


def test_the_subject_joins_only_a_headerless_reply_to_a_recent_thread(post: Post) -> None:
    root = post("a@x", "[design] Budget 2027")
    by_subject = post("b@x", "RE : [design] Budget 2027")
    fresh = post("c@x", "Budget 2027")  # no reply prefix: a new thread
    assert by_subject.thread_id == root.thread_id and by_subject.parent_id == root.id
    assert fresh.thread_id != root.thread_id


def test_a_headerless_german_or_nordic_forward_joins_by_subject(post: Post) -> None:
    root = post("a@x", "Budget 2027")
    german = post("b@x", "WG: Budget 2027")
    nordic = post("c@x", "VS: [design] Budget 2027")
    assert german.thread_id == nordic.thread_id == root.thread_id


def test_thread_cli_lists_and_shows_a_tree(gateway_cli: GatewayCli, app: App) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "design", "Design", policy=Policy.OPEN)
    for message_id, headers in [("a@x", {}), ("b@x", {"In_Reply_To": "<a@x>"}),
                                ("c@x", {"In_Reply_To": "<b@x>"}), ("d@x", {})]:  # fmt: skip
        raw = raw_post(f"S {message_id}", message_id=message_id, sender="a@example.com", **headers)
        ingest(app, raw, sender="a@example.com", at=T0)
    listed = gateway_cli.json("thread", "list", "design")
    # Most recently active first; at equal times, the newer thread first.
    assert [t["root_message_id"] for t in listed] == ["d@x", "a@x"]
    assert set(listed[0]) == {"id", "subject", "root_message_id", "messages",
                              "first_activity_at", "last_activity_at"}  # fmt: skip
    assert len(gateway_cli.json("thread", "list", "design", "--limit", "1")) == 1
    thread_id = next(t["id"] for t in listed if t["root_message_id"] == "a@x")
    shown = gateway_cli.json("thread", "show", str(thread_id))
    [root] = shown["tree"]
    assert root["message_id"] == "a@x" and root["parent_message_id"] is None
    [child] = root["replies"]
    assert child["parent_message_id"] == "a@x"
    assert child["replies"][0]["message_id"] == "c@x"
    text = gateway_cli("thread", "show", str(thread_id)).stdout
    assert "    - a@example.com" in text  # the grandchild, indented twice
    assert "no thread 999" in gateway_cli.error("thread", "show", "999")
    assert "no community" in gateway_cli.error("thread", "list", "nope")


def test_a_batch_threads_replies_under_parents_earlier_in_the_batch(batch: Batch) -> None:
    stored = batch(raw_mail("a@x"), raw_mail("b@x", In_Reply_To="<a@x>"),
                   raw_mail("c@x", References="<a@x> <b@x>", In_Reply_To="<b@x>"))  # fmt: skip
    a, b, c = stored["a@x"], stored["b@x"], stored["c@x"]
    assert (b.parent_id, c.parent_id) == (a.id, b.id)
    assert a.thread is not None and {b.thread_id, c.thread_id} == {a.thread_id}
    assert a.thread.message_count == 3
    assert a.thread.last_activity_at == c.received_at


def test_a_reply_before_its_parent_in_the_same_batch_is_adopted(
    batch: Batch, session: Session
) -> None:
    stored = batch(
        raw_mail("c@x", References="<a@x> <b@x>", In_Reply_To="<b@x>"),
        raw_mail("a@x"),
        raw_mail("b@x", References="<a@x>", In_Reply_To="<a@x>"),
    )
    a, b, c = stored["a@x"], stored["b@x"], stored["c@x"]
    assert (a.parent_id, b.parent_id, c.parent_id) == (None, a.id, b.id)
    assert {a.thread_id, b.thread_id, c.thread_id} == {a.thread_id}
    assert session.scalar(select(func.count()).select_from(Thread)) == 1
    assert a.thread is not None and a.thread.message_count == 3
    assert a.thread.created_at == a.received_at  # the root's arrival, not the early reply's


def test_a_batch_s_messages_are_stored_in_one_insert_whichever_columns_are_empty(
    batch: Batch, session: Session
) -> None:
    """A reply to a stored post (its parent known), a new post (no parent) and a reply
    to that one (linked once both are stored) go out together, parents set after."""
    batch(raw_mail("a@x"))
    sent: list[str] = []
    event.listen(session.connection(), "before_cursor_execute", lambda *a: sent.append(a[2]))
    stored = batch(
        raw_mail("b@x", In_Reply_To="<a@x>"),
        raw_mail("c@x", "Sizes"),
        raw_mail("d@x", "Sizes", In_Reply_To="<c@x>"),
    )
    assert sum(s.lstrip().startswith("INSERT INTO messages ") for s in sent) == 1
    a, b, c, d = (stored[f"{name}@x"] for name in "abcd")
    assert (b.parent_id, c.parent_id, d.parent_id) == (a.id, None, c.id)


def test_a_batch_with_an_in_reply_to_loop_makes_no_cycle(batch: Batch) -> None:
    stored = batch(
        sample("notmuch/broken/loop/loop-12.eml"), sample("notmuch/broken/loop/loop-21.eml")
    )
    first, second = stored.values()
    assert first.thread_id == second.thread_id
    assert not (first.parent_id == second.id and second.parent_id == first.id)


def test_a_batch_finds_parents_and_early_replies_stored_by_earlier_batches(
    batch: Batch, session: Session
) -> None:
    batch(raw_mail("a@x"), raw_mail("orphan@x", In_Reply_To="<late@x>"))
    stored = batch(raw_mail("b@x", In_Reply_To="<a@x>"), raw_mail("late@x"))
    a, b = stored["a@x"], stored["b@x"]
    late, orphan = stored["late@x"], stored["orphan@x"]
    assert (b.parent_id, b.thread_id) == (a.id, a.thread_id)
    assert (orphan.parent_id, orphan.thread_id) == (late.id, late.thread_id)
    assert session.scalar(select(func.count()).select_from(Thread)) == 2
    assert a.thread is not None and a.thread.message_count == 2


def test_a_late_parent_is_refused_where_it_would_close_a_circle_through_stored_replies(
    batch: Batch,
) -> None:
    """`a` waits for <late@x>, and `late` answers the end of a's own thread: adopting
    `a` under `late` would make a circle through rows an earlier batch stored, met on
    the walk up from `late` by id."""
    parents = ["a", "m1", "m2", "m3", "m4"]
    chain = [raw_mail(f"m{n}@x", In_Reply_To=f"<{parents[n - 1]}@x>") for n in range(1, 6)]
    batch(raw_mail("a@x", In_Reply_To="<late@x>"), *chain)
    stored = batch(raw_mail("late@x", In_Reply_To="<m5@x>"))
    a, late = stored["a@x"], stored["late@x"]
    assert late.parent_id == stored["m5@x"].id and a.parent_id is None
    assert {m.thread_id for m in stored.values()} == {a.thread_id}


def test_replies_to_one_absent_message_in_one_batch_share_a_thread(batch: Batch) -> None:
    stored = batch(raw_mail("b@x", In_Reply_To="<ghost@x>"),
                   raw_mail("c@x", In_Reply_To="<ghost@x>"))  # fmt: skip
    assert stored["b@x"].thread_id == stored["c@x"].thread_id
    stored = batch(raw_mail("ghost@x"))
    ghost = stored["ghost@x"]
    assert stored["b@x"].parent_id == ghost.id and stored["c@x"].parent_id == ghost.id
    assert stored["b@x"].thread_id == ghost.thread_id


def test_the_same_message_id_twice_in_one_batch_is_stored_once(batch: Batch) -> None:
    stored = batch(raw_mail("a@x"), raw_mail("a@x", "Other"), raw_mail("b@x", In_Reply_To="<a@x>"))
    assert set(stored) == {"a@x", "b@x"}
    assert stored["a@x"].subject == "Colours"
    assert stored["b@x"].parent_id == stored["a@x"].id
