"""Draining a node: two real `gateway serve` processes on one PostgreSQL; SIGTERM to
every process of one of them (as systemd stops a unit) in the middle of a fan-out.

The drained node finishes what it claimed (no copy twice, none missing), gives its
singletons back and is recorded stopped; the other node takes the archive over at
once, not after the lease; `gateway status` shows all of it.
"""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.factories import post
from tests.integration.cluster import DOMAIN
from tests.integration.cluster import design_with_members
from tests.integration.cluster import node_config
from tests.integration.cluster import sink_on_loopback
from tests.integration.cluster import smtp_port
from tests.integration.test_durability import start_server
from tests.integration.test_gateway_command import gateway
from tests.sink import Sink

MEMBERS = 100
DATA_DELAY = 0.3  # seconds the sink takes per copy: node-a's fan-out lasts about 15 s
LEASE_SECONDS = 300  # far longer than the test: a take-over within it was a release


@pytest.fixture
def slow_sink() -> Iterator[tuple[Sink, int]]:
    with sink_on_loopback(DATA_DELAY) as sink:
        yield sink


def config_of(folder: Path, node: str, database: str, sink_port: int, dns: str) -> Path:
    return node_config(
        folder, node, database, sink_port, connections=2, lease_seconds=LEASE_SECONDS,
        tables=dns, delivery={"envelope": "verp"}, archive={"search": False, "rebuild_delay": 1},
    )  # fmt: skip


def terminate_unit(pid: int) -> None:
    """SIGTERM to `gateway serve` and each of its children, as systemd stops a unit."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for process in [pid, *map(int, children)]:
        os.kill(process, signal.SIGTERM)


def test_a_drained_node_finishes_its_fanout_and_hands_its_singletons_over(
    tmp_path: Path, slow_sink: tuple[Sink, int], nodes_database: str, quiet_dns: str
) -> None:
    database = nodes_database
    sink, sink_port = slow_sink
    config_a = config_of(tmp_path, "node-a", database, sink_port, quiet_dns)
    config_b = config_of(tmp_path, "node-b", database, sink_port, quiet_dns)
    design_with_members(tmp_path, config_a, MEMBERS)

    def status() -> dict[str, Any]:
        result = gateway("--config", str(config_b), "status", "--json", cwd=tmp_path)
        report: dict[str, Any] = json.loads(result.stdout)
        return report

    def holders() -> dict[str, str | None]:
        return {s["name"]: s["node_id"] for s in status()["singletons"]}

    node_a = start_server(config_a, tmp_path / "node-a.log")
    node_b: subprocess.Popen[bytes] | None = None
    try:
        wait_for(
            lambda: holders() == {"archive": "node-a", "scheduler": "node-a"},
            timeout=60,
            what="node-a to take the singletons",
        )
        # node-a claims the whole fan-out; node-b starts while it is being sent.
        message = post("For everyone", "Hello all.\n", message_id="drain@example.com")
        with smtplib.SMTP("127.0.0.1", smtp_port(config_a), timeout=30) as smtp:
            smtp.sendmail("alice@example.com", [f"design@{DOMAIN}"], message.as_bytes())
        wait_for(lambda: len(sink.received) >= 5, timeout=60, what="node-a sending")
        node_b = start_server(config_b, tmp_path / "node-b.log")
        wait_for(
            lambda: (
                [(n["node_id"], n["alive"]) for n in status()["nodes"]]
                == [("node-a", True), ("node-b", True)]
            ),
            timeout=30,
            what="both nodes registered",
        )
        assert holders() == {"archive": "node-a", "scheduler": "node-a"}
        assert len(sink.received) < MEMBERS, "the fan-out ended before node-a was stopped"

        terminate_unit(node_a.pid)
        assert node_a.wait(90) == 0, (tmp_path / "node-a.log").read_text()
        # node-a finished the round in hand before it exited: nothing left to take over.
        assert len(sink.received) == MEMBERS
        assert status()["deliveries"] == {
            "pending": 0,
            "deferred": 0,
            "sending": {},
            "failed": 0,
        }

        report = status()
        [a, b] = report["nodes"]
        assert (a["state"], a["alive"], b["state"], b["alive"]) == (
            "stopped",
            False,
            "running",
            True,
        )
        assert holders()["scheduler"] in (None, "node-b")  # given back, not left to expire
        wait_for(lambda: holders()["archive"] == "node-b", timeout=30, what="the archive taken")
    finally:
        for node in (node_a, node_b):
            if node is not None and node.poll() is None:
                node.send_signal(signal.SIGTERM)
                node.wait(90)

    received = Counter(rcpt for _, rcpts, _ in sink.received for rcpt in rcpts)
    assert set(received) == {f"member{n}@example.com" for n in range(MEMBERS)}
    assert max(received.values()) == 1  # a drain sends nothing twice
