"""`gateway digest run`: a daily or weekly digest period by hand, or a preview of one."""

from __future__ import annotations

import datetime as dt

import click

from cli.output import emit_json
from cli.output import emit_run
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.community.people import canonical_address
from gateway.digests.runner import run_digests
from gateway.store.models import Cadence
from gateway.store.models import utcnow


def _moment(value: str | None) -> dt.datetime:
    if value is None:
        return utcnow()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO time such as 2026-11-26T07:00:00+01:00",
            param_hint="'--at'",
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} has no UTC offset (add Z or +01:00)", param_hint="'--at'"
        )
    return moment.astimezone(dt.UTC)


@click.group()
def digest() -> None:
    """Run or preview digests (`gateway serve` sends them on schedule)."""


@digest.command()
@click.argument("cadence", type=click.Choice([c.value for c in Cadence]))
@click.option("--at", "at", metavar="ISO-TIME", help="Run as if it were this time [default: now].")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; record nothing.")
@click.option("--to", "to", metavar="EMAIL", help="Preview this person's digest (records nothing).")
@json_option
@pass_state
def run(
    state: CliState, cadence: str, at: str | None, dry_run: bool, to: str | None, as_json: bool
) -> None:
    """Queue the digests of CADENCE due now (or at --at) that are not sent yet.

    Each person's digest of a period is sent once, however often this runs;
    `gateway serve` sends the queued mail.
    """
    moment = _moment(at)
    only = canonical_address(to) if to else None
    # A preview (--to) shows the digest even when it was sent already; a run --at a
    # time to come covers the posts up to now, and the next digest starts there.
    report = run_digests(
        state.app,
        Cadence(cadence),
        moment,
        dry_run=dry_run or only is not None,
        only=only,
        until=utcnow(),
    )
    rows = [
        {
            "email": p.address,
            "period": p.period,
            "messages": p.messages,
            "status": p.status,
            "subject": p.subject,
        }  # fmt: skip
        for p in report.planned
    ]
    if as_json:
        emit_json(rows)
        return
    if only is not None:
        if not report.planned:
            raise click.ClickException(
                f"{only} gets no {cadence} digest (see `gateway profile show`)"
            )
        [preview] = report.planned
        if preview.status == "empty":
            click.echo(f"Nothing new for {only} in the {cadence} digest of {preview.period}.")
            return
        click.echo(f"Subject: {preview.subject}\n\n{preview.text}")
        return
    emit_run(
        report,
        rows,
        [("EMAIL", "email"), ("PERIOD", "period"), ("MESSAGES", "messages"), ("STATUS", "status")],
        none_due=f"No {cadence} digest is due: every one was already sent.",
        nothing="nothing new",
        dry_run=dry_run,
    )
