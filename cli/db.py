"""`gateway db`: the database's schema revision, and migrating it."""

from __future__ import annotations

import click

from cli.state import CliState
from cli.state import pass_state
from gateway.app import init_store
from gateway.store import migrate
from gateway.store.db import make_engine
from gateway.store.db import sqlite_file


@click.group()
def db() -> None:
    """Inspect and migrate the database."""


@db.command()
@pass_state
def upgrade(state: CliState) -> None:
    """Migrate the database to this version's schema (safe to run again)."""
    revision = init_store(state.settings)
    click.echo(f"Database at revision {revision} (the newest).")


@db.command()
@pass_state
def status(state: CliState) -> None:
    """Show the database's revision and whether it needs `gateway db upgrade`."""
    database = sqlite_file(state.settings.sqlalchemy_url)
    if database is not None and not database.exists():
        raise click.ClickException(f"no database at {database}: run `gateway init` first")
    engine = make_engine(state.settings.sqlalchemy_url)
    try:
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    click.echo(f"database revision: {current or 'none (empty database)'}")
    click.echo(f"code revision:     {head}")
    if current != head:
        click.echo("run `gateway db upgrade` to migrate")
