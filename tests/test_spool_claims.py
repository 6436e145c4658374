"""Claims on the spool with two nodes on one database: two inbox processors working at
once take each mail once; mail a dead node claimed is taken over once its lease ran
out; a live node's claim is left to it; a node restarted under its own id takes its
claims back at once; a mail that fails is released to be tried by another node. And
the same mail spooled twice (an MTA that retried on another node), taken by two nodes
at the same moment, is stored once, its action mail recorded and answered once.

Each node is an App of its own (its engine, its [gateway] node_id) on the test's
database; on SQLite they share the data folder, hence its spool file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence

import pytest
from sqlalchemy import func
from sqlalchemy import select

from gateway.actions.runner import run_actions
from gateway.app import App
from gateway.app import build_app
from gateway.community.communities import create_community
from gateway.ingest import pipeline
from gateway.ingest import processor as processor_module
from gateway.ingest.context import InboundMail
from gateway.ingest.context import IngestContext
from gateway.ingest.processor import InboxProcessor
from gateway.ingest.spool import Spool
from gateway.ingest.spool_claims import SPOOL_LEASE_SECONDS
from gateway.ingest.spool_claims import claim_mail
from gateway.ingest.spool_claims import release_mail
from gateway.ingest.stages import write_messages
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.leases import Lease
from gateway.store.models import ActionMail
from gateway.store.models import Delivery
from gateway.store.models import InboxMail
from gateway.store.models import Message
from gateway.store.models import Policy
from gateway.store.models import utcnow
from tests.conftest import GatewayCli
from tests.conftest import wait_for
from tests.faults import FailsOnBadSubject

DOMAIN = "lists.example.com"
NOW = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)


def node_settings(settings: Settings, node_id: str) -> Settings:
    return dataclasses.replace(
        settings, gateway=dataclasses.replace(settings.gateway, node_id=node_id)
    )


@pytest.fixture
def nodes(settings: Settings) -> Iterator[tuple[App, App]]:
    """Two nodes on the test's database, node-a and node-b, with a community to post to."""
    node_a = build_app(node_settings(settings, "node-a"))
    node_b = build_app(node_settings(settings, "node-b"))
    with transaction(node_a.sessions) as session:
        create_community(session, "design", "Design", policy=Policy.OPEN)
    yield node_a, node_b
    node_a.close()
    node_b.close()


def mail(subject: str, to: str = f"design@{DOMAIN}", sender: str = "zoe@example.com") -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@x>\r\n\r\nAbout {subject}.\r\n"
    ).encode()


def spool(app: App, *mails: tuple[bytes, str, str]) -> None:
    """Spool mails (raw, envelope sender, recipient) as SMTP sessions do."""
    writer = Spool(app.spool_engine, app.blobs)
    futures = [writer.submit(InboundMail(raw, sender, (to,), NOW)) for raw, sender, to in mails]
    writer.start()
    writer.stop(60)
    assert all(future.result(0) is None for future in futures)


def posts(*subjects: str) -> list[tuple[bytes, str, str]]:
    return [(mail(s), "zoe@example.com", f"design@{DOMAIN}") for s in subjects]


def spooled(app: App) -> list[tuple[str | None, int]]:
    """The spool's rows, oldest first: (the node that holds it, failed attempts)."""
    with app.spool_engine.connect() as connection:
        query = select(InboxMail.claimed_by, InboxMail.attempts).order_by(InboxMail.id)
        return [(node, attempts) for node, attempts in connection.execute(query)]


def stored(app: App) -> list[str]:
    with transaction(app.read_sessions) as session:
        return sorted(session.scalars(select(Message.message_id)))


def in_threads(work: Callable[[App], None], nodes: Sequence[App]) -> None:
    """work(node) for each node, in threads of their own at the same time."""
    threads = [threading.Thread(target=work, args=(app,)) for app in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)


def test_two_processors_at_once_take_each_mail_once_and_answer_each_help_mail_once(
    nodes: tuple[App, App], caplog: pytest.LogCaptureFixture
) -> None:
    node_a, node_b = nodes
    subjects = [f"post{n}" for n in range(48)]
    helpers = [f"asker{n}@example.com" for n in range(16)]
    help_address = f"help@{DOMAIN}"
    asking = [(mail(f"help{n}", help_address, a), a, help_address) for n, a in enumerate(helpers)]
    spool(node_a, *posts(*subjects[:24]), *asking, *posts(*subjects[24:]))
    taken: Counter[str] = Counter()
    start = threading.Barrier(2)

    def work(app: App) -> None:
        processor = InboxProcessor(app)
        start.wait(10)
        while spooled(app):
            taken[app.settings.node_id] += processor.process_batch()

    with caplog.at_level(logging.INFO):
        in_threads(work, nodes)
    assert spooled(node_a) == []
    assert taken.total() == len(subjects) + len(helpers)  # each mail taken by one node
    assert stored(node_a) == sorted(f"{s}@x" for s in subjects)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info] == []

    for app in nodes:  # both nodes' email actions, one after the other
        run_actions(app.sessions, app.blobs, app.templates, app.settings, utcnow)
    with transaction(node_a.read_sessions) as session:
        answers = session.execute(
            select(Delivery.recipient, func.count())
            .where(Delivery.kind == "action_help")
            .group_by(Delivery.recipient)
        ).all()
    assert sorted(answers) == sorted((asker, 1) for asker in helpers)


def test_a_dead_nodes_mail_is_taken_over_once_its_lease_ran_out(
    nodes: tuple[App, App], gateway_cli: GatewayCli
) -> None:
    node_a, node_b = nodes
    spool(node_a, *posts("held", "left"))
    lease_b = Lease("node-b", SPOOL_LEASE_SECONDS)
    # node-b, alive, holds the first mail; it took the second a lease ago, as a node
    # that died then.
    long_ago = utcnow() - dt.timedelta(seconds=SPOOL_LEASE_SECONDS + 1)
    assert len(claim_mail(node_b.spool_engine, lease_b, utcnow(), 1)) == 1
    assert len(claim_mail(node_b.spool_engine, lease_b, long_ago, 1)) == 1
    assert spooled(node_a) == [("node-b", 0), ("node-b", 0)]

    processor_a = InboxProcessor(node_a)
    assert processor_a.process_batch() == 1
    assert stored(node_a) == ["left@x"]
    assert processor_a.process_batch() == 0  # node-b is alive: its claim is its own
    assert spooled(node_a) == [("node-b", 0)]
    release_mail(node_a.spool_engine, "node-a")  # node-a starts again
    assert InboxProcessor(node_a).process_batch() == 0  # and leaves node-b's claim to it
    [listed] = gateway_cli.json("inbox", "list")
    assert listed["claimed_by"] == "node-b" and listed["lease_until"] is not None
    assert "node-b" in gateway_cli("inbox", "list").stdout


def test_a_node_started_again_takes_its_claims_back_at_once(nodes: tuple[App, App]) -> None:
    node_a, node_b = nodes
    spool(node_a, *posts("one", "two", "three"))
    # node-b's previous run claimed two mails a moment ago and stopped (a SIGKILL).
    assert len(claim_mail(node_b.spool_engine, Lease("node-b"), utcnow(), 2)) == 2
    assert InboxProcessor(node_a).process_batch() == 1
    assert stored(node_a) == ["three@x"]
    # node-b starts again: one turn of its processor, long before the lease ran out.
    InboxProcessor(node_b).run(alive=iter([True, False]).__next__)
    assert stored(node_a) == ["one@x", "three@x", "two@x"]
    assert spooled(node_a) == []


def test_a_failed_mail_is_released_with_its_attempt_for_another_node(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    node_a, node_b = nodes
    monkeypatch.setattr(pipeline, "STAGES", (*pipeline.STAGES, FailsOnBadSubject))
    spool(node_a, *posts("one", "bad"))
    processor_a = InboxProcessor(node_a)
    assert processor_a.process_batch() == 2
    assert spooled(node_a) == [(None, 1)]
    assert processor_a.process_batch() == 0  # not again by the process that saw it fail
    assert InboxProcessor(node_b).process_batch() == 1  # another node tries it at once
    assert spooled(node_a) == [(None, 2)]
    monkeypatch.setattr(pipeline, "STAGES", pipeline.STAGES[:-1])  # the bug is fixed
    assert InboxProcessor(node_b).process_batch() == 1
    assert stored(node_a) == ["bad@x", "one@x"]
    assert spooled(node_a) == []


def test_a_processor_that_stops_gives_back_the_batch_it_claimed_ahead(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    node_a, node_b = nodes
    monkeypatch.setattr(processor_module, "BATCH", 2)
    spool(node_a, *posts("one", "two", "three", "four", "five", "six"))
    processor = InboxProcessor(node_a)
    assert processor.process_batch() == 2
    # The next batch is claimed, and its blobs written, while the first is stored.
    ahead = [("node-a", 0)] * 2 + [(None, 0)] * 2
    wait_for(lambda: spooled(node_a) == ahead, 30, "the next batch claimed")
    written = node_a.blobs.root.rglob
    wait_for(lambda: len(list(written(".tmp-*"))) == 2, 30, "its blobs written ahead")
    # One more batch, then a stop: the batch claimed ahead meanwhile is given back.
    processor.run(alive=iter([True, False]).__next__)
    assert stored(node_a) == ["four@x", "one@x", "three@x", "two@x"]
    assert spooled(node_a) == [(None, 0)] * 2
    assert list(written(".tmp-*")) == []
    assert InboxProcessor(node_b).process_batch() == 2  # another node takes it at once


def test_only_a_full_batch_has_the_next_claimed_ahead(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a light load the mail that comes during a batch goes into the next one,
    not into one claimed at the batch's start and then one more."""
    node_a, _ = nodes
    monkeypatch.setattr(processor_module, "BATCH", 3)
    spool(node_a, *posts("one", "two", "three", "four"))
    processor = InboxProcessor(node_a)
    assert processor.process_batch() == 3  # full: "four" is claimed ahead
    wait_for(lambda: spooled(node_a) == [("node-a", 0)], 30, "the next batch claimed")
    spool(node_a, *posts("five"))
    assert processor.process_batch() == 1  # "four" alone: nothing claimed ahead
    assert processor._next is None
    assert spooled(node_a) == [(None, 0)]
    assert processor.process_batch() == 1
    assert stored(node_a) == ["five@x", "four@x", "one@x", "three@x", "two@x"]
    assert spooled(node_a) == []


class Rendezvous:
    """An ingest stage that holds each mail until the other node's mail got there too
    (each thread waits once per Message-ID): the two transactions then write the same
    Message-ID at the same moment. Only on PostgreSQL: with SQLite the first writer
    holds the database until its commit, so the two never meet (nor race)."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2)
        self.seen: set[tuple[int, str]] = set()

    def run(self, ctx: IngestContext) -> None:
        key = (threading.get_ident(), ctx.message_id)
        if key not in self.seen:
            self.seen.add(key)
            self.barrier.wait(30)


def test_the_same_mail_spooled_on_two_nodes_and_taken_at_once_is_stored_and_answered_once(
    nodes: tuple[App, App], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    node_a, node_b = nodes
    if node_a.spool_engine.dialect.name == "postgresql":
        write = pipeline.STAGES.index(write_messages)
        stages = (*pipeline.STAGES[:write], Rendezvous(), *pipeline.STAGES[write:])
        monkeypatch.setattr(pipeline, "STAGES", stages)
    monkeypatch.setattr(processor_module, "BATCH", 1)  # one mail for each node
    help_address = f"help@{DOMAIN}"
    asking = (mail("asking", help_address, "ann@example.com"), "ann@example.com", help_address)
    spool(node_a, *posts("twice"), *posts("twice"), asking, asking)
    taken: Counter[str] = Counter()

    def work(app: App) -> None:
        processor = InboxProcessor(app)
        for _ in range(2):
            taken[app.settings.node_id] += processor.process_batch()

    with caplog.at_level(logging.INFO):
        in_threads(work, nodes)
    assert taken.total() == 4 and spooled(node_a) == []
    assert stored(node_a) == ["twice@x"]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info] == []
    dispositions = Counter(
        line.split("disposition=")[1].split()[0]
        for line in (r.getMessage() for r in caplog.records)
        if "disposition=" in line
    )
    assert dispositions == {"published": 1, "duplicate": 1, "action": 2}
    # The action mail's second row is left by ON CONFLICT DO NOTHING, not by taking the
    # mail again after a unique key refused it (as the post's may have been).
    again = [r.getMessage() for r in caplog.records if "once more" in r.getMessage()]
    assert not [line for line in again if "asking@x" in line]
    with transaction(node_a.read_sessions) as session:
        assert session.scalars(select(ActionMail.recipient)).all() == [help_address]
    for app in nodes:
        run_actions(app.sessions, app.blobs, app.templates, app.settings, utcnow)
    with transaction(node_a.read_sessions) as session:
        answers = session.scalars(select(Delivery.recipient).where(Delivery.kind == "action_help"))
        assert answers.all() == ["ann@example.com"]
