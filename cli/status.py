"""`gateway status`: the nodes on this database, who holds each singleton, and how deep
each queue is; for one node or several."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from cli.output import emit_json
from cli.output import emit_table
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.runtime.nodes import ALIVE_SECONDS
from gateway.runtime.status import status as read_status
from gateway.store.db import make_sessionmaker
from gateway.store.db import transaction
from gateway.store.models import utcnow


@click.command(
    help=f"""The nodes running `gateway serve` (alive: a heartbeat in the last
    {ALIVE_SECONDS:g} seconds), the singletons and their holders, and the queues: mail
    waiting for the pipeline, deliveries, action mail and bounces not handled yet."""
)
@json_option
@pass_state
def status(state: CliState, as_json: bool) -> None:
    now = utcnow()
    spool_sessions = make_sessionmaker(state.app.spool_engine, read_only=True)
    with state.read_transaction() as session, transaction(spool_sessions) as spool:
        report = read_status(session, spool, now)
    if as_json:
        emit_json(report)
        return
    click.echo("Nodes")
    emit_table(
        [_node_row(node, now) for node in report["nodes"]],
        [
            ("NODE", "node_id"),
            ("HOST", "host"),
            ("STATE", "state"),
            ("ALIVE", "alive"),
            ("STARTED", "started"),
            ("LAST SEEN", "seen"),
        ],
        empty="No node has run `gateway serve` on this database yet.",
    )
    click.echo("\nSingletons")
    emit_table(
        [
            {**row, "since": _time(row["since"]), "lease_until": _time(row["lease_until"])}
            for row in report["singletons"]
        ],
        [("NAME", "name"), ("NODE", "node_id"), ("SINCE", "since"), ("UNTIL", "lease_until")],
        empty="",
    )
    click.echo("\nQueues")
    inbox = report["inbox"]
    click.echo(f"inbox:       {inbox['waiting']} waiting ({inbox['claimed']} claimed)")
    queue = report["deliveries"]
    sending = sum(queue["sending"].values())
    per_node = ", ".join(f"{node} {count}" for node, count in queue["sending"].items())
    click.echo(
        f"deliveries:  {queue['pending']} pending, {queue['deferred']} deferred, "
        f"{sending} sending{f' ({per_node})' if per_node else ''}, {queue['failed']} failed"
    )
    click.echo(f"action mail: {report['action_mail']} unhandled")
    click.echo(f"bounces:     {report['bounces']} unhandled")


def _node_row(node: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    seen = dt.datetime.fromisoformat(node["seen_at"])
    ago = max(0, int((now - seen).total_seconds()))
    return {**node, "started": _time(node["started_at"]), "seen": f"{_duration(ago)} ago"}


def _time(value: str | None) -> str | None:
    """A stored time as people read it: to the second, UTC."""
    if value is None:
        return None
    return dt.datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"
