"""Factories for the tests: posts as mail clients write them, stored rows, ingested posts.

A home (settings and an App in a temporary directory, on each database) comes from the
`settings` and `app` fixtures of conftest.py; these factories fill it.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import itertools
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.blobs import BlobStore
from gateway.community.people import ensure_person
from gateway.engagement.reactions import record_reaction
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import InboundMail
from gateway.ingest.context import IngestResult
from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Origin
from gateway.store.models import Person
from gateway.store.models import ReactionSource

DOMAIN = "lists.example.com"
AT = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
_numbers = itertools.count(1)


def new_message_id() -> str:
    """A Message-ID no other post of the test run has."""
    return f"m{next(_numbers)}@example.com"


def community_address(slug_or_address: str) -> str:
    """`design` -> design@lists.example.com; a full address stays as it is."""
    return slug_or_address if "@" in slug_or_address else f"{slug_or_address}@{DOMAIN}"


def post(
    subject: str = "Colours",
    body: str = "Which blue do we use?\n",
    *,
    message_id: str | None = "m1@example.com",
    sender: str | Address = "Alice <alice@example.com>",
    to: str | Sequence[str] = "design",
    parent: str = "",
    **headers: str,
) -> EmailMessage:
    """A plain-text post as a mail client writes it.

    `to` names communities by slug (or full addresses); `parent` is the Message-ID the post
    answers (In-Reply-To and References); other headers by keyword, `_` for `-`. Without a
    `message_id` the post has no Message-ID header.
    """
    message = EmailMessage()
    message["From"] = sender
    slugs = [to] if isinstance(to, str) else list(to)
    message["To"] = ", ".join(community_address(slug) for slug in slugs)
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = f"<{message_id}>"
    if parent:
        message["In-Reply-To"] = f"<{parent}>"
        message["References"] = f"<{parent}>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def raw_post(*args: Any, **kwargs: Any) -> bytes:
    """`post(...)` as bytes, every line ending in CRLF as over SMTP."""
    return as_bytes(post(*args, **kwargs))


def as_bytes(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=email.policy.SMTP)


def ingest(
    app: App,
    mail: EmailMessage | bytes,
    to: Sequence[str] = ("design",),
    *,
    sender: str = "alice@example.com",
    at: dt.datetime = AT,
    origin: Origin = Origin.SMTP,
) -> IngestResult:
    """Run one mail through the ingest pipeline, committed, as the inbox processor does
    with what the SMTP server took from `sender` for the communities `to`."""
    raw = as_bytes(mail) if isinstance(mail, EmailMessage) else mail
    recipients = tuple(community_address(slug) for slug in to)
    [outcome] = ingest_now(app, [InboundMail(raw, sender, recipients, at, origin=origin)])
    assert not isinstance(outcome, Exception), outcome
    return outcome


def ingest_post(
    app: App,
    *slugs: str,
    subject: str,
    at: dt.datetime = AT,
    body: str = "Some words.\n",
    sender: str = "alice@example.com",
    name: str = "",
    parent: str = "",
    origin: Origin = Origin.SMTP,
    expect: str = "published",
) -> str:
    """Ingest a new post from `sender` (From: `name` <sender>) to the communities `slugs`,
    received at `at`, with the disposition `expect`; return its Message-ID."""
    message_id = new_message_id()
    mail = post(
        subject,
        body,
        message_id=message_id,
        sender=f"{name} <{sender}>" if name else sender,
        to=slugs,
        parent=parent,
    )
    outcome = ingest(app, mail, slugs, sender=sender, at=at, origin=origin)
    assert outcome.disposition == expect, outcome
    return message_id


def stored_post(
    session: Session,
    message_id: str,
    *communities: Community,
    sender: Person | None = None,
    **fields: object,
) -> Message:
    """A message row alone (no mail behind it), for the tests of the store's queries."""
    message = Message(
        message_id=message_id,
        raw_sha256="0" * 64,
        sender_id=sender.id if sender else None,
        sender_address=sender.address if sender else "stranger@example.org",
        **fields,
    )
    message.communities = list(communities)
    session.add(message)
    session.flush()
    if message.status is not MessageStatus.PUBLISHED:  # the same in each community
        session.execute(
            update(MessageCommunity)
            .where(MessageCommunity.message_id == message.id)
            .values(status=message.status)
        )
    return message


class CountingBlobs(BlobStore):
    """A blob store that records each read: to check that something is read once."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: list[str] = []

    def get(self, sha256: str) -> bytes:
        self.reads.append(sha256)
        return super().get(sha256)


def stored_message(app: App, message_id: str) -> tuple[int, int]:
    """A stored, threaded message's id and its thread's, by its Message-ID."""
    with app.read_sessions() as session:
        row = session.execute(
            select(Message.id, Message.thread_id).where(Message.message_id == message_id)
        ).one()
        assert row.thread_id is not None
        return row.id, row.thread_id


def react(
    app: App,
    message_id: str,
    address: str,
    name: str,
    emoji: str,
    at: dt.datetime,
    source: ReactionSource = ReactionSource.CLI,
) -> None:
    """`name` <`address`> reacts with `emoji` to the stored message `message_id`."""
    message = stored_message(app, message_id)[0]
    with app.sessions() as session, session.begin():
        person = ensure_person(session, address)
        person.name = name
        session.flush()
        record_reaction(session, message, person.id, emoji, source, at=at)
