"""The digest scheduler inside a real `gateway serve`: at start-up it sends the digest
that came due while the gateway was down, once, through the delivery worker."""

from __future__ import annotations

import datetime as dt
import mailbox
import time

from sqlalchemy import func
from sqlalchemy import select

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.digests.periods import latest_due
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Cadence
from gateway.store.models import DeliveryMode
from gateway.store.models import DigestRun
from gateway.store.models import Policy
from gateway.store.models import utcnow
from tests.conftest import RunningGateway
from tests.factories import ingest
from tests.factories import raw_post

DOMAIN = "lists.example.com"


def digests_in_outbox(settings: Settings) -> list[mailbox.MaildirMessage]:
    # The relay creates the Maildir at start: tmp, then new, then cur.
    if not all((settings.outbox_dir / part).is_dir() for part in ("tmp", "new", "cur")):
        return []
    outbox = mailbox.Maildir(settings.outbox_dir, create=False)
    return [m for m in outbox if str(m["Message-ID"]).startswith("<digest.")]


def test_the_digest_due_while_down_is_sent_once_at_start_up(app: App, settings: Settings) -> None:
    due = latest_due(Cadence.DAILY, utcnow(), "", settings.digests)
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", policy=Policy.OPEN)
        add_members(session, design, ["dana@example.com"], delivery=DeliveryMode.DAILY)
    raw = raw_post("Palette for 2027", "The blues we discussed.\n", message_id="p1@example.com")
    # Received an hour before the digest came due: the gateway was not running then.
    ingest(app, raw, at=due.at - dt.timedelta(hours=1))

    for _ in range(2):  # a second start sends nothing more
        server = RunningGateway(settings).start()
        try:
            deadline = time.monotonic() + 30
            while not digests_in_outbox(settings):
                assert time.monotonic() < deadline, "no digest was sent"
                time.sleep(0.05)
        finally:
            server.stop()

    [digest] = digests_in_outbox(settings)
    assert digest["Delivered-To"] == "dana@example.com"
    assert "Design" in str(digest["Subject"])
    text = next(p for p in digest.walk() if p.get_content_type() == "text/plain")
    assert "Palette for 2027" in text.get_payload(decode=True).decode()
    with transaction(app.read_sessions) as session:
        runs = session.scalar(select(func.count()).select_from(DigestRun))
        period = session.scalar(select(DigestRun.period))
    assert (runs, period) == (1, due.period)
