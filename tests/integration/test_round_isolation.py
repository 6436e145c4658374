"""One bad item never stalls a worker round: a post nested 1,000 multiparts deep (67 KB)
fails its own deliveries, and every other copy claimed in the same round is sent.

All of it goes through a real gateway: the mails are taken in while the company
MTA is down, so that the next round claims them together, as in the attack test
where 4,133 copies were stranded "sending", moderation notices among them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import update

from gateway.app import App
from gateway.outbound import body
from gateway.outbound import render
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Delivery
from gateway.store.models import DeliveryStatus
from gateway.store.models import Message
from gateway.store.models import utcnow
from tests.conftest import running
from tests.conftest import wait_for
from tests.factories import post
from tests.integration.test_mail_out import DOMAIN
from tests.integration.test_mail_out import deliveries
from tests.integration.test_mail_out import relayed
from tests.integration.test_mail_out import seeded  # noqa: F401 (a fixture)
from tests.postgres import free_port
from tests.sink import Sink

DEEP_ID = "deep@example.com"


def nested_post(depth: int) -> bytes:
    """A post whose text sits `depth` multipart/mixed levels down."""
    head = (
        "From: Alice <alice@example.com>\r\n"
        f"To: design@{DOMAIN}\r\n"
        "Subject: Deep\r\n"
        f"Message-ID: <{DEEP_ID}>\r\n"
        "MIME-Version: 1.0\r\n"
    ).encode()
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
        for n in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % n for n in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nHello from the bottom.\r\n" + closing


def through(settings: Settings, port: int) -> Settings:
    """Sending to `port`; a copy refused for a while is tried again in an hour only."""
    relay = relayed(settings, port)
    return dataclasses.replace(
        relay, delivery=dataclasses.replace(relay.delivery, retry_wait_seconds=3600)
    )


def round_with_a_deep_post(app: App, settings: Settings, sink: tuple[Sink, int]) -> int:
    """Take in three posts (the second nested 1,000 deep) and a non-member's post while
    the MTA is down, then run a gateway that claims all 8 copies in its first round,
    one of them left "sending" as a crash would leave it. Returns the deep post's id."""
    handler, port = sink
    deep = nested_post(1000)
    assert len(deep) > 60_000
    with running(through(settings, free_port())) as server:
        assert server.send(post("First").as_bytes(), [f"design@{DOMAIN}"]).startswith("250")
        assert server.send(deep, [f"design@{DOMAIN}"]).startswith("250")
        second = post("Second", message_id="m2@example.com")
        assert server.send(second.as_bytes(), [f"design@{DOMAIN}"]).startswith("250")
        # A non-member's post is held: the owner gets a moderation notice.
        held = post("Outside", message_id="m3@example.com", sender="mallory@example.net")
        reply = server.send(held.as_bytes(), [f"design@{DOMAIN}"], "mallory@example.net")
        assert reply.startswith("250")
    rows = deliveries(app)
    assert len(rows) == 8  # 3 posts to bob and carol, the held notices to alice and mallory
    assert "action_held" in {r.kind for r in rows}
    now = utcnow() - dt.timedelta(seconds=1)
    with transaction(app.sessions) as session:
        session.execute(update(Delivery).values(status=DeliveryStatus.PENDING, next_attempt_at=now))
        # Claimed by this node's run that crashed, its lease still running.
        claim = {"claimed_by": settings.node_id, "lease_until": now + dt.timedelta(minutes=5)}
        session.execute(update(Delivery).where(Delivery.id == rows[-1].id).values(**claim))
        deep_id = session.scalar(select(Message.id).where(Message.message_id == DEEP_ID))
    with running(through(settings, port)):
        wait_for(
            lambda: all(r.claimed_by is None for r in deliveries(app)),
            what="no copy left sending",
        )
    assert deep_id is not None
    return deep_id


def test_a_deeply_nested_post_goes_as_it_came_with_the_rest_of_its_round(
    seeded: App,  # noqa: F811
    settings: Settings,
    sink: tuple[Sink, int],
) -> None:
    round_with_a_deep_post(seeded, settings, sink)
    assert {r.status for r in deliveries(seeded)} == {DeliveryStatus.SENT}
    handler, _ = sink
    assert len(handler.copies()) == 8
    [deep, _] = [data for _, _, data in handler.copies() if f"<{DEEP_ID}>".encode() in data]
    assert b"Hello from the bottom." in deep  # untouched, the footer in a part of its own


def test_a_post_that_cannot_be_rendered_fails_alone_and_the_round_goes_on(
    seeded: App,  # noqa: F811
    settings: Settings,
    sink: tuple[Sink, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every render fault known is fixed, so one is made up: the deep post's raises.
    def rewrite_body(entity: bytes, *args: Any) -> bytes:
        if b"--b999" in entity:
            raise RecursionError("maximum recursion depth exceeded")
        return body.rewrite_body(entity, *args)

    monkeypatch.setattr(render, "rewrite_body", rewrite_body)
    deep_id = round_with_a_deep_post(seeded, settings, sink)
    rows = deliveries(seeded)
    failed = [r for r in rows if r.status is DeliveryStatus.FAILED]
    assert {(r.recipient, r.message_id) for r in failed} == {
        ("bob@example.com", deep_id),
        ("carol@example.com", deep_id),
    }
    for row in failed:
        assert row.last_error.startswith("554 5.3.0 the mail could not be rendered: Recursion")
    assert [r.status for r in rows if r not in failed] == [DeliveryStatus.SENT] * 6
    handler, _ = sink
    assert {rcpt for _, rcpt, _ in handler.copies()} == {
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "mallory@example.net",
    }
    assert len(handler.copies()) == 6
