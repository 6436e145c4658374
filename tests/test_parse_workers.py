"""Parsing in worker processes (gateway.ingest.parse_workers): the same parse as in this
process, and blobs written ahead that only the mails kept are stored with."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.blobs import BlobStore
from gateway.community.communities import create_community
from gateway.imports.importer import import_mail
from gateway.imports.sources import SourceMail
from gateway.ingest import parse_workers
from gateway.ingest.context import InboundMail
from gateway.ingest.parse_workers import ParseWorkers
from gateway.ingest.stages.parse import parse_raw
from gateway.store.db import transaction
from gateway.store.models import Attachment
from gateway.store.models import Message
from gateway.store.models import Policy

NOW = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
COUNT = 40  # enough for the workers once FEWEST is lowered (see `fewer`)


@pytest.fixture(autouse=True)
def fewer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of COUNT mails go to the workers (by default, only large imports do)."""
    monkeypatch.setattr(parse_workers, "FEWEST", COUNT // 2)


def raw_mail(number: int) -> bytes:
    head = (
        f"From: Person {number} <p{number}@example.com>\r\nSubject: Topic {number}\r\n"
        f"Message-ID: <w{number}@example.com>\r\nMIME-Version: 1.0\r\n"
    )
    return (
        head + 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMessage {number}, é.\r\n"
        f'--b\r\nContent-Type: application/pdf; name="doc-{number}.pdf"\r\n'
        f"Content-Disposition: attachment\r\n\r\nPDF {number}\r\n--b--\r\n"
    ).encode()


def delivery_report(number: int) -> bytes:
    """Not a post: an import skips it (and keeps nothing of it)."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@example.com>\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn{number}@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n'
        "\r\n--r\r\nContent-Type: text/plain\r\n\r\nI could not deliver it.\r\n"
        "--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n"
        "\r\nFinal-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--r--\r\n"
    ).encode()


def temporary_files(store: BlobStore) -> list[Path]:
    return sorted(store.root.rglob(".tmp-*"))


def test_workers_parse_as_this_process_does_and_a_batch_keeps_only_what_it_puts(
    tmp_path: Path,
) -> None:
    store = BlobStore(tmp_path / "blobs")
    mails = [InboundMail(raw_mail(n), "", ("design@x",), NOW) for n in range(COUNT)]
    with ParseWorkers(2) as workers:
        parsed = workers.submit(mails, store)()
    assert [p.message for p in parsed] == [parse_raw(mail.raw).message for mail in mails]
    assert [p.raw_sha256 for p in parsed] == [parse_raw(mail.raw).raw_sha256 for mail in mails]
    # Each mail's raw bytes and its attachment, in temporary files, not named yet.
    assert all(len(p.blobs) == 2 for p in parsed)
    assert len(temporary_files(store)) == 2 * COUNT
    assert not any(store.exists(blob.sha256) for p in parsed for blob in p.blobs)

    batch = store.batch()
    batch.offer(blob for p in parsed for blob in p.blobs)
    kept = parsed[: COUNT // 2]
    for p in kept:  # as the keep stage does: the hash is known
        batch.put(mails[parsed.index(p)].raw, p.raw_sha256)
    batch.sync()

    assert all(store.exists(p.raw_sha256) for p in kept)
    assert not any(store.exists(p.raw_sha256) for p in parsed[COUNT // 2 :])
    assert not any(store.exists(p.blobs[1].sha256) for p in parsed)  # never put
    assert temporary_files(store) == []


def test_an_import_through_the_workers_keeps_what_it_stores_and_nothing_else(app: App) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "design", "Design", policy=Policy.OPEN)
    raws = [delivery_report(n) if n % 10 == 3 else raw_mail(n) for n in range(COUNT)]
    sources = [("generated", iter(SourceMail(raw, NOW) for raw in raws))]

    [report] = import_mail(app, "design", sources)

    reports = sum(1 for n in range(COUNT) if n % 10 == 3)
    assert (report.imported, report.skipped, report.failed) == (COUNT - reports, reports, 0)
    with transaction(app.read_sessions) as session:
        stored = set(session.scalars(select(Message.raw_sha256)))
        files = set(session.scalars(select(Attachment.sha256)))
    assert len(stored) == len(files) == COUNT - reports
    on_disk = {path.name for path in app.blobs.root.rglob("*") if path.is_file()}
    assert on_disk == stored | files  # the reports' blobs were written ahead, not kept
    assert temporary_files(app.blobs) == []
