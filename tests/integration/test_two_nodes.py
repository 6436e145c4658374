"""Two `gateway serve` nodes on one PostgreSQL and one data folder share a fan-out: a node
that starts mid-fan-out leaves the other's deliveries alone, and when the sending node
is killed (SIGKILL) the other takes its deliveries over once the lease ran out.

Every member gets the post; those recorded as sent before the kill get it once; the
copies sent twice are at most the documented window (docs/sending.md, "In flight").
"""

from __future__ import annotations

import signal
import smtplib
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text

from gateway.outbound.deliveries import shown_status
from gateway.store.models import DeliveryStatus
from tests.conftest import wait_for
from tests.factories import post
from tests.integration.cluster import DOMAIN
from tests.integration.cluster import design_with_members
from tests.integration.cluster import node_config
from tests.integration.cluster import resend_window
from tests.integration.cluster import sink_on_loopback
from tests.integration.cluster import smtp_port
from tests.integration.test_delivery_durability import kill_all
from tests.integration.test_durability import start_server
from tests.sink import Sink

MEMBERS = 300
DATA_DELAY = 0.2  # seconds the sink takes per copy: a fan-out of about 15 s
CONNECTIONS = 4
LEASE_SECONDS = 30


@pytest.fixture
def slow_sink() -> Iterator[tuple[Sink, int]]:
    with sink_on_loopback(DATA_DELAY) as sink:
        yield sink


def config_of(folder: Path, node: str, database: str, sink_port: int, dns: str) -> Path:
    return node_config(folder, node, database, sink_port, connections=CONNECTIONS,
                       lease_seconds=LEASE_SECONDS, tables=dns)  # fmt: skip


def test_a_killed_node_s_fanout_is_finished_by_the_other_node(
    tmp_path: Path, slow_sink: tuple[Sink, int], nodes_database: str, quiet_dns: str
) -> None:
    database = nodes_database
    handler, sink_port = slow_sink
    config_a = config_of(tmp_path, "node-a", database, sink_port, quiet_dns)
    config_b = config_of(tmp_path, "node-b", database, sink_port, quiet_dns)
    design_with_members(tmp_path, config_a, MEMBERS)
    engine = create_engine(database)

    def rows() -> dict[str, tuple[str, str | None]]:
        with engine.connect() as connection:
            query = text("SELECT recipient, status, claimed_by FROM deliveries")
            return {
                rcpt: (shown_status(DeliveryStatus(status), node).value, node)
                for rcpt, status, node in connection.execute(query)
            }

    def copies() -> Counter[str]:
        return Counter(rcpt for _, rcpt, _ in handler.copies())

    node_a = start_server(config_a, tmp_path / "node-a.log")
    node_b: subprocess.Popen[bytes] | None = None
    try:
        message = post("For everyone", "Hello all.\n", message_id="fanout@example.com")
        with smtplib.SMTP("127.0.0.1", smtp_port(config_a), timeout=30) as smtp:
            smtp.sendmail("alice@example.com", [f"design@{DOMAIN}"], message.as_bytes())
        wait_for(lambda: len(copies()) >= MEMBERS // 5, timeout=60, what="node-a sending")

        node_b = start_server(config_b, tmp_path / "node-b.log")
        wait_for(lambda: len(copies()) >= MEMBERS // 2, timeout=60, what="half the copies")
        # node-b started mid-fan-out: node-a's rows stay its own, nothing went out twice.
        assert max(copies().values()) == 1
        assert {node for status, node in rows().values() if status == "sending"} == {"node-a"}
        kill_all(node_a.pid)
        node_a.wait()
        sent_before = {rcpt for rcpt, (status, _) in rows().items() if status == "sent"}
        assert 0 < len(sent_before) < MEMBERS

        wait_for(
            lambda: {status for status, _ in rows().values()} == {"sent"},
            timeout=LEASE_SECONDS + 60,
            what="node-b to take node-a's deliveries over",
        )
        claims_left = {node for _, node in rows().values()}
    finally:
        if node_a.poll() is None:
            kill_all(node_a.pid)
            node_a.wait()
        if node_b is not None:
            node_b.send_signal(signal.SIGTERM)
            node_b.wait(60)
        engine.dispose()

    received = copies()
    assert set(received) == {f"member{n}@example.com" for n in range(MEMBERS)}
    assert {rcpt: received[rcpt] for rcpt in sent_before} == dict.fromkeys(sent_before, 1)
    twice = sorted(rcpt for rcpt, count in received.items() if count > 1)
    window = resend_window(CONNECTIONS, DATA_DELAY)
    assert max(received.values()) <= 2 and len(twice) <= window, twice
    assert claims_left == {None}
