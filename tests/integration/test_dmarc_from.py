"""DMARC-aware From, end to end: posts sent to a real `gateway serve`, whose delivery
worker looks their authors' policies up on a real DNS server (dnsmasq) and relays
to a recording SMTP sink."""

from __future__ import annotations

import dataclasses
import email.message
from collections.abc import Iterator

import pytest

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.settings import Settings
from gateway.store.db import transaction
from tests.conftest import running
from tests.conftest import wait_for
from tests.dns import DnsServer
from tests.dns import DnsUnavailable
from tests.factories import post
from tests.received import parse_mail
from tests.sink import Sink

DOMAIN = "lists.example.com"
STRICT = "alice@strict.example"  # p=reject
LENIENT = "pat@lenient.example"  # p=none
READER = "bob@readers.example"


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    records = {
        "_dmarc.strict.example": "v=DMARC1; p=reject",
        "_dmarc.lenient.example": "v=DMARC1; p=none",
    }
    try:
        with DnsServer(records) as server:
            yield server
    except DnsUnavailable as reason:
        pytest.skip(f"DMARC-aware From not tested end to end: {reason}")


@pytest.fixture
def seeded(app: App) -> App:
    """design (replies go to the author): alice and pat post, bob reads."""
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design", reply_to="sender")
        add_members(session, design, [STRICT, LENIENT, READER])
    return app


def settings_for(settings: Settings, dns_server: DnsServer, sink_port: int) -> Settings:
    return dataclasses.replace(
        settings,
        relay=dataclasses.replace(settings.relay, backend="smtp", host="127.0.0.1", port=sink_port),
        delivery=dataclasses.replace(settings.delivery, dmarc_mitigation="auto"),
        dns=dataclasses.replace(settings.dns, nameservers=(dns_server.address,)),
    )


def received_by(sink: Sink, recipient: str, subject_word: str) -> list[email.message.EmailMessage]:
    copies = [parse_mail(data) for _, rcpt, data in sink.copies() if rcpt == recipient]
    return [copy for copy in copies if subject_word in str(copy["Subject"])]


def answers_to(sink: Sink, recipient: str) -> list[email.message.EmailMessage]:
    """What the gateway itself wrote to `recipient` (not the posts it relayed)."""
    copies = [parse_mail(data) for _, rcpt, data in sink.copies() if rcpt == recipient]
    return [copy for copy in copies if copy["List-Id"] is None]


def test_a_strict_authors_post_comes_from_the_community_a_lenient_ones_from_its_author(
    seeded: App, settings: Settings, dns_server: DnsServer, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    with running(settings_for(settings, dns_server, port)) as server:
        strict = post("Strict", sender=f"Alice <{STRICT}>", message_id="s1@strict.example")
        lenient = post("Lenient", sender=f"Pat <{LENIENT}>", message_id="l1@lenient.example")
        assert server.send(strict.as_bytes(), [f"design@{DOMAIN}"], sender=STRICT)[:3] == "250"
        assert server.send(lenient.as_bytes(), [f"design@{DOMAIN}"], sender=LENIENT)[:3] == "250"
        # The gateway's own mail is not a post: From help@, whoever asks.
        asking = post("help", sender=f"Alice <{STRICT}>", to="help", message_id="h1@strict.example")
        assert server.send(asking.as_bytes(), [f"help@{DOMAIN}"], sender=STRICT)[:3] == "250"
        wait_for(lambda: len(received_by(handler, READER, "Strict")) == 1, what="Strict")
        wait_for(lambda: len(received_by(handler, READER, "Lenient")) == 1, what="Lenient")
        wait_for(lambda: len(answers_to(handler, STRICT)) == 1, what="the help answer")

    [rewritten] = received_by(handler, READER, "Strict")
    assert rewritten["From"] == f"Alice via Design <design@{DOMAIN}>"
    assert rewritten["Reply-To"] == f"Alice <{STRICT}>"
    [kept] = received_by(handler, READER, "Lenient")
    assert kept["From"] == f"Pat <{LENIENT}>"
    assert kept["Reply-To"] is None
    [help_answer] = answers_to(handler, STRICT)
    assert help_answer["From"].addresses[0].addr_spec == f"help@{DOMAIN}"
