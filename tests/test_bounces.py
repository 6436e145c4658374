"""Bounce scores: points per failure, stale scores, stopping mail at the threshold and telling
the owners; bounce mails matched by their VERP address first, by their report otherwise."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.mail.recipients import parse_recipient
from gateway.outbound import bounces
from gateway.outbound.bounces import count_bounce
from gateway.outbound.bounces import count_refusals
from gateway.outbound.bounces import handle_bounces
from gateway.outbound.bounces import refuses_recipient
from gateway.outbound.deliveries import Claimed
from gateway.outbound.deliveries import Outcome
from gateway.relay.envelope import verp_address
from gateway.relay.envelope import verp_recipient
from gateway.settings import Settings
from gateway.store.models import ActionMail
from gateway.store.models import Community
from gateway.store.models import Delivery
from gateway.store.models import Membership
from gateway.store.models import Person
from gateway.store.models import Role
from tests.corpus import sample

DOMAIN = "lists.example.com"
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
MAILBOX_FULL = sample("mime/flanker/bounce/mailbox-full.eml")  # Final-Recipient user@aol.com
NOT_A_BOUNCE = b"From: bob@example.com\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n"


def with_threshold(settings: Settings, threshold: int) -> Settings:
    return dataclasses.replace(
        settings, delivery=dataclasses.replace(settings.delivery, bounce_threshold=threshold)
    )


def design_with(session: Session, *addresses: str, slug: str = "design") -> Community:
    community = create_community(session, slug, slug.capitalize())
    add_members(session, community, list(addresses))
    return community


def score(session: Session, address: str, slug: str = "design") -> tuple[int, object, object]:
    """(bounce_score, bounced_at, disabled_at) as stored."""
    row = session.execute(
        select(Membership.bounce_score, Membership.bounced_at, Membership.disabled_at)
        .join(Person, Person.id == Membership.person_id)
        .join(Community, Community.id == Membership.community_id)
        .where(Person.address == address, Community.slug == slug)
    ).one()
    return row.bounce_score, row.bounced_at, row.disabled_at


def bounce_mail(session: Session, app: App, raw: bytes, token: str) -> int:
    row = ActionMail(
        recipient=f"bounces+{token}@{DOMAIN}" if token else f"bounces@{DOMAIN}",
        action="bounces",
        token=token,
        sender="mailer-daemon@aol.com",
        message_id="bounce-1@aol.com",
        raw_sha256=app.blobs.put(raw),
        raw_size=len(raw),
        received_at=NOW,
    )
    session.add(row)
    session.flush()
    return row.id


def handled_at(session: Session, row_id: int) -> object:
    return session.scalar(select(ActionMail.handled_at).where(ActionMail.id == row_id))


def notices(session: Session) -> list[tuple[str, str, int | None, bytes]]:
    return [
        tuple(row)
        for row in session.execute(
            select(Delivery.recipient, Delivery.kind, Delivery.person_id, Delivery.content)
            .where(Delivery.kind != "post")
            .order_by(Delivery.recipient)
        )
    ]


# --- count_bounce


def test_a_permanent_failure_counts_two_and_a_transient_one(
    session: Session, settings: Settings
) -> None:
    design_with(session, "bob@example.com")
    assert count_bounce(session, "bob@example.com", 2, "5.1.1", settings, NOW) == []
    assert score(session, "bob@example.com") == (2, NOW, None)
    later = NOW + dt.timedelta(days=1)
    count_bounce(session, "bob@example.com", 1, "4.2.2", settings, later)
    assert score(session, "bob@example.com") == (3, later, None)


def test_a_bounce_counts_in_every_active_membership(session: Session, settings: Settings) -> None:
    design_with(session, "bob@example.com")
    design_with(session, "bob@example.com", slug="ux")
    design_with(session, "carol@example.com", slug="research")
    count_bounce(session, "bob@example.com", 2, "5.1.1", settings, NOW)
    assert score(session, "bob@example.com", "design")[0] == 2
    assert score(session, "bob@example.com", "ux")[0] == 2
    assert score(session, "carol@example.com", "research") == (0, None, None)


@pytest.mark.parametrize(
    ("last_bounce_ago", "expected"),
    [
        (dt.timedelta(days=8), 1),  # stale: starts again from zero
        (dt.timedelta(days=7, seconds=1), 1),
        (dt.timedelta(days=7), 7),  # a week to the second still adds up
        (dt.timedelta(days=6), 7),
    ],
)
def test_a_score_last_raised_over_a_week_ago_restarts_from_zero(
    session: Session, settings: Settings, last_bounce_ago: dt.timedelta, expected: int
) -> None:
    design_with(session, "bob@example.com")
    membership = session.scalars(select(Membership)).one()
    membership.bounce_score = 6
    membership.bounced_at = NOW - last_bounce_ago
    session.flush()
    count_bounce(session, "bob@example.com", 1, "4.2.2", settings, NOW)
    assert score(session, "bob@example.com") == (expected, NOW, None)


def test_reaching_the_threshold_stops_the_mail(session: Session, settings: Settings) -> None:
    settings = with_threshold(settings, 5)
    design_with(session, "bob@example.com")
    assert count_bounce(session, "bob@example.com", 2, "5.1.1", settings, NOW) == []
    assert count_bounce(session, "bob@example.com", 2, "5.1.1", settings, NOW) == []
    [stopped] = count_bounce(session, "bob@example.com", 1, "4.2.2", settings, NOW)
    assert stopped.person.address == "bob@example.com"
    assert score(session, "bob@example.com") == (5, NOW, NOW)
    # A stopped membership counts no more bounces.
    later = NOW + dt.timedelta(hours=1)
    assert count_bounce(session, "bob@example.com", 2, "5.1.1", settings, later) == []
    assert score(session, "bob@example.com") == (5, NOW, NOW)


def test_an_unknown_address_counts_nothing(session: Session, settings: Settings) -> None:
    design_with(session, "bob@example.com")
    assert count_bounce(session, "nobody@example.com", 2, "5.1.1", settings, NOW) == []
    assert score(session, "bob@example.com") == (0, None, None)


# --- handle_bounces


def test_a_verp_bounce_counts_against_the_verp_address(
    session: Session, app: App, settings: Settings
) -> None:
    design_with(session, "bob@example.com", "user@aol.com")
    row = bounce_mail(session, app, MAILBOX_FULL, "bob=example.com")

    assert handle_bounces(session, app.blobs, app.templates, settings, NOW) == 1

    assert score(session, "bob@example.com") == (2, NOW, None)  # failed, 5.2.2: permanent
    assert score(session, "user@aol.com") == (0, None, None)  # the report's Final-Recipient
    assert handled_at(session, row) == NOW
    assert handle_bounces(session, app.blobs, app.templates, settings, NOW) == 0
    assert score(session, "bob@example.com")[0] == 2


def test_a_bounce_without_a_token_counts_against_the_reported_recipients(
    session: Session, app: App, settings: Settings
) -> None:
    design_with(session, "bob@example.com", "user@aol.com")
    row = bounce_mail(session, app, MAILBOX_FULL, "")
    assert handle_bounces(session, app.blobs, app.templates, settings, NOW) == 1
    assert score(session, "user@aol.com") == (2, NOW, None)
    assert score(session, "bob@example.com") == (0, None, None)
    assert handled_at(session, row) == NOW


def test_a_bounce_that_cannot_be_counted_is_set_aside_and_the_others_are(
    session: Session, app: App, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    design_with(session, "bob@example.com", "carol@example.com")
    broken = bounce_mail(session, app, MAILBOX_FULL, "bob=example.com")
    fine = bounce_mail(session, app, MAILBOX_FULL, "carol=example.com")
    count = bounces.count_bounce

    def count_but_bob(session: Session, address: str, *args: object) -> object:
        # No real bounce is known to break the counting: this one is made to.
        if address == "bob@example.com":
            raise ValueError("a broken membership")
        return count(session, address, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(bounces, "count_bounce", count_but_bob)
    assert handle_bounces(session, app.blobs, app.templates, settings, NOW) == 2
    assert score(session, "carol@example.com") == (2, NOW, None)
    assert score(session, "bob@example.com") == (0, None, None)
    assert handled_at(session, broken) == NOW and handled_at(session, fine) == NOW
    assert session.get(ActionMail, broken).outcome == "failed"  # type: ignore[union-attr]


def test_an_unreadable_bounce_to_a_verp_address_counts_one_point(
    session: Session, app: App, settings: Settings
) -> None:
    design_with(session, "bob@example.com")
    row = bounce_mail(session, app, NOT_A_BOUNCE, "bob=example.com")
    assert handle_bounces(session, app.blobs, app.templates, settings, NOW) == 1
    assert score(session, "bob@example.com") == (1, NOW, None)
    assert handled_at(session, row) == NOW


def test_an_unreadable_bounce_without_a_token_counts_nothing(
    session: Session, app: App, settings: Settings
) -> None:
    design_with(session, "bob@example.com")
    row = bounce_mail(session, app, NOT_A_BOUNCE, "")
    assert handle_bounces(session, app.blobs, app.templates, settings, NOW) == 1
    assert score(session, "bob@example.com") == (0, None, None)
    assert handled_at(session, row) == NOW


def test_stopping_a_member_tells_each_owner_of_the_community(
    session: Session, app: App, settings: Settings
) -> None:
    settings = with_threshold(settings, 2)
    design = design_with(session, "bob@example.com", "carol@example.com")
    olga, oscar = (
        m.person_id
        for m in add_members(
            session, design, ["olga@example.com", "oscar@example.com"], role=Role.OWNER
        )
    )
    add_members(session, design, ["mona@example.com"], role=Role.MODERATOR)
    other = design_with(session, "otto@example.com", slug="ux")
    add_members(session, other, ["uma@example.com"], role=Role.OWNER)
    bounce_mail(session, app, MAILBOX_FULL, "bob=example.com")

    handle_bounces(session, app.blobs, app.templates, settings, NOW)

    assert score(session, "bob@example.com") == (2, NOW, NOW)
    sent = notices(session)
    assert [(recipient, kind, person) for recipient, kind, person, _ in sent] == [
        ("olga@example.com", "bounce_disabled", olga),
        ("oscar@example.com", "bounce_disabled", oscar),
    ]
    for recipient, _, _, content in sent:
        assert content
        notice = email.message_from_bytes(content, policy=email.policy.default)
        assert notice["To"] == recipient
        assert notice["Subject"] == "Design: mail to bob@example.com stopped after bounces"
        assert notice["Auto-Submitted"] == "auto-generated"
        body = notice.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        assert "who run the gateway to start its mail to Design again" in text
        assert "gateway member" not in text and "--enable" not in text  # no command
        assert "552 5.2.2 E4.12 user MAILBOX FULL" in text


def test_no_notice_below_the_threshold(session: Session, app: App, settings: Settings) -> None:
    design = design_with(session, "bob@example.com")
    add_members(session, design, ["olga@example.com"], role=Role.OWNER)
    bounce_mail(session, app, MAILBOX_FULL, "bob=example.com")
    handle_bounces(session, app.blobs, app.templates, settings, NOW)
    assert score(session, "bob@example.com") == (2, NOW, None)
    assert notices(session) == []


# --- VERP addresses


@pytest.mark.parametrize(
    ("recipient", "verp"),
    [
        ("alice@example.com", "bounces+alice=example.com@lists.example.com"),
        ("a.b+tag@sub.example.org", "bounces+a.b+tag=sub.example.org@lists.example.com"),
        ("x=y+z@example.com", "bounces+x=y+z=example.com@lists.example.com"),
    ],
)
def test_verp_addresses_round_trip(recipient: str, verp: str) -> None:
    assert verp_address(recipient, DOMAIN) == verp
    parsed = parse_recipient(verp, DOMAIN)
    assert (parsed.action, parsed.token) == ("bounces", verp[len("bounces+") : -len(DOMAIN) - 1])
    assert verp_recipient(parsed.token) == recipient


@pytest.mark.parametrize("token", ["", "nothing", "bob=", "=example.com", "bob=localhost"])
def test_a_token_that_is_not_verp_names_no_one(token: str) -> None:
    assert verp_recipient(token) == ""


def test_a_verp_token_is_read_case_insensitively() -> None:
    assert verp_recipient("Bob=Example.COM") == "bob@example.com"


@pytest.mark.parametrize(
    ("code", "text", "counted"),
    [
        (550, "5.1.1 <carol@example.com>: Recipient address rejected: User unknown", True),
        (552, "5.2.2 mailbox full", True),
        (452, "4.2.2 mailbox full, try later", True),
        (550, "Requested action not taken: mailbox unavailable", True),
        (553, "sorry, that domain isn't in my list of allowed rcpthosts", True),
        # The relay's own trouble, the network, the message or a policy: not the member's.
        (451, "4.3.0 Error: queue file write error", False),
        (421, "4.4.2 mx.example.com Error: timeout exceeded", False),
        (452, "4.5.3 Error: too many recipients", False),
        (554, "5.7.1 <carol@example.com>: Relay access denied", False),
        (552, "5.3.4 Message size exceeds fixed limit", False),
        (554, "Transaction failed", False),
        (451, "Local error in processing", False),
        (550, "4.1.1 a code that contradicts its class", False),
        (250, "2.1.5 Ok", False),
    ],
)
def test_only_a_relay_refusal_about_the_recipient_counts(
    code: int, text: str, counted: bool
) -> None:
    assert refuses_recipient(code, text) is counted


def test_a_relay_delay_counts_once_per_delivery_and_a_refusal_each_time(
    session: Session, app: App, settings: Settings
) -> None:
    """A mailbox full (452 4.2.2) is retried for hours: one point for the delivery, on its
    first attempt, not one per retry; a refusal (550 5.1.1) ends its delivery and counts two."""
    design_with(session, "bob@example.com", "carol@example.com")

    def refused(recipient: str, attempts: int, code: int, text: str) -> Outcome:
        claimed = Claimed(attempts, 1, 1, recipient, attempts, NOW)
        return Outcome(claimed, code, text)

    full = "4.2.2 Mailbox full"
    retries = [refused("bob@example.com", n, 452, full) for n in range(5)]
    assert count_refusals(session, app.templates, settings, retries, NOW) == 1
    assert score(session, "bob@example.com")[0] == 1
    unknown = [refused("carol@example.com", 0, 550, "5.1.1 User unknown")]
    assert count_refusals(session, app.templates, settings, unknown, NOW) == 1
    assert score(session, "carol@example.com")[0] == 2
