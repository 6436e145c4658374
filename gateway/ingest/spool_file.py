"""The SQLite spool file's schema: its inbox table made when missing, and given the columns
later gateways added.

With SQLite the spool is a file of its own (spool.sqlite3, see Settings.spool_url),
which Alembic does not migrate: the store's revisions run on the store. The mail a
stopped gateway left in an older spool file must still be ingested after an upgrade,
so the gateway adds the model's columns the file lacks when it opens it (a column
added to InboxMail must be nullable, as SQLite's ADD COLUMN requires for a column
without a default).
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy import inspect

from gateway.store.models import Base
from gateway.store.models import InboxMail


def prepare_spool_file(engine: Engine) -> list[str]:
    """Create the inbox table in the spool file, or add the columns it lacks; return
    the names of the columns added."""
    table = InboxMail.__table__
    name = InboxMail.__tablename__
    Base.metadata.create_all(engine, tables=[table])  # type: ignore[list-item]
    present = {column["name"] for column in inspect(engine).get_columns(name)}
    missing = [column.name for column in table.columns if column.name not in present]
    if not missing:
        return []
    with engine.begin() as connection:
        for column in missing:
            kind = table.columns[column].type.compile(dialect=engine.dialect)
            connection.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN {column} {kind}")
    return missing
