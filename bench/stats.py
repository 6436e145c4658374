"""Benchmark of `gateway stats --json` on 100,000 messages, 10,000 people, 200 communities.

The store is built through the store's models with bulk Core inserts (SQLite, as
shipped), since going through ingest would take minutes: P people (half with a
department and tags), each a member of 2 to 8 of C communities (various delivery
modes), then M messages over the past year, a third starting threads (a third of
those questions) and the rest replying, one in ten cross-posted, one in five
imported, and a delivery row for one post in ten. Then it runs the whole `gateway
stats --json` command (start-up included) twice, over the default window and over
the whole year, and prints the time and the peak memory of each.

    python bench/stats.py [--messages 100000] [--people 10000] [--communities 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import timed_gateway  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlalchemy import select  # noqa: E402

from gateway.app import build_app  # noqa: E402
from gateway.app import init_store  # noqa: E402
from gateway.settings import settings_from_dict  # noqa: E402
from gateway.store.db import transaction  # noqa: E402
from gateway.store.models import Community  # noqa: E402
from gateway.store.models import Delivery  # noqa: E402
from gateway.store.models import Membership  # noqa: E402
from gateway.store.models import Message  # noqa: E402
from gateway.store.models import MessageCommunity  # noqa: E402
from gateway.store.models import Person  # noqa: E402
from gateway.store.models import PersonTag  # noqa: E402
from gateway.store.models import Thread  # noqa: E402
from gateway.store.sql import chunks  # noqa: E402

DOMAIN = "lists.example.com"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
YEAR = dt.timedelta(days=365)
WORDS = (
    "budget", "pricing", "design", "release", "accessibility", "hiring", "security",
    "roadmap", "customer", "migration", "api", "onboarding", "metrics", "training",
)  # fmt: skip
DEPARTMENTS = ("Sales", "IT", "Finance", "Design", "HR", "Legal", "Support", "Marketing")
MODES = ("instant", "instant", "daily", "weekly", "none")
CHUNK = 20_000


def _bulk(session: object, model: type, rows: list[dict[str, object]]) -> None:
    for chunk in chunks(rows, CHUNK):
        session.execute(insert(model), chunk)  # type: ignore[attr-defined]


def build_store(root: Path, people: int, communities: int, messages: int) -> Path:
    (root / "gateway.toml").write_text(f'[gateway]\ndomain = "{DOMAIN}"\ndata_dir = "data"\n')
    settings = settings_from_dict({"gateway": {"domain": DOMAIN, "data_dir": "data"}}, root)
    init_store(settings)
    app = build_app(settings)
    rng = random.Random(9)
    start = NOW - YEAR
    with transaction(app.sessions) as session:
        _bulk(session, Community, [
            {"slug": f"c{n}", "name": f"Community {n}", "description": rng.choice(WORDS),
             "kind": "project", "visibility": "public" if n % 5 else "private",
             "policy": "open", "subject_prefix": "", "reply_to": "community",
             "default_delivery": "instant", "created_at": start}
            for n in range(communities)
        ])  # fmt: skip
        community_ids = list(session.scalars(select(Community.id).order_by(Community.id)))
        _bulk(session, Person, [
            {"address": f"p{n}@example.com", "name": f"Person {n}" if n % 2 else "",
             "department": rng.choice(DEPARTMENTS) if n % 3 else "", "bio": "",
             "timezone": "", "created_at": start, "updated_at": start}
            for n in range(people)
        ])  # fmt: skip
        person_ids = list(session.scalars(select(Person.id).order_by(Person.id)))
        memberships, tags = [], []
        for person_id in person_ids:
            for community_id in rng.sample(community_ids, rng.randint(2, 8)):
                memberships.append({
                    "person_id": person_id, "community_id": community_id, "role": "member",
                    "delivery": rng.choice(MODES), "own_posts": False,
                    "bounce_score": 0, "joined_at": start + rng.random() * YEAR,
                })  # fmt: skip
            if rng.random() < 0.5:
                for position, word in enumerate(rng.sample(WORDS, 2)):
                    tags.append({"person_id": person_id, "kind": "expertise", "tag": word,
                                 "label": word, "position": position})  # fmt: skip
        _bulk(session, Membership, memberships)
        _bulk(session, PersonTag, tags)
        # Threads first (their ids are known: 1..T), then messages in time order.
        plan: list[tuple[int, int | None, int]] = []  # (thread number, parent index, community)
        roots: list[tuple[int, int, int]] = []  # (thread number, message index, community)
        for n in range(messages):
            if roots and rng.random() < 0.66:
                thread, parent, community = rng.choice(roots[-300:])
                plan.append((thread, parent, community))
            else:
                roots.append((len(roots), n, rng.randrange(communities)))
                plan.append((roots[-1][0], None, roots[-1][2]))
        _bulk(session, Thread, [
            {"subject": f"About {WORDS[t % len(WORDS)]} {t}", "created_at": start,
             "last_activity_at": start, "message_count": 0}
            for t in range(len(roots))
        ])  # fmt: skip
        thread_ids = list(session.scalars(select(Thread.id).order_by(Thread.id)))
        first_message = session.scalar(select(Message.id).order_by(Message.id.desc())) or 0
        rows, links, deliveries = [], [], []
        for n, (thread, parent, community) in enumerate(plan):
            received = start + n * YEAR / messages
            question = parent is None and thread % 3 == 0
            sender = rng.choice(person_ids)
            rows.append({
                "id": first_message + n + 1, "message_id": f"m{n}@example.com",
                "thread_id": thread_ids[thread],
                "parent_id": None if parent is None else first_message + parent + 1,
                "sender_id": sender, "sender_address": f"p{sender}@example.com",
                "sender_name": "", "subject": f"About {WORDS[thread % len(WORDS)]}"
                + ("?" if question else ""), "date": received, "received_at": received,
                "in_reply_to": "", "references": "", "thread_index": "", "conversation": "",
                "body_text": f"A post about {rng.choice(WORDS)}, number {n}.\n" * 4,
                "body_html": "", "raw_sha256": hashlib.sha256(str(n).encode()).hexdigest(),
                "raw_size": 400, "status": "published",
                "origin": "import" if n < messages // 5 else "smtp", "flags": [],
            })  # fmt: skip
            links.append(
                {"message_id": first_message + n + 1, "community_id": community_ids[community]}
            )
            if rng.random() < 0.1:
                other = community_ids[rng.randrange(communities)]
                if other != community_ids[community]:
                    links.append({"message_id": first_message + n + 1, "community_id": other})
            if n % 10 == 0:
                deliveries.append({
                    "message_id": first_message + n + 1, "community_id": community_ids[community],
                    "person_id": rng.choice(person_ids), "recipient": "x@example.com",
                    "kind": "post", "status": "failed" if rng.random() < 0.02 else "sent",
                    "attempts": 1, "next_attempt_at": received, "last_error": "",
                    "created_at": received, "sent_at": received,
                })  # fmt: skip
        _bulk(session, Message, rows)
        _bulk(session, MessageCommunity, links)
        _bulk(session, Delivery, deliveries)
    app.close()
    return root / "gateway.toml"


def timed_stats(root: Path, config: Path, *args: str) -> tuple[float, float, dict[str, object]]:
    """Seconds, peak memory (MB) and output of one whole `gateway stats --json`."""
    seconds, peak, output = timed_gateway(root, config, "stats", "--json", *args)
    return seconds, peak, json.loads(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--communities", type=int, default=200)
    parser.add_argument("--build-into", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.build_into:
        build_store(options.build_into, options.people, options.communities, options.messages)
        return
    with tempfile.TemporaryDirectory(prefix="stats-bench-") as folder:
        root = Path(folder)
        began = time.perf_counter()
        # In a process of its own: a child forked from this one would otherwise
        # report this process's memory as its own peak.
        subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--build-into", str(root)], check=True
        )
        config = root / "gateway.toml"
        print(
            f"store: {options.messages:,} messages, {options.people:,} people, "
            f"{options.communities} communities, built in {time.perf_counter() - began:.1f} s"
        )
        for label, args in (
            ("gateway stats --json (last 90 days)", ()),
            ("gateway stats --json --since (a year)", ("--since", (NOW - YEAR).date().isoformat())),
        ):
            seconds, peak, data = timed_stats(root, config, *args)
            overall = data["overall"]
            assert isinstance(overall, dict)
            print(
                f"{label:<40} {seconds:5.2f} s  peak {peak:4.0f} MB  "
                f"({overall['posts']:,} posts, {overall['threads']:,} threads, "
                f"{overall['members']:,} members)"
            )


if __name__ == "__main__":
    main()
