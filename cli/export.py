"""`gateway export`: a community's messages as mboxrd, or everything about it as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cli.state import CliState
from cli.state import pass_state
from gateway.community.communities import get_community
from gateway.imports.exports import export_json
from gateway.imports.exports import export_mbox


@click.group()
def export() -> None:
    """Take a community's content out in standard formats."""


@export.command()
@click.argument("slug")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="[default: stdout]")
@pass_state
def mbox(state: CliState, slug: str, out: Path | None) -> None:
    """The community's published messages, byte for byte, as an mboxrd file."""
    with state.read_transaction() as session:
        community = get_community(session, slug)
        if out is None:
            export_mbox(session, state.app.blobs, community, sys.stdout.buffer)
            return
        with out.open("wb") as file:
            count = export_mbox(session, state.app.blobs, community, file)
    click.echo(f"Wrote {count} messages to {out}.", err=True)


@export.command("json")
@click.argument("slug")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="[default: stdout]")
@pass_state
def json_(state: CliState, slug: str, out: Path | None) -> None:
    """The community, its members and profiles, threads and message metadata."""
    with state.read_transaction() as session:
        community = get_community(session, slug)
        document = export_json(session, community, state.settings.gateway.domain)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {out}.", err=True)
