"""Schema migrations: bring a database to the code's revision, or say why it is not.

Alembic runs in-process on a connection we hand it, so `gateway init`, `gateway db
upgrade` and the tests migrate exactly the database the settings name. Checking
the revision, which every command and `gateway serve` do at start, reads the
alembic_version table directly: importing Alembic costs a tenth of a second and
about 10 MB, and only migrating needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy import inspect
from sqlalchemy import text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# The newest revision in migrations/versions; tests/test_migrations.py checks it.
# Revision ids are four digits (alembic revision --rev-id 0004), so they sort.
HEAD = "0019"


class SchemaError(Exception):
    """The database is not at the revision this code expects; the message says what to run."""


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    return HEAD


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return str(version) if version is not None else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to `revision` (the newest by default), in one transaction."""
    from alembic import command

    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate back to `revision` ("base": no tables); for tests and emergencies."""
    from alembic import command

    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def check_schema(engine: Engine) -> None:
    """Raise SchemaError unless the database is at the head revision."""
    current = current_revision(engine)
    if current == HEAD:
        return
    if current is None:
        raise SchemaError(
            "the database has no gateway tables yet: run `gateway init` or `gateway db upgrade`"
        )
    if current > HEAD:
        raise SchemaError(
            f"the database is at revision {current}, which this version of the gateway does "
            "not know (was it migrated by a newer version?)"
        )
    raise SchemaError(
        f"the database is at revision {current}, this gateway needs {HEAD}: "
        "run `gateway db upgrade`"
    )
