"""Nothing recorded as sent is sent twice: kill -9 a real `gateway serve` mid fan-out.

A post to 300 members goes out one VERP transaction at a time to a slow SMTP sink;
the gateway and its children are killed with SIGKILL halfway; after a restart
every member has the post, and every member whose delivery was recorded as sent
before the kill got exactly one copy.
"""

from __future__ import annotations

import os
import signal
import smtplib
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import wait_for
from tests.factories import post
from tests.integration.test_durability import site
from tests.integration.test_durability import start_server
from tests.integration.test_gateway_command import gateway
from tests.postgres import free_port
from tests.sink import RecordingController
from tests.sink import Sink

DOMAIN = "lists.example.com"
MEMBERS = 300


@pytest.fixture
def slow_sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink(data_delay=0.03)
    port = free_port()
    controller: Controller = RecordingController(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def statuses(database: Path) -> dict[str, str]:
    with sqlite3.connect(database) as connection:
        return dict(connection.execute("SELECT recipient, status FROM deliveries").fetchall())


def kill_all(pid: int) -> None:
    """SIGKILL `gateway serve` and its children at once, as a power cut would."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for victim in [pid, *map(int, children)]:
        os.kill(victim, signal.SIGKILL)


def test_sigkill_mid_fanout_resends_nothing_recorded_as_sent(
    tmp_path: Path, slow_sink: tuple[Sink, int], quiet_dns: str
) -> None:
    handler, sink_port = slow_sink
    config, port, log = site(tmp_path, quiet_dns)
    with config.open("a") as file:
        file.write(f'[relay]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {sink_port}\n')
    members = tmp_path / "members.csv"
    members.write_text(
        "email\n" + "".join(f"member{n}@example.com\n" for n in range(MEMBERS)), encoding="utf-8"
    )
    gateway("--config", str(config), "member", "import", "design", str(members), cwd=tmp_path)
    database = tmp_path / "data" / "gateway.sqlite3"
    message = post(
        "For everyone", "Hello all.\n", message_id="fanout@example.com", sender="alice@example.com"
    )

    server = start_server(config, log)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.sendmail("alice@example.com", [f"design@{DOMAIN}"], message.as_bytes())
    wait_for(lambda: len(handler.copies()) >= MEMBERS // 2, timeout=60)
    kill_all(server.pid)
    server.wait()
    sent_before = {rcpt for rcpt, status in statuses(database).items() if status == "sent"}
    assert 0 < len(sent_before) < MEMBERS

    server = start_server(config, log)
    try:
        wait_for(lambda: set(statuses(database).values()) == {"sent"}, timeout=60)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    copies = Counter(rcpt for _, rcpt, _ in handler.copies())
    assert set(copies) == {f"member{n}@example.com" for n in range(MEMBERS)}
    assert {rcpt: copies[rcpt] for rcpt in sent_before} == dict.fromkeys(sent_before, 1)
    assert len(statuses(database)) == MEMBERS
