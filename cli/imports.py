"""`gateway import`: mail archives (mbox, Maildir, .eml) and folders of documents into a
community, with a progress bar and a report per source."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import click

from cli.output import NoBar
from cli.output import emit_json
from cli.output import emit_table
from cli.state import CliState
from cli.state import pass_state
from gateway.community.communities import get_community
from gateway.community.people import canonical_address
from gateway.imports.announce import announce_import
from gateway.imports.documents import document_messages
from gateway.imports.engagement import restore_engagement
from gateway.imports.importer import FileReport
from gateway.imports.importer import import_mail
from gateway.imports.importer import totals
from gateway.imports.sources import SourceMail
from gateway.imports.sources import eml_messages
from gateway.imports.sources import maildir_messages
from gateway.imports.sources import mbox_messages

EXISTING = click.Path(exists=True, path_type=Path)
Sources = list[tuple[str, Iterator[SourceMail]]]


def _common(command: Callable[..., None]) -> Callable[..., None]:
    for option in (
        click.option("--announce", is_flag=True, help="Post a summary of the import to it."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
        click.option("--json", "as_json", is_flag=True, help="Print the report as JSON."),
    ):
        command = option(command)
    return command


@click.group("import")
def import_() -> None:
    """Bring existing archives and documents into a community (published, no mail sent)."""


@import_.command()
@click.argument("slug")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@_common
@pass_state
def mbox(
    state: CliState, slug: str, files: tuple[Path, ...], announce: bool, quiet: bool, as_json: bool
) -> None:
    """mbox files (also gzip-compressed, as Mailman's pipermail publishes them)."""
    _run(
        state,
        slug,
        [(str(f), mbox_messages(f)) for f in files],
        _total_size(files),
        announce=announce,
        quiet=quiet,
        as_json=as_json,
    )


@import_.command()
@click.argument("slug")
@click.argument(
    "folders",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@_common
@pass_state
def maildir(
    state: CliState,
    slug: str,
    folders: tuple[Path, ...],
    announce: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Maildir folders (their cur/ and new/ messages)."""
    sources = [(str(f), maildir_messages(f)) for f in folders]
    _run(
        state, slug, sources, _total_size(folders), announce=announce, quiet=quiet, as_json=as_json
    )


@import_.command()
@click.argument("slug")
@click.argument("paths", nargs=-1, required=True, type=EXISTING)
@_common
@pass_state
def eml(
    state: CliState, slug: str, paths: tuple[Path, ...], announce: bool, quiet: bool, as_json: bool
) -> None:
    """Message files, or folders of them."""
    sources = [(str(p), eml_messages([p])) for p in paths]
    _run(state, slug, sources, _total_size(paths), announce=announce, quiet=quiet, as_json=as_json)


@import_.command()
@click.argument("slug")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--from", "sender", required=True, metavar="EMAIL", help="Who posts them.")
@_common
@pass_state
def documents(
    state: CliState,
    slug: str,
    folder: Path,
    sender: str,
    announce: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Every file of FOLDER as a post with the file attached (name as subject)."""
    settings = state.settings.gateway
    author = canonical_address(sender)
    messages = document_messages(
        folder, author, f"{slug}@{settings.domain}", state.app.templates, settings.language
    )
    _run(
        state,
        slug,
        [(str(folder), messages)],
        _total_size((folder,)),
        announce=announce,
        quiet=quiet,
        as_json=as_json,
    )


@import_.command("json")
@click.argument("slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_state
def json_(state: CliState, slug: str, file: Path, as_json: bool) -> None:
    """The reactions and accepted answers of a `gateway export json` FILE, onto the
    community's messages (import its mbox first). Importing again changes nothing."""
    try:
        document = json.loads(file.read_bytes())
    except (ValueError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{file}: not a JSON file ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("messages", []), list):
        raise click.ClickException(f"{file}: not a file written by `gateway export json`")
    with state.transaction() as session:
        tallies = restore_engagement(session, get_community(session, slug), document)
    report = {kind: tally.as_dict() for kind, tally in tallies.items()}
    if as_json:
        emit_json(report)
    else:
        emit_table(
            [{"kind": kind, **counts} for kind, counts in report.items()],
            [
                ("KIND", "kind"),
                ("RESTORED", "restored"),
                ("UNCHANGED", "unchanged"),
                ("MISSING", "missing"),
                ("INVALID", "invalid"),
            ],
            empty="",
        )
    if "reactions" not in document and "answers" not in document:
        click.echo(f"{file} has no reactions or answers (an export from before them).", err=True)
    problems = []
    missing = sum(t.missing for t in tallies.values())
    if missing:
        problems.append(
            f"{missing} {'entry names a message' if missing == 1 else 'entries name messages'} "
            f"{slug} does not have: import its mbox first "
            "(`gateway import mbox`), then this file again"
        )
    invalid = sum(t.invalid for t in tallies.values())
    if invalid:
        are = "entry is" if invalid == 1 else "entries are"
        problems.append(f"{invalid} {are} not as `gateway export json` writes them")
    if problems:
        raise click.ClickException("; ".join(problems) + " (the others are restored)")


def _total_size(paths: tuple[Path, ...]) -> int:
    """The bytes the import will read, for the progress bar."""
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    return sum(_uncompressed_size(f) for f in files)


def _uncompressed_size(path: Path) -> int:
    """A gzip file's size once decompressed: its last four bytes (RFC 1952 ISIZE)."""
    with path.open("rb") as file:
        if file.read(2) != b"\x1f\x8b":
            return path.stat().st_size
        file.seek(-4, 2)
        return int.from_bytes(file.read(4), "little")


def _run(
    state: CliState, slug: str, sources: Sources, size: int, *, announce: bool, quiet: bool,
    as_json: bool,
) -> None:  # fmt: skip
    show = not quiet and not as_json and sys.stderr.isatty()
    started = time.monotonic()
    with click.progressbar(
        length=max(size, 1), label="Importing", file=sys.stderr, show_eta=True,
        item_show_func=lambda text: text,
    ) if show else NoBar() as bar:  # fmt: skip
        done = [0]

        def progress(messages: int, read: int) -> None:
            rate = messages / max(time.monotonic() - started, 1e-3)
            bar.update(read - done[0], f"{messages:,} messages, {rate:,.0f}/s")
            done[0] = read

        reports = import_mail(state.app, slug, sources, progress)
    if announce:
        announce_import(state.app, slug, reports)
    _report(reports, as_json, time.monotonic() - started)


def _report(reports: list[FileReport], as_json: bool, seconds: float) -> None:
    total = totals(reports)
    if as_json:
        emit_json({"sources": [r.as_dict() for r in reports], "total": total.as_dict(),
                   "seconds": round(seconds, 3)})  # fmt: skip
        return
    emit_table(
        [r.as_dict() for r in [*reports, total]],
        [
            ("SOURCE", "source"),
            ("MESSAGES", "messages"),
            ("IMPORTED", "imported"),
            ("DUPLICATES", "duplicates"),
            ("FLAGGED", "flagged"),
            ("REACTIONS", "reactions"),
            ("UNMATCHED", "reactions_unmatched"),
            ("SKIPPED", "skipped"),
            ("FAILED", "failed"),
        ],  # fmt: skip
        empty="Nothing to import.",
    )
    rate = total.messages / seconds if seconds else 0
    click.echo(f"{total.messages:,} messages in {seconds:.1f} s ({rate:,.0f}/s).")
    if total.reactions_unmatched:
        click.echo(
            f"{total.reactions_unmatched} reaction mail(s) (UNMATCHED) answer a message not in "
            "the community: those that came before their message are recorded by importing "
            "again."
        )
    if total.failed:
        raise click.ClickException(
            f"{total.failed} message(s) failed (see the log); run the import again to retry them"
        )
