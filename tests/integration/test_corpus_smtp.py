"""Every message of the corpus, sent to a real gateway server: each one is stored, or
refused with a specific reply, and the server stays up for the next."""

from __future__ import annotations

import smtplib
from collections import Counter

from sqlalchemy import select

from gateway.app import App
from gateway.communities import create_community
from gateway.parse import parse_message
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import ActionMail
from gateway.store.models import Message
from gateway.store.models import Policy
from tests.conftest import RunningGateway
from tests.conftest import crlf
from tests.corpus import corpus_locations
from tests.corpus import load

DOMAIN = "lists.example.com"
# The only replies a corpus message may get: accepted in one of its forms.
ACCEPTED = ("250 2.0.0 Message accepted", "250 2.0.0 Message already received",
            "250 2.0.0 Message accepted and not published")  # fmt: skip


def test_the_whole_corpus_goes_through_the_server(app: App, settings: Settings) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "corpus", "Corpus", policy=Policy.OPEN)
    server = RunningGateway(settings).start()
    replies: Counter[str] = Counter()
    unexpected = {}
    accepted_ids: set[str | None] = set()
    try:
        with server.client() as smtp:
            smtp.ehlo()
            for location in corpus_locations():
                smtp.mail("archive@example.com")
                smtp.rcpt(f"corpus@{DOMAIN}")
                try:
                    code, text = smtp.data(crlf(load(location)))
                except smtplib.SMTPDataError as refused:
                    code, text = refused.smtp_code, refused.smtp_error
                reply = f"{code} {text.decode(errors='replace')}"
                replies[reply.split("(")[0].strip()] += 1
                if reply.startswith("250 2.0.0 Message accepted") and "not published" not in reply:
                    accepted_ids.add(parse_message(load(location)).message_id)
                if not reply.startswith(ACCEPTED):
                    unexpected[location] = reply
                    smtp.rset()
        # Still up, on a new connection.
        assert server.send(b"Subject: after\r\n\r\nstill here\r\n", [f"corpus@{DOMAIN}"]) \
            .startswith("250")  # fmt: skip
    finally:
        server.stop()
    assert unexpected == {}, unexpected
    with transaction(app.read_sessions) as session:
        posts = set(session.scalars(select(Message.message_id)))
        reports = set(session.scalars(select(ActionMail.message_id)))
    # Each mail answered "accepted" is stored: a post, or a report kept for bounces.
    # (List traffic marked Precedence: list/bulk is answered "not published", by design.)
    accepted_ids.discard(None)  # stored under a generated id
    assert accepted_ids <= posts | reports
    assert len(posts) > 150 and len(reports) > 5
