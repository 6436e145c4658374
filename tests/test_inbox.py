"""The spool and the inbox processor: accepted mail waits durably, is ingested once, and
mail the pipeline fails on is kept with its error until an admin retries it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.community.communities import create_community
from gateway.ingest import pipeline
from gateway.ingest import spool as spool_module
from gateway.ingest.context import InboundMail
from gateway.ingest.processor import InboxProcessor
from gateway.ingest.spool import Spool
from gateway.store.db import transaction
from gateway.store.models import InboxMail
from gateway.store.models import Message
from gateway.store.models import Policy
from tests.conftest import GatewayCli
from tests.faults import FailsOnBadSubject

DOMAIN = "lists.example.com"
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def spool(app: App, *subjects: str) -> None:
    woken = []
    writer = Spool(app.spool_engine, app.blobs, on_commit=lambda: woken.append(True))
    futures = [
        writer.submit(InboundMail(f"Subject: {s}\r\nMessage-ID: <{s}@x>\r\n\r\nx\r\n".encode(),
                                  "a@example.com", (f"design@{DOMAIN}",), NOW))
        for s in subjects
    ]  # fmt: skip
    writer.start()
    writer.stop(60)
    assert all(future.result(0) is None for future in futures)
    assert woken


def waiting(app: App) -> list[tuple[int, int, str]]:
    with app.spool_engine.connect() as connection:
        query = select(InboxMail.id, InboxMail.attempts, InboxMail.last_error)
        return [tuple(row) for row in connection.execute(query.order_by(InboxMail.id))]


def stored(app: App) -> list[str]:
    with transaction(app.read_sessions) as session:
        return sorted(session.scalars(select(Message.message_id)))


def test_spooled_mail_is_ingested_once_and_leaves_the_spool(app: App) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "design", "Design", policy=Policy.OPEN)
    spool(app, "one", "two", "one")
    assert len(waiting(app)) == 3
    assert InboxProcessor(app).process_batch() == 3
    assert waiting(app) == []
    assert stored(app) == ["one@x", "two@x"]
    assert InboxProcessor(app).process_batch() == 0


def test_a_large_mail_is_ingested_in_a_batch_of_its_own(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "design", "Design", policy=Policy.OPEN)
    # Mail of more than 40 bytes goes to the blob store: "a-large-one" does.
    monkeypatch.setattr(spool_module, "INLINE_LIMIT", 40)
    spool(app, "one", "two", "a-large-one", "three")
    processor = InboxProcessor(app)
    assert [processor.process_batch() for _ in range(4)] == [2, 1, 1, 0]
    assert stored(app) == ["a-large-one@x", "one@x", "three@x", "two@x"]


def test_a_failing_mail_stays_with_its_error_until_retried(
    app: App, gateway_cli: GatewayCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "STAGES", (*pipeline.STAGES, FailsOnBadSubject))
    with transaction(app.sessions) as session:
        create_community(session, "design", "Design", policy=Policy.OPEN)
    spool(app, "one", "bad", "two")
    processor = InboxProcessor(app)
    assert processor.process_batch() == 3
    assert processor.process_batch() == 0  # not retried by the process that saw it fail
    [(_, attempts, error)] = waiting(app)
    assert attempts == 1 and "a bug in a stage" in error
    assert stored(app) == ["one@x", "two@x"]

    [listed] = gateway_cli.json("inbox", "list")
    assert listed["attempts"] == 1 and "a bug in a stage" in listed["last_error"]
    assert "1 mail(s)" in gateway_cli("inbox", "retry").stdout
    monkeypatch.setattr(pipeline, "STAGES", pipeline.STAGES[:-1])  # the bug is fixed
    assert InboxProcessor(app).process_batch() == 1
    assert waiting(app) == []
    assert stored(app) == ["bad@x", "one@x", "two@x"]
    assert "empty" in gateway_cli("inbox", "list").stdout


def test_large_mail_is_spooled_in_the_blob_store(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool_module, "INLINE_LIMIT", 10)
    with transaction(app.sessions) as session:
        create_community(session, "design", "Design", policy=Policy.OPEN)
    spool(app, "large")
    with app.spool_engine.connect() as connection:
        [row] = connection.execute(select(InboxMail.raw, InboxMail.raw_sha256)).all()
    assert row.raw == b"" and app.blobs.exists(row.raw_sha256)
    assert InboxProcessor(app).process_batch() == 1
    assert stored(app) == ["large@x"]


def test_a_discarded_mail_is_logged_with_its_reason_and_listed_for_admins(
    app: App, gateway_cli: GatewayCli, caplog: pytest.LogCaptureFixture
) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "design", "Design", policy=Policy.OPEN)
    assert "No mail was discarded" in gateway_cli("inbox", "discarded").stdout
    raw = (
        b"From: Zoe <zoe@example.com>\r\nSubject: Out of office\r\nMessage-ID: <ooo@x>\r\n"
        b"Auto-Submitted: auto-replied\r\n\r\nBack on Monday.\r\n"
    )
    writer = Spool(app.spool_engine, app.blobs, on_commit=lambda: None)
    future = writer.submit(InboundMail(raw, "zoe@example.com", (f"design@{DOMAIN}",), NOW))
    writer.start()
    writer.stop(60)
    assert future.result(0) is None
    with caplog.at_level("INFO", logger="gateway.ingest"):
        assert InboxProcessor(app).process_batch() == 1
    assert stored(app) == []
    [line] = [r.getMessage() for r in caplog.records if "disposition=discarded" in r.getMessage()]
    assert "message-id=<ooo@x> from=zoe@example.com" in line
    assert "reasons=auto-reply" in line

    [listed] = gateway_cli.json("inbox", "discarded")
    assert (listed["sender"], listed["message_id"], listed["subject"], listed["reason"]) == (
        "zoe@example.com", "ooo@x", "Out of office", "auto-reply",
    )  # fmt: skip
    assert listed["recipients"] == [f"design@{DOMAIN}"]
    text = gateway_cli("inbox", "discarded").stdout
    assert "Out of office" in text and "auto-reply" in text
