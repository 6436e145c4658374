"""The `gateway` group: global options, error handling, and the nouns it is made of."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from cli import community
from cli import db
from cli import delivery_queue
from cli import digest
from cli import export
from cli import held
from cli import imports
from cli import inbox
from cli import init
from cli import member
from cli import profile
from cli import serve
from cli import thread
from cli.state import CliState
from gateway.errors import GatewayError
from gateway.settings import SettingsError
from gateway.store.migrate import SchemaError


class ConfigError(click.ClickException):
    """A configuration that cannot be used: exit code 2, like other usage errors."""

    exit_code = 2


class GatewayGroup(click.Group):
    """Turns the errors a user can fix into one line on stderr and an exit code."""

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


main.add_command(init.init)
main.add_command(db.db)
main.add_command(inbox.inbox)
main.add_command(community.community)
main.add_command(member.member)
main.add_command(profile.profile)
main.add_command(delivery_queue.queue)
main.add_command(digest.digest)
main.add_command(imports.import_)
main.add_command(export.export)
main.add_command(held.held)
main.add_command(serve.serve)
main.add_command(thread.thread)
