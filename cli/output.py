"""How commands print: JSON for scripts (--json), aligned text for people."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from gateway.store.ledger import ALREADY
from gateway.store.ledger import EMPTY
from gateway.store.ledger import QUEUED
from gateway.store.ledger import Tally


def json_option(function: Any) -> Any:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON (its shape is in the README)."
    )(function)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def emit_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], empty: str
) -> None:
    """Print rows as aligned columns: `columns` is (header, key) pairs."""
    if not rows:
        click.echo(empty)
        return
    cells = [[header for header, _ in columns]]
    cells += [[_text(row[key]) for _, key in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    for line in cells:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def emit_run(
    report: Tally[Any],
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    none_due: str,
    nothing: str,
    dry_run: bool,
    prefix: str = "",
    detail: str = "",
) -> None:
    """Print a run of once-per-period mail (digests, monthly mails): a row per mail, then
    how many were queued (`detail` after the count: what they are), had `nothing` to
    say, or were already sent; a dry run says that nothing was."""
    emit_table(rows, columns, empty=none_due)
    verb = "would be queued if run without --dry-run" if dry_run else "queued"
    click.echo(
        f"{prefix}{report.count(QUEUED)} {verb}{detail}, {report.count(EMPTY)} with {nothing},"
        f" {report.count(ALREADY)} already sent by another run."
        + (" Nothing was sent or recorded." if dry_run else "")
    )


def emit_fields(
    record: dict[str, Any],
    labels: Sequence[tuple[str, str]],
    extra: Sequence[tuple[str, Any]] = (),
) -> None:
    """Print `label: value` lines, aligned: `labels` is (label, key) pairs, then `extra`."""
    fields = [(label, record[key]) for label, key in labels] + list(extra)
    width = max(len(label) for label, _ in fields) + 1
    for label, value in fields:
        click.echo(f"{label + ':':<{width}} {_text(value)}".rstrip())


def _text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return str(value)


class NoBar:
    """Stands in for click.progressbar when there is no terminal to draw it on."""

    def __enter__(self) -> NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, steps: int, current_item: str | None = None) -> None:
        return None
