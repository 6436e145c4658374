"""`gateway inbox`: mail spooled and not yet through the pipeline, retrying failures, and
the mail that was discarded."""

from __future__ import annotations

import click
from sqlalchemy import select
from sqlalchemy import update

from cli import numbers
from cli.output import emit_json
from cli.output import emit_table
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.ingest.discards import list_discarded
from gateway.ingest.spool_claims import MAX_ATTEMPTS
from gateway.store.models import InboxMail


@click.group()
def inbox() -> None:
    """See and retry mail waiting in the spool."""


@inbox.command("list")
@json_option
@pass_state
def list_(state: CliState, as_json: bool) -> None:
    """Mail accepted and not yet ingested; failed attempts show their error, mail being
    ingested the node that claimed it."""
    columns = (InboxMail.id, InboxMail.mail_from, InboxMail.recipients, InboxMail.received_at,
               InboxMail.attempts, InboxMail.last_error, InboxMail.claimed_by,
               InboxMail.lease_until)  # fmt: skip
    with state.app.spool_engine.connect() as connection:
        rows = connection.execute(select(*columns).order_by(InboxMail.id)).all()
    described = [
        {
            "id": row.id,
            "from": row.mail_from,
            "recipients": row.recipients,
            "received_at": str(row.received_at),
            "attempts": row.attempts,
            "waiting_for_admin": row.attempts >= MAX_ATTEMPTS,
            "claimed_by": row.claimed_by,
            "lease_until": str(row.lease_until) if row.lease_until else None,
            "last_error": row.last_error,
        }
        for row in rows
    ]
    if as_json:
        emit_json(described)
        return
    emit_table(
        described,
        [
            ("ID", "id"),
            ("FROM", "from"),
            ("NODE", "claimed_by"),
            ("ATTEMPTS", "attempts"),
            ("ERROR", "last_error"),
        ],
        empty="The inbox is empty: every accepted mail went through the pipeline.",
    )


@inbox.command()
@click.option(
    "--limit",
    type=numbers.LIMIT,
    default=50,
    show_default=True,
    help="How many, the most recent first.",
)
@json_option
@pass_state
def discarded(state: CliState, limit: int, as_json: bool) -> None:
    """Mail accepted and then discarded as automatic, with the reason, newest first."""
    with state.transaction() as session:
        described = list_discarded(session, limit)
    if as_json:
        emit_json(described)
        return
    emit_table(
        described,
        [
            ("WHEN", "discarded_at"),
            ("FROM", "sender"),
            ("MESSAGE-ID", "message_id"),
            ("SUBJECT", "subject"),
            ("REASON", "reason"),
        ],  # fmt: skip
        empty="No mail was discarded.",
    )


@inbox.command()
@click.argument("ids", nargs=-1, type=numbers.ID)
@pass_state
def retry(state: CliState, ids: tuple[int, ...]) -> None:
    """Let the pipeline try mail again (all that failed, or the IDs given).

    Run it after fixing what made them fail; a running `gateway serve` picks
    them up at its next start.
    """
    query = update(InboxMail).where(InboxMail.attempts > 0).values(attempts=0, last_error="")
    if ids:
        query = query.where(InboxMail.id.in_(ids))
    with state.app.spool_engine.begin() as connection:
        count = connection.execute(query).rowcount
    click.echo(f"{count} mail(s) will be tried again.")
