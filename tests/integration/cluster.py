"""Parts of the multi-node tests (test_two_nodes, test_three_nodes): a PostgreSQL database
of their own, a slow loopback sink and what it received, the configuration of one
`gateway serve` node among several sharing one database and one data folder, a node
as a subprocess, queries on the shared database, and the window of copies a killed
node may send twice (docs/sending.md, "In flight")."""

from __future__ import annotations

import itertools
import json
import math
import re
import signal
import smtplib
import subprocess
import tomllib
from collections import Counter
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlalchemy import bindparam
from sqlalchemy import text

from gateway.outbound.deliveries import shown_status
from gateway.outbound.worker import RECORD_EVERY
from gateway.store.models import DeliveryStatus
from tests.integration.test_delivery_durability import kill_all
from tests.integration.test_durability import start_server
from tests.integration.test_gateway_command import gateway
from tests.postgres import PostgresServer
from tests.postgres import free_port
from tests.sink import RecordingController
from tests.sink import Sink

DOMAIN = "lists.example.com"
_numbers = itertools.count()


@contextmanager
def fresh_database(server: PostgresServer, prefix: str) -> Iterator[str]:
    """An empty database on the tests' PostgreSQL server (the nodes migrate it): its URL."""
    name = f"{prefix}_{next(_numbers)}"
    server.execute(f"CREATE DATABASE {name}")
    try:
        yield server.url(name)
    finally:
        server.execute(f"DROP DATABASE {name} WITH (FORCE)")


@contextmanager
def sink_on_loopback(data_delay: float) -> Iterator[tuple[Sink, int]]:
    """A recording SMTP sink taking `data_delay` seconds per DATA (the handler's
    data_delay may be changed while it runs): (the handler, its port)."""
    handler = Sink(data_delay=data_delay)
    port = free_port()
    controller: Controller = RecordingController(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def node_config(
    folder: Path,
    node: str,
    database: str,
    sink_port: int,
    *,
    connections: int,
    lease_seconds: int,
    tables: str = "",
    web: bool = True,
    **sections: dict[str, object],
) -> Path:
    """`folder/<node>.toml`: one node of several on `database`, all with the data folder
    `folder/data`, sending to the sink. Nodes differ only in node_id and ports.
    `tables` (TOML, e.g. quiet_dns) and `sections` (e.g. archive={"search": False}) add
    keys, merged into the node's own tables, so each table is written once. [smtp]
    comes first (tests.integration.test_durability.start_server reads the first port)."""
    config: dict[str, dict[str, object]] = {
        "smtp": {"port": free_port()},
        "gateway": {"data_dir": "data", "database_url": database, "domain": DOMAIN,
                    "node_id": node},
        "web": {"port": free_port()} if web else {"enabled": False},
        "relay": {"backend": "smtp", "host": "127.0.0.1", "port": sink_port,
                  "connections": connections},
        "delivery": {"lease_seconds": lease_seconds},
    }  # fmt: skip
    for name, keys in [*tomllib.loads(tables).items(), *sections.items()]:
        config.setdefault(name, {}).update(keys)
    path = folder / f"{node}.toml"
    path.write_text(
        "".join(
            f"[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in keys.items())
            for name, keys in config.items()
        ),
        encoding="utf-8",
    )
    return path


def smtp_port(config: Path) -> int:
    port: int = tomllib.loads(config.read_text())["smtp"]["port"]
    return port


def design_with_members(folder: Path, config: Path, members: int) -> None:
    """With the CLI, as an admin starts: the database, an open community `design`, and
    member0@example.com ... member<members - 1>@example.com in it."""
    gateway("--config", str(config), "init", cwd=folder)
    gateway("--config", str(config), "community", "create", "design", "--name", "Design",
            "--policy", "open", cwd=folder)  # fmt: skip
    listing = folder / "members.csv"
    listing.write_text(
        "email\n" + "".join(f"member{n}@example.com\n" for n in range(members)), encoding="utf-8"
    )
    gateway("--config", str(config), "member", "import", "design", str(listing), cwd=folder)


def resend_window(connections: int, data_delay: float) -> int:
    """Most copies a node killed mid-fan-out may have sent without recording them, under
    VERP without XVERP (one recipient per transaction, recorded together every
    RECORD_EVERY): the transaction in flight on each connection, plus what every
    connection had answered since the last record, which comes at the first reply after
    RECORD_EVERY (so up to RECORD_EVERY + one transaction's time)."""
    answered = math.ceil((RECORD_EVERY + data_delay) / data_delay) * connections
    return connections + answered


@dataclass
class Node:
    """One `gateway serve` subprocess, its configuration and its log (kept across
    restarts)."""

    name: str
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = start_server(self.config, self.log)

    def connect(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", smtp_port(self.config), timeout=30)

    def send(self, sender: str, recipients: list[str], raw: bytes) -> None:
        with self.connect() as smtp:
            smtp.sendmail(sender, recipients, raw)

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; its exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(90)

    def stop_or_kill(self) -> None:
        """Stop it if it still runs: SIGTERM, or SIGKILL when it does not exit in time."""
        if self.running:
            try:
                self.stop()
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the node and its children at once, as a power cut would."""
        assert self.process is not None
        kill_all(self.process.pid)
        self.process.wait()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def logged(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Inbox:
    """What the sink received, read once: (recipient, Message-ID) of each copy."""

    sink: Sink
    copies: list[tuple[str, str]] = field(default_factory=list)
    _read: int = 0

    def update(self) -> list[tuple[str, str]]:
        with self.sink.lock:
            new = self.sink.received[self._read :]
            self._read += len(new)
        for _, recipients, data in new:
            found = re.search(
                rb"^Message-ID:\s*<([^>\r\n]*)>", data.split(b"\r\n\r\n")[0], re.I | re.M
            )
            message_id = found.group(1).decode() if found else ""
            self.copies += [(rcpt, message_id) for rcpt in recipients]
        return self.copies

    def of(self, message_ids: Iterable[str]) -> Counter[tuple[str, str]]:
        wanted = set(message_ids)
        return Counter(copy for copy in self.update() if copy[1] in wanted)

    def to(self, addresses: Iterable[str]) -> Counter[str]:
        wanted = set(addresses)
        return Counter(rcpt for rcpt, _ in self.update() if rcpt in wanted)


@dataclass
class Cluster:
    """Nodes on one database and one data folder, sending to one sink."""

    folder: Path
    engine: Engine
    sink: Sink
    inbox: Inbox
    nodes: list[Node]

    def rows(self, sql: str, **params: Any) -> list[Any]:
        statement = text(sql).bindparams(
            # A tuple is a list of values: `IN :name`.
            *(bindparam(name, expanding=True) for name, v in params.items() if isinstance(v, tuple))
        )
        with self.engine.connect() as connection:
            return list(connection.execute(statement, params))

    def count(self, sql: str, **params: Any) -> int:
        [(value,)] = self.rows(sql, **params)
        return int(value)

    def deliveries_of(self, message_ids: Iterable[str]) -> list[Any]:
        """(recipient, status, claimed_by, Message-ID) of the posts' deliveries; the
        status as shown ("sending" while claimed)."""
        rows = self.rows(
            "SELECT d.recipient, d.status, d.claimed_by, m.message_id FROM deliveries d"
            " JOIN messages m ON m.id = d.message_id WHERE m.message_id IN :ids",
            ids=tuple(message_ids),
        )
        return [
            (recipient, shown_status(DeliveryStatus(status), node).value, node, message_id)
            for recipient, status, node, message_id in rows
        ]

    def quiet(self) -> bool:
        """Nothing waits: the inbox, the action mail and the queue are empty."""
        return not self.count(
            "SELECT (SELECT count(*) FROM inbox)"
            " + (SELECT count(*) FROM action_mail WHERE handled_at IS NULL)"
            " + (SELECT count(*) FROM deliveries WHERE status = 'pending')"
        )
