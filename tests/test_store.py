"""The store's guarantees, on SQLite and PostgreSQL: constraints, time zones, transactions."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlalchemy import event
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.store.db import transaction
from gateway.store.models import Community
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import Person
from gateway.store.models import Thread


def _message(message_id: str, **fields: object) -> Message:
    return Message(message_id=message_id, raw_sha256="0" * 64, **fields)


def test_timestamps_come_back_aware_and_in_utc(session: Session) -> None:
    paris = dt.datetime(2026, 3, 1, 9, 30, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    session.add(_message("<a@x>", date=paris))
    session.flush()
    session.expire_all()
    stored = session.scalar(select(Message.date))
    assert stored == paris
    assert stored is not None and stored.utcoffset() == dt.timedelta(0)


def test_a_naive_timestamp_is_refused(session: Session) -> None:
    session.add(_message("<a@x>", date=dt.datetime(2026, 3, 1, 9, 30)))
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_message_ids_are_unique(session: Session) -> None:
    session.add(_message("same@x"))
    session.flush()
    session.add(_message("same@x"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_a_person_is_a_member_of_a_community_once(session: Session) -> None:
    person = Person(address="a@example.com")
    community = Community(slug="design", name="Design")
    session.add_all([Membership(person=person, community=community)])
    session.flush()
    session.add(Membership(person=person, community=community))
    with pytest.raises(IntegrityError):
        session.flush()


def test_enum_columns_refuse_unknown_values_in_sql(session: Session) -> None:
    with pytest.raises(IntegrityError):
        session.execute(
            text(
                "INSERT INTO communities (slug, name, description, kind, visibility, policy,"
                " subject_prefix, default_delivery, created_at)"
                " VALUES ('x1', 'X', '', 'bogus', 'public', 'open', '', 'instant', :now)"
            ),
            {"now": dt.datetime.now(dt.UTC).replace(tzinfo=None)},
        )


def test_foreign_keys_are_enforced(session: Session) -> None:
    with pytest.raises(IntegrityError):
        session.execute(
            text(
                "INSERT INTO memberships (person_id, community_id, role, delivery, own_posts,"
                " bounce_score, joined_at) VALUES (999, 999, 'member', 'instant', false, 0, :now)"
            ),
            {"now": dt.datetime.now(dt.UTC).replace(tzinfo=None)},
        )


def test_deleting_a_community_in_sql_deletes_its_memberships(session: Session) -> None:
    session.add(
        Membership(
            person=Person(address="a@example.com"),
            community=Community(slug="design", name="Design"),
        )
    )
    session.flush()
    session.execute(text("DELETE FROM communities"))
    assert session.scalar(select(func.count()).select_from(Membership)) == 0
    assert session.scalar(select(func.count()).select_from(Person)) == 1


def test_a_cross_posted_message_is_stored_once_in_each_community(session: Session) -> None:
    design = Community(slug="design", name="Design")
    ux = Community(slug="ux", name="UX")
    thread = Thread(subject="Colours")
    message = _message("<m@x>", subject="Colours")
    message.communities = [ux, design]
    session.add_all([thread, message])
    session.flush()
    message.thread_id = thread.id
    session.flush()
    session.expire_all()
    stored = session.scalars(select(Message)).one()
    assert [c.slug for c in stored.communities] == ["design", "ux"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_mode_with_foreign_keys(app: App) -> None:
    with app.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_statements_go_out_with_their_own_placeholders(app: App) -> None:
    """psycopg's raw cursors send SQLAlchemy's $1 placeholders as they are, a percent
    sign included, whatever the number of parameters (its default cursors parsed every
    statement of more than 50 again)."""
    sent: list[str] = []
    with app.engine.connect() as connection:
        event.listen(connection, "before_cursor_execute", lambda *args: sent.append(args[2]))
        connection.execute(insert(Person), [{"address": "ann@example.com"}])
        found = connection.execute(
            select(Person.address).where(
                Person.id.not_in(list(range(-200, 0))), Person.address.like("%@example.com")
            )
        ).scalars()
        assert list(found) == ["ann@example.com"]
        statement = sent[-1]
        assert "$1" in statement and "%(" not in statement
        import psycopg

        with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
            assert isinstance(cursor, psycopg.RawCursor)


@pytest.mark.postgresql
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_takes_many_rows_in_one_insert(app: App) -> None:
    """Rows inserted together go out as one INSERT of many VALUES, not one statement
    per row (PostgreSQL spent 41 us on each of a batch's community links alone)."""
    sent: list[str] = []
    with app.engine.begin() as connection:
        event.listen(connection, "before_cursor_execute", lambda *args: sent.append(args[2]))
        rows = [{"address": f"p{n}@example.com"} for n in range(300)]
        connection.execute(insert(Person), rows)
        [inserted] = sent
        assert inserted.count("), (") == 299
        assert connection.scalar(select(func.count()).select_from(Person)) == 300


def test_a_unit_of_work_commits_or_rolls_back_whole(app: App) -> None:
    with transaction(app.sessions) as session:
        session.add(Person(address="kept@example.com"))
    with pytest.raises(RuntimeError), transaction(app.sessions) as session:
        session.add(Person(address="dropped@example.com"))
        session.flush()
        raise RuntimeError("the command failed halfway")
    with transaction(app.sessions) as session:
        addresses = session.scalars(select(Person.address)).all()
    assert addresses == ["kept@example.com"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_readers_do_not_wait_for_a_writer(app: App) -> None:
    with transaction(app.sessions) as writer:
        writer.add(Person(address="pending@example.com"))
        writer.flush()
        # The writer holds SQLite's write lock; a reader still sees the committed state.
        with transaction(app.read_sessions) as reader:
            assert reader.scalars(select(Person.address)).all() == []
