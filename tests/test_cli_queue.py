"""`gateway queue list|retry` and in-flight deliveries: which node holds each, and
releasing the rows a dead node stranded (never a live node's), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from gateway.app import App
from gateway.outbound.deliveries import enqueue_mail
from gateway.store.db import transaction
from gateway.store.models import utcnow
from tests.conftest import GatewayCli


def sending(app: App, recipient: str, node: str, lease_until: dt.datetime) -> int:
    with transaction(app.sessions) as session:
        delivery = enqueue_mail(session, recipient, b"Subject: x\r\n\r\nx\r\n", "notice", utcnow())
        delivery.claimed_by = node  # pending, claimed: shown as "sending"
        delivery.lease_until = lease_until
        session.flush()
        return delivery.id


def test_list_names_the_node_of_each_row_in_flight_and_retry_frees_only_stranded_ones(
    gateway_cli: GatewayCli, app: App
) -> None:
    now = utcnow()
    live = sending(app, "live@example.com", "node-1", now + dt.timedelta(minutes=5))
    dead = sending(app, "dead@example.com", "node-2", now - dt.timedelta(seconds=1))

    rows = {row["id"]: row for row in gateway_cli.json("queue", "list")}
    assert (rows[live]["status"], rows[live]["claimed_by"]) == ("sending", "node-1")
    assert rows[dead]["claimed_by"] == "node-2"
    assert dt.datetime.fromisoformat(rows[live]["lease_until"]) > now
    table = gateway_cli("queue", "list").stdout
    assert "NODE" in table.splitlines()[0]
    assert "node-1" in table and "node-2" in table

    assert "are not pending, failed or stranded" in gateway_cli.error("queue", "retry", str(live))
    assert "1 deliveries will be tried now" in gateway_cli("queue", "retry").stdout

    rows = {row["id"]: row for row in gateway_cli.json("queue", "list")}
    assert (rows[live]["status"], rows[live]["claimed_by"]) == ("sending", "node-1")
    assert (rows[dead]["status"], rows[dead]["claimed_by"], rows[dead]["lease_until"]) == (
        "pending",
        None,
        None,
    )
