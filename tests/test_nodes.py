"""The node registry and `gateway status`, and a node's drain: a real `serve` registers
itself, beats, holds the scheduler, and at a stop finishes its round, gives back what
it still holds and is recorded stopped."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.runtime.nodes import BEAT_SECONDS
from gateway.runtime.nodes import beat
from gateway.runtime.nodes import register
from gateway.runtime.nodes import set_state
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.leases import Lease
from gateway.store.models import ActionKind
from gateway.store.models import ActionMail
from gateway.store.models import Delivery
from gateway.store.models import DeliveryStatus
from gateway.store.models import InboxMail
from gateway.store.models import Node
from gateway.store.models import NodeState
from gateway.store.models import Policy
from gateway.store.models import utcnow
from gateway.store.singletons import SCHEDULER
from gateway.store.singletons import hold
from gateway.store.singletons import holder
from tests.conftest import GatewayCli
from tests.conftest import running
from tests.conftest import wait_for
from tests.factories import ingest
from tests.factories import raw_post
from tests.postgres import free_port
from tests.sink import RecordingController
from tests.sink import Sink

MEMBERS = 30


def test_a_node_registers_beats_and_changes_state(app: App) -> None:
    start = dt.datetime(2026, 12, 5, 13, 0, tzinfo=dt.UTC)
    with transaction(app.sessions) as session:
        register(session, "node-a", start)
        assert beat(session, "node-a", start + dt.timedelta(seconds=5))
        assert not beat(session, "node-b", start)  # never registered
        set_state(session, "node-a", NodeState.DRAINING, start + dt.timedelta(seconds=6))
    with transaction(app.sessions) as session:
        node = session.get(Node, "node-a")
        assert node is not None
        assert (node.state, node.started_at, node.seen_at) == (
            NodeState.DRAINING,
            start,
            start + dt.timedelta(seconds=6),
        )
        register(session, "node-a", start + dt.timedelta(hours=1))  # a restart
    with transaction(app.read_sessions) as session:
        node = session.get(Node, "node-a")
        assert node is not None and node.state is NodeState.RUNNING
        assert node.started_at == start + dt.timedelta(hours=1)


def _delivery(session: Session, status: DeliveryStatus, **values: object) -> None:
    now = utcnow()
    values.setdefault("next_attempt_at", now)
    session.add(
        Delivery(recipient="x@example.com", kind="notice", status=status, created_at=now, **values)
    )


@pytest.fixture
def two_nodes(app: App) -> App:
    """node-a alive and holding the scheduler; node-b silent for ten minutes; queues with
    a bit of everything."""
    now = utcnow()
    later = now + dt.timedelta(minutes=5)
    with transaction(app.sessions) as session:
        register(session, "node-a", now - dt.timedelta(hours=2))
        beat(session, "node-a", now)
        register(session, "node-b", now - dt.timedelta(hours=3))
        beat(session, "node-b", now - dt.timedelta(minutes=10))
        assert hold(session, SCHEDULER, Lease("node-a", 300), now)
        for _ in range(2):
            _delivery(session, DeliveryStatus.PENDING)
        _delivery(session, DeliveryStatus.PENDING, next_attempt_at=later)
        _delivery(session, DeliveryStatus.PENDING, claimed_by="node-a", lease_until=later)
        for _ in range(2):
            _delivery(session, DeliveryStatus.PENDING, claimed_by="node-b", lease_until=now)
        _delivery(session, DeliveryStatus.FAILED)
        for number, (action, handled) in enumerate(
            ((ActionKind.HELP, None), (ActionKind.BOUNCES, None), (ActionKind.BOUNCES, now))
        ):
            session.add(
                ActionMail(
                    recipient="help@x",
                    action=action,
                    message_id=f"{number}@x",
                    raw_sha256="0",
                    handled_at=handled,
                )
            )
    with Session(app.spool_engine) as spool, spool.begin():
        spool.add(InboxMail(raw=b"x", recipients=["design@lists.example.com"]))
    return app


def test_status_shows_the_nodes_the_singletons_and_the_queues(
    two_nodes: App, gateway_cli: GatewayCli
) -> None:
    report = gateway_cli.json("status")
    assert [(n["node_id"], n["state"], n["alive"]) for n in report["nodes"]] == [
        ("node-a", "running", True),
        ("node-b", "running", False),  # no heartbeat for ten minutes: it died
    ]
    assert [(s["name"], s["node_id"]) for s in report["singletons"]] == [
        ("archive", None),
        ("scheduler", "node-a"),
    ]
    assert report["inbox"] == {"waiting": 1, "claimed": 0}
    assert report["deliveries"] == {
        "pending": 2,
        "deferred": 1,
        "sending": {"node-a": 1, "node-b": 2},
        "failed": 1,
    }
    assert (report["action_mail"], report["bounces"]) == (1, 1)

    text = gateway_cli("status").stdout
    lines = text.splitlines()
    assert max(map(len, lines)) <= 80, text
    [a] = [line for line in lines if line.startswith("node-a ")]
    assert a.split()[2:4] == ["running", "yes"] and a.endswith(" s ago")
    [b] = [line for line in lines if line.startswith("node-b ")]
    assert b.split()[2:4] == ["running", "no"] and b.endswith("10 min ago")
    assert any(line.split()[:2] == ["scheduler", "node-a"] for line in lines)
    assert any(line.split() == ["archive", "-", "-", "-"] for line in lines)
    assert "deliveries:  2 pending, 1 deferred, 3 sending (node-a 1, node-b 2), 1 failed" in lines
    assert "action mail: 1 unhandled" in lines and "bounces:     1 unhandled" in lines


def test_status_of_a_database_no_node_ran_on(gateway_cli: GatewayCli) -> None:
    text = gateway_cli("status").stdout
    assert "No node has run `gateway serve` on this database yet." in text
    assert "deliveries:  0 pending, 0 deferred, 0 sending, 0 failed" in text


@pytest.fixture
def slow_sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink(data_delay=0.1)
    port = free_port()
    controller = RecordingController(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def test_a_stopping_node_finishes_its_round_gives_back_its_claims_and_is_stopped(
    app: App, settings: Settings, slow_sink: tuple[Sink, int]
) -> None:
    sink, port = slow_sink
    node = dataclasses.replace(
        settings,
        gateway=dataclasses.replace(settings.gateway, node_id="node-a"),
        relay=dataclasses.replace(
            settings.relay, backend="smtp", host="127.0.0.1", port=port, connections=2
        ),
        delivery=dataclasses.replace(settings.delivery, envelope="verp"),  # a DATA per copy
    )
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", policy=Policy.OPEN)
        add_members(session, design, [f"m{n}@example.com" for n in range(MEMBERS)])

    def holder_now() -> str | None:
        with transaction(app.read_sessions) as session:
            held = holder(session, SCHEDULER, utcnow())
        return held[0] if held else None

    def node_row() -> Node | None:
        with transaction(app.read_sessions) as session:
            return session.get(Node, "node-a")

    with running(node):
        row = node_row()
        assert row is not None and row.state is NodeState.RUNNING
        wait_for(lambda: holder_now() == "node-a", what="the scheduler taken")
        first_seen = row.seen_at
        wait_for(
            lambda: (r := node_row()) is not None and r.seen_at > first_seen,
            timeout=BEAT_SECONDS * 3,
            what="a heartbeat",
        )
        # Left sending by this node's delivery process had it died mid-round, and a
        # live claim of another node: the first is given back at the stop, not the second.
        later = utcnow() + dt.timedelta(minutes=5)
        with transaction(app.sessions) as session:
            _delivery(session, DeliveryStatus.PENDING, claimed_by="node-a", lease_until=later)
            _delivery(session, DeliveryStatus.PENDING, claimed_by="node-b", lease_until=later)
        ingest(app, raw_post("Drain me", "A fan-out to stop in the middle of.\n"))
        wait_for(lambda: len(sink.received) >= 3, what="the fan-out under way")
    # The round in hand was finished: every copy claimed was sent and recorded.
    with transaction(app.read_sessions) as session:
        rows = list(session.scalars(select(Delivery).order_by(Delivery.id)))
    copies = [d for d in rows if d.kind == "post"]
    sent = [d for d in copies if d.status is DeliveryStatus.SENT]
    assert len(sent) == len(sink.received) >= 3
    assert {(d.status, d.claimed_by) for d in copies} <= {
        (DeliveryStatus.SENT, None),
        (DeliveryStatus.PENDING, None),
    }
    [mine, theirs] = [d for d in rows if d.kind == "notice"]
    assert (mine.status, mine.claimed_by, mine.lease_until) == (DeliveryStatus.PENDING, None, None)
    assert (theirs.status, theirs.claimed_by) == (DeliveryStatus.PENDING, "node-b")
    assert holder_now() is None  # the scheduler is free for another node at once
    row = node_row()
    assert row is not None and row.state is NodeState.STOPPED
