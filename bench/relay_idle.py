"""Benchmark of delivery after a quiet spell: the time from a post's 250 to its copies'
arrival at an MTA that, as Postfix after smtpd_timeout, hangs up on idle clients.

A real `gateway serve` (SQLite) relays to an aiosmtpd sink in this process that says
"421 4.4.2 ... timeout exceeded" and closes any connection idle for --mta-timeout
seconds. A first post to --members members (more than the relay's four connections,
so every pooled connection carries mail) fills the pool; then nothing happens for
--idle seconds, past the sink's timeout, and a second post is sent to a community of
one member (one envelope, as a join confirmation or a small team's post). It prints
the seconds from the second post's 250 to its copy's arrival at the sink.

The figure before the fix comes from another checkout's executable (--gateway
/path/to/.venv/bin/gateway): there each dead connection costs a delivery attempt and
a retry wait, doubling from [delivery] retry_wait_seconds (1 s here: 1+2+4+8 s for
four dead connections; 60 s by default, so 15 minutes).

    python bench/relay_idle.py [--gateway PATH] [--members 6] [--mta-timeout 2] [--idle 3]
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope
from aiosmtpd.smtp import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import free_port  # noqa: E402
from ingest import gateway_executable  # noqa: E402
from ingest import server  # noqa: E402

DOMAIN = "lists.example.com"


class Arrivals:
    """The sink's handler: when each copy arrived, by the post's subject."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {}
        self.sessions = self.timeouts = 0

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        return responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        subject = "second" if b"<second@example.com>" in content else "first"
        with self.lock:
            self.times.setdefault(subject, []).extend([time.time()] * len(envelope.rcpt_tos))
        return "250 2.0.0 queued"

    def arrived(self, subject: str) -> list[float]:
        with self.lock:
            return list(self.times.get(subject, []))


class IdleTimeoutSMTP(SMTP):
    """aiosmtpd, hanging up as Postfix does on a client silent for its timeout."""

    async def push(self, status: Any) -> None:
        await super().push(status)
        if self.transport is not None:
            self._reset_timeout()

    def _timeout_cb(self) -> None:
        transport = self.transport
        if not isinstance(transport, asyncio.WriteTransport) or transport.is_closing():
            return
        with self.event_handler.lock:
            self.event_handler.timeouts += 1
        transport.write(b"421 4.4.2 sink Error: timeout exceeded\r\n")
        transport.close()


class Sink(Controller):
    def __init__(self, handler: Arrivals, port: int, timeout: float) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=port)
        self.timeout = timeout

    def factory(self) -> SMTP:
        return IdleTimeoutSMTP(self.handler, timeout=self.timeout, decode_data=False)


def command(gateway: str, config: Path, *args: str) -> None:
    subprocess.run([gateway, "--config", str(config), *args],
                   check=True, capture_output=True, timeout=120)  # fmt: skip


def post(subject: str, slug: str) -> bytes:
    return (
        f"From: Poster <poster@example.com>\r\nTo: {slug}@{DOMAIN}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@example.com>\r\n\r\nA post.\r\n"
    ).encode()


def wait(check: Any, what: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def run(gateway: str, members: int, mta_timeout: float, idle: float) -> None:
    arrivals = Arrivals()
    sink_port, smtp_port = free_port(), free_port()
    sink = Sink(arrivals, sink_port, mta_timeout)
    sink.start()
    with tempfile.TemporaryDirectory(prefix="relay-idle-") as folder:
        root = Path(folder)
        config = root / "gateway.toml"
        config.write_text(
            f'[gateway]\ndomain = "{DOMAIN}"\ndata_dir = "data"\n[smtp]\nport = {smtp_port}\n'
            f'[relay]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {sink_port}\n'
            "[delivery]\nretry_wait_seconds = 1\n[archive]\npublish = false\n"
            "[web]\nenabled = false\n",
            encoding="utf-8",
        )
        command(gateway, config, "init")
        command(gateway, config, "community", "create", "all", "--name", "All",
                "--policy", "open")  # fmt: skip
        table = root / "members.csv"
        table.write_text("email\n" + "".join(f"m{n}@example.com\n" for n in range(members)))
        command(gateway, config, "member", "import", "all", str(table))
        command(gateway, config, "community", "create", "one", "--name", "One",
                "--policy", "open")  # fmt: skip
        command(gateway, config, "member", "add", "one", "m0@example.com")
        serve = [gateway, "--config", str(config), "serve"]
        try:
            with server(serve, smtp_port, root / "gateway.log"):
                with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
                    smtp.sendmail("poster@example.com", [f"all@{DOMAIN}"], post("first", "all"))
                wait(lambda: len(arrivals.arrived("first")) == members, "the first post")
                time.sleep(idle)
                with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
                    smtp.sendmail("poster@example.com", [f"one@{DOMAIN}"], post("second", "one"))
                    accepted = time.time()
                wait(lambda: arrivals.arrived("second"), "the second post")
        finally:
            sink.stop()
    [arrived] = arrivals.arrived("second")
    print(
        f"{gateway}: after {idle:g} s idle (MTA timeout {mta_timeout:g} s, "
        f"{arrivals.timeouts} connections closed by it), the post arrived "
        f"{arrived - accepted:.2f} s after its 250"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", default=gateway_executable())
    parser.add_argument("--members", type=int, default=6)
    parser.add_argument("--mta-timeout", type=float, default=2.0)
    parser.add_argument("--idle", type=float, default=3.0)
    arguments = parser.parse_args()
    run(arguments.gateway, arguments.members, arguments.mta_timeout, arguments.idle)


if __name__ == "__main__":
    main()
