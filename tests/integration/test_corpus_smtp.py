"""Every message of the corpus, sent to a real gateway server: each one is stored, or
refused with a specific reply, and the server stays up for the next."""

from __future__ import annotations

import smtplib
from collections import Counter
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select

from archive.build import SiteBuilder
from gateway.app import App
from gateway.community.communities import create_community
from gateway.mail import headers as mail_headers
from gateway.mail.parse import parse_message
from gateway.settings import Settings
from gateway.smtp import replies as replies_
from gateway.store.db import transaction
from gateway.store.models import ActionMail
from gateway.store.models import InboxMail
from gateway.store.models import Message
from gateway.store.models import Policy
from tests.conftest import RunningGateway
from tests.conftest import crlf
from tests.corpus import corpus_locations
from tests.corpus import load
from tests.corpus import needs_corpus

pytestmark = needs_corpus
DOMAIN = "lists.example.com"


def test_the_whole_corpus_goes_through_the_server(
    app: App, settings: Settings, tmp_path: Path
) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "corpus", "Corpus", policy=Policy.OPEN)
    server = RunningGateway(settings).start()
    replies: Counter[str] = Counter()
    unexpected = {}
    accepted: list[str] = []
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
                if reply == replies_.ACCEPTED:
                    accepted.append(location)
                if reply != replies_.ACCEPTED:
                    unexpected[location] = reply
                    smtp.rset()
        server.settle()
        # Still up, on a new connection.
        assert server.send(b"Subject: after\r\n\r\nstill here\r\n", [f"corpus@{DOMAIN}"]) \
            .startswith("250")  # fmt: skip
    finally:
        server.stop()
    assert unexpected == {}, unexpected
    with transaction(app.read_sessions) as session:
        posts = set(session.scalars(select(Message.message_id)))
        reports = set(session.scalars(select(ActionMail.message_id)))
    with app.spool_engine.connect() as connection:
        left = connection.execute(select(InboxMail.last_error)).scalars().all()
    assert left == []  # every mail went through the pipeline, none failed
    # Each accepted mail is a post, a report kept for bounces, or screened out on
    # purpose (mail that says it is automatic, our own mail coming back).
    for location in accepted:
        parsed = parse_message(load(location))
        screened = mail_headers.is_auto_reply(parsed.headers) or mail_headers.is_loop(
            parsed.headers, DOMAIN
        )
        if parsed.message_id and not screened:
            assert parsed.message_id in posts | reports, location
    assert len(posts) > 150 and len(reports) > 5

    # ...and every published post is on a page of the archive, none with a script.
    SiteBuilder(app, tmp_path / "site", search=False).run()
    with transaction(app.read_sessions) as session:
        published = session.scalar(
            select(func.count()).select_from(Message).where(Message.status == "published")
        )
    sections = 0
    for page in (tmp_path / "site" / "t").glob("*/index.html"):
        html = page.read_text()
        assert "<script" not in html.lower(), page
        sections += html.count('<section class="message ')
    assert sections == published
