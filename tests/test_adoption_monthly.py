"""gateway.adoption.monthly: the owners' reports and the members' "your network" mails
of the crafted network, at a known time: who gets what, what it says, sent once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.message
import email.policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archive.build import SiteBuilder
from gateway.adoption.monthly import run_monthly
from gateway.adoption.monthly import set_monthly_mail
from gateway.adoption.months import latest_month
from gateway.app import App
from gateway.app import build_app
from gateway.community.people import ProfileChanges
from gateway.community.people import set_profile
from gateway.outbound.composer import Composer
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Delivery
from gateway.store.models import MonthlyRun
from tests import adoption_network as net
from tests.conftest import GatewayCli

# 1 December 2026, 07:00 in Paris is 06:00 UTC: the December mails (looking back on
# November) are due; an hour later they are sent.
AT = dt.datetime(2026, 12, 1, 7, 0, tzinfo=dt.UTC)


@pytest.fixture
def network(app: App) -> App:
    net.build(app)
    net.send(lambda post, raw: net.ingest(app, post, raw))
    return app


def mails(app: App) -> dict[tuple[str, str], email.message.EmailMessage]:
    with transaction(app.read_sessions) as session:
        rows = session.execute(
            select(Delivery.recipient, Delivery.kind, Delivery.content).where(
                Delivery.kind.like("monthly%")
            )
        ).all()
    found = {}
    for recipient, kind, content in rows:
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        subject = str(message["Subject"])
        name = subject.split(" in ")[0].split(" en ")[0]  # English and French subjects
        key = (recipient, kind if kind == "monthly_network" else name)
        assert key not in found, f"two mails for {key}"
        found[key] = message
    return found


def body(message: email.message.EmailMessage) -> str:
    """The text part (the HTML beside it is the same text in the mail layout)."""
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    return str(text.get_content())


def test_months_are_due_on_the_configured_day(settings: Settings) -> None:
    month = latest_month(AT, settings)
    assert (month.period, month.due, month.start, month.since) == (
        "2026-12",
        dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 1, 6, 0, tzinfo=dt.UTC),
        dt.date(2026, 11, 1),
    )
    assert latest_month(AT - dt.timedelta(hours=2), settings).period == "2026-11"


def test_owners_and_members_get_their_monthly_mail_once(network: App) -> None:
    report = run_monthly(network, AT)
    assert report.period == "2026-12"
    assert report.count("queued") == 9
    sent = mails(network)
    # One report per owned community (a11y has no owner), one network mail per member
    # who gets mail (frank's only membership is delivery "none").
    assert sorted(sent) == [
        ("alice@example.com", "Design"),
        ("alice@example.com", "monthly_network"),
        ("bob@example.com", "IT"),
        ("bob@example.com", "Security"),
        ("bob@example.com", "monthly_network"),
        ("carol@example.com", "monthly_network"),
        ("dave@example.com", "monthly_network"),
        ("erin@example.com", "Finance"),
        ("erin@example.com", "monthly_network"),
    ]
    # Run again (the scheduler does every minute): nothing more.
    assert run_monthly(network, AT + dt.timedelta(hours=5)).planned == []
    assert len(mails(network)) == 9
    with transaction(network.read_sessions) as session:
        runs = session.scalars(select(MonthlyRun)).all()
    assert len(runs) == 9 and all(r.delivery_id is not None for r in runs)


def test_what_the_mails_say(network: App) -> None:
    with transaction(network.sessions) as session:
        set_profile(session, "dave@example.com", ProfileChanges(timezone="America/Los_Angeles"))
    run_monthly(network, AT)
    sent = mails(network)
    # The month is named in words, the same for every reader: 07:00 on 1 November in
    # Paris is still 31 October in Los Angeles, but Dave's mail is about November too.
    assert sent[("alice@example.com", "Design")]["Subject"] == (
        "Design in November 2026: 7 posts, 4 members"
    )
    assert "since 1 November 2026." in body(sent[("alice@example.com", "monthly_network")])
    dave_mail = sent[("dave@example.com", "monthly_network")]
    assert str(dave_mail["Subject"]).startswith("Your network in November 2026")
    assert "since 1 November 2026." in body(dave_mail)
    design = body(sent[("alice@example.com", "Design")])
    # Design's month: p1, p2, p3, p4, p7, p8, i2 (the imported i1 is older).
    assert "Posts              7 (0 imported), in 3 new threads" in design
    assert "1 question waited more than 3 days for an answer" in design
    alice = sent[("alice@example.com", "monthly_network")]
    text = body(alice)
    assert "Which font for print, asked by carol@example.com in Design" in text
    assert "Accessibility: Accessibility for everyone" in text
    assert f"mailto:a11y-join@{net.DOMAIN}?subject=join" in text
    one_click, opt_out = alice["List-Unsubscribe"].split(", ")
    assert one_click.startswith("<http://localhost:8080/u/")  # [web] base_url
    assert opt_out == f"<mailto:profile@{net.DOMAIN}?subject=monthly%20off&body=Monthly%3A%20off>"
    assert alice["List-Unsubscribe-Post"] is None  # http: RFC 8058 wants https
    assert "Your profile says nothing" not in text
    dave = body(sent[("dave@example.com", "monthly_network")])
    assert "Your profile says nothing" in dave
    assert "=== Design" in dave and "Finance" not in dave  # finance: delivery none
    erin = body(sent[("erin@example.com", "monthly_network")])
    assert "your department, IT (1 colleague in it)" in erin
    assert f"mailto:it-team-join@{net.DOMAIN}?subject=join" in erin


def test_the_opt_out_and_the_command(network: App, gateway_cli: GatewayCli) -> None:
    with transaction(network.sessions) as session:
        set_monthly_mail(session, "carol@example.com", False)
    at = AT.isoformat()
    dry = gateway_cli("monthly", "run", "--at", at, "--dry-run").stdout
    assert "2026-12: 8 would be queued if run without --dry-run" in dry
    assert "Nothing was sent or recorded." in dry
    assert mails(network) == {}
    data = gateway_cli.json("monthly", "run", "--at", at)
    assert data["period"] == "2026-12" and len(data["mails"]) == 8
    assert "carol@example.com" not in {m["email"] for m in data["mails"]}
    assert "every one was already sent" in gateway_cli("monthly", "run", "--at", at).stdout
    gateway_cli("monthly", "start", "carol@example.com")
    assert "1 queued" in gateway_cli("monthly", "run", "--at", at).stdout
    # A week after it was due, a month no longer sent is skipped.
    late = (AT + dt.timedelta(days=8)).isoformat()
    assert gateway_cli.json("monthly", "run", "--at", late)["mails"] == []


def test_the_mails_and_the_stats_page_in_french(settings: Settings, tmp_path: Path) -> None:
    french = dataclasses.replace(
        settings, gateway=dataclasses.replace(settings.gateway, language="fr")
    )
    app = build_app(french)
    try:
        net.build(app)
        net.send(lambda post, raw: net.ingest(app, post, raw))
        assert run_monthly(app, AT).count("queued") == 9
        sent = mails(app)
        alice = body(sent[("alice@example.com", "monthly_network")])
        assert "Des communautés pour vous" in alice
        assert "votre expertise «\u00a0Accessibility\u00a0»" in alice
        assert "depuis le 1er novembre 2026." in alice and "-01" not in alice
        design = body(sent[("alice@example.com", "Design")])
        assert "1 question a attendu plus de 3 jours une réponse" in design
        SiteBuilder(app, tmp_path / "site", search=False).run()
        page = (tmp_path / "site" / "stats" / "index.html").read_text()
        assert "Messages par service" in page
    finally:
        app.close()


def test_a_monthly_mail_that_cannot_be_written_is_set_aside_and_the_others_go_out(
    network: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = Composer.message

    def broken_for_carol(self: Composer, parts: Any, to: str, *args: Any, **kw: Any) -> Any:
        # No real monthly mail is known to break its writer: this one is made to.
        if to == "carol@example.com":
            raise ValueError("a broken template")
        return write(self, parts, to, *args, **kw)

    monkeypatch.setattr(Composer, "message", broken_for_carol)
    report = run_monthly(network, AT)
    assert [p.address for p in report.planned if p.status == "failed"] == ["carol@example.com"]
    assert report.count("queued") == 8
    assert "carol@example.com" not in {address for address, _ in mails(network)}
