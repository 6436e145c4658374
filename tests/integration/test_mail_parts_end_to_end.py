"""The gateway's own mail as it leaves a real `gateway serve` for the company's MTA (a
loopback SMTP sink): a welcome notice and a digest, each multipart/alternative with
its text and its HTML, From a display name that says what it is; the digest carries
the thumbnail of a post's attached picture in a multipart/related, by cid."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
from email.message import EmailMessage

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.community.people import ProfileChanges
from gateway.community.people import set_profile
from gateway.digests.periods import latest_due
from gateway.digests.runner import run_digests
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Cadence
from gateway.store.models import DeliveryMode
from gateway.store.models import Role
from gateway.store.models import utcnow
from tests import mail_html_samples
from tests.conftest import GatewayCli
from tests.conftest import running
from tests.conftest import wait_for
from tests.factories import post
from tests.integration.test_email_actions import HOST
from tests.received import parse_mail
from tests.sink import Sink
from tests.test_mail_html import hrefs
from tests.test_mail_html import text_links

DOMAIN = "lists.example.com"
DAY = dt.timedelta(days=1)


def configured(settings: Settings, port: int) -> Settings:
    return dataclasses.replace(
        settings,
        gateway=dataclasses.replace(settings.gateway, name="Acme communities"),
        relay=dataclasses.replace(settings.relay, backend="smtp", host=HOST, port=port),
    )


def received(sink: Sink, recipient: str, subject: str) -> list[EmailMessage]:
    return [
        message
        for _, rcpt, data in sink.copies()
        if rcpt == recipient and subject in str((message := parse_mail(data))["Subject"])
    ]


def both_parts(message: EmailMessage) -> tuple[str, str]:
    """The text and the HTML of a multipart/alternative, text first; every link of the
    text is in the HTML."""
    assert message.get_content_type() == "multipart/alternative"
    first, second = message.iter_parts()
    assert first.get_content_type() == "text/plain"
    html_part = second
    if second.get_content_type() == "multipart/related":
        html_part = next(iter(second.iter_parts()))
    assert html_part.get_content_type() == "text/html"
    text, html = first.get_content(), html_part.get_content()
    assert text_links(text) and text_links(text) <= set(hrefs(html))
    return text, html


def test_a_welcome_and_a_digest_arrive_with_both_parts_and_their_names(
    app: App, settings: Settings, sink: tuple[Sink, int], gateway_cli: GatewayCli
) -> None:
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design practice")
        add_members(session, design, ["alice@example.com"], role=Role.OWNER)
        add_members(session, design, ["bob@example.com"], delivery=DeliveryMode.DAILY)
        set_profile(session, "bob@example.com", ProfileChanges(name="Bob Durand"))
    mails, port = sink
    with running(configured(settings, port)) as server:
        # A welcome: carol joins by mail and confirms by replying.
        carol = "carol@example.com"
        join = post("join", "\n", message_id="join-1@example.com", sender=carol, to="design-join")
        assert server.send(join.as_bytes(), [f"design-join@{DOMAIN}"], sender=carol)[:3] == "250"
        wait_for(lambda: received(mails, carol, "confirm"), what="the confirmation")
        [asked] = received(mails, carol, "confirm")
        both_parts(asked)
        confirm = str(asked["Reply-To"])
        reply = post("Re: confirm", "yes\n", message_id="join-2@example.com", sender=carol)
        del reply["To"]
        reply["To"] = confirm
        assert server.send(reply.as_bytes(), [confirm], sender=carol)[:3] == "250"
        wait_for(lambda: received(mails, carol, "Welcome to"), what="the welcome")
        [welcome] = received(mails, carol, "Welcome to")
        assert email.utils.parseaddr(str(welcome["From"])) == (
            "Acme communities",
            f"help@{DOMAIN}",
        )
        text, html = both_parts(welcome)
        assert "Welcome to Design practice!" in text
        assert '<html lang="en">' in html and "Welcome to Design practice!" in html
        assert f'href="mailto:design-daily@{DOMAIN}"' in html

        # A digest: alice posts a picture; bob's daily digest shows its thumbnail.
        picture = post("Workshop", "The whiteboard after the workshop.\n", message_id="p1@x")
        picture.add_attachment(
            mail_html_samples.picture(1200, 800), "image", "jpeg", filename="whiteboard.jpg"
        )
        sent = server.send(picture.as_bytes(), [f"design@{DOMAIN}"], sender="alice@example.com")
        assert sent.startswith("250")
        wait_for(
            lambda: any(b"Workshop" in data for _, rcpt, data in mails.copies()),
            what="the post's copy",
        )
        next_due = latest_due(Cadence.DAILY, utcnow(), "", settings.digests).at + DAY
        run_digests(app, Cadence.DAILY, next_due, until=utcnow())
        gateway_cli("queue", "retry")
        bob = "bob@example.com"
        wait_for(lambda: received(mails, bob, "daily digest"), what="the digest")
    [digest] = received(mails, bob, "daily digest")
    assert email.utils.parseaddr(str(digest["From"])) == (
        "Design practice digest",
        f"digest@{DOMAIN}",  # replies to a digest are read (gateway.actions.replies)
    )
    text, html = both_parts(digest)
    assert "whiteboard.jpg" in text and "The whiteboard after the workshop." in html
    _, related = digest.iter_parts()
    assert related.get_content_type() == "multipart/related"
    _, thumbnail = related.iter_parts()
    assert thumbnail.get_content_type() == "image/jpeg"
    assert len(thumbnail.get_content()) < 20_000  # a thumbnail, not the 1200x800 picture
    cid = str(thumbnail["Content-ID"]).strip("<>")
    assert f'<img src="cid:{cid}"' in html
