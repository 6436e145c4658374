"""Migrations: they build the schema the models describe, both ways, on both backends."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy import inspect
from sqlalchemy import text

from gateway.store import migrate
from gateway.store.db import make_engine
from gateway.store.models import Base
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
