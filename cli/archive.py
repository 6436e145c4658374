"""`gateway archive build`: write the static site, or bring it up to date.

A build into [archive] out_dir holds the "archive" singleton for its run, as a
node's publisher does: one build at a time into the folder the nodes share.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click

from cli.output import emit_json
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.runtime.singleton import SingletonLease
from gateway.store.leases import Lease
from gateway.store.models import utcnow
from gateway.store.singletons import ARCHIVE
from gateway.store.singletons import holder

# Seconds between two asks for the archive singleton with --wait.
WAIT_STEP = 2.0


@click.group()
def archive() -> None:
    """The static HTML archive of the public communities."""


@archive.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the site to [default: [archive] out_dir].",
)
@click.option("--full", is_flag=True, help="Render every page, not only what changed.")
@click.option(
    "--no-search",
    is_flag=True,
    help="A quick update: no search index, and the stats page is left as it was.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--wait",
    is_flag=True,
    help="If a node is building the archive, wait until it is done instead of failing.",
)
@json_option
@pass_state
def build(
    state: CliState,
    out: Path | None,
    full: bool,
    no_search: bool,
    quiet: bool,
    wait: bool,
    as_json: bool,
) -> None:
    """Write the site: after the first build, only the pages new mail touched.

    Private communities, and held or rejected posts, are never in it.
    """
    from archive.build import SiteBuilder
    from archive.output import UnsafePath
    from archive.search import SearchIndexError

    site = out or state.settings.archive.out_dir
    # This process runs no other thread (but the archive singleton's renewal, which a fork
    # waits for): the build may fork a renderer per core.
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    search = state.settings.archive.search and not no_search
    builder = SiteBuilder(state.app, site, full=full, search=search, workers=workers)
    # What start-up made (modules, mappers, settings) stays until the command exits: the
    # collector no longer walks it on each pass of the build (a fifth of an update).
    gc.freeze()
    show = not quiet and not as_json and sys.stderr.isatty()
    shared = out is None or out.resolve() == state.settings.archive.out_dir.resolve()
    try:
        # One builder at a time in the shared out_dir; in a folder of its own (--out)
        # nobody else builds.
        with _one_builder(state, wait) if shared else nullcontext():
            report = builder.run(_Bar() if show else None)
    except (SearchIndexError, UnsafePath) as error:
        raise click.ClickException(str(error)) from None
    summary: dict[str, Any] = {
        "site": str(builder.out.root),
        "full": report.full,
        "threads": report.threads,
        "communities": report.communities,
        "people": report.people,
        "written": report.counts.written,
        "unchanged": report.counts.unchanged,
        "removed": report.counts.removed,
        "files": report.counts.files,
        "search_index": report.searched,
        "seconds": round(report.seconds, 3),
    }
    if as_json:
        emit_json(summary)
        return
    kind = "full build" if report.full else "update"
    click.echo(
        f"{summary['site']}: {kind}: {report.threads} threads, {report.communities} "
        f"communities, {report.people} people rendered; {report.counts.written} files "
        f"written, {report.counts.unchanged} unchanged, {report.counts.removed} removed, "
        f"{report.counts.files} attachments added"
        + ("; search index rebuilt" if report.searched else "")
        + f" ({report.seconds:.2f} s)"
    )


@contextmanager
def _one_builder(state: CliState, wait: bool) -> Iterator[None]:
    """Hold the archive singleton while the block builds into the shared out_dir; fail
    (or with `wait`, wait) while a node holds it. The holder is this command, not its
    node: the node's own publisher must not build beside it."""
    settings = state.settings
    name = f"cli-{os.getpid()}@{settings.node_id}"[:64]
    singleton = SingletonLease(
        state.app.sessions, ARCHIVE, Lease(name, settings.delivery.lease_seconds)
    )
    while not singleton.take():
        if not wait:
            with state.read_transaction() as session:
                held = holder(session, ARCHIVE, utcnow())
            who = f"node {held[0]} (until {held[1]:%Y-%m-%d %H:%M:%S} UTC)" if held else "a node"
            raise click.ClickException(
                f"the archive is being built by {who}; try again later, or use --wait"
            )
        time.sleep(WAIT_STEP)
    try:
        with singleton.kept():
            yield
    finally:
        singleton.release()


class _Bar:
    """click's progress bar on stderr, started once the build knows its page count."""

    def __init__(self) -> None:
        self.bar: Any = None

    def start(self, total: int) -> None:
        if total:
            self.bar = click.progressbar(length=total, label="Building", file=sys.stderr)
            self.bar.__enter__()

    def advance(self, steps: int) -> None:
        if self.bar is not None:
            self.bar.update(steps)
            if self.bar.pos >= self.bar.length:
                self.bar.__exit__(None, None, None)
                self.bar = None
