"""The `gateway` group: global options, error handling, and the nouns it is made of."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from cli.state import CliState
from gateway.errors import GatewayError
from gateway.settings import SettingsError
from gateway.store.migrate import SchemaError


class ConfigError(click.ClickException):
    """A configuration that cannot be used: exit code 2, like other usage errors."""

    exit_code = 2


# Each noun's module, imported only when that command runs: `gateway archive build`
# then starts without loading the SMTP server, the importers or the digests.
COMMANDS = {
    "init": "cli.init:init",
    "db": "cli.db:db",
    "inbox": "cli.inbox:inbox",
    "community": "cli.community:community",
    "member": "cli.member:member",
    "profile": "cli.profile:profile",
    "queue": "cli.delivery_queue:queue",
    "digest": "cli.digest:digest",
    "import": "cli.imports:import_",
    "export": "cli.export:export",
    "archive": "cli.archive:archive",
    "serve": "cli.serve:serve",
    "status": "cli.status:status",
    "thread": "cli.thread:thread",
    "held": "cli.held:held",
    "stats": "cli.stats:stats",
    "experts": "cli.experts:experts",
    "suggest": "cli.suggest:suggest",
    "monthly": "cli.monthly:monthly",
    "dkim": "cli.dkim:dkim",
}


class GatewayGroup(click.Group):
    """Loads each command on first use, and turns the errors a user can fix into one
    line on stderr and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as error:
            raise ConfigError(str(error)) from None
        except (GatewayError, SchemaError) as error:
            raise click.ClickException(str(error)) from None
        except SQLAlchemyError as error:
            raise click.ClickException(f"database error: {_first_line(error)}") from None
        except OSError as error:
            if error.filename is None:
                raise
            raise click.ClickException(f"{error.filename}: {error.strerror}") from None


def _first_line(error: SQLAlchemyError) -> str:
    original = getattr(error, "orig", None) or error
    return str(original).strip().splitlines()[0]


@click.group(cls=GatewayGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file (default: $GATEWAY_CONFIG, else ./gateway.toml).",
)
@click.version_option(package_name="community-gateway")
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """Run and administer the community gateway: communities that live in the mailbox."""
    ctx.obj = CliState(config)
