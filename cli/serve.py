"""`gateway serve`: take in community mail over SMTP until stopped."""

from __future__ import annotations

import asyncio
import logging
import os

import click

from cli.state import CliState
from cli.state import pass_state
from gateway.runtime.serve import Companion
from gateway.runtime.serve import configure_logging
from gateway.runtime.serve import serve as run_server
from gateway.runtime.serve import server_collector
from gateway.settings import Settings


@click.command()
@click.option("-v", "--verbose", is_flag=True, help="Also log each SMTP session's details.")
@pass_state
def serve(state: CliState, verbose: bool) -> None:
    """Run the SMTP server on [smtp] host and port (and the web server on [web] host and
    port); stop with Ctrl-C or SIGTERM."""
    settings = state.settings
    server_collector()
    configure_logging(logging.DEBUG if verbose else logging.INFO)
    try:
        asyncio.run(run_server(settings, processor_process=True, companions=_companions(settings)))
    except OSError as error:
        if error.filename is None and error.errno is not None:
            raise click.ClickException(
                f"cannot listen on {settings.smtp.host}:{settings.smtp.port}: "
                f"{os.strerror(error.errno)}"
            ) from None
        raise


def _companions(settings: Settings) -> tuple[Companion, ...]:
    """The archive publisher, unless [archive] publish is off."""
    if not settings.archive.publish:
        return ()
    from archive.publisher import COMPANION

    return (COMPANION,)
