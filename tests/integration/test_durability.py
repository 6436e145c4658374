"""Nothing acknowledged is lost: kill -9 a real `gateway serve` in the middle of a burst.

Several clients send at once; the server is killed with SIGKILL while mail is in
flight; after a restart every message that got its 250 is stored exactly once,
with its raw bytes and attachments on disk, and nothing is half-stored. The
clients then resend what was not acknowledged, as an MTA does, and each of those
is stored once too. Finally SIGTERM stops the server cleanly.
"""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from tests.factories import post
from tests.integration.test_gateway_command import gateway
from tests.integration.test_gateway_command import gateway_executable
from tests.postgres import free_port

CLIENTS = 4
DOMAIN = "lists.example.com"


def start_server(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [gateway_executable(), "--config", str(config), "serve"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    port = int(config.read_text().split("port = ")[1].split()[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"the server did not start:\n{log.read_text()}")


def message(client: int, number: int) -> bytes:
    mail = post(
        f"Burst {client}-{number}",
        f"Message {number} from client {client}.\n" * 50,
        message_id=f"burst-{client}-{number}@example.com",
        sender=f"client{client}@example.com",
    )
    if number % 5 == 0:
        name = f"data-{client}-{number}.bin"
        mail.add_attachment(
            os.urandom(20_000), maintype="application", subtype="octet-stream", filename=name
        )
    return mail.as_bytes()


def burst(port: int, client: int, acknowledged: set[str], stop: threading.Event) -> None:
    """Send until the connection breaks; record the Message-IDs that got a 250."""
    number = 0
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            while not stop.is_set():
                number += 1
                smtp.sendmail(f"client{client}@example.com", [f"design@{DOMAIN}"],
                              message(client, number))  # fmt: skip
                acknowledged.add(f"burst-{client}-{number}@example.com")
    except (smtplib.SMTPException, OSError):
        return


def stored_rows(database: Path) -> tuple[list[tuple[str, str, int]], list[str]]:
    with sqlite3.connect(database) as connection:
        messages = connection.execute(
            "SELECT message_id, raw_sha256, thread_id FROM messages"
        ).fetchall()
        attachments = [row[0] for row in connection.execute("SELECT sha256 FROM attachments")]
    return messages, attachments


def wait_until_ingested(data: Path, timeout: float = 60) -> None:
    """The restarted server ingests what was spooled before the kill: wait for it."""
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(data / "spool.sqlite3") as connection:
            waiting = connection.execute("SELECT count(*) FROM inbox").fetchone()[0]
        if not waiting:
            return
        assert time.monotonic() < deadline, f"{waiting} mails still in the inbox"
        time.sleep(0.05)


def blob_path(data: Path, sha256: str) -> Path:
    return data / "blobs" / sha256[:2] / sha256[2:4] / sha256


def site(folder: Path, tables: str = "") -> tuple[Path, int, Path]:
    """A gateway folder with an open community `design` on a free port: (config, port, log).
    `tables`: more of the configuration (e.g. conftest's quiet_dns)."""
    port = free_port()
    config = folder / "gateway.toml"
    config.write_text(
        f'{tables}[gateway]\ndata_dir = "data"\n[smtp]\nport = {port}\n'
        f"[web]\nport = {free_port()}\n"
    )
    gateway("--config", str(config), "init", cwd=folder)
    gateway("--config", str(config), "community", "create", "design", "--name", "Design",
            "--policy", "open", cwd=folder)  # fmt: skip
    return config, port, folder / "serve.log"


def test_sigkill_mid_burst_loses_nothing_acknowledged(tmp_path: Path) -> None:
    config, port, log = site(tmp_path)

    server = start_server(config, log)
    acknowledged: set[str] = set()
    stop = threading.Event()
    clients = [threading.Thread(target=burst, args=(port, c, acknowledged, stop))
               for c in range(CLIENTS)]  # fmt: skip
    for client in clients:
        client.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.send_signal(signal.SIGKILL)
    server.wait(30)
    stop.set()
    for client in clients:
        client.join(60)
    assert len(acknowledged) >= 40, log.read_text()

    server = start_server(config, log)
    database = tmp_path / "data" / "gateway.sqlite3"
    try:
        wait_until_ingested(tmp_path / "data")
        messages, attachments = stored_rows(database)
        ids = [row[0] for row in messages]
        assert acknowledged <= set(ids)
        assert len(ids) == len(set(ids))
        for _, raw_sha256, thread_id in messages:
            assert blob_path(tmp_path / "data", raw_sha256).is_file()
            assert thread_id is not None
        for sha256 in attachments:
            assert blob_path(tmp_path / "data", sha256).is_file()

        # The MTAs retry what was not acknowledged: everything ends up stored once.
        sent_ids = {f"burst-{c}-{n}@example.com" for c in range(CLIENTS) for n in range(1, 60)}
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            for c in range(CLIENTS):
                for n in range(1, 60):
                    smtp.sendmail(f"client{c}@example.com", [f"design@{DOMAIN}"], message(c, n))
        wait_until_ingested(tmp_path / "data")
        messages, _ = stored_rows(database)
        assert sorted(row[0] for row in messages) == sorted(sent_ids | set(ids))
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0, log.read_text()
    assert "stopped" in log.read_text().splitlines()[-1]


def test_a_taken_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "gateway.toml"
        config.write_text(f'[gateway]\ndata_dir = "data"\n[smtp]\nport = {port}\n')
        gateway("--config", str(config), "init", cwd=tmp_path)
        result = gateway("--config", str(config), "serve", cwd=tmp_path, expect=1)
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


def child_process(pid: int, name: str) -> int:
    """The `gateway serve` child named `name` (gateway-ingest or gateway-deliver)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            if Path(f"/proc/{child}/comm").read_text().strip() == name:
                return int(child)
        time.sleep(0.05)
    raise AssertionError(f"no {name} process")


def test_a_crashed_pipeline_process_is_started_again(tmp_path: Path) -> None:
    config, port, log = site(tmp_path)
    server = start_server(config, log)
    try:
        first = child_process(server.pid, "gateway-ingest")
        os.kill(first, signal.SIGKILL)
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.sendmail("a@example.com", [f"design@{DOMAIN}"], message(0, 1))
        wait_until_ingested(tmp_path / "data")
        messages, _ = stored_rows(tmp_path / "data" / "gateway.sqlite3")
        assert [row[0] for row in messages] == ["burst-0-1@example.com"]
        assert child_process(server.pid, "gateway-ingest") != first
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0, log.read_text()
    assert "starting it again" in log.read_text()


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_smtp_comes_first_then_ingest_and_delivery_then_the_archive(tmp_path: Path) -> None:
    """On a busy machine the scheduler gives the cores to the SMTP sessions first, then
    to the pipeline and the delivery worker, and last to the archive's rebuilds."""
    config, _, log = site(tmp_path)
    server = start_server(config, log)
    try:
        ingest, deliver, archive = (
            niceness(child_process(server.pid, name))
            for name in ("gateway-ingest", "gateway-deliver", "gateway-archive")
        )
        assert niceness(server.pid) < ingest == deliver < archive
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0, log.read_text()


def told_goodbye(smtp: smtplib.SMTP, timeout: float = 10) -> int | str:
    """Poll an idle session until the server says 421 or closes it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            smtp.noop()
        except smtplib.SMTPResponseException as reply:
            return reply.smtp_code
        except smtplib.SMTPServerDisconnected:
            return "closed"
        time.sleep(0.1)
    return "still open"


def test_sigterm_lets_a_mail_in_flight_finish(tmp_path: Path) -> None:
    config, port, log = site(tmp_path)
    server = start_server(config, log)
    try:
        idle = smtplib.SMTP("127.0.0.1", port, timeout=30)
        busy = smtplib.SMTP("127.0.0.1", port, timeout=30)
        try:
            idle.ehlo()
            busy.ehlo()
            busy.mail("a@example.com")
            busy.rcpt(f"design@{DOMAIN}")
            assert busy.docmd("DATA")[0] == 354
            server.send_signal(signal.SIGTERM)  # while the message is being sent
            time.sleep(0.5)
            busy.send(message(0, 1).replace(b"\n", b"\r\n") + b"\r\n.\r\n")
            assert busy.getreply()[0] == 250
            # A session with no mail in progress is told the server is going away.
            assert told_goodbye(idle) in (421, "closed")
        finally:
            idle.close()
            busy.close()
        assert server.wait(60) == 0, log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
    server = start_server(config, log)  # what was spooled is ingested at the next start
    try:
        wait_until_ingested(tmp_path / "data")
        messages, _ = stored_rows(tmp_path / "data" / "gateway.sqlite3")
        assert [row[0] for row in messages] == ["burst-0-1@example.com"]
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
