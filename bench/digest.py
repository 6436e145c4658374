"""Benchmark of digests: a week of traffic in 50 communities, digests for 10,000 people.

The store is built through the gateway's API (SQLite, as shipped): P people, each
a daily member of 2 to 6 of C communities (and weekly in one more), then M posts
spread over the past week (a third start threads, the rest reply), ingested with
their received times. Then, for the daily and the weekly digest, it prints the
time of `run_digests` (gathering, building every digest, text and HTML, and
queueing it with its digest_runs row), digests/s, the peak memory of this
process during the run, and the time the delivery worker takes to hand all the
queued digests to a loopback SMTP sink (the minimal one of bench/fanout.py).

    python bench/digest.py [--people 10000] [--communities 50] [--messages 5000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import free_port  # noqa: E402
from ingest import memory_mb  # noqa: E402
from ingest import reset_peak_memory  # noqa: E402
from ingest import wait_for_port  # noqa: E402
from latency import SINK  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlalchemy import select  # noqa: E402

from gateway.app import App  # noqa: E402
from gateway.app import build_app  # noqa: E402
from gateway.app import init_store  # noqa: E402
from gateway.community.communities import create_community  # noqa: E402
from gateway.digests.runner import run_digests  # noqa: E402
from gateway.ingest.batch import ingest_now  # noqa: E402
from gateway.ingest.context import InboundMail  # noqa: E402
from gateway.relay.mta import MtaRelay  # noqa: E402
from gateway.runtime.outgoing import OutgoingLoop  # noqa: E402
from gateway.settings import settings_from_dict  # noqa: E402
from gateway.store.db import transaction  # noqa: E402
from gateway.store.models import Cadence  # noqa: E402
from gateway.store.models import Delivery  # noqa: E402
from gateway.store.models import DeliveryMode  # noqa: E402
from gateway.store.models import DeliveryStatus  # noqa: E402
from gateway.store.models import Membership  # noqa: E402
from gateway.store.models import Person  # noqa: E402
from gateway.store.models import PersonTag  # noqa: E402
from gateway.store.models import Policy  # noqa: E402
from gateway.store.models import TagKind  # noqa: E402
from gateway.store.sql import chunks  # noqa: E402

DOMAIN = "lists.example.com"
# Monday 23 Nov 2026, 07:30 in Paris: both the daily and the weekly digest are due.
RUN_AT = dt.datetime(2026, 11, 23, 6, 30, tzinfo=dt.UTC)
WORDS = (
    "budget",
    "pricing",
    "design",
    "release",
    "accessibility",
    "hiring",
    "security",
    "roadmap",
    "customer",
    "migration",
    "api",
    "onboarding",
    "metrics",
    "training",
)


def build_store(root: Path, people: int, communities: int, messages: int, sink_port: int) -> App:
    settings = settings_from_dict(
        {
            "gateway": {"domain": DOMAIN, "data_dir": "data"},
            "relay": {"backend": "smtp", "host": "127.0.0.1", "port": sink_port},
            "delivery": {"envelope": "shared"},
        },
        base_dir=root,
    )
    init_store(settings)
    app = build_app(settings)
    rng = random.Random(7)
    with transaction(app.sessions) as session:
        ids = [
            create_community(session, f"c{n}", f"Community {n}", policy=Policy.OPEN).id
            for n in range(communities)
        ]
        now = RUN_AT - dt.timedelta(days=30)
        session.execute(
            insert(Person),
            [
                {
                    "address": f"p{n}@example.com",
                    "name": f"Person {n}",
                    "department": "",
                    "bio": "",
                    "timezone": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(people)
            ],
        )
        person_ids = list(session.scalars(select(Person.id).order_by(Person.id)))
        rows, tags = [], []
        for person_id in person_ids:
            chosen = rng.sample(ids, rng.randint(3, 7))
            for position, community_id in enumerate(chosen):
                mode = DeliveryMode.WEEKLY if position == 0 else DeliveryMode.DAILY
                rows.append(
                    {
                        "person_id": person_id,
                        "community_id": community_id,
                        "role": "member",
                        "delivery": mode.value,
                        "own_posts": False,
                        "bounce_score": 0,
                        "joined_at": RUN_AT - dt.timedelta(days=rng.randint(0, 20)),
                    }
                )
            if rng.random() < 0.5:
                for position, word in enumerate(rng.sample(WORDS, 2)):
                    tags.append(
                        {
                            "person_id": person_id,
                            "kind": TagKind.EXPERTISE.value,
                            "tag": word,
                            "label": word,
                            "position": position,
                        }
                    )
        session.execute(insert(Membership), rows)
        if tags:
            session.execute(insert(PersonTag), tags)
    roots: list[tuple[str, str, int]] = []
    mails = []
    for n in range(messages):
        received = RUN_AT - dt.timedelta(days=7) + dt.timedelta(seconds=n * 7 * 86400 / messages)
        sender = f"p{rng.randrange(people)}@example.com"
        if roots and rng.random() < 0.66:
            parent, subject, community = rng.choice(roots[-200:])
            head = (
                f"Subject: Re: {subject}\r\nIn-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"
            )
        else:
            community = rng.randrange(communities)
            subject = f"About {rng.choice(WORDS)} {n}" + ("?" if rng.random() < 0.3 else "")
            head = f"Subject: {subject}\r\n"
            roots.append((f"d{n}@example.com", subject, community))
        raw = (
            f"From: {sender}\r\nMessage-ID: <d{n}@example.com>\r\n{head}\r\n"
            + f"A post of the week about {rng.choice(WORDS)}, number {n}.\r\n" * 6
            + "\r\nOn Monday, someone wrote:\r\n> quoted text that digests leave out\r\n"
        ).encode()
        mails.append(InboundMail(raw, sender, (f"c{community}@{DOMAIN}",), received))
    for batch in chunks(mails, 500):
        ingest_now(app, batch)
    return app


def deliver_all(app: App) -> float:
    """Seconds for a delivery worker to send every queued digest to the sink."""
    worker = OutgoingLoop(app, MtaRelay(app.settings.relay, DOMAIN))
    began = time.perf_counter()
    worker.start()
    try:
        while True:
            with transaction(app.read_sessions) as session:
                left = session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.status != DeliveryStatus.SENT)
                )
            if not left:
                return time.perf_counter() - began
            time.sleep(0.05)
    finally:
        worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--communities", type=int, default=50)
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--cadences", default="daily,weekly")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="digest-") as folder:
        root = Path(folder)
        sink_port = free_port()
        status = root / "sink.status"
        with (root / "sink.log").open("wb") as log:
            sink = subprocess.Popen(
                [sys.executable, str(SINK), str(sink_port), str(status)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_port(sink, sink_port, root / "sink.log")
            began = time.perf_counter()
            app = build_store(
                root, options.people, options.communities, options.messages, sink_port
            )
            print(
                f"store: {options.people:,} people, {options.communities} communities,"
                f" {options.messages:,} posts in a week, built in"
                f" {time.perf_counter() - began:.1f} s"
            )
            for cadence in (Cadence(c) for c in options.cadences.split(",")):
                before = memory_mb(os.getpid(), "VmRSS")
                reset_peak_memory(os.getpid())
                began = time.perf_counter()
                report = run_digests(app, cadence, RUN_AT)
                elapsed = time.perf_counter() - began
                queued = report.count("queued")
                peak = memory_mb(os.getpid(), "VmHWM")
                sent = deliver_all(app)
                print(
                    f"{cadence.value:<7} {queued:>6,} digests built and queued in"
                    f" {elapsed:5.1f} s: {queued / elapsed:6,.0f} digests/s"
                    f" (empty: {report.count('empty')}), peak {peak:.0f} MB (from {before:.0f});"
                    f" handed to the relay in {sent:.1f} s"
                )
            app.close()
        finally:
            sink.terminate()
            sink.wait()


if __name__ == "__main__":
    main()
