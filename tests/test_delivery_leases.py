"""Delivery leases with two nodes on one database: a node that starts leaves another
node's rows alone, a dead node's rows are taken over once its lease ran out, a node
restarted under its own id resumes its rows at once, a slow round keeps its rows, and
the rows a full round claims ahead for the next one are kept and sent like its own.

Each node is a DeliveryWorker of its own App (its own engine and [gateway] node_id);
a node dies as a process would: its round is cancelled mid-sending, nothing recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from gateway.app import App
from gateway.app import build_app
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import InboundMail
from gateway.outbound import worker as worker_module
from gateway.outbound.deliveries import in_flight
from gateway.outbound.deliveries import shown_status
from gateway.outbound.worker import DeliveryWorker
from gateway.relay.envelope import Envelope
from gateway.relay.envelope import Reply
from gateway.relay.maildir import MaildirRelay
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Delivery
from gateway.store.models import DeliveryStatus
from gateway.store.models import Policy
from gateway.store.models import utcnow

MEMBERS = [f"member{n}@example.com" for n in range(5)]
LEASE_SECONDS = 60


class GatedRelay(MaildirRelay):
    """The Maildir relay, one envelope per recipient, that lets the first `accept`
    envelopes through and holds the others until `gate` is set: a relay that hangs."""

    def __init__(self, path: Path, domain: str, accept: int = 0) -> None:
        super().__init__(path, domain)
        self.accept = accept
        self.gate = asyncio.Event()
        self.arrived = 0
        self.sent: list[str] = []  # recipients whose copy the relay took

    @property
    def xverp(self) -> bool:
        return False

    async def send(self, envelope: Envelope) -> list[Reply]:
        self.arrived += 1
        if self.arrived > self.accept:
            await self.gate.wait()
        replies = await super().send(envelope)
        self.sent.extend(envelope.recipients)
        return replies


class Clock:
    """The time a node sees: now, plus an offset a test moves forward."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return utcnow() + self.offset


def node_settings(settings: Settings, node_id: str, connections: int = len(MEMBERS)) -> Settings:
    """A node's settings; by default with a relay connection per member, so that every
    copy can be in flight at once."""
    return dataclasses.replace(
        settings,
        gateway=dataclasses.replace(settings.gateway, node_id=node_id),
        relay=dataclasses.replace(settings.relay, connections=connections),
        delivery=dataclasses.replace(settings.delivery, lease_seconds=LEASE_SECONDS),
    )


@pytest.fixture
def nodes(settings: Settings) -> Iterator[tuple[App, App]]:
    """Two nodes on the test's database: node-a and node-b."""
    node_a = build_app(node_settings(settings, "node-a"))
    node_b = build_app(node_settings(settings, "node-b"))
    yield node_a, node_b
    node_a.close()
    node_b.close()


def post_to_members(app: App) -> None:
    domain = app.settings.gateway.domain
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", policy=Policy.OPEN)
        add_members(session, design, MEMBERS)
    raw = b"From: zoe@example.com\r\nSubject: Hi\r\nMessage-ID: <m1@x>\r\n\r\nHello\r\n"
    at = dt.datetime.now(dt.UTC)
    ingest_now(app, [InboundMail(raw, "zoe@example.com", (f"design@{domain}",), at)])


def claims(app: App) -> dict[str, tuple[DeliveryStatus, str | None]]:
    """Each row's status as shown ("sending" while claimed) and its node."""
    with transaction(app.read_sessions) as session:
        rows = session.execute(select(Delivery.recipient, Delivery.status, Delivery.claimed_by))
        return {recipient: (shown_status(status, node), node) for recipient, status, node in rows}


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def die(round_: asyncio.Task[int]) -> None:
    """Cancel a round mid-sending, as a SIGKILL stops a node: nothing more recorded."""
    round_.cancel()
    with pytest.raises(asyncio.CancelledError):
        await round_


def copies(*relays: GatedRelay) -> Counter[str]:
    return Counter(recipient for relay in relays for recipient in relay.sent)


def test_a_starting_node_leaves_the_rows_another_node_sends(
    nodes: tuple[App, App], tmp_path: Path
) -> None:
    node_a, node_b = nodes
    post_to_members(node_a)
    domain = node_a.settings.gateway.domain
    relay_a = GatedRelay(tmp_path / "outbox", domain)
    relay_b = GatedRelay(tmp_path / "outbox", domain, accept=len(MEMBERS))

    async def scenario() -> None:
        worker_a = DeliveryWorker(node_a, relay_a)
        await worker_a.start()
        round_a = asyncio.create_task(worker_a.deliver_round())
        await until(lambda: relay_a.arrived == len(MEMBERS), "node-a's envelopes")

        worker_b = DeliveryWorker(node_b, relay_b)
        await worker_b.start()
        assert claims(node_b) == dict.fromkeys(MEMBERS, (DeliveryStatus.SENDING, "node-a"))
        assert await worker_b.deliver_round() == 0

        relay_a.gate.set()
        assert await round_a == len(MEMBERS)
        await worker_a.close()
        await worker_b.close()

    asyncio.run(scenario())

    assert copies(relay_a, relay_b) == Counter(MEMBERS)
    assert claims(node_a) == dict.fromkeys(MEMBERS, (DeliveryStatus.SENT, None))


def test_a_dead_nodes_rows_are_taken_over_once_its_lease_ran_out(
    nodes: tuple[App, App], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """node-a sends two copies and records them, then dies holding three: node-b sends
    those three once the lease ran out, not before; each member got one copy."""
    monkeypatch.setattr(worker_module, "RECORD_EVERY", 0)  # record each reply at once
    node_a, node_b = nodes
    post_to_members(node_a)
    domain = node_a.settings.gateway.domain
    relay_a = GatedRelay(tmp_path / "outbox", domain, accept=2)
    relay_b = GatedRelay(tmp_path / "outbox", domain, accept=len(MEMBERS))
    clock_b = Clock()

    async def scenario() -> None:
        worker_b = DeliveryWorker(node_b, relay_b, clock=clock_b)
        await worker_b.start()
        worker_a = DeliveryWorker(node_a, relay_a)
        await worker_a.start()
        round_a = asyncio.create_task(worker_a.deliver_round())
        sent = (DeliveryStatus.SENT, None)
        await until(lambda: list(claims(node_a).values()).count(sent) == 2, "two recorded")
        await die(round_a)
        await worker_a.close()

        assert await worker_b.deliver_round() == 0  # node-a's lease still holds
        clock_b.offset = dt.timedelta(seconds=LEASE_SECONDS)
        assert await worker_b.deliver_round() == 3
        await worker_b.close()

    asyncio.run(scenario())

    assert len(relay_a.sent) == 2 and len(relay_b.sent) == 3
    assert copies(relay_a, relay_b) == Counter(MEMBERS)
    assert claims(node_b) == dict.fromkeys(MEMBERS, (DeliveryStatus.SENT, None))


def test_a_node_restarted_under_its_id_resumes_its_rows_at_once(
    nodes: tuple[App, App], tmp_path: Path
) -> None:
    node_a, _ = nodes
    post_to_members(node_a)
    domain = node_a.settings.gateway.domain
    relay_a = GatedRelay(tmp_path / "outbox", domain)
    relay_again = GatedRelay(tmp_path / "outbox", domain, accept=len(MEMBERS))

    async def scenario() -> None:
        worker_a = DeliveryWorker(node_a, relay_a)
        await worker_a.start()
        round_a = asyncio.create_task(worker_a.deliver_round())
        await until(lambda: relay_a.arrived == len(MEMBERS), "node-a's envelopes")
        await die(round_a)
        await worker_a.close()

        again = DeliveryWorker(node_a, relay_again)
        await again.start()
        assert claims(node_a) == dict.fromkeys(MEMBERS, (DeliveryStatus.PENDING, None))
        assert await again.deliver_round() == len(MEMBERS)
        await again.close()

    asyncio.run(scenario())

    assert copies(relay_a, relay_again) == Counter(MEMBERS)


def test_a_full_round_claims_the_next_ones_for_its_node_while_it_sends(
    nodes: tuple[App, App], tmp_path: Path
) -> None:
    """A full round claims the next round's rows as it starts; another node leaves them
    alone; the next round sends them, and a node stopping claims nothing ahead."""
    node_a, node_b = nodes
    post_to_members(node_a)
    domain = node_a.settings.gateway.domain
    relay_a = GatedRelay(tmp_path / "outbox", domain, accept=len(MEMBERS))
    relay_b = GatedRelay(tmp_path / "outbox", domain, accept=len(MEMBERS))
    sent, sending = (DeliveryStatus.SENT, None), (DeliveryStatus.SENDING, "node-a")

    def states() -> Counter[tuple[DeliveryStatus, str | None]]:
        return Counter(claims(node_a).values())

    async def scenario() -> None:
        worker_a = DeliveryWorker(node_a, relay_a, batch=2)
        worker_a.claims_ahead = True  # as on PostgreSQL, the default there
        await worker_a.start()
        assert await worker_a.deliver_round() == 2
        await until(lambda: states()[sending] == 2, "the rows claimed ahead")
        assert states() == {sent: 2, sending: 2, (DeliveryStatus.PENDING, None): 1}

        worker_b = DeliveryWorker(node_b, relay_b)
        await worker_b.start()
        assert await worker_b.deliver_round() == 1
        assert await worker_a.deliver_round(ahead=False) == 2
        assert states() == {sent: len(MEMBERS)}
        await worker_a.close()
        await worker_b.close()

    asyncio.run(scenario())

    assert copies(relay_a, relay_b) == Counter(MEMBERS)
    assert len(relay_b.sent) == 1


def test_only_postgresql_claims_ahead(nodes: tuple[App, App], tmp_path: Path) -> None:
    """SQLite's writers take turns on the whole database: a claim beside the records
    would only delay them."""
    node_a, _ = nodes
    worker = DeliveryWorker(node_a, GatedRelay(tmp_path / "outbox", "example.com"))
    assert worker.claims_ahead == (node_a.engine.dialect.name == "postgresql")


def test_a_slow_round_renews_its_lease_and_is_not_taken_over(
    nodes: tuple[App, App], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """node-a's relay hangs past the lease it took; its renewals keep its rows."""
    monkeypatch.setattr(worker_module, "LEASE_RENEWALS", LEASE_SECONDS * 20)  # every 50 ms
    node_a, node_b = nodes
    post_to_members(node_a)
    domain = node_a.settings.gateway.domain
    relay_a = GatedRelay(tmp_path / "outbox", domain)
    relay_b = GatedRelay(tmp_path / "outbox", domain, accept=len(MEMBERS))
    clock_a, clock_b = Clock(), Clock()

    def leases() -> set[dt.datetime | None]:
        with transaction(node_a.read_sessions) as session:
            return set(session.scalars(select(Delivery.lease_until)))

    async def scenario() -> None:
        worker_a = DeliveryWorker(node_a, relay_a, clock=clock_a)
        await worker_a.start()
        round_a = asyncio.create_task(worker_a.deliver_round())
        await until(lambda: relay_a.arrived == len(MEMBERS), "node-a's envelopes")
        [first] = leases()
        clock_a.offset = clock_b.offset = dt.timedelta(seconds=LEASE_SECONDS)
        renewed = first + dt.timedelta(seconds=LEASE_SECONDS)
        await until(lambda: all(at is not None and at >= renewed for at in leases()), "renewal")

        worker_b = DeliveryWorker(node_b, relay_b, clock=clock_b)
        await worker_b.start()
        assert await worker_b.deliver_round() == 0
        relay_a.gate.set()
        assert await round_a == len(MEMBERS)
        await worker_a.close()
        await worker_b.close()

    asyncio.run(scenario())

    assert copies(relay_a, relay_b) == Counter(MEMBERS)


def test_the_rows_claimed_ahead_are_renewed_with_the_slow_round(
    nodes: tuple[App, App], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """node-a's relay hangs past the lease; the rows it claimed ahead for its next round
    are renewed with the round's own, then sent by the rounds after."""
    monkeypatch.setattr(worker_module, "LEASE_RENEWALS", LEASE_SECONDS * 20)  # every 50 ms
    node_a, _ = nodes
    post_to_members(node_a)
    relay_a = GatedRelay(tmp_path / "outbox", node_a.settings.gateway.domain)
    clock = Clock()

    def held() -> list[dt.datetime]:
        with transaction(node_a.read_sessions) as session:
            return list(session.scalars(select(Delivery.lease_until).where(in_flight())))

    async def scenario() -> None:
        worker = DeliveryWorker(node_a, relay_a, batch=2, clock=clock)
        worker.claims_ahead = True  # as on PostgreSQL, the default there
        await worker.start()
        round_ = asyncio.create_task(worker.deliver_round())
        await until(lambda: len(held()) == 4, "the round's rows and those claimed ahead")
        renewed = max(held()) + dt.timedelta(seconds=LEASE_SECONDS)
        clock.offset = dt.timedelta(seconds=LEASE_SECONDS)
        await until(lambda: min(held()) >= renewed, "the renewal of all four")
        relay_a.gate.set()
        assert await round_ == 2
        assert [await worker.deliver_round(), await worker.deliver_round()] == [2, 1]
        await worker.close()

    asyncio.run(scenario())

    assert copies(relay_a) == Counter(MEMBERS)


class RecordWatchingRelay(GatedRelay):
    """Notes, as each envelope arrives, how many copies it took earlier whose outcome
    the store has not recorded yet."""

    def __init__(self, path: Path, app: App) -> None:
        super().__init__(path, app.settings.gateway.domain, accept=len(MEMBERS))
        self.app = app
        self.unrecorded: list[int] = []

    async def send(self, envelope: Envelope) -> list[Reply]:
        sent = DeliveryStatus.SENT
        with transaction(self.app.read_sessions) as session:
            recorded = session.scalar(select(func.count()).where(Delivery.status == sent))
        self.unrecorded.append(len(self.sent) - (recorded or 0))
        return await super().send(envelope)


PER_TRANSACTION = 2  # recipients: the five members' copies go in three transactions


@pytest.mark.parametrize("connections", [1, 2])
def test_a_connection_starts_a_transaction_only_once_its_last_one_is_recorded(
    settings: Settings, tmp_path: Path, connections: int
) -> None:
    """The crash window: at most one transaction per connection is sent and not recorded
    (docs/sending.md, "In flight"). When a transaction leaves, the copies that left
    before it and are not recorded yet are at most those of the other connections."""
    node = node_settings(settings, "node-a", connections=connections)
    shared = dataclasses.replace(
        node.delivery, envelope="shared", recipients_per_transaction=PER_TRANSACTION
    )
    app = build_app(dataclasses.replace(node, delivery=shared))
    try:
        post_to_members(app)
        relay = RecordWatchingRelay(tmp_path / "outbox", app)

        async def scenario() -> None:
            worker = DeliveryWorker(app, relay)
            await worker.start()
            assert await worker.deliver_round() == len(MEMBERS)
            await worker.close()

        asyncio.run(scenario())
    finally:
        app.close()
    assert copies(relay) == Counter(MEMBERS)
    assert len(relay.unrecorded) == 3
    assert max(relay.unrecorded) <= (connections - 1) * PER_TRANSACTION, relay.unrecorded
