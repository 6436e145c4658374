"""The store's SQL helpers on SQLite and PostgreSQL: IN lists in chunks, insert-if-new,
updates by key, SKIP LOCKED; and the ledger of once-per-period mail built on them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.store import db
from gateway.store.db import make_engine
from gateway.store.db import transaction
from gateway.store.ledger import ALREADY
from gateway.store.ledger import EMPTY
from gateway.store.ledger import MONTHLY
from gateway.store.ledger import QUEUED
from gateway.store.ledger import Entry
from gateway.store.models import Delivery
from gateway.store.models import DeliveryStatus
from gateway.store.models import MonthlyRun
from gateway.store.models import Person
from gateway.store.sql import IN_LIST
from gateway.store.sql import chunks
from gateway.store.sql import insert_if_new
from gateway.store.sql import set_by_id
from gateway.store.sql import skip_locked
from tests.postgres import PostgresServer

NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def add_people(session: Session, count: int) -> list[int]:
    rows = [{"address": f"p{n}@example.com"} for n in range(count)]
    return list(session.scalars(insert(Person).returning(Person.id), rows))


# chunks


def test_chunks_are_consecutive_slices_of_at_most_the_size() -> None:
    assert list(chunks(list(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunks("abcd", 2)) == ["ab", "cd"]
    assert list(chunks([], 3)) == []


def test_a_chunk_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(chunks([1, 2], 0))


def test_an_in_list_longer_than_a_statement_takes_is_read_in_chunks(app: App) -> None:
    """SQLite refuses more than 999 parameters in some builds; 2.5 chunks find them all."""
    count = IN_LIST * 5 // 2
    with transaction(app.sessions) as session:
        ids = add_people(session, count)
    with transaction(app.read_sessions) as session:
        found = [
            address
            for chunk in chunks(ids)
            for address in session.scalars(select(Person.address).where(Person.id.in_(chunk)))
        ]
    assert sorted(found) == sorted(f"p{n}@example.com" for n in range(count))


# insert_if_new


def insert_people(session: Session, rows: list[dict[str, str]]) -> list[str]:
    """The addresses of the rows inserted (those not stored before)."""
    statement = insert_if_new(session, Person, ["address"]).returning(Person.address)
    return list(session.scalars(statement, rows))


def test_insert_if_new_keeps_the_stored_row_and_returns_only_new_ones(app: App) -> None:
    with transaction(app.sessions) as session:
        first = insert_people(session, [{"address": "ann@example.com", "name": "Ann"}])
    with transaction(app.sessions) as session:
        second = insert_people(
            session,
            [
                {"address": "ann@example.com", "name": "Someone else"},
                {"address": "bob@example.com", "name": "Bob"},
            ],
        )
    assert first == ["ann@example.com"]
    assert second == ["bob@example.com"]
    with transaction(app.read_sessions) as session:
        names = dict(session.execute(select(Person.address, Person.name)).all())
    assert names == {"ann@example.com": "Ann", "bob@example.com": "Bob"}


# set_by_id


def test_set_by_id_gives_each_row_its_value_in_one_update(app: App) -> None:
    with transaction(app.sessions) as session:
        ids = add_people(session, 4)
    updates: list[bool] = []  # each UPDATE sent: whether as an executemany

    @event.listens_for(app.engine, "before_cursor_execute")
    def record(_c: Any, _k: Any, statement: str, _p: Any, _x: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            updates.append(many)

    with transaction(app.sessions) as session:
        set_by_id(session, Person.name, {ids[0]: "Ann", ids[2]: "Cleo"})
        set_by_id(session, Person.show_write_to, {ids[1]: False, ids[2]: None})
        set_by_id(session, Person.name, {})
    with transaction(app.read_sessions) as session:
        rows = session.execute(
            select(Person.id, Person.name, Person.show_write_to).order_by(Person.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        (ids[0], "Ann", None),
        (ids[1], "", False),
        (ids[2], "Cleo", None),
        (ids[3], "", None),
    ]
    # One UPDATE for each call with values; on PostgreSQL a single execution, not one
    # per row (SQLite runs in our process: an executemany costs it no round trip).
    assert len(updates) == 2
    if app.engine.dialect.name == "postgresql":
        assert updates == [False, False]


# skip_locked


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_skip_locked_on_sqlite_leaves_the_query_as_it_is(app: App) -> None:
    query = select(Person.id)
    with transaction(app.read_sessions) as session:
        assert skip_locked(session, query) is query


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_skip_locked_on_postgresql_passes_over_rows_another_transaction_holds(
    app: App,
) -> None:
    with transaction(app.sessions) as session:
        ids = add_people(session, 3)
    query = select(Person.id).order_by(Person.id)
    with transaction(app.sessions) as holder, transaction(app.sessions) as other:
        held = holder.scalars(skip_locked(holder, query.limit(2))).all()
        rest = other.scalars(skip_locked(other, query)).all()  # answers at once, no wait
    assert held == ids[:2]
    assert rest == ids[2:]


# The ledger of once-per-period mail


def monthly_entry(person_id: int, kind: str = "network", empty: bool = False) -> Entry:
    return Entry((person_id, kind, 0, "2026-11"), empty)


def test_the_ledger_records_each_key_once(app: App) -> None:
    with transaction(app.sessions) as session:
        ann, bob, cat = add_people(session, 3)
    with transaction(app.sessions) as session:
        first = MONTHLY.record(session, [monthly_entry(ann), monthly_entry(bob, empty=True)], NOW)
    with transaction(app.sessions) as session:
        again = MONTHLY.record(
            session, [monthly_entry(ann), monthly_entry(bob), monthly_entry(cat, "report")], NOW
        )
    assert [r.status for r in first] == [QUEUED, EMPTY]
    assert all(r.run_id for r in first)
    assert [r.status for r in again] == [ALREADY, ALREADY, QUEUED]
    assert [r.run_id for r in again[:2]] == [0, 0]
    with transaction(app.read_sessions) as session:
        rows = session.execute(select(MonthlyRun.person_id, MonthlyRun.status)).all()
        recorded = MONTHLY.recorded(session, MonthlyRun.period == "2026-11")
        elsewhere = MONTHLY.recorded(session, MonthlyRun.period == "2026-10")
    assert sorted(rows) == [(ann, QUEUED), (bob, EMPTY), (cat, QUEUED)]
    assert recorded == {
        (ann, "network", 0, "2026-11"),
        (bob, "network", 0, "2026-11"),
        (cat, "report", 0, "2026-11"),
    }
    assert elsewhere == set()


def test_a_dry_run_records_nothing(app: App) -> None:
    with transaction(app.sessions) as session:
        [ann] = add_people(session, 1)
    with transaction(app.sessions) as session:
        planned = MONTHLY.record(session, [monthly_entry(ann, empty=True)], NOW, dry_run=True)
    assert [(r.status, r.run_id) for r in planned] == [(EMPTY, 0)]
    with transaction(app.read_sessions) as session:
        assert MONTHLY.recorded(session) == set()


def test_the_ledger_links_each_recorded_row_to_its_mail(app: App) -> None:
    with transaction(app.sessions) as session:
        [ann] = add_people(session, 1)
    with transaction(app.sessions) as session:
        [recorded] = MONTHLY.record(session, [monthly_entry(ann)], NOW)
        delivery = Delivery(
            recipient="p0@example.com",
            kind="monthly_network",
            content=b"Subject: hi\r\n\r\nhello\r\n",
            status=DeliveryStatus.PENDING,
            next_attempt_at=NOW,
        )
        session.add(delivery)
        session.flush()
        MONTHLY.link(session, {recorded.run_id: delivery.id})
    with transaction(app.read_sessions) as session:
        linked = session.scalar(
            select(MonthlyRun.delivery_id).where(MonthlyRun.id == recorded.run_id)
        )
    assert linked == delivery.id


# pinging PostgreSQL connections that sat idle


@pytest.mark.postgresql
def test_a_connection_idle_a_while_is_pinged_and_replaced_if_the_server_dropped_it(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a connection idle PING_AFTER_IDLE_SECONDS is pinged: one the server ended
    meanwhile (a restart, a firewall) is replaced before use, and one used a moment ago
    costs no round trip more."""
    engine = make_engine(postgres_server.url())
    pings: list[object] = []
    do_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or do_ping(c))

    def backend() -> int:
        with engine.connect() as connection:
            return int(connection.scalar(text("SELECT pg_backend_pid()")))

    try:
        first = backend()
        assert backend() == first and pings == []  # in use a moment ago: no ping
        postgres_server.execute(f"SELECT pg_terminate_backend({first})")
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
        assert backend() != first  # pinged, found dropped, replaced
        assert len(pings) == 1
    finally:
        engine.dispose()
