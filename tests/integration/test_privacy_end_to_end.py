"""Privacy end to end (SQLite and PostgreSQL): a private post, public replies naming it
three ways and a cross-post with the private community in the envelope only, all sent
over SMTP to a real gateway; the copies its delivery worker writes to the outbox and
the archive built afterwards name neither the private post nor its community."""

from __future__ import annotations

import base64
import email.message
from pathlib import Path

from archive.build import SiteBuilder
from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import DeliveryMode
from gateway.store.models import Policy
from gateway.store.models import Visibility
from tests.conftest import running
from tests.conftest import wait_for
from tests.factories import as_bytes
from tests.factories import post
from tests.integration.test_digests_end_to_end import outbox_for

DOMAIN = "lists.example.com"
SECRETS = ("zanzibar", "quokka", "Quiet Council", f"hidden@{DOMAIN}")
# Outlook's Thread-Index of the private post (22 bytes), and of a reply to it (5 more).
POST_INDEX = base64.b64encode(bytes(range(1, 23))).decode()
REPLY_INDEX = base64.b64encode(bytes(range(1, 28))).decode()


def seed(app: App) -> None:
    """open (public): ann gets every post; hidden (private): bob gets every post."""
    with transaction(app.sessions) as session:
        public = create_community(session, "open", "Open Floor", policy=Policy.OPEN)
        private = create_community(
            session, "hidden", "Quiet Council", policy=Policy.OPEN, visibility=Visibility.PRIVATE
        )
        add_members(session, public, ["ann@example.com"], delivery=DeliveryMode.INSTANT)
        add_members(session, private, ["bob@example.com"], delivery=DeliveryMode.INSTANT)


def mails() -> list[tuple[email.message.EmailMessage, list[str]]]:
    """Each mail, with the community addresses of its envelope."""
    secret = post(
        "Secret plan zanzibar", "The quokka deal closes on Friday.\n",
        message_id="private@example.com", to="hidden", Thread_Index=POST_INDEX,
    )  # fmt: skip
    replies = [
        post(
            "Lunch menu", "Soup on Monday.\n", message_id="by-in-reply-to@example.com",
            to="open", In_Reply_To="<private@example.com>",
        ),
        post(
            "Parking rota", "Bays 4 to 9.\n", message_id="by-references@example.com",
            to="open", References="<elsewhere@example.com> <private@example.com>",
        ),
        post(
            "Printer toner", "Ordered.\n", message_id="by-thread-index@example.com",
            to="open", Thread_Index=REPLY_INDEX,
        ),
    ]  # fmt: skip
    bcc = post("Office move", "We move on the 12th.\n", message_id="bcc@example.com", to="open")
    return [
        (secret, [f"hidden@{DOMAIN}"]),
        *[(reply, [f"open@{DOMAIN}"]) for reply in replies],
        (bcc, [f"open@{DOMAIN}", f"hidden@{DOMAIN}"]),
        # The same Bcc'd cross-post, split by a relay into one transaction per
        # recipient, each noting its recipient; the private copy comes first and is
        # the one stored.
        *[(relayed(slug), [f"{slug}@{DOMAIN}"]) for slug in ("hidden", "open")],
    ]


def relayed(slug: str) -> email.message.EmailMessage:
    """The split cross-post's copy for one community, as the relay passes it on."""
    message = post("Desk booking", "Book by Friday.\n", message_id="split@example.com", to="open")
    message["Received"] = f"from mx.example.com by mta.example.com; for <{slug}@{DOMAIN}>"
    message["Delivered-To"] = f"{slug}@{DOMAIN}"
    message["X-Original-To"] = f"{slug}@{DOMAIN}"
    return message


def test_public_readers_learn_nothing_of_a_private_post_or_community(
    app: App, settings: Settings, tmp_path: Path
) -> None:
    seed(app)
    with running(settings) as server:
        for message, envelope in mails():
            assert server.send(as_bytes(message), envelope).startswith("250")
        wait_for(
            lambda: (
                len(outbox_for(settings, "ann@example.com")) == 5
                and len(outbox_for(settings, "bob@example.com")) == 3
            ),
            what="the copies in the outbox",
        )

    for copy in outbox_for(settings, "ann@example.com"):
        text = copy.as_string()
        for secret in SECRETS:
            assert secret not in text, (secret, copy["Subject"])
    bob = {str(copy["Subject"]) for copy in outbox_for(settings, "bob@example.com")}
    assert bob == {"[hidden] Secret plan zanzibar", "[hidden] Office move", "[hidden] Desk booking"}

    site = tmp_path / "site"
    SiteBuilder(app, site, search=False).run()
    for path in site.rglob("*"):
        if path.is_file():
            text = path.read_text("utf-8", "replace")
            for secret in SECRETS:
                assert secret not in text, (secret, path.relative_to(site))
    titles = "".join(p.read_text() for p in (site / "t").glob("*/index.html"))
    for subject in ("Lunch menu", "Printer toner", "Office move", "Desk booking"):
        assert f"{subject}</h1>" in titles
    # Both replies naming the post by Message-ID share a public thread, as replies do.
    assert "Parking rota</h1>" not in titles and "Bays 4 to 9." in titles
