"""`gateway queue`: outgoing mail waiting, failed or sent, and pushing it again."""

from __future__ import annotations

import click

from cli import numbers
from cli.output import emit_json
from cli.output import emit_table
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.outbound.deliveries import count_by_status
from gateway.outbound.deliveries import list_deliveries
from gateway.outbound.deliveries import push
from gateway.store.models import DeliveryStatus
from gateway.store.models import utcnow

WAITING = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.FAILED)
STATUS = click.Choice([s.value for s in DeliveryStatus])


@click.group("queue")
def queue() -> None:
    """See and push the outgoing mail queue."""


@queue.command("list")
@click.option(
    "--status",
    "statuses",
    type=STATUS,
    multiple=True,
    help="Only these statuses (repeatable). [default: pending, sending, failed]",
)
@click.option("--limit", type=numbers.LIMIT, default=1000, show_default=True)
@json_option
@pass_state
def list_(state: CliState, statuses: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Deliveries not sent yet, or failed for good, oldest first."""
    chosen = [DeliveryStatus(s) for s in statuses] or list(WAITING)
    with state.read_transaction() as session:
        rows = list_deliveries(session, chosen, limit)
        counts = count_by_status(session)
    if as_json:
        emit_json(rows)
        return
    emit_table(
        rows,
        [
            ("ID", "id"),
            ("KIND", "kind"),
            ("RECIPIENT", "recipient"),
            ("STATUS", "status"),
            ("NODE", "claimed_by"),
            ("ATTEMPTS", "attempts"),
            ("NEXT TRY", "next_attempt_at"),
            ("ERROR", "last_error"),
        ],
        empty="Nothing waiting: every delivery was sent.",
    )
    click.echo(", ".join(f"{count} {status}" for status, count in counts.items()))


@queue.command()
@click.argument("ids", nargs=-1, type=numbers.ID)
@pass_state
def retry(state: CliState, ids: tuple[int, ...]) -> None:
    """Make deliveries due now: the IDs given, or every pending and failed one, and
    every one left sending by a node whose lease ran out (a node that died).

    A failed delivery gets one more try (more if it fails temporarily and its
    retry time has not run out); a running `gateway serve` sends them within
    a second. A delivery a live node is sending is left to it.
    """
    with state.transaction() as session:
        count = push(session, list(ids), utcnow())
    if ids and count < len(set(ids)):
        raise click.ClickException(
            f"{len(set(ids)) - count} of the IDs given are not pending, failed or stranded"
            " deliveries"
            f" ({count} will be tried again)"
        )
    click.echo(f"{count} deliveries will be tried now.")
