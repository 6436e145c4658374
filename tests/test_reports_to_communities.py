"""Delivery reports sent to a community address: never a post, always bounce handling
(the hand-written reports of tests/fixtures/bounces and the corpus' real ones)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import Disposition
from gateway.ingest.context import InboundMail
from gateway.outbound.bounces import handle_bounces
from gateway.store.db import transaction
from gateway.store.models import ActionKind
from gateway.store.models import ActionMail
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import Person
from gateway.store.models import Policy
from tests.corpus import FIXTURES

DOMAIN = "lists.example.com"
NOW = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
HAND_WRITTEN = Path(__file__).parent / "fixtures" / "bounces"
REPORTS = sorted(HAND_WRITTEN.glob("*.eml")) + sorted(
    path
    for folder in ("mime/flanker/bounce", "mime/ruby-mail/multipart_report_emails")
    for path in (FIXTURES / folder).glob("*.eml")
)


@pytest.mark.parametrize("path", REPORTS, ids=lambda path: path.name)
def test_a_report_to_a_community_address_is_never_published(app: App, path: Path) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "design", "Design", policy=Policy.OPEN)
    mail = InboundMail(path.read_bytes(), "", (f"design@{DOMAIN}",), NOW)
    [outcome] = ingest_now(app, [mail])
    assert not isinstance(outcome, Exception)
    assert outcome.disposition is Disposition.ACTION
    with transaction(app.read_sessions) as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
        [action] = session.scalars(select(ActionMail.action))
    assert action is ActionKind.BOUNCES


def test_a_report_from_no_daemon_address_counts_when_its_sender_was_null(app: App) -> None:
    """Its From looks like anyone's; the null envelope sender says a mailer sent it."""
    raw = (
        b"From: Jetmail System <admin@mx.example.net>\r\nSubject: failure notice\r\n"
        b"Message-ID: <n1@mx.example.net>\r\n\r\n"
        b"Hi. This is the qmail-send program at mx.example.net.\r\n"
        b"I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
        b"This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
        b"<bob@example.com>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n"
    )
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", policy=Policy.OPEN)
        add_members(session, design, ["bob@example.com"])
    [outcome] = ingest_now(app, [InboundMail(raw, "", (f"design@{DOMAIN}",), NOW)])
    assert not isinstance(outcome, Exception) and outcome.disposition is Disposition.ACTION
    with transaction(app.sessions) as session:
        assert handle_bounces(session, app.blobs, app.templates, app.settings, NOW) == 1
        score = session.scalar(
            select(Membership.bounce_score)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.address == "bob@example.com")
        )
    assert score == 2
