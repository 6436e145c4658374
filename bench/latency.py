"""Post-to-inbox latency for bench/ingest.py: under a steady load (mail i sent at
start + i/rate over a few connections), the time from each post's 250 to its row in
the store, and to its first delivery reaching a loopback sink (an aiosmtpd server in
this process that the gateway relays to), as p50 and p99.
"""

from __future__ import annotations

import math
import re
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlalchemy import text

MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>\r\n]+)>", re.MULTILINE | re.IGNORECASE)
CLIENTS = 4  # connections the steady load is spread over
POLL = 0.01  # seconds between two looks at the store


def message_id(payload: bytes) -> str:
    found = MESSAGE_ID.search(payload)
    assert found, "every bench mail has a Message-ID"
    return found.group(1).decode()


class Sink:
    """The relay the gateway delivers to: when each Message-ID first arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = MESSAGE_ID.search(envelope.original_content or envelope.content)
        if found:
            self.arrived.setdefault(found.group(1).decode(), time.perf_counter())
        return "250 2.0.0 Ok"


def start_sink(port: int) -> tuple[Controller, Sink]:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, sink


def watch_store(store: Engine, stop: threading.Event, seen: dict[str, float]) -> None:
    """Note when each new message row is first visible in the store."""
    with store.connect() as connection:
        last = connection.execute(text("SELECT coalesce(max(id), 0) FROM messages")).scalar()
    while not stop.is_set():
        with store.connect() as connection:
            rows = connection.execute(
                text("SELECT id, message_id FROM messages WHERE id > :last ORDER BY id"),
                {"last": last},
            ).all()
        now = time.perf_counter()
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
    start = time.perf_counter() + 0.5

    def client(offset: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo("bench.example.com")
            for index in range(offset, len(payloads), CLIENTS):
                delay = start + index / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                mid, payload = payloads[index]
                if send(smtp, payload) == 250:
                    with lock:
                        acked[mid] = time.perf_counter()

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
        deadline = time.perf_counter() + wait
        while time.perf_counter() < deadline and not (
            acked.keys() <= seen.keys() and acked.keys() <= sink.arrived.keys()
        ):
            time.sleep(0.05)
    finally:
        stop.set()
        watcher.join()
    stored = sorted(seen[m] - at for m, at in acked.items() if m in seen)
    delivered = sorted(sink.arrived[m] - at for m, at in acked.items() if m in sink.arrived)
    missing = sum(1 for m in acked if m not in seen or m not in sink.arrived)
    return Latency(
        rate, len(payloads), len(acked), percentile(stored, 0.5), percentile(stored, 0.99),
        percentile(delivered, 0.5), percentile(delivered, 0.99), missing,
    )  # fmt: skip


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]
