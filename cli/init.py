"""`gateway init`: a working gateway in one command, on the shipped defaults."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.engine import make_url

import templates
from cli.state import CliState
from cli.state import pass_state
from gateway.app import init_store
from gateway.settings import DEFAULT_CONFIG_NAME
from gateway.settings import Settings
from gateway.settings import load_settings
from gateway.store import migrate
from gateway.store.db import make_engine
from gateway.store.db import sqlite_file

EXAMPLE_CONFIG = templates.PATH / "config" / "gateway.toml"


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@pass_state
def init(state: CliState, directory: Path | None) -> None:
    """Write DIRECTORY/gateway.toml (unless there is one) and create or migrate its database.

    Without DIRECTORY, the configuration is --config, $GATEWAY_CONFIG or ./gateway.toml.
    Running it again is safe: an existing configuration is kept and the
    database is only migrated. It says what it did and what to run next.
    """
    if directory is not None and state.config_option is not None:
        raise click.UsageError("give either --config or DIRECTORY, not both")
    path = directory / DEFAULT_CONFIG_NAME if directory is not None else state.config_path
    if path.exists():
        click.echo(f"Using the configuration {path}, which was already there: left as it is.")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as config:
            config.write(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
        click.echo(
            f"Wrote the example configuration to {path}: it runs as it is, "
            "and says what every key does."
        )
    settings = load_settings(path)
    before = _revision_before(settings)
    revision = init_store(settings)
    database = _shown_url(settings.sqlalchemy_url)
    data = settings.gateway.data_dir
    if before is None:
        click.echo(f"Created the database {database} at revision {revision}; data folder {data}.")
    elif before == revision:
        click.echo(
            f"The database {database} was already at revision {revision}, the newest: "
            f"left as it is; data folder {data}."
        )
    else:
        click.echo(
            f"Migrated the database {database} from revision {before} to {revision}; "
            f"data folder {data}."
        )
    gateway = "gateway" if path == Path(DEFAULT_CONFIG_NAME) else f"gateway --config {path}"
    where = "" if path.is_absolute() else " in this folder"
    smtp, web = settings.smtp, settings.web
    answers = f" (and answers unsubscribe links on {web.host}:{web.port})" if web.enabled else ""
    click.echo(
        f"Next: `{gateway} serve` takes mail in on {smtp.host}:{smtp.port}{answers} until "
        f"Ctrl-C; from a second terminal{where}, create a community and its first owner:"
    )
    click.echo(f"  {gateway} community create design --name Design")
    click.echo(f"  {gateway} member add design alice@example.com --role owner")


def _revision_before(settings: Settings) -> str | None:
    """The database's revision before init (None: no database or no gateway tables yet)."""
    database = sqlite_file(settings.sqlalchemy_url)
    if database is not None and not database.exists():
        return None
    engine = make_engine(settings.sqlalchemy_url)
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


def _shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
