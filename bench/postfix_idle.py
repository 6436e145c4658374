"""Benchmark of the delivery delay after a quiet spell, through a real Postfix.

A real `gateway serve` (SQLite, as shipped, its relay settings at their defaults:
4 connections, a first retry after 60 s) relays through a private Postfix instance
(tests/postfix.py: Debian's package, run as root) to a loopback sink. Posts go in
through Postfix too. Four posts, one after the other, use each pooled relay
connection; then nothing happens until Postfix has closed them all for idleness
(its smtpd_timeout, 300 s in real life, --idle here); then one more post. It prints
how long that post took from Postfix's 250 to its last copy at the sink, and the
delivery attempts it cost.

    python bench/postfix_idle.py [--idle 3] [--members 3] [--limit 300]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(PROJECT))

from fanout import seed  # noqa: E402
from ingest import free_port  # noqa: E402
from ingest import gateway_executable  # noqa: E402
from ingest import server  # noqa: E402

from tests.postfix import PostfixServer  # noqa: E402
from tests.sink import RecordingController  # noqa: E402
from tests.sink import Sink  # noqa: E402

DOMAIN = "lists.example.com"
POSTER = "poster@example.com"
POOLED = 4  # [relay] connections, the default


def configure(root: Path, smtp_port: int, relay_port: int) -> Path:
    config = root / "gateway.toml"
    config.write_text(
        f'[gateway]\ndomain = "{DOMAIN}"\ndata_dir = "data"\n'
        f"[smtp]\nport = {smtp_port}\n"
        f'[relay]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {relay_port}\n'
        "[archive]\npublish = false\n[web]\nenabled = false\n",
        encoding="utf-8",
    )
    return config


def send_post(mta: PostfixServer, number: int) -> None:
    mail = (
        f"From: Poster <{POSTER}>\r\nTo: all@{DOMAIN}\r\nSubject: Post {number}\r\n"
        f"Message-ID: <idle-{number}@example.com>\r\n\r\nA short post.\r\n"
    ).encode()
    mta.send(mail, [f"all@{DOMAIN}"], sender=POSTER)


def copies_of(sink: Sink, number: int) -> int:
    marker = f"<idle-{number}@example.com>".encode()
    return sum(1 for _, _, data in sink.copies() if marker in data)


def wait(check: Callable[[], bool], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def attempts(database: Path, number: int) -> list[int]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT d.attempts FROM deliveries d JOIN messages m ON m.id = d.message_id"
            " WHERE m.message_id LIKE ?",
            (f"%idle-{number}@example.com%",),
        ).fetchall()
    return sorted(row[0] for row in rows)


def run(idle: int, members: int, limit: float) -> None:
    with tempfile.TemporaryDirectory(prefix="postfix-idle-") as folder:
        root = Path(folder)
        sink, sink_port = Sink(), free_port()
        controller = RecordingController(sink, hostname="127.0.0.1", port=sink_port)
        controller.start()
        mta = PostfixServer(sink_port, smtpd_timeout=idle)
        smtp_port = free_port()
        config = configure(root, smtp_port, mta.port)
        seed(config, members)
        serve_command = [gateway_executable(), "--config", str(config), "serve"]
        try:
            mta.start(gateway_port=smtp_port)
            with server(serve_command, smtp_port, root / "gateway.log"):
                for number in range(POOLED):
                    send_post(mta, number)
                    if not wait(lambda n=number: copies_of(sink, n) == members, 60):
                        raise SystemExit(f"post {number} was not delivered in 60 s")
                began = time.monotonic()
                if not wait(mta.idle_connections_closed, idle + 60):
                    raise SystemExit("Postfix did not close the idle relay connections")
                quiet = time.monotonic() - began
                send_post(mta, POOLED)
                sent = time.monotonic()
                arrived = wait(lambda: copies_of(sink, POOLED) == members, limit)
                delay = time.monotonic() - sent
                tried = attempts(root / "data" / "gateway.sqlite3", POOLED)
        finally:
            mta.stop()
            controller.stop()
    got = f"{delay:.1f} s" if arrived else f"not within {limit:.0f} s"
    print(
        f"Postfix smtpd_timeout {idle} s, {POOLED} pooled relay connections closed after"
        f" {quiet:.1f} s quiet; the next post to {members} members: {got}"
        f" (delivery attempts: {tried})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=3, help="Postfix's smtpd_timeout, seconds")
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--limit", type=float, default=300, help="how long to wait, seconds")
    options = parser.parse_args()
    run(options.idle, options.members, options.limit)


if __name__ == "__main__":
    main()
