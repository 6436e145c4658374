"""Adoption end to end: the crafted network's posts sent over SMTP to a real gateway,
then `gateway stats`, `gateway experts`, `gateway suggest`, and the monthly mails
delivered by the running gateway's worker to the outbox, once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from gateway.adoption.monthly_content import opt_out_link
from gateway.adoption.months import latest_month
from gateway.app import App
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Delivery
from gateway.store.models import DeliveryStatus
from gateway.store.models import MonthlyRun
from gateway.store.models import utcnow
from tests import adoption_network as net
from tests.conftest import GatewayCli
from tests.conftest import running
from tests.conftest import wait_for
from tests.integration.test_digests_end_to_end import outbox_for
from tests.received import plain_text

# The imported thread (i1, and i2 replying to it) is left out: no history over SMTP.
SENT = [p for p in net.POSTS if p.key.startswith("p")]


def monthly_deliveries(app: App, period: str) -> list[DeliveryStatus]:
    """The deliveries of that month's mails (in the first week of a month, the
    running gateway's scheduler sends the current month's too)."""
    with transaction(app.read_sessions) as session:
        return list(
            session.scalars(
                select(Delivery.status)
                .join(MonthlyRun, MonthlyRun.delivery_id == Delivery.id)
                .where(MonthlyRun.period == period)
            )
        )


def test_the_network_over_smtp(app: App, settings: Settings, gateway_cli: GatewayCli) -> None:
    net.build(app)
    with running(settings) as server:
        for post in sorted(SENT, key=lambda p: p.at):
            recipients = [f"{slug}@{net.DOMAIN}" for slug in post.slugs]
            reply = server.send(net.raw_mail(post), recipients, post.sender)
            assert reply.startswith("250"), reply

        stats = gateway_cli.json("stats", "--since", "2020-01-01")["overall"]
        members = {address for _, address, *_ in net.MEMBERS}
        posters = {p.sender for p in SENT}
        assert (stats["posts"], stats["threads"]) == (
            len(SENT), sum(1 for p in SENT if not p.reply_to)
        )  # fmt: skip
        assert (stats["members"], stats["posters"], stats["readers_only"]) == (
            len(members), len(posters), len(members - posters)
        )  # fmt: skip
        assert [e["email"] for e in gateway_cli.json("experts", "accessibility")][:2] == [
            "alice@example.com", "carol@example.com"
        ]  # fmt: skip
        assert [s["slug"] for s in gateway_cli.json("suggest", "carol@example.com")] == ["a11y"]

        # The next month's mails, an hour after they are due (they look back on now).
        month = latest_month(utcnow() + dt.timedelta(days=31), settings)
        at = (month.due + dt.timedelta(hours=1)).isoformat()
        first = gateway_cli("monthly", "run", "--at", at).stdout
        assert f"{month.period}: 9 queued" in first
        wait_for(
            lambda: monthly_deliveries(app, month.period) == [DeliveryStatus.SENT] * 9,
            what="the monthly mails",
        )
        again = gateway_cli("monthly", "run", "--at", at).stdout
        assert "every one was already sent" in again

    label = month.start.strftime("%B %Y")  # "November 2026": the month in words
    for address in ("alice@example.com", "bob@example.com", "carol@example.com"):
        [mail] = [
            m for m in outbox_for(settings, address) if m["Subject"].startswith("Your network")
            and label in m["Subject"]
        ]  # fmt: skip
        assert mail["List-Unsubscribe"].endswith(f">, <{opt_out_link(net.DOMAIN)}>")
    [carol] = [
        m for m in outbox_for(settings, "carol@example.com")
        if m["Subject"].startswith("Your network") and label in m["Subject"]
    ]  # fmt: skip
    text = plain_text(carol)
    assert "=== Design (design@lists.example.com) ===" in text
    assert f"mailto:a11y-join@{net.DOMAIN}?subject=join" in text
    reports = [
        m["Subject"] for m in outbox_for(settings, "bob@example.com")
        if label in m["Subject"] and not m["Subject"].startswith("Your network")
    ]  # fmt: skip
    assert sorted(s.split(" in ")[0] for s in reports) == ["IT", "Security"]
