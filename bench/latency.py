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
from dataclasses import field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import bindparam
from sqlalchemy import text

MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>\r\n]+)>", re.MULTILINE | re.IGNORECASE)
CLIENTS = 4  # connections the steady load is spread over
POLL = 0.01  # seconds between two looks at the store
IN_LIST = 500  # Message-IDs per look-up


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


@dataclass
class Acks:
    """When each mail got its 250, noted by the clients' threads and read by the store's
    watcher."""

    at: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, mid: str) -> None:
        with self.lock:
            self.at[mid] = time.monotonic()

    def waiting(self, seen: dict[str, float]) -> list[str]:
        with self.lock:
            return [mid for mid in self.at if mid not in seen]


def watch_store(store: Engine, stop: threading.Event, seen: dict[str, float], acks: Acks) -> None:
    """Note when each acknowledged mail's row is first visible in the store. Looked up
    by Message-ID, not by the rows' ids: several nodes commit their batches in another
    order than their ids, and a watermark on the ids missed the rows of a batch that
    committed after a later one (61 of 1,178 with three nodes)."""
    query = text("SELECT message_id FROM messages WHERE message_id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    while not stop.is_set():
        waiting = acks.waiting(seen)
        with store.connect() as connection:
            found = [
                mid
                for start in range(0, len(waiting), IN_LIST)
                for mid in connection.execute(
                    query, {"ids": waiting[start : start + IN_LIST]}
                ).scalars()
            ]
        now = time.monotonic()
        for mid in found:
            seen.setdefault(mid, now)
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
    acks: Acks,
) -> None:
    """Send each payload at its time (start + i/rate), noting when each got its 250."""
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
                    acks.note(mid)

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


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
    acks = Acks()
    stop = threading.Event()
    watcher = threading.Thread(target=watch_store, args=(store, stop, seen, acks), daemon=True)
    watcher.start()
    try:
        steady_load(port, payloads, rate, send, acks)
        acked = acks.at
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
