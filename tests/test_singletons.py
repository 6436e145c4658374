"""Singletons: one node at a time holds the digest scheduler and the archive builder.

Taken and renewed atomically, taken over once the holder's lease ran out, given back
at a stop; two schedulers on one database fire once, two publishers build once, and
`gateway archive build` refuses to build beside a node's publisher.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select

from archive.publisher import ArchivePublisher
from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.digests.periods import latest_due
from gateway.runtime.scheduler import CHECK_EVERY_SECONDS
from gateway.runtime.scheduler import DigestScheduler
from gateway.runtime.singleton import SingletonLease
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.leases import Lease
from gateway.store.models import Cadence
from gateway.store.models import DeliveryMode
from gateway.store.models import DigestRun
from gateway.store.models import Policy
from gateway.store.models import utcnow
from gateway.store.singletons import ARCHIVE
from gateway.store.singletons import SCHEDULER
from gateway.store.singletons import hold
from gateway.store.singletons import holder
from gateway.store.singletons import release
from gateway.store.singletons import release_all
from tests.conftest import GatewayCli
from tests.conftest import wait_for
from tests.factories import ingest
from tests.factories import raw_post

NOW = dt.datetime(2026, 12, 5, 13, 0, tzinfo=dt.UTC)
A = Lease("node-a", 60)
B = Lease("node-b", 60)


def as_node(app: App, node_id: str, **archive: object) -> App:
    """The same database and data folder, seen by another node."""
    settings = app.settings
    return dataclasses.replace(
        app,
        settings=dataclasses.replace(
            settings,
            gateway=dataclasses.replace(settings.gateway, node_id=node_id),
            archive=dataclasses.replace(settings.archive, **archive),
        ),
    )


def take(app: App, name: str, lease: Lease, now: dt.datetime) -> bool:
    with transaction(app.sessions) as session:
        return hold(session, name, lease, now)


def test_a_singleton_is_held_renewed_taken_over_after_its_lease_and_released(app: App) -> None:
    assert take(app, SCHEDULER, A, NOW)
    assert not take(app, SCHEDULER, B, NOW + dt.timedelta(seconds=30))  # A's lease holds
    assert take(app, SCHEDULER, A, NOW + dt.timedelta(seconds=50))  # renewed: until +110 s
    assert not take(app, SCHEDULER, B, NOW + dt.timedelta(seconds=100))
    assert take(app, ARCHIVE, B, NOW + dt.timedelta(seconds=100))  # another name is free
    with transaction(app.read_sessions) as session:
        assert holder(session, SCHEDULER, NOW + dt.timedelta(seconds=100)) == (
            "node-a",
            NOW + dt.timedelta(seconds=110),
        )
        assert holder(session, SCHEDULER, NOW + dt.timedelta(seconds=110)) is None
    # A died: its lease ran out, and B takes the scheduler over.
    assert take(app, SCHEDULER, B, NOW + dt.timedelta(seconds=111))
    assert not take(app, SCHEDULER, A, NOW + dt.timedelta(seconds=112))
    with transaction(app.sessions) as session:
        assert not release(session, SCHEDULER, "node-a")  # not A's to give back
        assert release(session, SCHEDULER, "node-b")
    # Released: A takes it at once, long before B's lease would have ended.
    assert take(app, SCHEDULER, A, NOW + dt.timedelta(seconds=113))
    with transaction(app.sessions) as session:
        assert release_all(session, "node-b") == 1  # the archive
        assert holder(session, ARCHIVE, NOW + dt.timedelta(seconds=114)) is None
        assert holder(session, SCHEDULER, NOW + dt.timedelta(seconds=114))[0] == "node-a"  # type: ignore[index]


def test_of_nodes_asking_at_once_exactly_one_gets_the_singleton(app: App) -> None:
    start = threading.Barrier(6)
    held: dict[str, bool] = {}

    def ask(node: str) -> None:
        start.wait()
        held[node] = take(app, SCHEDULER, Lease(node, 60), utcnow())

    askers = [threading.Thread(target=ask, args=(f"node-{n}",)) for n in range(6)]
    for thread in askers:
        thread.start()
    for thread in askers:
        thread.join(30)
    assert sorted(held.values()) == [False] * 5 + [True]


def due_digest(app: App, settings: Settings) -> None:
    """Dana's daily digest is due, with one post in it."""
    due = latest_due(Cadence.DAILY, utcnow(), "", settings.digests)
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", policy=Policy.OPEN)
        add_members(session, design, ["dana@example.com"], delivery=DeliveryMode.DAILY)
    raw = raw_post("Palette for 2027", "The blues we discussed.\n", message_id="p1@example.com")
    ingest(app, raw, at=due.at - dt.timedelta(hours=1))


def digest_runs(app: App) -> int:
    with transaction(app.read_sessions) as session:
        return session.scalar(select(func.count()).select_from(DigestRun)) or 0


def test_of_two_schedulers_only_the_one_holding_the_singleton_fires(
    app: App, settings: Settings
) -> None:
    due_digest(app, settings)
    first = DigestScheduler(as_node(app, "node-a"), queued=lambda: None)
    second = DigestScheduler(as_node(app, "node-b"), queued=lambda: None)
    assert take(app, SCHEDULER, Lease("node-a", 300), utcnow())

    second.run_due()
    assert digest_runs(app) == 0  # node-b holds nothing, so it ran nothing
    first.run_due()
    assert digest_runs(app) == 1
    first.stop()  # a stop gives the scheduler back: node-b takes it at once
    with transaction(app.read_sessions) as session:
        assert holder(session, SCHEDULER, utcnow()) is None
    second.run_due()
    assert second.singleton.held
    with transaction(app.read_sessions) as session:
        assert holder(session, SCHEDULER, utcnow())[0] == "node-b"  # type: ignore[index]


def test_of_two_publishers_one_builds_and_the_other_takes_over_when_it_stops(
    app: App, tmp_path: Path
) -> None:
    # Each its own folder here, only to see which one built (nodes share one).
    sites = {node: tmp_path / node for node in ("node-a", "node-b")}
    with transaction(app.sessions) as session:
        create_community(session, "design", "Design", policy=Policy.OPEN)
    first, second = (
        ArchivePublisher(as_node(app, node, out_dir=sites[node], rebuild_delay=1, search=False))
        for node in sites
    )
    first.start()
    try:
        wait_for(lambda: (sites["node-a"] / "index.html").exists(), what="node-a's build")
        second.start()
        time.sleep(2.5)  # two turns of node-b's loop: it asked, and left the build to node-a
        assert not (sites["node-b"] / "index.html").exists()
        first.stop(timeout=30)
        wait_for(lambda: (sites["node-b"] / "index.html").exists(), what="node-b's take-over")
    finally:
        first.stop(timeout=30)
        second.stop(timeout=30)
    assert not first.singleton.held and not second.singleton.held  # both gave it back


def test_the_build_command_refuses_to_build_beside_a_node(
    app: App, gateway_cli: GatewayCli
) -> None:
    assert take(app, ARCHIVE, Lease("node-a", 300), utcnow())
    message = gateway_cli.error("archive", "build", "--no-search")
    assert "being built by node node-a" in message and "--wait" in message
    with transaction(app.sessions) as session:
        release(session, ARCHIVE, "node-a")
    report = gateway_cli.json("archive", "build", "--no-search")
    assert report["written"] > 0
    with transaction(app.read_sessions) as session:
        assert holder(session, ARCHIVE, utcnow()) is None  # the command gave it back


def test_the_build_command_with_wait_builds_once_the_node_is_done(
    app: App, gateway_cli: GatewayCli
) -> None:
    node = "node-a"
    assert take(app, ARCHIVE, Lease(node, 300), utcnow())

    def done() -> None:
        with transaction(app.sessions) as session:
            release(session, ARCHIVE, node)

    timer = threading.Timer(1.0, done)
    timer.start()
    try:
        report = gateway_cli.json("archive", "build", "--no-search", "--wait")
    finally:
        timer.cancel()
    assert report["written"] > 0


def test_a_long_turn_keeps_its_singleton_renewed(app: App) -> None:
    singleton = SingletonLease(app.sessions, ARCHIVE, Lease("node-a", 1))  # renewed every 1/3 s
    assert singleton.take()
    with transaction(app.read_sessions) as session:
        [_, first_until] = holder(session, ARCHIVE, utcnow()) or ("", NOW)
    with singleton.kept():
        time.sleep(1.5)  # longer than the lease: only the renewals keep it
        with transaction(app.read_sessions) as session:
            held = holder(session, ARCHIVE, utcnow())
    assert (
        held is not None
        and held[0] == "node-a"
        and held[1] > first_until + dt.timedelta(seconds=0.9)
    )
    assert not take(app, ARCHIVE, B, utcnow())


def test_a_singleton_taken_once_a_turn_outlasts_the_time_between_two_turns(app: App) -> None:
    """With the shortest lease_seconds (30), the scheduler's lease still spans several of
    its one-minute checks, so a live holder's singleton never lapses to another node."""
    short = dataclasses.replace(
        app.settings, delivery=dataclasses.replace(app.settings.delivery, lease_seconds=30)
    )
    scheduler = DigestScheduler(dataclasses.replace(app, settings=short), queued=lambda: None)
    assert scheduler.singleton.lease.seconds >= 3 * CHECK_EVERY_SECONDS
    publisher = ArchivePublisher(
        as_node(dataclasses.replace(app, settings=short), "n", rebuild_delay=5)
    )
    assert publisher.singleton.lease.seconds == 30
