"""Post-to-inbox latency for bench/ingest.py: under a steady load (mail i sent at
start + i/rate over a few connections), the time from each post's 250 to its row in
the store, and to its first delivery reaching a loopback sink (bench/sink.py, in its
own process, that the gateway relays to), as p50 and p99. Every time is taken on
the system's monotonic clock, which the sink's process shares.
"""

from __future__ import annotations

import math
import re
import smtplib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import text

MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>\r\n]+)>", re.MULTILINE | re.IGNORECASE)
CLIENTS = 4  # connections the steady load is spread over
POLL = 0.01  # seconds between two looks at the store


def message_id(payload: bytes) -> str:
    found = MESSAGE_ID.search(payload)
    assert found, "every bench mail has a Message-ID"
    return found.group(1).decode()


SINK = Path(__file__).with_name("sink.py")  # the benches' sink (its status file: see fanout)


class Sink:
    """What bench/sink.py noted: when each Message-ID first arrived."""

    def __init__(self, arrivals: Path) -> None:
        self.arrivals = arrivals

    def command(self, port: int, status: Path) -> list[str]:
        return [sys.executable, str(SINK), str(port), str(status), str(self.arrivals)]

    def arrived(self) -> dict[str, float]:
        try:
            lines = self.arrivals.read_text().splitlines()
        except FileNotFoundError:
            return {}
        return {mid: float(at) for mid, at in (line.split() for line in lines)}


def watch_store(store: Engine, stop: threading.Event, seen: dict[str, float]) -> None:
    """Note when each new message row is first visible in the store."""
    with store.connect() as connection:
        last = connection.execute(text("SELECT coalesce(max(id), 0) FROM messages")).scalar()
    while not stop.is_set():
        with store.connect() as connection:
            rows = connection.execute(
                # LIMIT: with it PostgreSQL walks the key; without, its plan for any :last
                # read and sorted the whole table, 1.3 ms of its CPU every POLL
                text("SELECT id, message_id FROM messages WHERE id > :last ORDER BY id LIMIT 500"),
                {"last": last},
            ).all()
        now = time.monotonic()
        for row_id, mid in rows:
            seen.setdefault(mid, now)
            last = max(last, row_id)
        time.sleep(POLL)


@dataclass(frozen=True)
class Latency:
    rate: float  # mails/s offered
    sent: int
    acked: int
    stored_p50: float  # seconds from the 250 to the row
    stored_p99: float
    delivered_p50: float  # seconds from the 250 to the first delivery at the sink
    delivered_p99: float
    missing: int  # acked but not stored or not delivered within the wait


def steady_load(
    port: int,
    payloads: list[tuple[str, Any]],
    rate: float,
    send: Callable[[smtplib.SMTP, Any], int],
) -> dict[str, float]:
    """Send each payload at its time (start + i/rate); return when each got its 250."""
    acked: dict[str, float] = {}
    lock = threading.Lock()
    start = time.monotonic() + 0.5

    def client(offset: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo("bench.example.com")
            for index in range(offset, len(payloads), CLIENTS):
                delay = start + index / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                mid, payload = payloads[index]
                if send(smtp, payload) == 250:
                    with lock:
                        acked[mid] = time.monotonic()

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return acked


def measure(
    port: int,
    store: Engine,
    sink: Sink,
    payloads: list[tuple[str, Any]],
    rate: float,
    send: Callable[[smtplib.SMTP, Any], int],
    wait: float = 60.0,
) -> Latency:
    seen: dict[str, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_store, args=(store, stop, seen), daemon=True)
    watcher.start()
    try:
        acked = steady_load(port, payloads, rate, send)
        deadline = time.monotonic() + wait
        arrived = sink.arrived()
        while time.monotonic() < deadline and not (
            acked.keys() <= seen.keys() and acked.keys() <= arrived.keys()
        ):
            time.sleep(0.05)
            arrived = sink.arrived()
    finally:
        stop.set()
        watcher.join()
    stored = sorted(seen[m] - at for m, at in acked.items() if m in seen)
    delivered = sorted(arrived[m] - at for m, at in acked.items() if m in arrived)
    missing = sum(1 for m in acked if m not in seen or m not in arrived)
    return Latency(
        rate, len(payloads), len(acked), percentile(stored, 0.5), percentile(stored, 0.99),
        percentile(delivered, 0.5), percentile(delivered, 0.99), missing,
    )  # fmt: skip


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]
