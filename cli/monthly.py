"""`gateway monthly`: the monthly mails (owners' reports, members' "your network") by
hand, and a member's opt-out."""

from __future__ import annotations

import click

from cli.digest import _moment
from cli.output import emit_json
from cli.output import emit_run
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.adoption.monthly import NETWORK
from gateway.adoption.monthly import REPORT
from gateway.adoption.monthly import run_monthly
from gateway.adoption.monthly import set_monthly_mail
from gateway.store.ledger import QUEUED

KINDS = {NETWORK: "your network", REPORT: "owner report"}


@click.group()
def monthly() -> None:
    """The monthly mails (`gateway serve` sends them on schedule)."""


@monthly.command()
@click.option("--at", "at", metavar="ISO-TIME", help="Run as if it were this time [default: now].")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; record nothing.")
@json_option
@pass_state
def run(state: CliState, at: str | None, dry_run: bool, as_json: bool) -> None:
    """Queue the monthly mails due now (or at --at) that are not sent yet: each is
    sent once a month, however often this runs."""
    report = run_monthly(state.app, _moment(at), dry_run=dry_run)
    rows = [
        {
            "email": p.address,
            "kind": p.kind,
            "community": p.community,
            "status": p.status,
            "subject": p.subject,
        }  # fmt: skip
        for p in report.planned
    ]
    if as_json:
        emit_json({"period": report.period, "mails": rows})
        return
    columns = [
        ("EMAIL", "email"),
        ("MAIL" if dry_run else "KIND", "kind"),
        ("COMMUNITY", "community"),
    ]
    none_due = f"No monthly mail is due for {report.period}: every one was already sent."
    detail = ""
    if dry_run:
        # What a run would send, to whom, with each mail's subject.
        rows = [{**row, "kind": KINDS[row["kind"]]} for row in rows if row["status"] == QUEUED]
        none_due = f"No monthly mail would be sent for {report.period}."
        network = sum(1 for row in rows if row["kind"] == KINDS[NETWORK])
        detail = f' ({network} "your network" to members, {len(rows) - network} reports to owners)'
    emit_run(
        report,
        rows,
        [*columns, ("SUBJECT", "subject") if dry_run else ("STATUS", "status")],
        none_due=none_due,
        nothing="nothing to say",
        dry_run=dry_run,
        prefix=f"{report.period}: ",
        detail=detail,
    )


@monthly.command()
@click.argument("email")
@pass_state
def stop(state: CliState, email: str) -> None:
    """Stop the monthly "your network" mail to EMAIL."""
    with state.transaction() as session:
        address = set_monthly_mail(session, email, False).address
    click.echo(f"{address} will no longer get the monthly mail.")


@monthly.command()
@click.argument("email")
@pass_state
def start(state: CliState, email: str) -> None:
    """Send the monthly "your network" mail to EMAIL again."""
    with state.transaction() as session:
        address = set_monthly_mail(session, email, True).address
    click.echo(f"{address} will get the monthly mail again.")
