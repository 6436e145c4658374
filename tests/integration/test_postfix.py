"""Behind and in front of a real Postfix: mail goes sender -> Postfix -> `gateway serve`
-> Postfix -> a loopback sink, as it does at a company (tests/postfix.py).

Postfix here closes a client connection idle for SMTPD_TIMEOUT seconds (300 in real
life) with its `421 4.4.2 ... timeout exceeded`, as it does to the gateway's pooled
relay connections after a quiet spell; the tests wait for that, then send again.
"""

from __future__ import annotations

import dataclasses
import email.utils
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.communities import get_community
from gateway.community.members import add_members
from gateway.community.members import get_membership
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Delivery
from gateway.store.models import DeliveryStatus
from gateway.store.models import Policy
from gateway.store.models import Role
from tests.conftest import RunningGateway
from tests.conftest import crlf
from tests.conftest import wait_for
from tests.factories import post
from tests.postfix import DOMAIN
from tests.postfix import HOST
from tests.postfix import PostfixServer
from tests.postfix import PostfixUnavailable
from tests.received import parse_mail
from tests.sink import Sink

# What Postfix does does not depend on the store: SQLite only (test_mail_out.py runs
# the same flows on both stores), which keeps this module's time down.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

REFUSED = "gone@example.com"  # Postfix refuses it at RCPT, as an unknown user
BOUNCING = "dave@example.com"  # Postfix takes it; the next hop (the sink) refuses it
PROMPTLY = 30  # seconds: a bound for the wait loops, far above what delivery takes


@pytest.fixture
def seeded(app: App) -> App:
    """design: alice (owner), bob, carol, gone, dave; ops (open): bob and frank."""
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design")
        ops = create_community(session, "ops", "Operations", subject_prefix="", policy=Policy.OPEN)
        add_members(session, design, ["alice@example.com"], role=Role.OWNER)
        add_members(session, design, ["bob@example.com", "carol@example.com"])
        add_members(session, design, [REFUSED, BOUNCING])
        add_members(session, ops, ["bob@example.com", "frank@example.com"])
    return app


@dataclass
class Company:
    """The gateway between its MTA and the sink; mail goes in through the MTA."""

    app: App
    mta: PostfixServer
    gateway: RunningGateway
    sink: Sink

    def send(
        self, subject: str, to: list[str], sender: str = "alice@example.com", **kw: str
    ) -> str:
        """Mail `to` community addresses through Postfix; return its Message-ID."""
        message_id = email.utils.make_msgid(domain="example.com").strip("<>")
        slugs = [address.split("@")[0] for address in to]
        message = post(subject, message_id=message_id, sender=sender, to=slugs, **kw)
        self.mta.send(crlf(message.as_bytes()), to, sender=sender)
        return f"<{message_id}>"

    def copies(self) -> Counter[tuple[str, str]]:
        """(recipient, Message-ID) of each copy the sink got, counted."""
        return Counter(
            (rcpt, str(parse_mail(data)["Message-ID"])) for _, rcpt, data in self.sink.copies()
        )

    def subjects(self, recipient: str) -> list[str]:
        return [
            str(parse_mail(data)["Subject"])
            for _, rcpt, data in self.sink.copies()
            if rcpt == recipient
        ]

    def wait_for_copies(self, expected: set[tuple[str, str]]) -> None:
        """Until every expected copy has come, each once, and the queue has settled."""
        wait_for(lambda: expected <= set(self.copies()), PROMPTLY, f"the copies {expected}")
        wait_for(lambda: settled(self.app), PROMPTLY, "every delivery to settle")
        twice = {copy: count for copy, count in self.copies().items() if count > 1}
        assert not twice, f"copies that came more than once: {twice}"

    def wait_for_idle_connections_closed(self) -> None:
        """Until Postfix has timed out every connection the gateway left open."""
        closed = self.mta.idle_connections_closed
        wait_for(closed, PROMPTLY, "Postfix to close the idle relay connections")


@pytest.fixture
def company(seeded: App, settings: Settings, sink: tuple[Sink, int]) -> Iterator[Company]:
    handler, sink_port = sink
    handler.rcpt_replies[BOUNCING] = "550 5.1.1 <dave@example.com>: mailbox unavailable"
    try:
        mta = PostfixServer(sink_port, refused={REFUSED: "550 5.1.1 User unknown"})
    except PostfixUnavailable as reason:
        pytest.skip(f"Postfix tests skipped: {reason}")
    # Two pooled relay connections: a few mails use them both before a quiet spell.
    relay = dataclasses.replace(
        settings.relay, backend="smtp", host=HOST, port=mta.port, connections=2
    )
    # A copy that meets a connection Postfix closed is tried again a second later.
    delivery = dataclasses.replace(settings.delivery, retry_wait_seconds=1)
    gateway = RunningGateway(dataclasses.replace(settings, relay=relay, delivery=delivery))
    try:
        mta.start(gateway.port)
        gateway.start()
        yield Company(seeded, mta, gateway, handler)
    finally:
        try:
            gateway.stop()
        finally:
            mta.stop()


def deliveries(app: App) -> list[Delivery]:
    with transaction(app.read_sessions) as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def settled(app: App) -> bool:
    return all(d.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED) for d in deliveries(app))


def bounce_score(app: App, address: str) -> int:
    with transaction(app.read_sessions) as session:
        membership = get_membership(session, get_community(session, "design"), address)
        return membership.bounce_score


def post_copies(message_id: str, recipients: list[str]) -> set[tuple[str, str]]:
    return {(recipient, message_id) for recipient in recipients}


DESIGN = [f"design@{DOMAIN}"]
BOTH = [f"design@{DOMAIN}", f"ops@{DOMAIN}"]
DESIGN_READERS = ["bob@example.com", "carol@example.com"]  # gone and dave never get one


def test_posts_a_reply_a_cross_post_and_a_join_go_through_postfix_both_ways(
    company: Company,
) -> None:
    first = company.send("Colours", DESIGN)
    company.wait_for_copies(post_copies(first, DESIGN_READERS))
    reply = company.send("Re: [design] Colours", DESIGN, "bob@example.com", In_Reply_To=first)
    crossed = company.send("Launch", BOTH)
    expected = (
        post_copies(first, DESIGN_READERS)
        | post_copies(reply, ["alice@example.com", "carol@example.com"])
        | post_copies(crossed, [*DESIGN_READERS, "frank@example.com"])
    )
    company.wait_for_copies(expected)
    # Postfix relayed them with XVERP: each copy carries its member's bounce address.
    senders = {(sender, rcpt) for sender, rcpt, _ in company.sink.copies()}
    assert (f"bounces+frank=example.com@{DOMAIN}", "frank@example.com") in senders

    erin = "erin@example.com"
    company.mta.send(
        crlf(post("join", message_id="", sender=erin, to="design-join").as_bytes()),
        [f"design-join@{DOMAIN}"],
        sender=erin,
    )
    wait_for(lambda: bool(company.subjects(erin)), PROMPTLY, "the join confirmation")
    [asked] = [parse_mail(data) for _, rcpt, data in company.sink.copies() if rcpt == erin]
    confirm = str(asked["Reply-To"])
    assert confirm.startswith("confirm+") and confirm.endswith(f"@{DOMAIN}")
    answer = post(f"Re: {asked['Subject']}", "yes\n", message_id="", sender=erin, to=confirm)
    company.mta.send(crlf(answer.as_bytes()), [confirm], sender=erin)
    wait_for(lambda: len(company.subjects(erin)) == 2, PROMPTLY, "the welcome")
    assert "Welcome to" in company.subjects(erin)[1]

    company.wait_for_idle_connections_closed()
    again = company.send("After a quiet spell", DESIGN)
    crossed_again = company.send("Launch, again", BOTH)
    company.wait_for_copies(
        expected
        | post_copies(again, [*DESIGN_READERS, erin])
        | post_copies(crossed_again, [*DESIGN_READERS, erin, "frank@example.com"])
    )
    assert len(company.subjects(erin)) == 4  # the confirmation, the welcome, two posts


def test_a_member_whose_mailbox_refuses_gains_a_bounce_score_from_postfixs_report(
    company: Company,
) -> None:
    """Postfix took dave's copy; the next hop refused it; Postfix's delivery report,
    sent to dave's VERP address, comes back through the transport map."""
    company.wait_for_copies(post_copies(company.send("Colours", DESIGN), DESIGN_READERS))
    wait_for(lambda: bounce_score(company.app, BOUNCING) == 2, PROMPTLY, "dave's bounce score")
    assert f"to=<{BOUNCING}>" in company.mta.log() and "status=bounced" in company.mta.log()
    assert bounce_score(company.app, "carol@example.com") == 0


def test_after_postfix_closed_the_idle_relay_connections_no_retry_is_counted(
    company: Company,
) -> None:
    # Two posts, one after the other: both pooled connections carry one.
    for subject in ("One", "Two"):
        company.wait_for_copies(post_copies(company.send(subject, DESIGN), DESIGN_READERS))
    company.wait_for_idle_connections_closed()
    later = company.send("After a quiet spell", DESIGN)
    company.wait_for_copies(post_copies(later, DESIGN_READERS))
    attempts = [(d.recipient, d.attempts) for d in deliveries(company.app) if d.kind == "post"]
    assert {count for _, count in attempts} == {1}, attempts


def test_a_member_postfix_refuses_at_rcpt_gains_a_bounce_score(company: Company) -> None:
    company.wait_for_copies(post_copies(company.send("Colours", DESIGN), DESIGN_READERS))
    [refused] = [d for d in deliveries(company.app) if d.recipient == REFUSED]
    assert refused.status == DeliveryStatus.FAILED
    assert refused.last_error is not None and refused.last_error.startswith("550 5.1.1")
    assert "Recipient address rejected: User unknown" in company.mta.log()
    wait_for(lambda: bounce_score(company.app, REFUSED) == 2, 10, "gone's bounce score")
