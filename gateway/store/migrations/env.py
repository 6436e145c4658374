"""Alembic environment: migrates the connection that gateway.store.migrate hands over.

Developers can also run `alembic revision --autogenerate -m "..."` from the project
root (alembic.ini); the database is then the one of the gateway's configuration.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from gateway.store.models import Base


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_from_configuration() -> None:
    import os

    from gateway.settings import find_config
    from gateway.settings import load_settings
    from gateway.store.db import make_engine

    settings = load_settings(find_config(None, os.environ))
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    run_from_configuration()
