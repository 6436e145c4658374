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
from gateway.settings import load_settings

EXAMPLE_CONFIG = templates.PATH / "config" / "gateway.toml"


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@pass_state
def init(state: CliState, directory: Path | None) -> None:
    """Write DIRECTORY/gateway.toml (unless there is one) and create or migrate its database.

    Without DIRECTORY, the configuration is --config, $GATEWAY_CONFIG or ./gateway.toml.
    Running it again is safe: an existing configuration is kept and the
    database is only migrated.
    """
    if directory is not None and state.config_option is not None:
        raise click.UsageError("give either --config or DIRECTORY, not both")
    path = directory / DEFAULT_CONFIG_NAME if directory is not None else state.config_path
    if path.exists():
        click.echo(f"Using the existing configuration {path}")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as config:
            config.write(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
        click.echo(f"Wrote {path}")
    settings = load_settings(path)
    revision = init_store(settings)
    click.echo(f"Database ready at revision {revision}: {_shown_url(settings.sqlalchemy_url)}")
    click.echo(f"Data folder: {settings.gateway.data_dir}")
    config_flag = "" if path == Path(DEFAULT_CONFIG_NAME) else f" --config {path}"
    click.echo("Next: create a community and add its first members, e.g.")
    click.echo(f"  gateway{config_flag} community create design --name Design")
    click.echo(f"  gateway{config_flag} member add design alice@example.com --role owner")


def _shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
