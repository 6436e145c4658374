"""Schema migrations: bring a database to the code's revision, or say why it is not.

Alembic runs in-process on a connection we hand it, so `gateway init`, `gateway db
upgrade` and the tests migrate exactly the database the settings name.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class SchemaError(Exception):
    """The database is not at the revision this code expects; the message says what to run."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to `revision` (the newest by default), in one transaction."""
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate back to `revision` ("base": no tables); for tests and emergencies."""
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def check_schema(engine: Engine) -> None:
    """Raise SchemaError unless the database is at the head revision."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaError(
            "the database has no gateway tables yet: run `gateway init` or `gateway db upgrade`"
        )
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if current not in known:
        raise SchemaError(
            f"the database is at revision {current}, which this version of the gateway does "
            "not know (was it migrated by a newer version?)"
        )
    raise SchemaError(
        f"the database is at revision {current}, this gateway needs {head}: "
        "run `gateway db upgrade`"
    )
