"""The delivery queue: one row per (message, person), claimed, sent, retried, resumed.

A post is queued in the transaction that publishes it, so it is delivered if and
only if it is stored. A worker claims due rows under a lease: its node id and a time
until which the claim holds unless renewed. A claimed row stays "pending" in the
store, and is shown as "sending" (in_flight): a claim writes no column an index reads,
so PostgreSQL rewrites the row in place (models.Delivery). The worker hands the rows
to the relay and records each recipient's outcome. Rows whose lease ran out belong to
a node that died: another node takes them over as due work. A starting node releases
only its own rows (its previous run's), never a live node's (DESIGN.md, principle 1:
nothing recorded as sent is sent twice).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import cast

from sqlalchemy import ColumnElement
from sqlalchemy import CursorResult
from sqlalchemy import FromClause
from sqlalchemy import Result
from sqlalchemy import Select
from sqlalchemy import SQLColumnExpression
from sqlalchemy import and_
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import join
from sqlalchemy import literal
from sqlalchemy import literal_column
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.settings import DeliverySettings
from gateway.store.leases import Lease
from gateway.store.leases import lease_over
from gateway.store.models import Delivery
from gateway.store.models import DeliveryMode
from gateway.store.models import DeliveryStatus
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Person
from gateway.store.models import ThreadMute
from gateway.store.models import UTCDateTime
from gateway.store.sql import among
from gateway.store.sql import among_selected
from gateway.store.sql import skip_locked
from gateway.store.sql import walk_indexes

POST = "post"
# What claim_due reads of a claimed row: Claimed's fields, in order. The claim's
# UPDATE ... RETURNING gives the row as updated: Claimed.attempts counts the tries
# before this one.
CLAIMED_COLUMNS = (
    Delivery.id,
    Delivery.message_id,
    Delivery.community_id,
    Delivery.recipient,
    Delivery.attempts - 1,
    Delivery.created_at,
    Delivery.person_id,
)
# The columns a post's queued rows are written with (enqueue_post, enqueue_posts).
QUEUED_COLUMNS = [
    "message_id",
    "community_id",
    "person_id",
    "recipient",
    "kind",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
]
# Retries are never further apart than this.
MAX_RETRY_WAIT = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Claimed:
    """A delivery taken by the worker: what to send, and to whom."""

    id: int
    message_id: int | None
    community_id: int | None
    recipient: str
    attempts: int
    created_at: dt.datetime
    # The person it goes to (None for mail to an address alone): their own copy of a
    # post names them in its one-click URL ([delivery] personal_copies).
    person_id: int | None = None

    @property
    def content_key(self) -> tuple[int, int, int]:
        """Deliveries with the same key get the same bytes: a post's copies for one
        community share them; a generated mail's are its own (its delivery id)."""
        if self.message_id is None:
            return (0, 0, self.id)
        return (self.message_id, self.community_id or 0, 0)


@dataclass(frozen=True)
class Outcome:
    """How the relay answered for one delivery."""

    delivery: Claimed
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


class DeliveryResult(enum.StrEnum):
    """What a relay's answer makes of a delivery; the worker counts each in its log line."""

    SENT = "sent"
    RETRY = "retry"  # due again after retry_wait
    FAILED = "failed"  # for good: refused (5xx), or still failing after retry_hours

    @classmethod
    def of(cls, outcome: Outcome, settings: DeliverySettings, now: dt.datetime) -> DeliveryResult:
        if 200 <= outcome.code < 300:
            return cls.SENT
        if outcome.code >= 500:
            return cls.FAILED
        given_up = now - outcome.delivery.created_at >= dt.timedelta(hours=settings.retry_hours)
        return cls.FAILED if given_up else cls.RETRY


def enqueue_post(
    session: Session,
    message_id: int,
    community_ids: Sequence[int],
    sender_id: int | None,
    now: dt.datetime,
) -> int:
    """Queue a published post for every instant member of its communities: one row
    per person (in the first of their communities), none for the sender unless a
    membership asks for own posts, none for a person it was already queued for or
    who muted its thread."""
    if not community_ids:
        return 0
    chosen = _copies(
        join(Membership, Person, Person.id == Membership.person_id),
        message_id=literal(message_id),
        sender_id=sender_id,
        thread_id=select(Message.thread_id).where(Message.id == message_id).scalar_subquery(),
        created_at=literal(now, UTCDateTime()),
    ).where(Membership.community_id.in_(community_ids))
    return _insert_copies(session, chosen)


def enqueue_posts(session: Session, message_ids: Sequence[int]) -> int:
    """Queue stored posts just published (a batch of ingest) for the instant members of
    the communities where each is published (not those that hold it), in one statement:
    what enqueue_post does for each, with the sender, thread and time the store holds
    for it. Returns how many rows."""
    if not message_ids:
        return 0
    post = MessageCommunity
    source = (
        join(post, Message, Message.id == post.message_id)
        .join(Membership, Membership.community_id == post.community_id)
        .join(Person, Person.id == Membership.person_id)
    )
    chosen = (
        _copies(
            source,
            message_id=post.message_id,
            sender_id=Message.sender_id,
            thread_id=Message.thread_id,
            created_at=Message.received_at,
            per=(post.message_id, Message.received_at),
        )
        .where(post.message_id.in_(message_ids), post.status == MessageStatus.PUBLISHED)
        # Each post's rows together, as one enqueue_post each would have written them.
        .order_by(post.message_id, Membership.person_id)
    )
    return _insert_copies(session, chosen)


def _copies(
    source: FromClause,
    message_id: SQLColumnExpression[Any],
    sender_id: int | SQLColumnExpression[Any] | None,
    thread_id: SQLColumnExpression[Any],
    created_at: SQLColumnExpression[Any],
    per: Sequence[SQLColumnExpression[Any]] = (),
) -> Select[Any]:
    """The queued rows (QUEUED_COLUMNS) of a post for the instant members `source`
    joins: one per person (in the first of their communities), none for the sender
    unless a membership asks for own posts (a stored post's sender may be none), none
    for a person it was already queued for or who muted its thread. `per`: the columns
    besides the person that make one row (several posts at once)."""
    if sender_id is None:
        not_sender: ColumnElement[bool] = literal(True)
    else:
        not_sender = or_(Membership.person_id != sender_id, Membership.own_posts.is_(True))
        if not isinstance(sender_id, int):  # a column
            not_sender = or_(sender_id.is_(None), not_sender)
    already = exists().where(
        and_(Delivery.message_id == message_id, Delivery.person_id == Membership.person_id)
    )
    muted = exists().where(
        and_(ThreadMute.person_id == Membership.person_id, ThreadMute.thread_id == thread_id)
    )
    return (
        select(
            message_id,
            func.min(Membership.community_id),
            Membership.person_id,
            Person.address,
            literal(POST),
            literal(DeliveryStatus.PENDING.value),
            literal(0),
            created_at,
            literal(""),
            created_at,
        )
        .select_from(source)
        .where(
            Membership.delivery == DeliveryMode.INSTANT,
            Membership.disabled_at.is_(None),
            not_sender,
            ~already,
            ~muted,
        )
        .group_by(*per, Membership.person_id, Person.address)
    )


def _insert_copies(session: Session, chosen: Select[Any]) -> int:
    """INSERT ... SELECT of the rows `chosen` gives; how many were queued."""
    # psycopg 3 forgets an INSERT's rowcount once its cursor closes (sqlalchemy#10974).
    statement = insert(Delivery).from_select(QUEUED_COLUMNS, chosen)
    return _rowcount(session.execute(statement.execution_options(preserve_rowcount=True)))


def enqueue_mail(
    session: Session,
    recipient: str,
    content: bytes,
    kind: str,
    now: dt.datetime,
    person_id: int | None = None,
) -> Delivery:
    """Queue a mail the gateway wrote: its bytes are kept in the row until sent."""
    delivery = Delivery(
        recipient=recipient,
        person_id=person_id,
        content=content,
        kind=kind,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    return delivery


def _pending() -> ColumnElement[bool]:
    """Pending rows, in the words of ix_deliveries_due's predicate: a partial index serves
    a query whose WHERE says what the index's does, which `status = $1` does not in a
    plan PostgreSQL keeps for any value of $1 (a prepared statement's generic plan)."""
    return Delivery.status == literal_column(f"'{DeliveryStatus.PENDING.value}'")


def in_flight() -> ColumnElement[bool]:
    """Rows "sending": pending rows a node claimed, under a lease that holds or (a node
    that died) ran out. Every outcome and every release clears the claim."""
    return and_(_pending(), Delivery.claimed_by.is_not(None))


def _unclaimed(now: dt.datetime) -> ColumnElement[bool]:
    """Pending rows no node holds: never claimed, released, or their lease ran out."""
    return and_(_pending(), lease_over(Delivery.lease_until, now))


# A row no node holds: what every outcome and every release writes.
UNCLAIMED: dict[str, object] = {"claimed_by": None, "lease_until": None}


def _released() -> dict[str, object]:
    return {"status": DeliveryStatus.PENDING, **UNCLAIMED}


def resume_in_flight(session: Session, lease: Lease) -> int:
    """At start-up: this node's rows left "sending" by its previous run are due again
    (rows whose lease ran out are due already). Rows a live node holds are left to it."""
    return _release(session, lease.node)


def release_claims(session: Session, node: str, now: dt.datetime) -> int:
    """A node stopping cleanly: the rows it still has "sending" (a delivery process that
    did not finish its round) are due again for any node at once, not after the lease."""
    return _release(session, node, next_attempt_at=now)


def _release(session: Session, node: str, **values: object) -> int:
    return _rowcount(
        session.execute(
            update(Delivery)
            .where(in_flight(), Delivery.claimed_by == node)
            .values(**_released(), **values)
        )
    )


def copies_waiting(session: Session, now: dt.datetime) -> bool:
    """Whether copies are due or being sent: the pages of the posts they carry can wait
    for them (archive.publisher). Retries due later are not counted. A row being sent
    was due when it was claimed: one look into ix_deliveries_due finds both."""
    due = exists().where(_pending(), Delivery.next_attempt_at <= now)
    return bool(session.scalar(select(due)))


def claim_due(session: Session, now: dt.datetime, limit: int, lease: Lease) -> list[Claimed]:
    """Take up to `limit` due deliveries for `lease.node`, grouped by content so each is
    rendered once.

    Due are pending rows whose time has come that no node holds: rows whose lease ran
    out (their node died) are taken over like any due row, and were due before any
    other. On PostgreSQL rows another worker is claiming are skipped (FOR UPDATE SKIP
    LOCKED), so several `gateway serve` processes share the queue.
    """
    # The claim writes no column an index reads: the row stays pending (in_flight).
    claim = {
        "attempts": Delivery.attempts + 1,
        "claimed_by": lease.node,
        "lease_until": lease.until(now),
    }
    # In the index's order, and no sort (walk_indexes): rows of one time (a post's
    # copies) come as the index keeps them, by rowid on SQLite, by place in the table on
    # PostgreSQL. Ordered by id, SQLite read the whole table in rowid order; by time and
    # id, PostgreSQL sorted every due row on each claim. The walk passes over the rows
    # in flight (claimed, due, and pending): a round or two per node.
    walk_indexes(session)
    due = (
        select(Delivery.id)
        .where(_unclaimed(now), Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    )
    claimed = _claim(session, due, claim)
    return sorted(claimed, key=lambda c: (c.content_key, c.id))


def _claim(session: Session, ids: Select[Any], claim: dict[str, Any]) -> list[Claimed]:
    """Claim the rows whose `ids` the query selects, skipping those another worker
    holds, in one UPDATE ... RETURNING (one round trip, and no separate row lock
    before the update)."""
    taken = session.execute(
        update(Delivery)
        .where(among_selected(session, Delivery.id, skip_locked(session, ids)))
        .values(**claim)
        .returning(*CLAIMED_COLUMNS),
        execution_options={"synchronize_session": False},
    )
    return [Claimed(*row) for row in taken]


def renew_leases(session: Session, ids: Sequence[int], lease: Lease, now: dt.datetime) -> int:
    """Extend the claims `lease.node` still holds among `ids` (rows not sent yet in a
    long round), so that no other node takes them over; returns how many."""
    renewed = 0
    for chosen in among(session, Delivery.id, ids):
        renewed += _rowcount(
            session.execute(
                update(Delivery)
                .where(chosen, in_flight(), Delivery.claimed_by == lease.node)
                .values(lease_until=lease.until(now))
            )
        )
    return renewed


def generated_content(session: Session, delivery_id: int) -> bytes | None:
    """The bytes of a mail the gateway wrote (None once sent, or for a post)."""
    return session.scalar(select(Delivery.content).where(Delivery.id == delivery_id))


def record_outcomes(
    session: Session, outcomes: Iterable[Outcome], settings: DeliverySettings, now: dt.datetime
) -> dict[DeliveryResult, int]:
    """Sent, failed for good, or due again later; returns how many of each."""
    sent: list[int] = []
    failed: list[dict[str, object]] = []
    retried: list[dict[str, object]] = []
    counts = dict.fromkeys(DeliveryResult, 0)
    for outcome in outcomes:
        result = DeliveryResult.of(outcome, settings, now)
        counts[result] += 1
        claimed = outcome.delivery
        if result is DeliveryResult.SENT:
            sent.append(claimed.id)
            continue
        row = {"id": claimed.id, "last_error": str(outcome)[:1000], **UNCLAIMED}
        if result is DeliveryResult.FAILED:
            failed.append({**row, "status": DeliveryStatus.FAILED})
        else:
            retry_at = now + retry_wait(claimed.attempts + 1, settings)
            retried.append({**row, "status": DeliveryStatus.PENDING, "next_attempt_at": retry_at})
    # The rows not sent: one executemany per kind (by primary key), not a statement each.
    for rows in (failed, retried):
        if rows:
            session.execute(update(Delivery), rows)
    for chosen in among(session, Delivery.id, sent):
        session.execute(
            update(Delivery)
            .where(chosen)
            .values(
                status=DeliveryStatus.SENT,
                sent_at=now,
                last_error="",
                content=None,
                **UNCLAIMED,
            )
        )
    return counts


def retry_wait(attempts: int, settings: DeliverySettings) -> dt.timedelta:
    """The wait before the next try, doubling after each failed one."""
    first = settings.retry_wait_seconds
    longest = max(MAX_RETRY_WAIT.total_seconds(), first)
    return dt.timedelta(seconds=min(first * 2 ** min(attempts - 1, 20), longest))


def push(session: Session, ids: Sequence[int], now: dt.datetime) -> int:
    """Make deliveries due now: pending and failed ones, and sending ones whose lease ran
    out (stranded by a node that died); all of them when no id is given."""
    query = update(Delivery).where(
        or_(Delivery.status == DeliveryStatus.FAILED, _unclaimed(now)),
    )
    if ids:
        query = query.where(Delivery.id.in_(ids))
    return _rowcount(session.execute(query.values(**_released(), next_attempt_at=now)))


def _rowcount(result: Result[Any]) -> int:
    return cast("CursorResult[Any]", result).rowcount or 0


def list_deliveries(
    session: Session, statuses: Sequence[DeliveryStatus], limit: int
) -> list[dict[str, Any]]:
    """The queue as `gateway queue list --json` prints it (shape in the README)."""
    rows = session.execute(
        select(Delivery, Message.message_id)
        .outerjoin(Message, Message.id == Delivery.message_id)
        .where(or_(*(shown_as(status) for status in statuses)))
        .order_by(Delivery.id)
        .limit(limit)
    )
    return [
        {
            "id": delivery.id,
            "kind": delivery.kind,
            "recipient": delivery.recipient,
            "message_id": message_id,
            "status": shown_status(delivery.status, delivery.claimed_by).value,
            "attempts": delivery.attempts,
            "next_attempt_at": delivery.next_attempt_at.isoformat(),
            "last_error": delivery.last_error,
            "created_at": delivery.created_at.isoformat(),
            "sent_at": delivery.sent_at.isoformat() if delivery.sent_at else None,
            "claimed_by": delivery.claimed_by,
            "lease_until": delivery.lease_until.isoformat() if delivery.lease_until else None,
        }
        for delivery, message_id in rows
    ]


def shown_status(stored: DeliveryStatus, claimed_by: str | None) -> DeliveryStatus:
    """A row's status as the queue shows it: "sending" while claimed (in_flight)."""
    if stored is DeliveryStatus.PENDING and claimed_by is not None:
        return DeliveryStatus.SENDING
    return stored


def shown_as(status: DeliveryStatus) -> ColumnElement[bool]:
    """The rows shown as `status` (shown_status)."""
    if status is DeliveryStatus.SENDING:
        return in_flight()
    if status is DeliveryStatus.PENDING:
        return and_(_pending(), Delivery.claimed_by.is_(None))
    return Delivery.status == status


def count_by_status(session: Session) -> dict[str, int]:
    """How many rows each status shows (shown_status)."""
    counts = dict.fromkeys((s.value for s in DeliveryStatus), 0)
    kept = (Delivery.status, Delivery.claimed_by)  # a few nodes: a few groups more
    for status, claimed_by, count in session.execute(select(*kept, func.count()).group_by(*kept)):
        counts[shown_status(DeliveryStatus(status), claimed_by).value] += count
    return counts
