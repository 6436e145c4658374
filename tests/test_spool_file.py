"""The SQLite spool file, which Alembic does not migrate: a file of an older shape, with
mail waiting in it, gets the new inbox columns when the gateway opens it, and its mail
is still ingested."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import inspect
from sqlalchemy import select

from gateway.app import build_app
from gateway.community.communities import create_community
from gateway.ingest.processor import InboxProcessor
from gateway.settings import Settings
from gateway.store.db import sqlite_file
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.models import Policy

# The inbox table as revisions 0003 to 0011 made it in spool.sqlite3 (before claims).
OLD_INBOX = """
CREATE TABLE inbox (
    id INTEGER NOT NULL,
    raw BLOB NOT NULL,
    raw_sha256 VARCHAR(64) NOT NULL,
    mail_from TEXT NOT NULL,
    recipients JSON NOT NULL,
    received_at DATETIME NOT NULL,
    peer VARCHAR(64) NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    CONSTRAINT pk_inbox PRIMARY KEY (id)
)
"""
RAW = b"From: zoe@example.com\r\nSubject: Left\r\nMessage-ID: <left@x>\r\n\r\nStill here.\r\n"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_old_spool_file_gets_the_claim_columns_and_its_mail_is_ingested(
    settings: Settings,
) -> None:
    path = sqlite_file(settings.spool_url)
    assert path is not None and path != sqlite_file(settings.sqlalchemy_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as old:
        old.execute(OLD_INBOX)
        old.execute(
            "INSERT INTO inbox (raw, raw_sha256, mail_from, recipients, received_at, peer,"
            " attempts, last_error) VALUES (?, '', 'zoe@example.com', ?, ?, '127.0.0.1', 0, '')",
            (RAW, '["design@lists.example.com"]', "2026-11-02 09:00:00.000000"),
        )
    old.close()

    app = build_app(settings)
    try:
        columns = {c["name"] for c in inspect(app.spool_engine).get_columns("inbox")}
        assert {"claimed_by", "lease_until"} <= columns
        with transaction(app.sessions) as session:
            create_community(session, "design", "Design", policy=Policy.OPEN)
        assert InboxProcessor(app).process_batch() == 1
        with transaction(app.read_sessions) as session:
            assert session.scalars(select(Message.message_id)).all() == ["left@x"]
        assert InboxProcessor(app).process_batch() == 0
    finally:
        app.close()
    build_app(settings).close()  # opened again: nothing left to add
