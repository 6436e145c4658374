"""The delivery queue: who a post is queued for, claiming due rows, recording the relay's
answers, retries, resuming after a stop, and the ingest pipeline queueing posts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.community.publishing import publish_held
from gateway.errors import InvalidInput
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import InboundMail
from gateway.outbound import deliveries
from gateway.outbound.deliveries import Claimed
from gateway.outbound.deliveries import DeliveryResult
from gateway.outbound.deliveries import Outcome
from gateway.settings import DeliverySettings
from gateway.store.db import transaction
from gateway.store.leases import Lease
from gateway.store.models import Community
from gateway.store.models import Delivery
from gateway.store.models import DeliveryMode
from gateway.store.models import DeliveryStatus
from gateway.store.models import Message
from gateway.store.models import MessageStatus
from gateway.store.models import Origin
from gateway.store.models import Person
from gateway.store.models import Policy
from gateway.store.models import Thread
from gateway.store.models import ThreadMute
from tests.factories import raw_post
from tests.factories import stored_post

DOMAIN = "lists.example.com"
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)
SETTINGS = DeliverySettings()
LEASE = Lease("node-a")
# A row node-b is sending (pending, claimed), its lease running past NOW and LATER.
HELD_BY_B: dict[str, Any] = {
    "claimed_by": "node-b",
    "lease_until": LATER + dt.timedelta(minutes=1),
}
MAIL_A = b"Subject: a\r\n\r\nA\r\n"
MAIL_B = b"Subject: b\r\n\r\nB\r\n"


def member(
    session: Session,
    community: Community,
    address: str,
    delivery: DeliveryMode = DeliveryMode.INSTANT,
    **fields: Any,
) -> Person:
    [membership] = add_members(session, community, [address], delivery=delivery)
    for name, value in fields.items():
        setattr(membership, name, value)
    session.flush()
    return session.get_one(Person, membership.person_id)


def queued(session: Session, message: Message | None = None) -> dict[str, dict[str, Any]]:
    """The queue's rows by recipient, read from the database (not the identity map); the
    status as shown ("sending" while claimed), the one stored as "stored"."""
    query = select(
        Delivery.id,
        Delivery.recipient,
        Delivery.message_id,
        Delivery.community_id,
        Delivery.person_id,
        Delivery.kind,
        Delivery.content,
        Delivery.status,
        Delivery.attempts,
        Delivery.next_attempt_at,
        Delivery.created_at,
        Delivery.sent_at,
        Delivery.last_error,
        Delivery.claimed_by,
        Delivery.lease_until,
    )
    if message is not None:
        query = query.where(Delivery.message_id == message.id)
    rows = {row.recipient: row._asdict() for row in session.execute(query)}
    for row in rows.values():
        row["stored"] = row["status"]
        row["status"] = deliveries.shown_status(row["status"], row["claimed_by"])
    return rows


def mail_row(session: Session, recipient: str, content: bytes = MAIL_A, **fields: Any) -> int:
    delivery = deliveries.enqueue_mail(session, recipient, content, "notice", NOW)
    for name, value in fields.items():
        setattr(delivery, name, value)
    session.flush()
    return delivery.id


# --- enqueue_post


def test_a_post_is_queued_for_instant_members_but_the_sender(session: Session) -> None:
    design = create_community(session, "design", "Design")
    alice = member(session, design, "alice@example.com")
    bob = member(session, design, "bob@example.com")
    member(session, design, "carol@example.com", DeliveryMode.DAILY)
    member(session, design, "dan@example.com", DeliveryMode.WEEKLY)
    member(session, design, "erin@example.com", DeliveryMode.NONE)
    member(session, design, "fay@example.com", disabled_at=NOW - dt.timedelta(days=1))
    gus = member(session, design, "gus@example.com")
    message = stored_post(session, "m1@x", design, sender=alice)

    assert deliveries.enqueue_post(session, message.id, [design.id], alice.id, NOW) == 2

    rows = queued(session, message)
    assert sorted(rows) == ["bob@example.com", "gus@example.com"]
    for person, row in ((bob, rows["bob@example.com"]), (gus, rows["gus@example.com"])):
        assert row["person_id"] == person.id
        assert row["community_id"] == design.id
        assert (row["kind"], row["content"], row["status"]) == (
            "post",
            None,
            DeliveryStatus.PENDING,
        )
        assert (row["attempts"], row["last_error"], row["sent_at"]) == (0, "", None)
        assert row["next_attempt_at"] == NOW and row["created_at"] == NOW


def test_the_sender_gets_their_own_post_when_they_ask(session: Session) -> None:
    design = create_community(session, "design", "Design")
    alice = member(session, design, "alice@example.com", own_posts=True)
    member(session, design, "bob@example.com")
    message = stored_post(session, "m1@x", design, sender=alice)
    assert deliveries.enqueue_post(session, message.id, [design.id], alice.id, NOW) == 2
    assert sorted(queued(session, message)) == ["alice@example.com", "bob@example.com"]


def test_a_post_from_a_stranger_goes_to_every_instant_member(session: Session) -> None:
    design = create_community(session, "design", "Design")
    member(session, design, "alice@example.com")
    member(session, design, "bob@example.com")
    message = stored_post(session, "m1@x", design)
    assert deliveries.enqueue_post(session, message.id, [design.id], None, NOW) == 2


def test_a_cross_post_is_queued_once_per_person(session: Session) -> None:
    design = create_community(session, "design", "Design")
    ux = create_community(session, "ux", "UX")
    for community in (design, ux):
        member(session, community, "bob@example.com")
    member(session, design, "dan@example.com")
    member(session, ux, "carol@example.com")
    member(session, ux, "erin@example.com", DeliveryMode.DAILY)
    member(session, design, "erin@example.com")  # instant in one of the two: one copy
    message = stored_post(session, "m1@x", design, ux)

    assert deliveries.enqueue_post(session, message.id, [design.id, ux.id], None, NOW) == 4

    rows = queued(session, message)
    assert sorted(rows) == [
        "bob@example.com",
        "carol@example.com",
        "dan@example.com",
        "erin@example.com",
    ]
    assert rows["bob@example.com"]["community_id"] in (design.id, ux.id)
    assert rows["carol@example.com"]["community_id"] == ux.id
    assert rows["dan@example.com"]["community_id"] == design.id
    assert rows["erin@example.com"]["community_id"] == design.id


def test_enqueueing_again_adds_nothing(session: Session) -> None:
    design = create_community(session, "design", "Design")
    ux = create_community(session, "ux", "UX")
    member(session, design, "bob@example.com")
    member(session, ux, "bob@example.com")
    member(session, ux, "carol@example.com")
    message = stored_post(session, "m1@x", design, ux)
    assert deliveries.enqueue_post(session, message.id, [design.id], None, NOW) == 1
    assert deliveries.enqueue_post(session, message.id, [design.id], None, NOW) == 0
    # A later community: only the people who did not get it yet.
    assert deliveries.enqueue_post(session, message.id, [design.id, ux.id], None, LATER) == 1
    rows = queued(session, message)
    assert sorted(rows) == ["bob@example.com", "carol@example.com"]
    assert rows["bob@example.com"]["community_id"] == design.id
    assert rows["carol@example.com"]["created_at"] == LATER


def test_no_communities_queue_nothing(session: Session) -> None:
    design = create_community(session, "design", "Design")
    member(session, design, "bob@example.com")
    message = stored_post(session, "m1@x", design)
    assert deliveries.enqueue_post(session, message.id, [], None, NOW) == 0
    assert queued(session) == {}


def test_posts_queued_together_get_the_rows_each_would_get_alone(session: Session) -> None:
    design = create_community(session, "design", "Design")
    ux = create_community(session, "ux", "UX")
    alice = member(session, design, "alice@example.com")
    member(session, ux, "alice@example.com", own_posts=True)
    bob = member(session, design, "bob@example.com")
    member(session, ux, "bob@example.com")
    member(session, ux, "carol@example.com")
    member(session, design, "dan@example.com", DeliveryMode.DAILY)
    erin = member(session, ux, "erin@example.com")
    thread = Thread(subject="muted")
    session.add(thread)
    session.flush()
    session.add(ThreadMute(person_id=erin.id, thread_id=thread.id))
    first = stored_post(session, "m1@x", design, sender=alice, received_at=NOW)
    cross = stored_post(session, "m2@x", design, ux, received_at=LATER)
    muted = stored_post(session, "m3@x", ux, sender=alice, received_at=NOW, thread_id=thread.id)
    deliveries.enqueue_post(session, muted.id, [ux.id], alice.id, NOW)  # queued already

    assert deliveries.enqueue_posts(session, [first.id, cross.id, muted.id]) == 5

    assert sorted(queued(session, first)) == ["bob@example.com"]
    rows = queued(session, cross)
    assert {r: (rows[r]["community_id"], rows[r]["created_at"]) for r in rows} == {
        "alice@example.com": (design.id, LATER),
        "bob@example.com": (design.id, LATER),
        "carol@example.com": (ux.id, LATER),
        "erin@example.com": (ux.id, LATER),
    }
    assert rows["bob@example.com"]["person_id"] == bob.id
    assert rows["erin@example.com"]["next_attempt_at"] == LATER
    assert sorted(queued(session, muted)) == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    assert deliveries.enqueue_posts(session, [first.id, cross.id]) == 0


# --- claim_due


def test_claim_takes_due_pending_rows_and_marks_them_sending(session: Session) -> None:
    due = mail_row(session, "due@example.com")
    earlier = mail_row(session, "earlier@example.com", next_attempt_at=NOW - dt.timedelta(hours=1))
    mail_row(session, "future@example.com", next_attempt_at=NOW + dt.timedelta(seconds=1))
    mail_row(session, "sent@example.com", status=DeliveryStatus.SENT)
    mail_row(session, "failed@example.com", status=DeliveryStatus.FAILED)
    mail_row(session, "sending@example.com", **HELD_BY_B)
    retried = mail_row(session, "retried@example.com", attempts=2)

    claimed = deliveries.claim_due(session, NOW, limit=10, lease=LEASE)

    assert sorted(c.id for c in claimed) == sorted([due, earlier, retried])
    by_id = {c.id: c for c in claimed}
    assert by_id[retried].attempts == 2  # as it was before this try
    assert by_id[due].recipient == "due@example.com"
    assert by_id[due].content_key == (0, 0, due)  # a generated mail is its own content
    assert deliveries.generated_content(session, due) == MAIL_A
    assert by_id[due].created_at == NOW
    rows = queued(session)
    for recipient, attempts in (("due", 1), ("earlier", 1), ("retried", 3)):
        row = rows[f"{recipient}@example.com"]
        assert (row["status"], row["attempts"]) == (DeliveryStatus.SENDING, attempts)
        assert row["stored"] is DeliveryStatus.PENDING  # claimed in place (see below)
    assert rows["future@example.com"]["status"] is DeliveryStatus.PENDING
    assert rows["future@example.com"]["attempts"] == 0
    assert deliveries.claim_due(session, NOW, limit=10, lease=LEASE) == []


def test_a_claim_rewrites_each_row_within_its_page_on_postgresql(session: Session) -> None:
    """A claim writes no column an index reads, and pages keep room (fillfactor 50): for
    each row PostgreSQL writes no index entry (a HOT update), where the claim that set
    the status "sending" wrote one in each of the table's three indexes."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("HOT updates are PostgreSQL's")
    for number in range(300):
        mail_row(session, f"due{number}@example.com")

    def updates() -> tuple[int, int]:
        counts = session.execute(
            text(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
                " WHERE relname = 'deliveries'"
            )
        ).one()
        return counts[0], counts[1]

    before = updates()
    assert len(deliveries.claim_due(session, NOW, limit=300, lease=LEASE)) == 300
    after = updates()
    rows, in_place = after[0] - before[0], after[1] - before[1]
    # A page's last row or so finds no room left: 282 of 300 here.
    assert rows == 300 and in_place >= 0.9 * rows


def test_claim_takes_at_most_the_limit_most_overdue_first(session: Session) -> None:
    for minutes in (3, 1, 4, 2):
        mail_row(
            session,
            f"late{minutes}@example.com",
            next_attempt_at=NOW - dt.timedelta(minutes=minutes),
        )
    claimed = deliveries.claim_due(session, NOW, limit=2, lease=LEASE)
    assert sorted(c.recipient for c in claimed) == ["late3@example.com", "late4@example.com"]
    rows = queued(session)
    assert rows["late1@example.com"]["status"] is DeliveryStatus.PENDING
    assert rows["late2@example.com"]["status"] is DeliveryStatus.PENDING
    assert len(deliveries.claim_due(session, NOW, limit=5, lease=LEASE)) == 2


def test_a_claim_and_a_look_at_the_queue_read_rows_by_key_not_the_whole_table(
    session: Session,
) -> None:
    """The queue keeps every sent row: a claim (or the archive publisher's look for
    copies waiting) that read them all would slow down as the table grows (on PostgreSQL
    `id IN (subquery)` was a hash join over the whole table)."""
    sent = [
        {"recipient": f"sent{n}@example.com", "status": DeliveryStatus.SENT, "next_attempt_at": NOW}
        for n in range(5000)
    ]
    session.execute(insert(Delivery), sent)
    mail_row(session, "due@example.com")
    assert uses_the_index(session, lambda: deliveries.copies_waiting(session, NOW), 1)
    for n in range(600):
        mail_row(session, f"due{n}@example.com")

    def claim() -> bool:
        return len(deliveries.claim_due(session, NOW, limit=500, lease=LEASE)) == 500

    assert uses_the_index(session, claim, 1)


def uses_the_index(session: Session, call: Callable[[], bool], statements: int) -> bool:
    """Whether `call`, run on fresh statistics, returns True through `statements`
    statements on deliveries, none of which reads the whole table."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    session.execute(text("ANALYZE deliveries" if postgresql else "ANALYZE"))
    plans = plans_of(session, call)
    assert len(plans) == statements
    return not any("Seq Scan on deliveries" in plan or "SCAN deliveries" in plan for plan in plans)


def plans_of(session: Session, call: Callable[[], bool]) -> list[str]:
    """The plans of the statements on deliveries by which `call` returns True, as the
    database explains them after it, in the same transaction."""
    connection = session.connection()
    explain = "EXPLAIN " if connection.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    return [
        "\n".join(str(row[-1]) for row in connection.exec_driver_sql(explain + statement, values))
        for statement, values in statements_of(session, call)
    ]


def statements_of(session: Session, call: Callable[[], bool]) -> list[tuple[str, Any]]:
    """The statements on deliveries, with their values, by which `call` returns True."""
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "deliveries" in statement and not statement.startswith("SAVEPOINT"):
            seen.append((statement, parameters))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", keep)
    try:
        assert call()
    finally:
        event.remove(connection, "before_cursor_execute", keep)
    return seen


@contextmanager
def plan_kept(session: Session, statement: str, values: Any) -> Iterator[Callable[[], str]]:
    """EXPLAIN of `statement` with `values`, through the plan for any value PostgreSQL
    makes at the first EXPLAIN and keeps (as it may for a statement psycopg prepared)."""
    connection = session.connection()
    connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    connection.exec_driver_sql(f"PREPARE kept AS {statement}")
    arguments = ", ".join(f"'{value}'" for value in values)  # numbers, a node, times

    def plan() -> str:
        explained = connection.exec_driver_sql(f"EXPLAIN EXECUTE kept({arguments})")
        return "\n".join(row[0] for row in explained)

    try:
        yield plan
    finally:
        connection.exec_driver_sql("DEALLOCATE kept")


def add_due(session: Session, count: int) -> None:
    rows = [{"recipient": f"due{n}@x", "next_attempt_at": NOW} for n in range(count)]
    session.execute(insert(Delivery), rows)


def test_a_claim_walks_the_due_index_in_a_plan_kept_for_any_value(session: Session) -> None:
    """psycopg prepares a statement run five times, and PostgreSQL may then keep one plan
    for any value of its parameters (a generic plan). The partial index of pending rows
    serves that plan only if the claim says `status = 'pending'` in its SQL, not
    `status = $1`: without it the plan read the whole table and sorted it."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("a plan kept for any value is PostgreSQL's (SQLite plans each run)")
    add_due(session, 600)
    session.execute(text("ANALYZE deliveries"))
    [(statement, values)] = statements_of(
        session, lambda: len(deliveries.claim_due(session, NOW, limit=500, lease=LEASE)) == 500
    )
    with plan_kept(session, statement, values) as plan:
        kept = plan()
    assert "Index Scan using ix_deliveries_due" in kept and "Sort" not in kept, kept


def test_a_claim_finds_its_rows_by_key_in_a_plan_made_while_the_queue_was_empty(
    session: Session,
) -> None:
    """A worker claims every few seconds while nothing is due, so PostgreSQL may keep a
    plan for any value (see above) made while the table was empty: it updated the
    claimed rows through a scan of the whole table, comparing each row with every
    claimed id, 7 s a claim at 200,000 rows (bench/fanout.py), until an ANALYZE. The
    claimed ids are found through the primary key whatever the table held."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("a plan kept for any value is PostgreSQL's (SQLite plans each run)")
    [(statement, values)] = statements_of(
        session, lambda: deliveries.claim_due(session, NOW, limit=500, lease=LEASE) == []
    )
    with plan_kept(session, statement, values) as plan:
        plan()  # made now, on the empty queue, and kept
        add_due(session, 20_000)
        kept = plan()
    assert "Seq Scan" not in kept and "Index Cond: (id = ANY" in kept, kept


def test_a_claim_walks_the_due_rows_in_order_when_the_statistics_say_few_are_due(
    session: Session,
) -> None:
    """Between two bursts the statistics say few rows are due. PostgreSQL's planner then
    read every due row through a bitmap scan, whose rows come out of order, and sorted
    them on each claim: at 200,000 due copies a claim took 70 ms instead of 6."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    sent = [
        {"recipient": f"sent{n}@example.com", "status": DeliveryStatus.SENT, "next_attempt_at": NOW}
        for n in range(5000)
    ]
    session.execute(insert(Delivery), sent)
    # The statistics of a quiet queue: a few rows due among those sent.
    due = [{"recipient": f"due{n}@example.com", "next_attempt_at": NOW} for n in range(3000)]
    session.execute(insert(Delivery), due[:100])
    session.execute(text("ANALYZE deliveries" if postgresql else "ANALYZE"))
    session.execute(insert(Delivery), due[100:])

    def claim() -> bool:
        return len(deliveries.claim_due(session, NOW, limit=500, lease=LEASE)) == 500

    plans = plans_of(session, claim)
    assert len(plans) == 1
    walk, sort = ("Index Scan using ix_deliveries_due", "Sort")
    if not postgresql:
        walk, sort = ("INDEX ix_deliveries_due", "TEMP B-TREE")
    for plan in plans:
        assert walk in plan and sort not in plan and "Bitmap" not in plan, plan


def test_claimed_rows_come_grouped_by_content(session: Session) -> None:
    design = create_community(session, "design", "Design")
    ux = create_community(session, "ux", "UX")
    for address in ("a@example.com", "b@example.com"):
        member(session, design, address)
        member(session, ux, address.replace("@", "-ux@"))
    first = stored_post(session, "m1@x", design)
    second = stored_post(session, "m2@x", ux)
    # Interleaved ids: notice A, post 1, notice B, post 2, notice A...
    n1 = mail_row(session, "n1@example.com", MAIL_A)
    deliveries.enqueue_post(session, first.id, [design.id], None, NOW)
    n2 = mail_row(session, "n2@example.com", MAIL_B)
    deliveries.enqueue_post(session, second.id, [ux.id], None, NOW)
    n3 = mail_row(session, "n3@example.com", MAIL_A)
    n4 = mail_row(session, "n4@example.com", MAIL_B)

    claimed = deliveries.claim_due(session, NOW, limit=100, lease=LEASE)

    keys = [c.content_key for c in claimed]
    assert len(keys) == 8
    runs = [key for index, key in enumerate(keys) if index == 0 or keys[index - 1] != key]
    assert len(runs) == len(set(runs)) == 6  # each content in one run
    assert set(runs) == {
        (0, 0, n1),
        (0, 0, n2),
        (0, 0, n3),
        (0, 0, n4),
        (first.id, design.id, 0),
        (second.id, ux.id, 0),
    }


# --- record_outcomes, retry_wait


def claim_all(session: Session) -> dict[str, Claimed]:
    return {c.recipient: c for c in deliveries.claim_due(session, LATER, limit=100, lease=LEASE)}


def test_outcomes_sent_retried_and_failed(session: Session) -> None:
    mail_row(session, "ok@example.com")
    mail_row(session, "busy@example.com")
    mail_row(session, "unknown@example.com")
    mail_row(session, "again@example.com", attempts=1)
    claimed = claim_all(session)
    outcomes = [
        Outcome(claimed["ok@example.com"], 250, "2.0.0 ok"),
        Outcome(claimed["busy@example.com"], 451, "4.3.0 try later"),
        Outcome(claimed["unknown@example.com"], 550, "5.1.1 no such user"),
        Outcome(claimed["again@example.com"], 421, "4.4.2 timeout"),
    ]

    counts = deliveries.record_outcomes(session, outcomes, SETTINGS, LATER)

    assert counts == {DeliveryResult.SENT: 1, DeliveryResult.RETRY: 2, DeliveryResult.FAILED: 1}
    rows = queued(session)
    ok = rows["ok@example.com"]
    assert (ok["status"], ok["sent_at"], ok["last_error"]) == (DeliveryStatus.SENT, LATER, "")
    assert ok["content"] is None  # a sent mail's bytes are dropped
    busy = rows["busy@example.com"]
    assert busy["content"] == MAIL_A  # kept for the next try
    assert busy["status"] is DeliveryStatus.PENDING
    assert busy["next_attempt_at"] == LATER + dt.timedelta(seconds=SETTINGS.retry_wait_seconds)
    assert busy["last_error"] == "451 4.3.0 try later"
    assert busy["sent_at"] is None
    again = rows["again@example.com"]
    assert again["next_attempt_at"] == LATER + 2 * dt.timedelta(seconds=SETTINGS.retry_wait_seconds)
    unknown = rows["unknown@example.com"]
    assert unknown["status"] is DeliveryStatus.FAILED
    assert unknown["last_error"] == "550 5.1.1 no such user"
    assert unknown["sent_at"] is None


@pytest.mark.parametrize(
    ("code", "age_hours", "result"),
    [
        (250, 0, DeliveryResult.SENT),
        (251, 99, DeliveryResult.SENT),  # sent is sent, however late
        (451, 0, DeliveryResult.RETRY),
        (421, 1.9, DeliveryResult.RETRY),
        (451, 2, DeliveryResult.FAILED),  # retry_hours=2 are over
        (550, 0, DeliveryResult.FAILED),
        (554, 0, DeliveryResult.FAILED),
    ],
)
def test_what_a_reply_makes_of_a_delivery(code: int, age_hours: float, result: str) -> None:
    created = LATER - dt.timedelta(hours=age_hours)
    claimed = Claimed(1, None, None, "bob@example.com", 0, created)
    outcome = Outcome(claimed, code, "")
    assert DeliveryResult.of(outcome, DeliverySettings(retry_hours=2), LATER) is result


def test_a_temporary_failure_past_retry_hours_fails_for_good(session: Session) -> None:
    settings = DeliverySettings(retry_hours=2)
    mail_row(session, "old@example.com", created_at=LATER - dt.timedelta(hours=2))
    mail_row(session, "young@example.com", created_at=LATER - dt.timedelta(hours=1, minutes=59))
    claimed = claim_all(session)
    outcomes = [Outcome(claimed[r], 451, "4.2.2 mailbox full") for r in sorted(claimed)]
    assert deliveries.record_outcomes(session, outcomes, settings, LATER) == {
        DeliveryResult.SENT: 0,
        DeliveryResult.RETRY: 1,
        DeliveryResult.FAILED: 1,
    }
    rows = queued(session)
    assert rows["old@example.com"]["status"] is DeliveryStatus.FAILED
    assert rows["old@example.com"]["last_error"] == "451 4.2.2 mailbox full"
    assert rows["young@example.com"]["status"] is DeliveryStatus.PENDING


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(1, 60), (2, 120), (3, 240), (4, 480), (5, 960), (6, 1920), (7, 3600), (8, 3600), (500, 3600)],
)
def test_the_retry_wait_doubles_up_to_an_hour(attempts: int, seconds: int) -> None:
    assert deliveries.retry_wait(attempts, SETTINGS) == dt.timedelta(seconds=seconds)


def test_a_first_wait_longer_than_an_hour_is_kept() -> None:
    settings = DeliverySettings(retry_wait_seconds=7200)
    assert deliveries.retry_wait(1, settings) == dt.timedelta(hours=2)
    assert deliveries.retry_wait(5, settings) == dt.timedelta(hours=2)


# --- resume_in_flight, push


def test_rows_left_sending_are_due_again_after_a_restart(session: Session) -> None:
    mail_row(session, "a@example.com")
    mail_row(session, "b@example.com")
    mail_row(session, "done@example.com", status=DeliveryStatus.SENT)
    assert len(deliveries.claim_due(session, NOW, limit=10, lease=LEASE)) == 2

    assert deliveries.resume_in_flight(session, LEASE) == 2

    rows = queued(session)
    for recipient in ("a@example.com", "b@example.com"):
        assert (rows[recipient]["status"], rows[recipient]["attempts"]) == (
            DeliveryStatus.PENDING,
            1,
        )
    assert rows["done@example.com"]["status"] is DeliveryStatus.SENT
    assert len(deliveries.claim_due(session, NOW, limit=10, lease=LEASE)) == 2


def test_a_claim_names_its_node_and_lease_and_an_outcome_clears_them(session: Session) -> None:
    mail_row(session, "ok@example.com")
    mail_row(session, "busy@example.com")
    mail_row(session, "unknown@example.com")
    claimed = {c.recipient: c for c in deliveries.claim_due(session, NOW, 10, LEASE)}
    for row in queued(session).values():
        assert (row["claimed_by"], row["lease_until"]) == ("node-a", NOW + dt.timedelta(minutes=5))

    outcomes = [
        Outcome(claimed["ok@example.com"], 250, "2.0.0 ok"),
        Outcome(claimed["busy@example.com"], 451, "4.3.0 try later"),
        Outcome(claimed["unknown@example.com"], 550, "5.1.1 no such user"),
    ]
    deliveries.record_outcomes(session, outcomes, SETTINGS, LATER)

    rows = queued(session)
    assert [
        rows[r]["status"] for r in ("ok@example.com", "busy@example.com", "unknown@example.com")
    ] == [
        DeliveryStatus.SENT,
        DeliveryStatus.PENDING,
        DeliveryStatus.FAILED,
    ]
    assert {(row["claimed_by"], row["lease_until"]) for row in rows.values()} == {(None, None)}


def test_a_live_lease_of_another_node_is_neither_claimed_nor_resumed(session: Session) -> None:
    mail_row(session, "b@example.com", **HELD_BY_B)
    mail_row(session, "due@example.com")

    assert deliveries.resume_in_flight(session, LEASE) == 0
    assert [c.recipient for c in deliveries.claim_due(session, LATER, 10, LEASE)] == [
        "due@example.com"
    ]
    row = queued(session)["b@example.com"]
    assert (row["status"], row["claimed_by"]) == (DeliveryStatus.SENDING, "node-b")
    assert row["lease_until"] == HELD_BY_B["lease_until"]


def test_an_expired_lease_is_taken_over_as_due_work(session: Session) -> None:
    """node-b died: once its lease ran out, node-a claims its row (before the pending
    ones, within the same limit), and holds it under its own lease."""
    stranded = mail_row(session, "b@example.com", **HELD_BY_B, attempts=1)
    mail_row(session, "due@example.com", next_attempt_at=NOW - dt.timedelta(hours=1))
    expiry = HELD_BY_B["lease_until"]
    assert (
        deliveries.claim_due(session, expiry - dt.timedelta(seconds=1), 1, LEASE)[0].id != stranded
    )

    [taken] = deliveries.claim_due(session, expiry, 1, LEASE)

    assert (taken.id, taken.attempts) == (stranded, 1)
    row = queued(session)["b@example.com"]
    assert (row["status"], row["claimed_by"], row["attempts"]) == (
        DeliveryStatus.SENDING,
        "node-a",
        2,
    )
    assert row["lease_until"] == expiry + dt.timedelta(seconds=LEASE.seconds)


def test_a_restarted_node_resumes_its_own_rows_and_leaves_expired_ones_due(
    session: Session,
) -> None:
    mine = mail_row(
        session,
        "mine@example.com",
        claimed_by="node-a",
        lease_until=LATER + dt.timedelta(minutes=1),
    )
    mail_row(session, "b@example.com", **HELD_BY_B)
    dead = mail_row(session, "dead@example.com", claimed_by="node-c", lease_until=LATER)

    assert deliveries.resume_in_flight(session, LEASE) == 1

    rows = queued(session)
    assert (rows["mine@example.com"]["status"], rows["mine@example.com"]["claimed_by"]) == (
        DeliveryStatus.PENDING,
        None,
    )
    assert rows["mine@example.com"]["lease_until"] is None
    assert rows["b@example.com"]["status"] is DeliveryStatus.SENDING
    assert rows["dead@example.com"]["claimed_by"] == "node-c"  # shown stranded until taken
    assert sorted(c.id for c in deliveries.claim_due(session, LATER, 10, LEASE)) == [mine, dead]


def test_renewing_extends_only_the_claims_the_node_still_holds(session: Session) -> None:
    mine = mail_row(session, "mine@example.com")
    deliveries.claim_due(session, NOW, 10, LEASE)
    taken = mail_row(session, "b@example.com", **HELD_BY_B)

    assert deliveries.renew_leases(session, [mine, taken], LEASE, LATER) == 1

    rows = queued(session)
    assert rows["mine@example.com"]["lease_until"] == LATER + dt.timedelta(minutes=5)
    assert rows["b@example.com"]["lease_until"] == HELD_BY_B["lease_until"]


def test_push_releases_rows_stranded_by_a_dead_node_only(session: Session) -> None:
    live = mail_row(session, "b@example.com", **HELD_BY_B)
    dead = mail_row(session, "dead@example.com", claimed_by="node-c", lease_until=NOW)

    assert deliveries.push(session, [live], LATER) == 0
    assert deliveries.push(session, [], LATER) == 1

    rows = queued(session)
    assert rows["b@example.com"]["status"] is DeliveryStatus.SENDING
    row = rows["dead@example.com"]
    assert (row["status"], row["claimed_by"], row["next_attempt_at"]) == (
        DeliveryStatus.PENDING,
        None,
        LATER,
    )
    assert [c.id for c in deliveries.claim_due(session, LATER, 10, LEASE)] == [dead]


def test_push_makes_failed_and_waiting_rows_due_now(session: Session) -> None:
    failed = mail_row(session, "failed@example.com", status=DeliveryStatus.FAILED)
    mail_row(session, "waiting@example.com", next_attempt_at=NOW + dt.timedelta(hours=1))
    mail_row(session, "sent@example.com", status=DeliveryStatus.SENT)
    mail_row(session, "sending@example.com", **HELD_BY_B)

    assert deliveries.push(session, [failed], LATER) == 1
    rows = queued(session)
    assert rows["failed@example.com"]["status"] is DeliveryStatus.PENDING
    assert rows["failed@example.com"]["next_attempt_at"] == LATER
    assert rows["waiting@example.com"]["next_attempt_at"] == NOW + dt.timedelta(hours=1)

    assert deliveries.push(session, [], LATER) == 2
    rows = queued(session)
    assert rows["waiting@example.com"]["next_attempt_at"] == LATER
    assert rows["sent@example.com"]["status"] is DeliveryStatus.SENT
    assert rows["sending@example.com"]["status"] is DeliveryStatus.SENDING
    assert sorted(
        c.recipient for c in deliveries.claim_due(session, LATER, limit=10, lease=LEASE)
    ) == [
        "failed@example.com",
        "waiting@example.com",
    ]


# --- the ingest pipeline queues posts


def inbound(
    message_id: str, *slugs: str, sender: str = "alice@example.com", origin: Origin = Origin.SMTP
) -> InboundMail:
    raw = raw_post("Hello", "Body\n", message_id=message_id, sender=sender, to=slugs)
    recipients = tuple(f"{slug}@{DOMAIN}" for slug in slugs)
    return InboundMail(raw, sender, recipients, NOW, origin=origin)


def queued_by_slug(app: App) -> list[tuple[str, str, str]]:
    with transaction(app.read_sessions) as session:
        rows = session.execute(
            select(Message.message_id, Delivery.recipient, Community.slug)
            .join(Message, Message.id == Delivery.message_id)
            .join(Community, Community.id == Delivery.community_id)
            .order_by(Delivery.recipient)
        )
        return [tuple(row) for row in rows]


def setup_communities(app: App, policy: Policy = Policy.OPEN) -> None:
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", policy=policy)
        ux = create_community(session, "ux", "UX", policy=Policy.OPEN)
        add_members(session, design, ["alice@example.com", "bob@example.com", "carol@example.com"])
        add_members(session, design, ["dan@example.com"], delivery=DeliveryMode.DAILY)
        add_members(session, ux, ["bob@example.com", "erin@example.com"])


def test_an_ingested_post_is_queued_for_its_members(app: App) -> None:
    setup_communities(app)
    [outcome] = ingest_now(app, [inbound("m1@x", "design")])
    assert not isinstance(outcome, Exception) and outcome.disposition == "published"
    assert queued_by_slug(app) == [
        ("m1@x", "bob@example.com", "design"),
        ("m1@x", "carol@example.com", "design"),
    ]


def test_a_held_post_queues_nothing(app: App) -> None:
    setup_communities(app, Policy.MODERATED)
    [outcome] = ingest_now(app, [inbound("m1@x", "design")])
    assert not isinstance(outcome, Exception) and outcome.disposition == "held"
    assert queued_by_slug(app) == []


def test_approving_a_held_post_queues_it_as_if_it_had_just_arrived(app: App) -> None:
    setup_communities(app, Policy.MODERATED)
    ingest_now(app, [inbound("m1@x", "design")])
    with transaction(app.sessions) as session:
        held = session.scalars(select(Message)).one()
        assert publish_held(session, held, NOW) == 2
        assert held.status is MessageStatus.PUBLISHED
    assert queued_by_slug(app) == [
        ("m1@x", "bob@example.com", "design"),
        ("m1@x", "carol@example.com", "design"),
    ]
    with transaction(app.sessions) as session, pytest.raises(InvalidInput, match="not held"):
        publish_held(session, session.scalars(select(Message)).one(), NOW)


def test_imported_mail_queues_nothing(app: App) -> None:
    setup_communities(app)
    [outcome] = ingest_now(app, [inbound("m1@x", "design", origin=Origin.IMPORT)])
    assert not isinstance(outcome, Exception) and outcome.disposition == "published"
    assert queued_by_slug(app) == []


def test_a_second_copy_for_another_community_queues_only_its_new_members(app: App) -> None:
    setup_communities(app)
    ingest_now(app, [inbound("m1@x", "design")])
    [outcome] = ingest_now(app, [inbound("m1@x", "ux")])
    assert not isinstance(outcome, Exception) and outcome.disposition == "duplicate"
    assert queued_by_slug(app) == [
        ("m1@x", "bob@example.com", "design"),
        ("m1@x", "carol@example.com", "design"),
        ("m1@x", "erin@example.com", "ux"),
    ]
    [again] = ingest_now(app, [inbound("m1@x", "design", "ux")])
    assert not isinstance(again, Exception) and again.disposition == "duplicate"
    assert len(queued_by_slug(app)) == 3


def test_two_copies_in_one_batch_are_queued_as_if_one_came_after_the_other(app: App) -> None:
    setup_communities(app)
    outcomes = ingest_now(app, [inbound("m1@x", "design"), inbound("m1@x", "ux")])
    assert [o.disposition for o in outcomes if not isinstance(o, Exception)] == [
        "published",
        "duplicate",
    ]
    assert queued_by_slug(app) == [
        ("m1@x", "bob@example.com", "design"),
        ("m1@x", "carol@example.com", "design"),
        ("m1@x", "erin@example.com", "ux"),
    ]


def test_a_cross_post_ingested_at_once_is_queued_once_per_person(app: App) -> None:
    setup_communities(app)
    ingest_now(app, [inbound("m1@x", "design", "ux")])
    rows = queued_by_slug(app)
    assert [(recipient, slug) for _, recipient, slug in rows if recipient != "bob@example.com"] == [
        ("carol@example.com", "design"),
        ("erin@example.com", "ux"),
    ]
    [bob] = [slug for _, recipient, slug in rows if recipient == "bob@example.com"]
    assert bob in ("design", "ux")
