"""Migrations: they build the schema the models describe, both ways, on both backends."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON
from sqlalchemy import Boolean
from sqlalchemy import Connection
from sqlalchemy import DateTime
from sqlalchemy import Engine
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import Table
from sqlalchemy import insert
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.errors import InvalidInput
from gateway.store import migrate
from gateway.store.db import make_engine
from gateway.store.models import ActionKind
from gateway.store.models import ActionMail
from gateway.store.models import Base
from gateway.store.models import Confirmation
from gateway.store.models import MessageCommunity
from gateway.store.models import PendingAction
from tests.conftest import BACKENDS
from tests.postgres import PostgresServer

_numbers = itertools.count()


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no tables at all."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
        yield engine
        engine.dispose()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"empty_{next(_numbers)}"
    server.execute(f"CREATE DATABASE {name}")
    engine = make_engine(server.url(name))
    yield engine
    engine.dispose()
    server.execute(f"DROP DATABASE {name} WITH (FORCE)")


def test_models_and_migrations_agree(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "models changed without a migration: run alembic revision"


def test_upgrade_from_nothing_reaches_head_and_is_repeatable(empty_engine: Engine) -> None:
    assert migrate.current_revision(empty_engine) is None
    migrate.upgrade(empty_engine)
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    tables = set(inspect(empty_engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_downgrade_to_base_removes_every_table_and_upgrade_rebuilds(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    migrate.downgrade(empty_engine, "base")
    assert set(inspect(empty_engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(empty_engine)
    assert set(Base.metadata.tables) <= set(inspect(empty_engine).get_table_names())


def test_check_schema_names_the_command_to_run(empty_engine: Engine) -> None:
    with pytest.raises(migrate.SchemaError, match="gateway init"):
        migrate.check_schema(empty_engine)
    migrate.upgrade(empty_engine)
    migrate.check_schema(empty_engine)


def test_check_schema_refuses_a_revision_it_does_not_know(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(migrate.SchemaError, match="newer version"):
        migrate.check_schema(empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    with pytest.raises(migrate.SchemaError, match="run `gateway db upgrade`"):
        migrate.check_schema(empty_engine)


def test_the_head_constant_is_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS_DIR))
    assert migrate.HEAD == ScriptDirectory.from_config(config).get_current_head()
    versions = (migrate.MIGRATIONS_DIR / "versions").glob("*.py")
    # Revision ids are four digits, so comparing them as strings orders them.
    assert all(path.name[:4].isdigit() and path.name[4] == "_" for path in versions)


def _insert(connection: Connection, name: str, **values: Any) -> None:
    """A row in a table as an older revision made it: given values, the rest filled in."""
    table = Table(name, MetaData(), autoload_with=connection)
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.nullable or column.server_default is not None or column.name in values:
            continue
        if isinstance(column.type, DateTime):
            row[column.name] = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        elif isinstance(column.type, Boolean):
            row[column.name] = False
        elif isinstance(column.type, Integer):
            row[column.name] = 0
        elif isinstance(column.type, JSON):
            row[column.name] = []
        else:
            row[column.name] = "x"
    connection.execute(insert(table).values(**row, **values))


def test_0008_reads_stored_actions_as_enums_and_gives_each_link_no_hold_reason(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine, "0007")
    with empty_engine.begin() as connection:
        _insert(
            connection,
            "communities",
            id=1,
            slug="design",
            kind="project",
            visibility="public",
            policy="moderated",
            default_delivery="instant",
        )
        _insert(connection, "messages", id=1, message_id="m1@x", status="held", origin="smtp")
        _insert(connection, "message_communities", message_id=1, community_id=1)
        _insert(connection, "action_mail", id=1, action="held", community_id=1, message_id="m1@x")
        _insert(connection, "action_mail", id=2, action="join", community_id=1, message_id="j@x")
        _insert(connection, "confirmations", id=1, token="t1", action="approve", community_id=1)
    migrate.upgrade(empty_engine)
    with Session(empty_engine) as session:
        actions = session.scalars(select(ActionMail.action).order_by(ActionMail.id)).all()
        assert actions == [ActionKind.HELD, ActionKind.JOIN]
        assert all(isinstance(action, ActionKind) for action in actions)
        assert session.scalar(select(Confirmation.action)) is PendingAction.APPROVE
        assert session.scalars(select(MessageCommunity.hold_reasons)).all() == [[]]
    with pytest.raises(IntegrityError), empty_engine.begin() as connection:
        connection.execute(text("UPDATE action_mail SET action = 'shout' WHERE id = 1"))
    with pytest.raises(IntegrityError), empty_engine.begin() as connection:
        connection.execute(text("UPDATE confirmations SET action = 'shout'"))


def test_0008_downgrade_keeps_the_stored_actions_and_drops_the_check(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as connection:
        _insert(connection, "action_mail", id=1, action="bounces")
    migrate.downgrade(empty_engine, "0007")
    with empty_engine.begin() as connection:
        assert connection.execute(text("SELECT action FROM action_mail")).scalar() == "bounces"
        connection.execute(text("UPDATE action_mail SET action = 'shout'"))
        columns = {c["name"] for c in inspect(connection).get_columns("message_communities")}
    assert "hold_reasons" not in columns


def test_0011_gives_deliveries_a_claim_and_keeps_their_rows_both_ways(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine, "0010")
    with empty_engine.begin() as connection:
        _insert(connection, "deliveries", id=1, status="sending", recipient="a@example.com")
    migrate.upgrade(empty_engine, "0011")
    with empty_engine.begin() as connection:
        row = connection.execute(text("SELECT status, claimed_by, lease_until FROM deliveries"))
        assert tuple(row.one()) == ("sending", None, None)
        connection.execute(
            text("UPDATE deliveries SET claimed_by = 'node-a', lease_until = :at"),
            {"at": dt.datetime(2026, 12, 5, tzinfo=dt.UTC)},
        )
    migrate.downgrade(empty_engine, "0010")
    with empty_engine.begin() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("deliveries")}
        assert connection.execute(text("SELECT recipient FROM deliveries")).scalar() == (
            "a@example.com"
        )
    assert not {"claimed_by", "lease_until"} & columns


def test_0012_keeps_the_first_of_repeated_action_mail_and_makes_the_pair_unique(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine, "0011")
    with empty_engine.begin() as connection:
        for row_id, message_id, recipient in [
            (1, "m1@x", "help@lists.example.com"),
            (2, "m1@x", "help@lists.example.com"),  # answered twice before 0012
            (3, "m1@x", "design-join@lists.example.com"),  # the same mail, another action
            (4, "m2@x", "help@lists.example.com"),
            (5, "m1@x", "help@lists.example.com"),
        ]:
            _insert(connection, "action_mail", id=row_id, action="help",
                    message_id=message_id, recipient=recipient)  # fmt: skip
        _insert(connection, "inbox", id=1, raw=b"Subject: waiting\r\n\r\nx\r\n")
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as connection:
        kept = connection.execute(text("SELECT id FROM action_mail ORDER BY id")).scalars()
        assert list(kept) == [1, 3, 4]
        row = connection.execute(text("SELECT raw, claimed_by, lease_until FROM inbox")).one()
        assert tuple(row) == (b"Subject: waiting\r\n\r\nx\r\n", None, None)
    with pytest.raises(IntegrityError), empty_engine.begin() as connection:
        _insert(connection, "action_mail", id=6, action="help",
                message_id="m2@x", recipient="help@lists.example.com")  # fmt: skip
    migrate.downgrade(empty_engine, "0011")
    with empty_engine.begin() as connection:
        _insert(connection, "action_mail", id=6, action="help",
                message_id="m2@x", recipient="help@lists.example.com")  # fmt: skip
        columns = {c["name"] for c in inspect(connection).get_columns("inbox")}
        assert connection.execute(text("SELECT count(*) FROM inbox")).scalar() == 1
    assert not {"claimed_by", "lease_until"} & columns


def test_0013_adds_the_node_registry_and_the_singletons_and_removes_them(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine, "0011")
    with empty_engine.begin() as connection:
        _insert(connection, "deliveries", id=1, status="sending", recipient="a@example.com")
        assert not {"nodes", "singletons"} & set(inspect(connection).get_table_names())
    migrate.upgrade(empty_engine)
    at = dt.datetime(2026, 12, 5, 13, 0, tzinfo=dt.UTC)
    with empty_engine.begin() as connection:
        _insert(connection, "nodes", node_id="node-a", host="h1", state="running")
        connection.execute(
            text("INSERT INTO singletons VALUES ('scheduler', 'node-a', :at, :at)"), {"at": at}
        )
        with pytest.raises(IntegrityError), connection.begin_nested():
            _insert(connection, "nodes", node_id="node-b", state="asleep")
        assert connection.execute(text("SELECT node_id FROM singletons")).scalar() == "node-a"
    migrate.downgrade(empty_engine, "0011")
    with empty_engine.begin() as connection:
        assert not {"nodes", "singletons"} & set(inspect(connection).get_table_names())
        assert connection.execute(text("SELECT recipient FROM deliveries")).scalar() == (
            "a@example.com"
        )


def test_0014_gives_each_link_its_messages_status_and_drops_it_on_the_way_back(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine, "0013")
    with empty_engine.begin() as connection:
        for community_id, slug in [(1, "design"), (2, "atlas")]:
            _insert(connection, "communities", id=community_id, slug=slug, kind="project",
                    visibility="public", policy="members", default_delivery="instant")  # fmt: skip
        _insert(connection, "messages", id=1, message_id="held@x", status="held", origin="smtp")
        _insert(connection, "messages", id=2, message_id="pub@x", status="published", origin="smtp")
        for message_id in (1, 2):
            for community_id in (1, 2):
                _insert(connection, "message_communities", message_id=message_id,
                        community_id=community_id)  # fmt: skip
    migrate.upgrade(empty_engine)
    with Session(empty_engine) as session:
        links = session.execute(
            select(
                MessageCommunity.message_id, MessageCommunity.community_id, MessageCommunity.status
            ).order_by(MessageCommunity.message_id, MessageCommunity.community_id)  # fmt: skip
        ).all()
        assert [(m, c, s.value) for m, c, s in links] == [
            (1, 1, "held"), (1, 2, "held"), (2, 1, "published"), (2, 2, "published"),
        ]  # fmt: skip
    with empty_engine.begin() as connection:
        # A cross-post published in design, held in atlas, as 0014 lets the gateway store it.
        connection.execute(text("UPDATE message_communities SET status = 'held' "
                                "WHERE message_id = 2 AND community_id = 2"))  # fmt: skip
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(text("UPDATE message_communities SET status = 'lost'"))
    migrate.downgrade(empty_engine, "0013")
    with empty_engine.begin() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("message_communities")}
        assert connection.execute(text("SELECT count(*) FROM message_communities")).scalar() == 4
        statuses = connection.execute(text("SELECT id, status FROM messages ORDER BY id")).all()
    assert "status" not in columns
    assert [tuple(row) for row in statuses] == [(1, "held"), (2, "published")]


def test_0014_refuses_while_a_community_has_the_digest_address(empty_engine: Engine) -> None:
    """digest@ is the gateway's own from 0014: a community that had it is not silently
    cut off; the upgrade says why and changes nothing."""
    migrate.upgrade(empty_engine, "0013")
    with empty_engine.begin() as connection:
        _insert(connection, "communities", id=1, slug="digest", kind="interest",
                visibility="public", policy="members", default_delivery="instant")  # fmt: skip
    with pytest.raises(InvalidInput, match="digest@"):
        migrate.upgrade(empty_engine)
    with empty_engine.connect() as connection:
        assert migrate.current_revision(empty_engine) == "0013"
        columns = {c["name"] for c in inspect(connection).get_columns("message_communities")}
    assert "status" not in columns


def test_0015_gives_people_an_unset_write_to_choice_and_drops_it_on_the_way_back(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine, "0014")
    with empty_engine.begin() as connection:
        _insert(connection, "people", id=1, address="ann@example.com")
        assert "show_write_to" not in {c["name"] for c in inspect(connection).get_columns("people")}
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as connection:
        # Everyone there before follows [archive] show_write_to: NULL, not false.
        assert connection.execute(text("SELECT show_write_to FROM people")).scalar() is None
        _insert(connection, "people", id=2, address="bob@example.com", show_write_to=False)
        choices = connection.execute(text("SELECT id, show_write_to FROM people ORDER BY id"))
        assert [tuple(row) for row in choices] == [(1, None), (2, False)]
    migrate.downgrade(empty_engine, "0014")
    with empty_engine.begin() as connection:
        assert "show_write_to" not in {c["name"] for c in inspect(connection).get_columns("people")}
        names = connection.execute(text("SELECT address FROM people ORDER BY id")).scalars()
        assert list(names) == ["ann@example.com", "bob@example.com"]


def test_0016_folds_thanks_by_default_keeps_what_references_communities_and_goes_back(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine, "0015")
    with empty_engine.begin() as connection:
        _insert(connection, "communities", id=1, slug="design", kind="project",
                visibility="public", policy="members", default_delivery="instant")  # fmt: skip
        _insert(connection, "action_mail", id=1, action="join", community_id=1, message_id="j@x")
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as connection:
        assert connection.execute(text("SELECT fold_thanks FROM communities")).scalar()
        # Adding the column did not copy communities (a copy deletes what cascades from it).
        assert connection.execute(text("SELECT count(*) FROM action_mail")).scalar() == 1
        _insert(connection, "action_mail", id=2, action="answer", message_id="a@x")
        _insert(connection, "people", id=1, address="ann@example.com")
        _insert(connection, "messages", id=1, message_id="m1@x", status="published",
                origin="smtp", raw_sha256="0" * 64)  # fmt: skip
        _insert(connection, "reactions", message_id=1, person_id=1, emoji="👍", source="reply",
                mail_message_id="r@x", raw_sha256="")  # fmt: skip
    with pytest.raises(IntegrityError), empty_engine.begin() as connection:
        _insert(connection, "reactions", message_id=1, person_id=1, emoji="👍", source="gmail",
                mail_message_id="r2@x", raw_sha256="")  # fmt: skip
    migrate.downgrade(empty_engine, "0015")
    with empty_engine.begin() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("communities")}
        assert "fold_thanks" not in columns
        assert not inspect(connection).has_table("reactions")
        actions = connection.execute(text("SELECT action FROM action_mail")).scalars()
        assert list(actions) == ["join"]


def test_0017_drops_the_deliveries_keys_keeps_the_digests_links_and_goes_back(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine, "0016")
    with empty_engine.begin() as connection:
        _insert(connection, "people", id=1, address="ann@example.com")
        _insert(connection, "deliveries", id=1, person_id=1, recipient="ann@example.com",
                kind="digest", status="pending")  # fmt: skip
        _insert(connection, "digest_runs", id=1, person_id=1, cadence="daily",
                period="2026-12-05", delivery_id=1)  # fmt: skip
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as connection:
        assert inspect(connection).get_foreign_keys("deliveries") == []
        indexes = {i["name"] for i in inspect(connection).get_indexes("deliveries")}
        assert "ix_deliveries_person_id" not in indexes
        # The table copy (SQLite) did not cut the digest from its delivery.
        assert connection.execute(text("SELECT delivery_id FROM digest_runs")).scalar() == 1
        # A copy for someone no longer stored can now be queued.
        _insert(connection, "deliveries", id=2, person_id=99, message_id=99, community_id=99,
                recipient="gone@example.com", kind="post", status="pending")  # fmt: skip
    migrate.downgrade(empty_engine, "0016")
    with empty_engine.begin() as connection:
        assert len(inspect(connection).get_foreign_keys("deliveries")) == 3
        ids = connection.execute(text("SELECT id FROM deliveries")).scalars()
        assert list(ids) == [1]  # the orphan is gone, the digest's delivery kept
        assert connection.execute(text("SELECT delivery_id FROM digest_runs")).scalar() == 1


def test_0018_keeps_claimed_rows_pending_indexes_pending_rows_only_and_goes_back(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine, "0017")
    lease = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
    with empty_engine.begin() as connection:
        for row_id, status, node in [
            (1, "sending", "node-a"),
            (2, "sending", None),  # left by a gateway older than leases
            (3, "pending", None),
            (4, "sent", None),
        ]:
            _insert(connection, "deliveries", id=row_id, status=status, claimed_by=node,
                    lease_until=lease if node else None, recipient="a@example.com")  # fmt: skip
    migrate.upgrade(empty_engine)

    def rows() -> list[tuple[Any, ...]]:
        query = text("SELECT id, status, claimed_by FROM deliveries ORDER BY id")
        return [tuple(row) for row in connection.execute(query)]

    def due_index() -> list[str | None]:
        indexes = inspect(connection).get_indexes("deliveries")
        return next(i["column_names"] for i in indexes if i["name"] == "ix_deliveries_due")

    with empty_engine.begin() as connection:
        assert rows() == [
            (1, "pending", "node-a"),  # still node-a's, until its lease runs out
            (2, "pending", None),
            (3, "pending", None),
            (4, "sent", None),
        ]
        assert due_index() == ["next_attempt_at"]
        if connection.dialect.name == "postgresql":
            options = "SELECT reloptions FROM pg_class WHERE relname = 'deliveries'"
            assert connection.execute(text(options)).scalar() == ["fillfactor=50"]
    migrate.downgrade(empty_engine, "0017")
    with empty_engine.begin() as connection:
        assert [status for _, status, _ in rows()] == ["sending", "pending", "pending", "sent"]
        assert due_index() == ["status", "next_attempt_at"]


def test_0019_compresses_large_values_with_lz4_on_postgresql_and_goes_back(
    empty_engine: Engine,
) -> None:
    if empty_engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL compresses values (SQLite stores them as given)")
    migrate.upgrade(empty_engine)
    mail = b"".join(b"line %d of a mail long enough to be compressed\r\n" % n for n in range(200))
    with empty_engine.begin() as connection:
        _insert(connection, "inbox", id=1, raw=mail)
        _insert(connection, "messages", id=1, message_id="a@x", status="published",
                origin="smtp", body_text=mail.decode())  # fmt: skip
        methods = (
            "SELECT pg_column_compression(raw) FROM inbox UNION ALL "
            "SELECT pg_column_compression(body_text) FROM messages"
        )
        assert [m for (m,) in connection.execute(text(methods))] == ["lz4", "lz4"]
    migrate.downgrade(empty_engine, "0018")
    with empty_engine.begin() as connection:
        _insert(connection, "inbox", id=2, raw=mail)
        written = "SELECT pg_column_compression(raw) FROM inbox ORDER BY id"
        assert [m for (m,) in connection.execute(text(written))] == ["lz4", "pglz"]
