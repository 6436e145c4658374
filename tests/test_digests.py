"""Digest runs on a real store (SQLite and PostgreSQL): who gets a digest, what it covers,
what it says, what the mail looks like (its bytes kept in its delivery row), and that each digest
is queued exactly once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.message
import email.policy
import html
import re
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select

from gateway.app import App
from gateway.app import build_app
from gateway.community.communities import create_community
from gateway.community.communities import get_community
from gateway.community.members import add_members
from gateway.community.members import get_membership
from gateway.community.people import ProfileChanges
from gateway.community.people import set_profile
from gateway.digests import news
from gateway.digests import runner
from gateway.digests.news import gather
from gateway.digests.news import thread_heads
from gateway.digests.runner import RunReport
from gateway.digests.runner import run_digests
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Cadence
from gateway.store.models import Community
from gateway.store.models import Delivery
from gateway.store.models import DeliveryMode
from gateway.store.models import DeliveryStatus
from gateway.store.models import DigestRun
from gateway.store.models import Message
from gateway.store.models import Origin
from gateway.store.models import Person
from gateway.store.models import Policy
from gateway.store.models import ThreadMute
from gateway.store.models import Visibility
from tests.factories import ingest
from tests.factories import ingest_post
from tests.factories import post
from tests.received import parse_mail
from tests.received import plain_text

DOMAIN = "lists.example.com"
DAILY = Cadence.DAILY
WEEKLY = Cadence.WEEKLY
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
# Thursday 26 November 2026, 07:00 in Paris: the daily digest of "2026-11-26" is due.
DUE = dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)
RUN = DUE + dt.timedelta(minutes=1)
# Memberships are dated well before every window (not "now", which could fall in one).
JOINED = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


# --- building a site


def community(app: App, slug: str, name: str, **options: Any) -> None:
    with transaction(app.sessions) as session:
        create_community(session, slug, name, policy=Policy.OPEN, **options)


def join(
    app: App,
    slug: str,
    *addresses: str,
    delivery: DeliveryMode = DeliveryMode.DAILY,
    joined_at: dt.datetime = JOINED,
) -> None:
    with transaction(app.sessions) as session:
        memberships = add_members(
            session, get_community(session, slug), list(addresses), delivery=delivery
        )
        for membership in memberships:
            membership.joined_at = joined_at


def profile(app: App, address: str, **changes: Any) -> None:
    with transaction(app.sessions) as session:
        set_profile(session, address, ProfileChanges(**changes))


# --- reading what a run did


def runs(app: App) -> list[dict[str, Any]]:
    with transaction(app.read_sessions) as session:
        rows = session.execute(
            select(
                Person.address,
                DigestRun.cadence,
                DigestRun.period,
                DigestRun.status,
                DigestRun.message_count,
                DigestRun.window_start,
                DigestRun.window_end,
                DigestRun.delivery_id,
            )
            .join(Person, Person.id == DigestRun.person_id)
            .order_by(Person.address, DigestRun.id)
        )
        return [row._asdict() for row in rows]


def digest_deliveries(app: App) -> list[dict[str, Any]]:
    with transaction(app.read_sessions) as session:
        rows = session.execute(
            select(
                Delivery.id,
                Delivery.recipient,
                Delivery.person_id,
                Delivery.kind,
                Delivery.content,
                Delivery.status,
                Delivery.message_id,
                Delivery.next_attempt_at,
            )
            .where(Delivery.kind == "digest")
            .order_by(Delivery.recipient, Delivery.id)
        )
        return [row._asdict() for row in rows]


def counts(app: App) -> tuple[int, int]:
    """(digest_runs rows, deliveries of kind digest)."""
    with transaction(app.read_sessions) as session:
        return (
            session.scalar(select(func.count()).select_from(DigestRun)) or 0,
            session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.kind == "digest")
            )
            or 0,
        )


def mails_for(app: App, address: str) -> list[email.message.EmailMessage]:
    return [
        parse_mail(row["content"]) for row in digest_deliveries(app) if row["recipient"] == address
    ]


def mail_for(app: App, address: str) -> email.message.EmailMessage:
    [message] = mails_for(app, address)
    return message


def html_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # decoded quoted-printable keeps the CRLFs


def statuses(report: RunReport) -> dict[str, str]:
    return {p.address: p.status for p in report.planned}


class Tags(HTMLParser):
    """Every start tag with its attributes, every end tag, and the text."""

    VOID = {"meta", "br", "img", "hr", "input", "link", "wbr", "col", "area", "base", "source"}

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.ends: list[str] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.ends.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def names(self) -> list[str]:
        return [tag for tag, _ in self.starts]

    def unclosed(self) -> Counter[str]:
        opened = Counter(tag for tag in self.names() if tag not in self.VOID)
        opened.subtract(Counter(self.ends))
        return +opened + -opened  # both directions: nothing left over either way


def assert_safe_html(html: str) -> Tags:
    """Parses, is balanced, runs no script, loads nothing, styles only inline."""
    tags = Tags(html)
    names = tags.names()
    assert names[:3] == ["html", "head", "meta"]
    assert "body" in names
    assert not tags.unclosed(), tags.unclosed()
    assert "script" not in names
    assert "style" not in names
    assert "link" not in names
    assert "iframe" not in names and "object" not in names and "form" not in names
    for tag, attrs in tags.starts:
        if tag == "img":
            source = attrs.get("src") or ""
            assert not source.lower().startswith(("http:", "https:", "//")), attrs
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        href = attrs.get("href")
        if href is not None:
            assert href.startswith(("mailto:", "#", "http://localhost:8000/")), href
    assert any("style" in attrs for _, attrs in tags.starts)  # inline CSS is how it is styled
    return tags


# --- fixtures


@pytest.fixture
def two_communities(app: App) -> App:
    """design and ux, open to posts; bob daily in both, carol daily in ux only,
    dan weekly in design; alice (the usual poster) instant in design."""
    community(app, "design", "Design")
    community(app, "ux", "UX")
    join(app, "design", "alice@example.com", delivery=DeliveryMode.INSTANT)
    join(app, "design", "bob@example.com")
    join(app, "ux", "bob@example.com", "carol@example.com")
    join(app, "design", "dan@example.com", delivery=DeliveryMode.WEEKLY)
    profile(app, "alice@example.com", name="Alice Martin")
    profile(app, "bob@example.com", name="Bob Durand")
    return app


# --- who gets what


def test_a_person_in_two_communities_gets_one_digest_with_both(two_communities: App) -> None:
    app = two_communities
    ingest_post(app, "design", subject="Old news", at=DUE - DAY - HOUR)  # the day before's window
    colours = ingest_post(app, "design", subject="Colours", at=DUE - 5 * HOUR, name="Alice Martin",
                   body="Which blue do we use for the buttons?\n")  # fmt: skip
    ingest_post(app, "design", subject="Re: Colours", at=DUE - 4 * HOUR, parent=colours,
         sender="carol@example.com", body="The darker one.\n> Which blue?\n")  # fmt: skip
    ingest_post(app, "ux", subject="Fonts", at=DUE - 3 * HOUR, body="Inter or Source Sans?\n")
    ingest_post(app, "design", subject="Too late", at=DUE)  # the next window's
    ingest_post(app, "design", subject="Imported", at=DUE - 2 * HOUR, origin=Origin.IMPORT)

    report = run_digests(app, DAILY, RUN)

    assert report.cadence is DAILY and report.at == RUN
    assert statuses(report) == {"bob@example.com": "queued", "carol@example.com": "queued"}
    [bob_plan] = [p for p in report.planned if p.address == "bob@example.com"]
    assert (bob_plan.period, bob_plan.messages) == ("2026-11-26", 3)
    assert bob_plan.subject == "Your daily digest: 3 new messages in Design, UX"
    assert [(r["address"], r["cadence"], r["period"], r["status"], r["message_count"])
            for r in runs(app)] == [
        ("bob@example.com", DAILY, "2026-11-26", "queued", 3),
        ("carol@example.com", DAILY, "2026-11-26", "queued", 1),
    ]  # fmt: skip
    for row in runs(app):
        assert (row["window_start"], row["window_end"]) == (DUE - DAY, DUE)
    queued = digest_deliveries(app)
    assert [d["recipient"] for d in queued] == ["bob@example.com", "carol@example.com"]
    assert {r["delivery_id"] for r in runs(app)} == {d["id"] for d in queued}
    for delivery in queued:
        assert delivery["status"] is DeliveryStatus.PENDING
        assert delivery["message_id"] is None and delivery["content"]

    message = mail_for(app, "bob@example.com")
    assert message["Subject"] == "Your daily digest: 3 new messages in Design, UX"
    text = plain_text(message)
    assert text.startswith("Hello Bob Durand,\n\n3 new messages in 2 threads since ")
    assert "Contents\n  - Design: 1 thread\n  - UX: 1 thread\n" in text
    assert text.index("=== Design (design@lists.example.com) ===") < text.index("Colours")
    assert text.index("Colours") < text.index("=== UX (ux@lists.example.com) ===")
    assert text.index("=== UX (ux@lists.example.com) ===") < text.index("Fonts")
    assert "* Colours - 2 new messages" in text
    assert "  - Alice Martin: Which blue do we use for the buttons?" in text
    assert "  - carol@example.com: The darker one.\n" in text  # the quote is not repeated
    assert "  - alice@example.com: Inter or Source Sans?" in text  # no name in its From
    for absent in ("Old news", "Too late", "Imported", "Which blue?"):
        assert absent not in text
    html = html_of(message)
    tags = assert_safe_html(html)
    hrefs = [attrs.get("href") for tag, attrs in tags.starts if tag == "a"]
    ids = [attrs.get("id") for _, attrs in tags.starts if attrs.get("id")]
    assert "#design" in hrefs and "#ux" in hrefs  # the table of contents links its sections
    assert ids == ["design", "ux"]
    assert "Contents" in tags.text and "Colours" in tags.text and "Fonts" in tags.text
    assert "Old news" not in html and "Too late" not in html


def test_a_cross_posted_thread_appears_once_and_names_the_other_community(
    two_communities: App,
) -> None:
    app = two_communities
    first = ingest_post(app, "design", "ux", subject="Launch date", at=DUE - 6 * HOUR,
                 body="We launch on the 3rd.\n")  # fmt: skip
    ingest_post(app, "design", "ux", subject="Re: Launch date", at=DUE - 5 * HOUR, parent=first,
         sender="carol@example.com", body="Great news.\n")  # fmt: skip
    ingest_post(app, "ux", subject="Icons", at=DUE - 4 * HOUR)

    run_digests(app, DAILY, RUN)

    text = plain_text(mail_for(app, "bob@example.com"))
    assert text.count("Launch date") == 1
    assert "* Launch date - 2 new messages, also in UX\n" in text
    assert "We launch on the 3rd." in text and "Great news." in text
    # Shown in the first of bob's communities (by name); UX keeps its own thread only.
    assert "Contents\n  - Design: 1 thread\n  - UX: 1 thread\n" in text
    ux_section = text[text.index("=== UX") :]
    assert "Icons" in ux_section and "Launch date" not in ux_section
    html = html_of(mail_for(app, "bob@example.com"))
    assert html.count("Launch date") == 1
    assert "also in UX" in html
    assert "3 new messages in 2 threads" in text  # the cross-post counted once
    # carol is only in ux: the thread is hers under UX, and it names Design.
    carol = plain_text(mail_for(app, "carol@example.com"))
    assert "* Launch date - 2 new messages, also in Design\n" in carol


def test_a_private_community_is_not_named_to_readers_of_a_cross_post(
    two_communities: App,
) -> None:
    app = two_communities
    community(app, "board", "Board", visibility=Visibility.PRIVATE)
    join(app, "board", "erin@example.com")
    ingest_post(app, "ux", "board", subject="Budget for icons", at=DUE - 2 * HOUR)

    run_digests(app, DAILY, RUN)

    carol = plain_text(mail_for(app, "carol@example.com"))
    assert "* Budget for icons - 1 new message\n" in carol
    assert "Board" not in carol and "Board" not in html_of(mail_for(app, "carol@example.com"))
    assert "Budget for icons" in plain_text(mail_for(app, "erin@example.com"))


def test_a_public_reply_to_a_private_post_is_its_own_thread_in_a_digest(
    two_communities: App,
) -> None:
    """bob reads design; erin reads board (private). The reply in design names the board's
    post by In-Reply-To: bob's digest shows the reply under its own subject, never the
    post's; erin's shows the post alone."""
    app = two_communities
    community(app, "board", "Board", visibility=Visibility.PRIVATE)
    join(app, "board", "erin@example.com")
    secret = ingest_post(
        app, "board", subject="Secret plan zanzibar", at=DUE - 3 * HOUR, body="Quokka deal.\n"
    )
    ingest(
        app,
        post("Lunch menu", "Soup.\n", message_id="reply@example.com", parent=secret),
        ["design"],
        at=DUE - 2 * HOUR,
    )

    run_digests(app, DAILY, RUN)

    bob = plain_text(mail_for(app, "bob@example.com"))
    assert "* Lunch menu - 1 new message\n" in bob
    assert "zanzibar" not in bob and "Quokka" not in bob and "Board" not in bob
    assert "zanzibar" not in html_of(mail_for(app, "bob@example.com"))
    erin = plain_text(mail_for(app, "erin@example.com"))
    assert "* Secret plan zanzibar - 1 new message\n" in erin and "Soup" not in erin


def test_daily_and_weekly_runs_take_only_their_own_members(two_communities: App) -> None:
    app = two_communities
    # The weekly digest due last at RUN is Monday 23 November's ("2026-W48").
    monday = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
    ingest_post(app, "design", subject="Last week", at=monday - 2 * DAY)
    ingest_post(app, "design", subject="Yesterday", at=DUE - 5 * HOUR)

    daily = run_digests(app, DAILY, RUN)
    assert "dan@example.com" not in statuses(daily)
    assert statuses(daily)["bob@example.com"] == "queued"

    weekly = run_digests(app, WEEKLY, RUN)
    assert statuses(weekly) == {"dan@example.com": "queued"}
    [plan] = weekly.planned
    assert (plan.period, plan.messages) == ("2026-W48", 1)
    assert plan.subject == "Your weekly digest: 1 new message in Design"
    [dan_run] = [r for r in runs(app) if r["address"] == "dan@example.com"]
    assert (dan_run["cadence"], dan_run["window_start"], dan_run["window_end"]) == (
        WEEKLY,
        monday - 7 * DAY,
        monday,
    )
    assert "Last week" in plain_text(mail_for(app, "dan@example.com"))
    assert "Yesterday" not in plain_text(mail_for(app, "dan@example.com"))
    bob = plain_text(mail_for(app, "bob@example.com"))
    assert "Yesterday" in bob and "Last week" not in bob
    # alice (instant) never gets a digest.
    assert [d["recipient"] for d in digest_deliveries(app)].count("alice@example.com") == 0


def test_nothing_new_sends_no_mail(two_communities: App) -> None:
    app = two_communities
    ingest_post(app, "design", subject="Design only", at=DUE - HOUR)

    report = run_digests(app, DAILY, RUN)

    assert statuses(report) == {"bob@example.com": "queued", "carol@example.com": "empty"}
    [carol] = [p for p in report.planned if p.address == "carol@example.com"]
    assert (carol.period, carol.messages, carol.subject) == ("2026-11-26", 0, "")
    [carol_run] = [r for r in runs(app) if r["address"] == "carol@example.com"]
    assert (carol_run["status"], carol_run["message_count"], carol_run["delivery_id"]) == (
        "empty",
        0,
        None,
    )
    assert carol_run["window_end"] == DUE  # the next digest starts there all the same
    assert [d["recipient"] for d in digest_deliveries(app)] == ["bob@example.com"]


def test_no_posts_at_all_means_no_mail_for_anyone(two_communities: App) -> None:
    report = run_digests(two_communities, DAILY, RUN)
    assert statuses(report) == {"bob@example.com": "empty", "carol@example.com": "empty"}
    assert counts(two_communities) == (2, 0)


def test_held_posts_are_not_in_digests(app: App) -> None:
    community(app, "design", "Design")
    with transaction(app.sessions) as session:
        create_community(session, "board", "Board", policy=Policy.MODERATED)
    join(app, "board", "bob@example.com")
    ingest_post(
        app, "board", subject="Secret plan", body="Hold me.\n", at=DUE - HOUR, expect="held"
    )
    assert statuses(run_digests(app, DAILY, RUN)) == {"bob@example.com": "empty"}


def test_a_cross_post_held_in_one_community_is_in_the_digests_of_the_other_only(
    app: App,
) -> None:
    community(app, "design", "Design")
    with transaction(app.sessions) as session:
        create_community(session, "board", "Board", policy=Policy.MODERATED)
    join(app, "design", "carol@example.com")
    join(app, "board", "bob@example.com")
    ingest_post(app, "design", "board", subject="Offsite", body="Where?\n", at=DUE - HOUR)
    report = run_digests(app, DAILY, RUN)
    assert statuses(report) == {"bob@example.com": "empty", "carol@example.com": "queued"}
    assert "Offsite" in plain_text(mail_for(app, "carol@example.com"))


def test_a_second_run_of_the_same_period_queues_nothing(two_communities: App) -> None:
    app = two_communities
    ingest_post(app, "design", subject="Colours", at=DUE - HOUR)
    first = run_digests(app, DAILY, RUN)
    assert first.count("queued") == 1 and first.count("empty") == 1
    before = (runs(app), digest_deliveries(app))

    for later in (RUN, RUN + 5 * HOUR, DUE + DAY - dt.timedelta(seconds=1)):
        again = run_digests(app, DAILY, later)
        assert again.planned == []
        assert (runs(app), digest_deliveries(app)) == before
    # New posts wait for the next period, which starts where this one ended.
    ingest_post(app, "design", subject="Afterwards", at=DUE + HOUR)
    assert run_digests(app, DAILY, RUN + 2 * HOUR).planned == []
    following = run_digests(app, DAILY, DUE + DAY)
    assert statuses(following) == {"bob@example.com": "queued", "carol@example.com": "empty"}
    [_, bob_next] = [r for r in runs(app) if r["address"] == "bob@example.com"]
    assert (bob_next["period"], bob_next["window_start"], bob_next["window_end"]) == (
        "2026-11-27",
        DUE,
        DUE + DAY,
    )
    [_, second] = mails_for(app, "bob@example.com")
    assert "Afterwards" in plain_text(second) and "Colours" not in plain_text(second)


def test_a_run_ahead_of_time_covers_posts_until_now_and_the_next_starts_there(
    two_communities: App,
) -> None:
    """`gateway digest run --at` a time still to come passes the clock as `until`."""
    app = two_communities
    ingest_post(app, "design", subject="Before the early run", at=DUE - 3 * HOUR)
    early = run_digests(app, DAILY, RUN, until=DUE - 2 * HOUR)
    assert statuses(early)["bob@example.com"] == "queued"
    [first] = digest_deliveries(app)
    assert first["next_attempt_at"] == DUE - 2 * HOUR  # due now, not at the period's time
    ingest_post(app, "design", subject="After the early run", at=DUE - HOUR)
    run_digests(app, DAILY, DUE + DAY)
    before, after = (plain_text(m) for m in mails_for(app, "bob@example.com"))
    assert "Before the early run" in before and "After the early run" not in before
    assert "After the early run" in after and "Before the early run" not in after


def test_two_concurrent_runs_queue_each_digest_once(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "CHUNK", 7)  # many transactions, so the two runs interleave
    community(app, "design", "Design")
    readers = [f"reader{n}@example.com" for n in range(60)]
    join(app, "design", *readers)
    ingest_post(app, "design", subject="For everyone", at=DUE - HOUR)
    barrier = threading.Barrier(2)
    reports: list[RunReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(10)
            reports.append(run_digests(app, DAILY, RUN))
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert len(reports) == 2
    assert counts(app) == (len(readers), len(readers))
    assert sorted(d["recipient"] for d in digest_deliveries(app)) == sorted(readers)
    assert sorted(r["address"] for r in runs(app)) == sorted(readers)
    queued = Counter(p.address for report in reports for p in report.planned
                     if p.status == "queued")  # fmt: skip
    assert queued == Counter(readers)  # each reported queued by exactly one of the runs
    others = {p.status for report in reports for p in report.planned if p.status != "queued"}
    assert others <= {"already"}


def test_a_run_that_loses_the_race_reports_already(
    two_communities: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run commits between this run's reading and its writing: ON CONFLICT DO
    NOTHING turns this run's digests into "already", with no second mail."""
    app = two_communities
    ingest_post(app, "design", "ux", subject="Colours", at=DUE - HOUR)
    other: list[RunReport] = []

    def gather_then_race(*args: Any, **kwargs: Any) -> Any:
        found = news.gather(*args, **kwargs)
        if not other:
            monkeypatch.setattr(runner, "gather", news.gather)
            other.append(run_digests(app, DAILY, RUN))
        return found

    monkeypatch.setattr(runner, "gather", gather_then_race)
    report = run_digests(app, DAILY, RUN)

    assert statuses(other[0]) == {"bob@example.com": "queued", "carol@example.com": "queued"}
    assert statuses(report) == {"bob@example.com": "already", "carol@example.com": "already"}
    assert report.count("already") == 2 and report.count("queued") == 0
    assert counts(app) == (2, 2)


def test_a_chunk_where_another_run_recorded_some_digests_queues_the_others(
    two_communities: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ON CONFLICT DO NOTHING skips some rows of one multi-row INSERT: the rows it
    returns must still be matched to the right people."""
    app = two_communities
    for n in range(10):
        join(app, "ux", f"reader{n}@example.com")
    ingest_post(app, "design", "ux", subject="Colours", at=DUE - HOUR)
    raced = ["bob@example.com", "reader3@example.com", "reader7@example.com"]

    def gather_then_race(*args: Any, **kwargs: Any) -> Any:
        found = news.gather(*args, **kwargs)
        monkeypatch.setattr(runner, "gather", news.gather)
        for address in raced:
            assert statuses(run_digests(app, DAILY, RUN, only=address)) == {address: "queued"}
        return found

    monkeypatch.setattr(runner, "gather", gather_then_race)
    report = run_digests(app, DAILY, RUN)

    everyone = ["bob@example.com", "carol@example.com"] + [
        f"reader{n}@example.com" for n in range(10)
    ]
    assert statuses(report) == {
        address: "already" if address in raced else "queued" for address in everyone
    }
    assert counts(app) == (12, 12)
    with transaction(app.read_sessions) as session:
        linked = session.execute(
            select(Person.address, Delivery.recipient)
            .join(DigestRun, DigestRun.person_id == Person.id)
            .join(Delivery, Delivery.id == DigestRun.delivery_id)
        ).all()
    assert sorted(linked) == sorted((address, address) for address in everyone)
    for address in everyone:
        assert mail_for(app, address)["To"].addresses[0].addr_spec == address


def test_a_catch_up_after_downtime_is_one_digest_covering_the_missed_days(
    two_communities: App,
) -> None:
    app = two_communities
    day1 = dt.datetime(2026, 11, 21, 6, 0, tzinfo=dt.UTC)  # 07:00 in Paris, every day
    for n in range(5):
        ingest_post(app, "design", "ux", subject=f"Day {n + 1}", at=day1 + n * DAY - 2 * HOUR)

    first = run_digests(app, DAILY, day1 + dt.timedelta(minutes=1))
    assert statuses(first) == {"bob@example.com": "queued", "carol@example.com": "queued"}
    # Down for days 2, 3 and 4; back on day 5.
    day5 = day1 + 4 * DAY
    catch_up = run_digests(app, DAILY, day5 + dt.timedelta(minutes=1))

    assert statuses(catch_up) == {"bob@example.com": "queued", "carol@example.com": "queued"}
    assert {(p.period, p.messages) for p in catch_up.planned} == {("2026-11-25", 4)}
    assert [(r["address"], r["period"], r["window_start"], r["window_end"]) for r in runs(app)] == [
        ("bob@example.com", "2026-11-21", day1 - DAY, day1),
        ("bob@example.com", "2026-11-25", day1, day5),
        ("carol@example.com", "2026-11-21", day1 - DAY, day1),
        ("carol@example.com", "2026-11-25", day1, day5),
    ]
    assert counts(app) == (4, 4)
    first_mail, second_mail = mails_for(app, "bob@example.com")
    assert "Day 1" in plain_text(first_mail) and "Day 2" not in plain_text(first_mail)
    text = plain_text(second_mail)
    assert "Day 1" not in text
    for n in (2, 3, 4, 5):
        assert f"Day {n}" in text


def test_a_catch_up_covers_at_most_seven_days(two_communities: App) -> None:
    app = two_communities
    day1 = dt.datetime(2026, 11, 11, 6, 0, tzinfo=dt.UTC)
    ingest_post(app, "design", subject="Before", at=day1 - HOUR)
    run_digests(app, DAILY, day1)
    ingest_post(app, "design", subject="Too old", at=day1 + DAY)
    ingest_post(app, "design", subject="Recent", at=day1 + 5 * DAY)
    back = day1 + 10 * DAY
    report = run_digests(app, DAILY, back)
    assert statuses(report)["bob@example.com"] == "queued"
    last = [r for r in runs(app) if r["address"] == "bob@example.com"][-1]
    assert (last["window_start"], last["window_end"]) == (back - 7 * DAY, back)
    text = plain_text(mails_for(app, "bob@example.com")[-1])
    assert "Recent" in text and "Too old" not in text


def test_a_profile_time_zone_moves_the_digest_to_seven_there(two_communities: App) -> None:
    app = two_communities
    profile(app, "bob@example.com", timezone="America/New_York")  # 07:00 there is 12:00 UTC
    new_york_due = DUE.replace(hour=12)
    yesterday_new_york = new_york_due - DAY
    ingest_post(app, "ux", subject="Early", at=DUE - DAY - 2 * HOUR)  # in both of the 25th's
    # The day before, at 07:00 in New York, both have had their digest of the 25th.
    assert statuses(run_digests(app, DAILY, yesterday_new_york)) == {
        "bob@example.com": "queued",
        "carol@example.com": "queued",
    }
    ingest_post(app, "ux", subject="Overnight", at=DUE - HOUR)
    ingest_post(app, "ux", subject="Morning in Paris", at=DUE + 3 * HOUR)

    at_paris_seven = run_digests(app, DAILY, RUN)
    assert statuses(at_paris_seven) == {"carol@example.com": "queued"}  # not bob
    assert run_digests(app, DAILY, new_york_due - dt.timedelta(minutes=1)).planned == []
    at_new_york_seven = run_digests(app, DAILY, new_york_due)
    assert statuses(at_new_york_seven) == {"bob@example.com": "queued"}
    [plan] = at_new_york_seven.planned
    assert (plan.period, plan.messages) == ("2026-11-26", 2)
    bob_runs = [r for r in runs(app) if r["address"] == "bob@example.com"]
    assert [(r["period"], r["window_start"], r["window_end"]) for r in bob_runs] == [
        ("2026-11-25", yesterday_new_york - DAY, yesterday_new_york),
        ("2026-11-26", yesterday_new_york, new_york_due),
    ]
    bob_text = plain_text(mails_for(app, "bob@example.com")[-1])
    assert "Overnight" in bob_text and "Morning in Paris" in bob_text
    carol_text = plain_text(mails_for(app, "carol@example.com")[-1])
    assert "Overnight" in carol_text and "Morning in Paris" not in carol_text
    # Each says when its window started in the reader's own zone, in words.
    assert "since Wednesday 25 November, 07:00 (New York)." in bob_text
    assert "since Wednesday 25 November, 07:00 (Paris)." in carol_text
    assert "UTC" not in bob_text + carol_text


# --- what a digest invites the reader to do


@pytest.fixture
def questions(two_communities: App) -> App:
    """Questions in design around DUE, and one new post so that bob's digest is sent."""
    app = two_communities
    profile(app, "bob@example.com", expertise=["Accessibility", "Typography"])
    ingest_post(app, "design", subject="Which grid for the intranet?", at=DUE - 4 * DAY,
         sender="erin@example.com", body="Twelve columns or eight?\n")  # fmt: skip
    ingest_post(app, "design", subject="Accessibility audit tool", at=DUE - 3 * DAY,
         sender="frank@example.com", body="Has anyone tried one they recommend?\n")  # fmt: skip
    ingest_post(app, "design", subject="Where is the style guide?", at=DUE - 3 * DAY,
         sender="bob@example.com")  # fmt: skip
    answered = ingest_post(app, "design", subject="Who has the logo?", at=DUE - 3 * DAY)
    ingest_post(app, "design", subject="Re: Who has the logo?", at=DUE - 2 * DAY - HOUR,
         parent=answered, sender="carol@example.com")  # fmt: skip
    ingest_post(app, "design", subject="Minutes of the meeting", at=DUE - 3 * DAY)
    ingest_post(app, "design", subject="Anyone for lunch?", at=DUE - DAY - HOUR)  # too recent
    ingest_post(app, "design", subject="Forgotten question?", at=DUE - 15 * DAY)  # too old
    ingest_post(app, "ux", subject="Colour contrast?", at=DUE - 3 * DAY, sender="erin@example.com")
    ingest_post(app, "design", "ux", subject="News of the day", at=DUE - HOUR)
    return app


def test_unanswered_questions_matching_the_readers_expertise_come_first(questions: App) -> None:
    run_digests(questions, DAILY, RUN)
    text = plain_text(mail_for(questions, "bob@example.com"))
    section = text[text.index("Still waiting for an answer - can you help?") :]
    listed = [line for line in section.splitlines() if line.startswith("  - ")]
    assert listed == [  # how long each has waited, in words, at the digest's moment
        "  - Accessibility audit tool, asked by frank@example.com in Design 3 days ago"
        " (matches your expertise)",
        "  - Which grid for the intranet?, asked by erin@example.com in Design 4 days ago",
        "  - Colour contrast?, asked by erin@example.com in UX 3 days ago",
    ]
    assert "    Has anyone tried one they recommend?" in section
    for absent in ("style guide", "Who has the logo", "Minutes", "Forgotten", "lunch?"):
        assert absent not in section
    html = html_of(mail_for(questions, "bob@example.com"))
    assert html.index("Accessibility audit tool") < html.index("Which grid for the intranet?")
    assert "<strong>(matches your expertise)</strong>" in html
    # carol has no expertise: the same questions of her community, oldest first.
    carol = plain_text(mail_for(questions, "carol@example.com"))
    assert "(matches your expertise)" not in carol
    assert "Colour contrast?, asked by erin@example.com in UX" in carol
    assert "Accessibility audit tool" not in carol  # not in her communities


def test_a_question_ending_in_an_expertise_word_matches_it(two_communities: App) -> None:
    app = two_communities
    profile(app, "bob@example.com", expertise=["accessibility"])
    ingest_post(app, "design", subject="Who knows about accessibility?", at=DUE - 3 * DAY,
         sender="frank@example.com")  # fmt: skip
    ingest_post(app, "design", subject="News of the day", at=DUE - HOUR)
    run_digests(app, DAILY, RUN)
    text = plain_text(mail_for(app, "bob@example.com"))
    assert "Who knows about accessibility?, asked by frank@example.com in Design" in text
    assert "(matches your expertise)" in text


def test_a_question_naming_a_two_word_expertise_matches_it(two_communities: App) -> None:
    app = two_communities
    profile(app, "bob@example.com", expertise=["Print design"])
    ingest_post(app, "design", subject="Any print design agency to recommend?", at=DUE - 3 * DAY,
         sender="frank@example.com")  # fmt: skip
    ingest_post(app, "design", subject="News of the day", at=DUE - HOUR)
    run_digests(app, DAILY, RUN)
    assert "(matches your expertise)" in plain_text(mail_for(app, "bob@example.com"))


def test_new_members_appear_with_their_expertise(two_communities: App) -> None:
    app = two_communities
    join(app, "design", "erin@example.com", delivery=DeliveryMode.INSTANT,
         joined_at=DUE - 3 * HOUR)  # fmt: skip
    profile(app, "erin@example.com", name="Erin Petit", expertise=["Figma", "Print design"])
    join(app, "ux", "frank@example.com", delivery=DeliveryMode.INSTANT, joined_at=DUE - HOUR)
    join(app, "design", "gus@example.com", delivery=DeliveryMode.INSTANT,
         joined_at=DUE - 2 * DAY)  # fmt: skip
    join(app, "design", "hana@example.com", joined_at=DUE - 2 * HOUR)  # a daily reader too
    ingest_post(app, "design", subject="Welcome", at=DUE - HOUR)

    run_digests(app, DAILY, RUN)

    text = plain_text(mail_for(app, "bob@example.com"))
    section = text[text.index("New members\n") :]
    assert "  - Erin Petit joined Design (expertise: Figma, Print design)\n" in section
    assert "  - frank@example.com joined UX\n" in section
    assert "  - hana@example.com joined Design\n" in section
    assert "gus@example.com" not in text  # joined before the window
    html = html_of(mail_for(app, "bob@example.com"))
    assert "Erin Petit joined Design (expertise: Figma, Print design)" in html
    # hana's own digest does not announce hana.
    assert "hana@example.com joined" not in plain_text(mail_for(app, "hana@example.com"))


def test_the_profile_line_appears_only_for_an_empty_profile(app: App) -> None:
    community(app, "design", "Design")
    join(app, "design", "empty@example.com", "interests@example.com", "expert@example.com")
    profile(app, "empty@example.com", name="Only A Name", department="Sales")
    profile(app, "interests@example.com", interests=["typography"])
    profile(app, "expert@example.com", expertise=["pricing"])
    ingest_post(app, "design", subject="Hello", at=DUE - HOUR)
    run_digests(app, DAILY, RUN)
    line = "Your profile says nothing yet about what you know or care about."
    assert line in plain_text(mail_for(app, "empty@example.com"))
    assert f"profile@{DOMAIN}" in plain_text(mail_for(app, "empty@example.com"))
    assert line in html_of(mail_for(app, "empty@example.com"))
    for address in ("interests@example.com", "expert@example.com"):
        assert line not in plain_text(mail_for(app, address))
        assert line not in html_of(mail_for(app, address))


def test_most_active_threads_are_listed_when_there_are_many(app: App) -> None:
    community(app, "design", "Design")
    join(app, "design", "bob@example.com")
    for n, replies in enumerate((3, 0, 2, 0, 1)):
        first = ingest_post(app, "design", subject=f"Thread {n}", at=DUE - 10 * HOUR + n * HOUR)
        for r in range(replies):
            ingest_post(app, "design", subject=f"Re: Thread {n}", at=DUE - 5 * HOUR + r * HOUR,
                 parent=first, sender="carol@example.com")  # fmt: skip
    run_digests(app, DAILY, RUN)
    text = plain_text(mail_for(app, "bob@example.com"))
    section = text[text.index("Most active\n") : text.index("=== Design")]
    assert [line.split(" (")[0] for line in section.splitlines() if line.startswith("  - ")] == [
        "  - Thread 0",
        "  - Thread 2",
        "  - Thread 4",
    ]
    assert "  - Thread 0 (4 messages from alice@example.com, carol@example.com)" in section


# --- the mail


def test_the_mail_is_multipart_alternative_with_list_headers_and_actions(
    two_communities: App,
) -> None:
    app = two_communities
    ingest_post(app, "design", subject="Colours", at=DUE - 2 * HOUR)
    ingest_post(app, "ux", subject="Fonts", at=DUE - HOUR)
    run_digests(app, DAILY, RUN)
    [delivery] = [d for d in digest_deliveries(app) if d["recipient"] == "bob@example.com"]
    raw = delivery["content"]
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF throughout
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998  # RFC 5322 2.1.1
    assert raw.isascii()  # quoted-printable and encoded words: safe for any relay

    message = parse_mail(raw)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert {p.get_content_charset() for p in parts} == {"utf-8"}
    # Two communities: the digest is the gateway's (one community: test_the_digest_is_named...).
    # Replies to it: gateway.actions.replies.
    assert message["From"] == f"Community gateway digest <digest@{DOMAIN}>"
    assert message["To"] == "Bob Durand <bob@example.com>"
    assert message["Message-ID"] == (f"<digest.daily.2026-11-26.{delivery['person_id']}@{DOMAIN}>")
    assert message["List-Id"] == f"Digest <digest.{DOMAIN}>"
    assert message["List-Help"] == f"<mailto:help@{DOMAIN}?subject=help>"
    unsubscribe = message["List-Unsubscribe"]
    assert f"<mailto:design-nomail@{DOMAIN}?subject=nomail>" in unsubscribe
    assert f"<mailto:ux-nomail@{DOMAIN}?subject=nomail>" in unsubscribe
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Precedence"] == "list"
    assert message["X-Gateway-Loop"] == DOMAIN
    assert email.utils.parsedate_to_datetime(message["Date"]) == RUN

    text = plain_text(message)
    assert "\n-- \n" in text  # a signature delimiter before the footer
    footer = text[text.index("\n-- \n") :]
    html = html_of(message)
    for slug in ("design", "ux"):
        for action in ("instant", "daily", "weekly", "nomail"):
            link = f"mailto:{slug}-{action}@{DOMAIN}?subject={action}"
            assert link in footer
            assert f'href="{link}"' in html
    assert_safe_html(html)


def test_each_thread_and_each_message_have_a_reply_link_and_one_to_its_author(app: App) -> None:
    community(app, "design", "Design")
    join(app, "design", "bob@example.com", "carol@example.com")
    first = ingest_post(app, "design", subject="Colours & fonts?", at=DUE - 3 * HOUR)
    latest = ingest_post(app, "design", subject="RE: Re: Colours & fonts?", at=DUE - 2 * HOUR,
        parent=first, sender="bob@example.com", name="Bob")  # fmt: skip
    run_digests(app, DAILY, RUN)

    def links(message: email.message.EmailMessage) -> list[dict[str, Any]]:
        found = []
        for link in re.findall(r'href="(mailto:[^"]+)"', html.unescape(html_of(message))):
            parts = urllib.parse.urlsplit(link)
            fields = urllib.parse.parse_qs(parts.query)
            if "In-Reply-To" in fields:
                found.append({"to": urllib.parse.unquote(parts.path), **fields})
        return found

    subject = ["Re: Colours & fonts?"]  # never "Re: RE: Re:"
    for_carol = links(mail_for(app, "carol@example.com"))
    # The thread's, then per message the community's and its author's.
    assert for_carol == [
        {"to": f"design@{DOMAIN}", "subject": subject, "In-Reply-To": [f"<{latest}>"]},
        {"to": f"design@{DOMAIN}", "subject": subject, "In-Reply-To": [f"<{first}>"]},
        {"to": "alice@example.com", "subject": subject, "In-Reply-To": [f"<{first}>"]},
        {"to": f"design@{DOMAIN}", "subject": subject, "In-Reply-To": [f"<{latest}>"]},
        {"to": "bob@example.com", "subject": subject, "In-Reply-To": [f"<{latest}>"]},
    ]
    # bob reads his own message: no link to reply to himself; the rest is the same.
    assert links(mail_for(app, "bob@example.com")) == for_carol[:4]
    text = plain_text(mail_for(app, "carol@example.com"))
    [line] = [line for line in text.splitlines() if line.startswith("  Reply: ")]
    assert line == f"  Reply: {for_carol_link(latest)}"


def for_carol_link(latest: str) -> str:
    """The thread's Reply link as the text part shows it: RFC 6068, percent-encoded."""
    return (
        f"mailto:design@{DOMAIN}?subject=Re%3A%20Colours%20%26%20fonts%3F"
        f"&In-Reply-To=%3C{urllib.parse.quote(latest, safe='')}%3E"
    )


def test_the_html_escapes_what_posts_say(app: App) -> None:
    community(app, "design", "Design")
    join(app, "design", "bob@example.com")
    body = (
        '<script>alert("x")</script> <img src="http://tracker.example/p.gif">'
        ' <link rel="stylesheet" href="http://evil.example/a.css"><style>p{}</style>\n'
    )
    ingest_post(app, "design", subject="<b>Bold</b> & <i>sneaky</i>", at=DUE - HOUR, body=body,
         sender="Mallory <mallory@example.com>")  # fmt: skip
    run_digests(app, DAILY, RUN)
    message = mail_for(app, "bob@example.com")
    tags = assert_safe_html(html_of(message))
    assert "b" not in tags.names() and "i" not in tags.names()
    text = "".join(tags.text)
    assert '<script>alert("x")</script>' in text  # shown as text, not run
    assert "<b>Bold</b> & <i>sneaky</i>" in text
    # The plain text part is not HTML-escaped.
    assert '<script>alert("x")</script>' in plain_text(message)
    assert "* <b>Bold</b> & <i>sneaky</i> - 1 new message" in plain_text(message)


def test_attachments_are_listed_with_links(app: App) -> None:
    community(app, "design", "Design")
    join(app, "design", "bob@example.com")
    mail = post(
        "Mock-ups", "Here they are.\n", message_id="att@example.com", sender="alice@example.com"
    )
    mail.add_attachment(
        b"%PDF-1.4\n", maintype="application", subtype="pdf", filename="mock-ups.pdf"
    )
    ingest(app, mail, at=DUE - HOUR)
    run_digests(app, DAILY, RUN)
    message = mail_for(app, "bob@example.com")
    text = plain_text(message)
    assert "  [file] mock-ups.pdf (" in text
    assert "http://localhost:8000/files/" in text
    assert "mock-ups.pdf" in html_of(message)
    assert_safe_html(html_of(message))


def test_a_private_community_has_no_archive_links(app: App) -> None:
    with transaction(app.sessions) as session:
        create_community(
            session, "board", "Board", policy=Policy.OPEN, visibility=Visibility.PRIVATE
        )
    join(app, "board", "bob@example.com")
    ingest_post(app, "board", subject="Budget", at=DUE - HOUR)
    run_digests(app, DAILY, RUN)
    message = mail_for(app, "bob@example.com")
    assert "http://localhost:8000/" not in plain_text(message)
    assert "http://localhost:8000/" not in html_of(message)


@pytest.fixture
def french(settings: Settings) -> Iterator[App]:
    built = build_app(
        dataclasses.replace(settings, gateway=dataclasses.replace(settings.gateway, language="fr"))
    )
    yield built
    built.close()


def test_a_digest_in_french(french: App) -> None:
    app = french
    community(app, "design", "Design")
    community(app, "ux", "UX")
    join(app, "design", "bob@example.com")
    join(app, "ux", "bob@example.com")
    first = ingest_post(app, "design", "ux", subject="Couleurs", at=DUE - 3 * HOUR,
                 body="Quel bleu pour les boutons ?\n")  # fmt: skip
    ingest_post(app, "design", "ux", subject="Re: Couleurs", at=DUE - 2 * HOUR, parent=first,
         sender="carol@example.com", body="Le plus foncé.\n\nLe 26 nov. 2026, Alice a écrit :\n"
         "> Quel bleu ?\n")  # fmt: skip
    ingest_post(app, "design", subject="Question ?", at=DUE - 3 * DAY, sender="erin@example.com")
    run_digests(app, DAILY, RUN)
    message = mail_for(app, "bob@example.com")
    assert message["Subject"] == "Votre résumé quotidien\u00a0: 2 nouveaux messages dans Design"
    text = plain_text(message)
    assert text.startswith("Bonjour bob@example.com,\n\n2 nouveaux messages dans 1 discussion")
    assert "Sommaire\n  - Design\u00a0: 1 discussion\n" in text
    assert "* Couleurs - 2 nouveaux messages, aussi dans UX\n" in text
    assert "  - carol@example.com\u00a0: Le plus foncé.\n" in text
    assert "En attente de réponse\u00a0: pouvez-vous aider\u00a0?" in text
    assert "Question\u00a0?, posée par erin@example.com dans Design" in text
    assert "Votre profil ne dit encore rien" in text
    assert "chaque message mailto:design-instant@" in text
    html = html_of(message)
    tags = assert_safe_html(html)
    assert tags.starts[0] == ("html", {"lang": "fr"})
    assert "aussi dans UX" in html and "Sommaire" in html
    for english in ("Hello", "Contents", "new message", "also in", "Still waiting"):
        assert english not in text and english not in html


# --- previews and single readers


def test_a_dry_run_records_nothing(two_communities: App) -> None:
    app = two_communities
    ingest_post(app, "design", subject="Colours", at=DUE - HOUR)
    report = run_digests(app, DAILY, RUN, dry_run=True)
    assert statuses(report) == {"bob@example.com": "queued", "carol@example.com": "empty"}
    [bob] = [p for p in report.planned if p.address == "bob@example.com"]
    assert bob.subject == "Your daily digest: 1 new message in Design"
    assert bob.text.startswith("Hello Bob Durand,") and "Colours" in bob.text
    assert counts(app) == (0, 0)
    # The real run afterwards queues them all.
    assert run_digests(app, DAILY, RUN).count("queued") == 1
    assert counts(app) == (2, 1)


def test_only_limits_a_run_to_one_person(two_communities: App) -> None:
    app = two_communities
    ingest_post(app, "ux", subject="Fonts", at=DUE - HOUR)
    report = run_digests(app, DAILY, RUN, only="carol@example.com")
    assert statuses(report) == {"carol@example.com": "queued"}
    assert [r["address"] for r in runs(app)] == ["carol@example.com"]
    assert run_digests(app, DAILY, RUN, only="alice@example.com").planned == []  # instant
    assert run_digests(app, DAILY, RUN, only="nobody@example.com").planned == []
    rest = run_digests(app, DAILY, RUN)
    assert statuses(rest) == {"bob@example.com": "queued"}
    assert counts(app) == (2, 2)


def test_a_preview_of_one_person_shows_a_digest_already_sent(two_communities: App) -> None:
    app = two_communities
    ingest_post(app, "ux", subject="Fonts", at=DUE - HOUR)
    run_digests(app, DAILY, RUN)
    before = (runs(app), digest_deliveries(app))
    preview = run_digests(app, DAILY, RUN + HOUR, dry_run=True, only="bob@example.com")
    [plan] = preview.planned
    assert (plan.address, plan.period, plan.status, plan.messages) == (
        "bob@example.com",
        "2026-11-26",
        "queued",
        1,
    )
    assert "Fonts" in plan.text
    assert (runs(app), digest_deliveries(app)) == before


def test_a_stopped_membership_gets_no_digest(two_communities: App) -> None:
    app = two_communities
    with transaction(app.sessions) as session:
        get_membership(session, get_community(session, "ux"), "carol@example.com").disabled_at = (
            DUE - DAY
        )
    ingest_post(app, "ux", subject="Fonts", at=DUE - HOUR)
    assert statuses(run_digests(app, DAILY, RUN)) == {"bob@example.com": "queued"}


def test_a_muted_thread_is_left_out_of_the_readers_digest(two_communities: App) -> None:
    app = two_communities
    colours = ingest_post(app, "design", "ux", subject="Colours", at=DUE - 5 * HOUR)
    ingest_post(app, "design", "ux", subject="Re: Colours", at=DUE - 4 * HOUR, parent=colours)
    ingest_post(app, "design", subject="Grids", at=DUE - 3 * HOUR)
    with transaction(app.sessions) as session:
        thread_id = session.scalar(select(Message.thread_id).where(Message.message_id == colours))
        bob = session.scalar(select(Person.id).where(Person.address == "bob@example.com"))
        assert thread_id is not None and bob is not None
        session.add(ThreadMute(person_id=bob, thread_id=thread_id))
    run_digests(app, DAILY, RUN)
    bob_text = plain_text(mail_for(app, "bob@example.com"))
    assert "Grids" in bob_text and "Colours" not in bob_text
    assert f"mute+{thread_id}@" not in bob_text and "?subject=mute" in bob_text
    assert "Colours" in plain_text(mail_for(app, "carol@example.com"))


def test_a_digest_that_cannot_be_written_is_set_aside_and_the_others_go_out(
    two_communities: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = two_communities
    ingest_post(app, "design", subject="Colours", at=DUE - 5 * HOUR)
    ingest_post(app, "ux", subject="Fonts", at=DUE - 3 * HOUR)
    write = runner.DigestWriter.mail

    def mail(self: runner.DigestWriter, digest: Any, *args: Any) -> tuple[str, bytes]:
        # No real digest is known to break its writer: this one is made to.
        if digest.reader.address == "bob@example.com":
            raise ValueError("a broken template")
        return write(self, digest, *args)

    monkeypatch.setattr(runner.DigestWriter, "mail", mail)
    report = run_digests(app, DAILY, RUN)
    assert statuses(report) == {"bob@example.com": "failed", "carol@example.com": "queued"}
    assert [d["recipient"] for d in digest_deliveries(app)] == ["carol@example.com"]


def test_the_thread_heads_replies_read_are_the_threads_a_digest_shows(app: App) -> None:
    """gateway.actions.replies knows a digest's threads by thread_heads, a light query:
    the same threads, order, newest message and communities as gather's."""
    community(app, "design", "Design")
    community(app, "ux", "UX")
    first = ingest_post(app, "design", subject="Colours", at=DUE - 5 * HOUR)
    ingest_post(app, "design", subject="Re: Colours", at=DUE - 4 * HOUR, parent=first)
    ingest_post(app, "design", "ux", subject="Fonts", at=DUE - 3 * HOUR)
    ingest_post(app, "ux", subject="Grids", at=DUE - 2 * HOUR)
    ingest_post(app, "ux", subject="Yesterday", at=DUE - DAY - HOUR)  # outside the window
    with transaction(app.read_sessions) as session:
        ids = list(session.scalars(select(Community.id)))
        news = gather(session, ids, DUE - DAY, DUE, "http://x/")
        heads = thread_heads(session, ids, DUE - DAY, DUE)

    def seen(threads: Any) -> dict[int, list[tuple[Any, ...]]]:
        return {
            c: [(t.thread_id, t.subject, t.latest_message_id, t.community_ids) for t in ts]
            for c, ts in threads.items()
        }

    assert seen(heads) == seen(news.threads)
    assert sum(len(ts) for ts in heads.values()) == 4  # Fonts in both communities
