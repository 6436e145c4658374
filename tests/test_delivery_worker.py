"""The delivery worker on its own: it sends due deliveries over a relay, asking the relay
for each content's payload once, whatever the number of envelopes."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import InboundMail
from gateway.outbound import worker as worker_module
from gateway.outbound.deliveries import Claimed
from gateway.outbound.deliveries import DeliveryResult
from gateway.outbound.deliveries import Outcome
from gateway.outbound.worker import DeliveryWorker
from gateway.relay.envelope import Envelope
from gateway.relay.envelope import Reply
from gateway.relay.maildir import MaildirRelay
from gateway.store.db import transaction
from gateway.store.models import Delivery
from gateway.store.models import DeliveryStatus
from gateway.store.models import Policy
from gateway.store.models import Visibility

DOMAIN = "lists.example.com"
MEMBERS = ["ann@example.com", "bob@example.com", "cat@example.com"]
BODY = b"first line\r\n.a line that starts with a dot\r\nlast line\r\n"


class CountingMaildir(MaildirRelay):
    """The Maildir relay, without XVERP (one envelope per recipient under VERP), noting
    each payload it makes and each envelope it is given."""

    def __init__(self, path: Path, domain: str) -> None:
        super().__init__(path, domain)
        self.payloads: list[bytes] = []
        self.envelopes: list[Envelope] = []

    @property
    def xverp(self) -> bool:
        return False

    def payload(self, message: bytes) -> bytes:
        made = super().payload(message)
        self.payloads.append(made)
        return made

    async def send(self, envelope: Envelope) -> list[Reply]:
        self.envelopes.append(envelope)
        return await super().send(envelope)


def deliver(app: App, relay: MaildirRelay) -> int:
    async def rounds() -> int:
        worker = DeliveryWorker(app, relay)
        await worker.start()
        try:
            return await worker.deliver_round()
        finally:
            await worker.close()

    return asyncio.run(rounds())


def test_one_payload_per_content_shared_by_its_envelopes(app: App, tmp_path: Path) -> None:
    domain = app.settings.gateway.domain
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", policy=Policy.OPEN)
        add_members(session, design, MEMBERS)
    raw = b"From: zoe@example.com\r\nSubject: Dots\r\nMessage-ID: <m1@x>\r\n\r\n" + BODY
    at = dt.datetime.now(dt.UTC)
    ingest_now(app, [InboundMail(raw, "zoe@example.com", (f"design@{domain}",), at)])
    relay = CountingMaildir(tmp_path / "outbox", domain)

    assert app.settings.delivery.envelope == "verp"
    assert deliver(app, relay) == len(MEMBERS)
    [payload] = relay.payloads
    assert sorted(list(e.recipients) for e in relay.envelopes) == [[m] for m in MEMBERS]
    assert all(e.payload is payload for e in relay.envelopes)
    # The Maildir relay got the message as it is: no dot-stuffing to undo.
    assert b"\n.a line that starts with a dot\n" in payload
    files = sorted((tmp_path / "outbox" / "new").iterdir())
    assert len(files) == len(MEMBERS)
    assert all(b"\n.a line that starts with a dot\n" in f.read_bytes() for f in files)
    with transaction(app.read_sessions) as session:
        statuses = session.scalars(select(Delivery.status)).all()
    assert statuses == [DeliveryStatus.SENT] * len(MEMBERS)


def test_a_copy_names_only_the_public_communities_a_post_was_also_sent_to(
    app: App, tmp_path: Path
) -> None:
    """The private address only in the envelope (a Bcc): design's members are told of ux,
    never of board, its name or its address; board's members are not told of it either."""
    domain = app.settings.gateway.domain
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", policy=Policy.OPEN)
        create_community(session, "ux", "UX", policy=Policy.OPEN)
        board = create_community(
            session, "board", "Board zanzibar", policy=Policy.OPEN, visibility=Visibility.PRIVATE
        )
        add_members(session, design, ["ann@example.com"])
        add_members(session, board, ["bob@example.com"])
    raw = (
        "Received: from mx.example.com by mta.example.com with ESMTP id 4Bc\r\n"
        f"\tfor <board@{domain}>; Sat, 05 Dec 2026 09:00:00 +0000\r\n"
        f"From: zoe@example.com\r\nTo: design@{domain}, ux@{domain}\r\n"
        "Subject: Budget\r\nMessage-ID: <m1@x>\r\n\r\n"
    ).encode() + BODY
    at = dt.datetime.now(dt.UTC)
    recipients = (f"design@{domain}", f"ux@{domain}", f"board@{domain}")
    ingest_now(app, [InboundMail(raw, "zoe@example.com", recipients, at)])
    relay = CountingMaildir(tmp_path / "outbox", domain)

    assert deliver(app, relay) == 2
    copies = {
        envelope.recipients[0]: envelope.payload.decode("utf-8", "replace")
        for envelope in relay.envelopes
    }
    ann, bob = copies["ann@example.com"], copies["bob@example.com"]
    assert f"ux@{domain}" in ann
    assert "zanzibar" not in ann and f"board@{domain}" not in ann
    assert "Received: from mx.example.com by mta.example.com with ESMTP id 4Bc; Sat, 05" in ann
    assert f"ux@{domain}" in bob and f"design@{domain}" in bob


def test_the_first_copies_leave_before_the_whole_round_is_rendered(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round renders its posts a chunk at a time and sends a chunk's envelopes while
    the next is rendered: the first posts of a long round do not wait for the last."""
    monkeypatch.setattr(worker_module, "POSTS_READ_AT_ONCE", 2)
    domain = app.settings.gateway.domain
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", policy=Policy.OPEN)
        add_members(session, design, ["ann@example.com"])
    at = dt.datetime.now(dt.UTC)
    posts = [
        f"From: zoe@example.com\r\nSubject: Post {n}\r\nMessage-ID: <p{n}@x>\r\n\r\n".encode()
        + BODY
        for n in range(6)
    ]
    ingest_now(
        app, [InboundMail(raw, "zoe@example.com", (f"design@{domain}",), at) for raw in posts]
    )
    events: list[str] = []

    class Noting(CountingMaildir):
        async def send(self, envelope: Envelope) -> list[Reply]:
            events.append("send")
            return await super().send(envelope)

    async def round_() -> int:
        worker = DeliveryWorker(app, Noting(tmp_path / "outbox", domain))
        render = worker.renderer.render
        worker.renderer.render = lambda *args: events.append("render") or render(*args)  # type: ignore[method-assign]
        await worker.start()
        try:
            return await worker.deliver_round()
        finally:
            await worker.close()

    assert asyncio.run(round_()) == len(posts)
    assert events.count("render") == events.count("send") == len(posts)
    last_render = len(events) - 1 - events[::-1].index("render")
    assert events.index("send") < last_render


def test_a_sender_whose_outcome_another_recorded_goes_on_without_waiting_for_later_ones(
    app: App, tmp_path: Path
) -> None:
    """The group commit: outcomes that come in while one record runs go together in the
    next, and each sender waits only for the record that holds its own. Before, a sender
    whose outcome an earlier turn had recorded still waited for its own turn of the lock
    and recorded what had come in since, so its connection idled through a record more:
    one transaction in flight at a time when recording was slower than sending."""
    worker = DeliveryWorker(app, CountingMaildir(tmp_path / "outbox", DOMAIN))
    calls: list[list[int]] = []
    gates = [threading.Event() for _ in range(3)]

    def record(outcomes: list[Outcome]) -> dict[DeliveryResult, int]:
        calls.append([o.delivery.id for o in outcomes])
        gates[len(calls) - 1].wait(5)
        return {DeliveryResult.SENT: len(outcomes)}

    worker._record_outcomes = record  # type: ignore[method-assign]

    def outcome(delivery_id: int) -> Outcome:
        at = dt.datetime.now(dt.UTC)
        return Outcome(Claimed(delivery_id, 1, 1, "ann@example.com", 0, at), 250, "ok")

    async def scenario() -> None:
        progress = worker_module._Progress()

        async def sent(delivery_id: int) -> asyncio.Task[None]:
            progress.outcomes.append(outcome(delivery_id))
            task = asyncio.create_task(worker._record_waiting(progress))
            await until(lambda: len(calls) >= 1)
            return task

        first = await sent(1)  # records [1], held at its gate
        second, third = await sent(2), await sent(3)  # wait for the next record
        gates[0].set()
        await until(lambda: len(calls) == 2)  # [2, 3], held
        fourth = await sent(4)
        gates[1].set()
        await until(lambda: len(calls) == 3)  # [4], held
        await asyncio.wait_for(asyncio.gather(first, second, third), 5)
        assert not fourth.done()
        gates[2].set()
        await asyncio.wait_for(fourth, 5)
        assert progress.recorded == {1, 2, 3, 4}
        assert progress.counts[DeliveryResult.SENT] == 4

    asyncio.run(scenario())
    assert calls == [[1], [2, 3], [4]]


async def until(check: Callable[[], bool]) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")
