"""Browsing the archive by date: month pages, the home page's latest threads and
unanswered questions, thread participants, and charts that count imported history."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from archive import urls
from archive.build import BuildReport
from archive.build import SiteBuilder
from archive.charts import posts_over_time
from archive.months import months_by_year
from archive.months import threads_by_month
from archive.pages import format_period
from archive.snapshot import MessageEntry
from archive.snapshot import SiteThread
from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.communities import get_community
from gateway.community.members import add_members
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Origin
from gateway.store.models import Policy
from gateway.store.models import utcnow
from tests.factories import ingest_post

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
EN = {"months_short": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                       "Nov", "Dec"]}  # fmt: skip


def entry(id: int, thread: int, at: dt.datetime, sender: int | None = 1) -> MessageEntry:
    return MessageEntry(
        id, thread, None, sender, "", f"s{sender}@example.com", at, "0" * 64, (1,)
    )  # fmt: skip


def thread(id: int, *dates: dt.datetime) -> SiteThread:
    return SiteThread(id, f"T{id}", [entry(id * 100 + n, id, d) for n, d in enumerate(dates)])


def day(year: int, month: int, day: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, 9, 0, tzinfo=dt.UTC)


def test_a_thread_belongs_to_the_month_it_started_in_and_months_link_both_ways() -> None:
    threads = [
        thread(1, day(2026, 9), day(2026, 11)),  # a late reply does not move it
        thread(2, day(2026, 11, 2)),
        thread(3, day(2026, 11, 1)),
        thread(4, day(2025, 12, 31)),
    ]
    months = threads_by_month(threads)
    assert [m.key for m in months] == ["2026-11", "2026-09", "2025-12"]
    assert [t.id for t in months[0].threads] == [3, 2]  # by start, oldest first
    assert [t.id for t in months[1].threads] == [1]
    assert (months[0].previous, months[0].following) == ("2026-09", None)
    assert (months[1].previous, months[1].following) == ("2025-12", "2026-11")
    assert (months[2].previous, months[2].following) == (None, "2026-09")
    by_year = months_by_year(months)
    assert [(year, [m.key for m in ms]) for year, ms in by_year] == [
        (2026, ["2026-09", "2026-11"]),
        (2025, ["2025-12"]),
    ]
    assert urls.community_month("design", "2026-11") == "c/design/2026-11/"
    assert urls.root_from(urls.community_month("design", "2026-11")) == "../../../"


def test_a_young_history_is_charted_by_week_with_dates_on_its_axis() -> None:
    messages = [entry(n, 1, NOW - dt.timedelta(days=n)) for n in range(0, 60, 3)]
    chart = posts_over_time(messages, NOW)
    assert chart.unit == "week" and len(chart.bars) == 26 and chart.total == 20
    first, *_, last = chart.ticks
    assert (first.day, first.anchor) == (dt.date(2026, 6, 1), "start")
    assert (last.day, last.anchor) == (dt.date(2026, 11, 23), "end")
    # month starts between them, never closer than the spacing allows
    assert all(t.precision == "month" and t.day.day == 1 for t in chart.ticks[1:-1])
    xs = [t.x for t in chart.ticks]
    assert all(b - a >= 80 for a, b in zip(xs, xs[1:], strict=False))


def test_imported_history_is_charted_by_month_from_its_first_post() -> None:
    # Imported mail keeps its original date: three years ago, and one post this month.
    messages = [entry(1, 1, day(2023, 11, 5)), entry(2, 1, day(2023, 11, 20)),
                entry(3, 1, day(2024, 2)), entry(4, 1, day(2026, 11))]  # fmt: skip
    chart = posts_over_time(messages, NOW)
    assert chart.unit == "month" and chart.total == 4
    assert len(chart.bars) == 37  # November 2023 to November 2026
    assert [b.value for b in chart.bars if b.value] == [2, 1, 1]
    assert chart.bars[0].start == dt.date(2023, 11, 1)
    labels = [format_period(t.day, t.precision, EN) for t in chart.ticks]
    assert labels[0] == "Nov 2023" and labels[-1] == "Nov 2026"
    assert set(labels[1:-1]) <= {"2024", "2025", "2026"} and labels[1:-1]
    decades = posts_over_time([entry(1, 1, day(2001, 3))], NOW)
    assert decades.unit == "year" and len(decades.bars) == 26 and decades.total == 1


def test_periods_are_written_in_the_pages_language() -> None:
    fr = {"months_short": EN["months_short"][:10] + ["nov.", "déc."]}
    fr["first_day"] = "1er"
    assert format_period(dt.date(2026, 11, 2), "day", fr) == "2 nov. 2026"
    assert format_period(dt.date(2026, 12, 1), "day", fr) == "1er déc. 2026"
    assert format_period(dt.date(2026, 12, 1), "day", EN) == "1 Dec 2026"
    assert format_period(dt.date(2026, 12, 1), "month", EN) == "Dec 2026"
    assert format_period(dt.date(2026, 1, 1), "year", EN) == "2026"


# -- with a store -----------------------------------------------------------------------


def community(app: App, slug: str) -> None:
    with transaction(app.sessions) as session:
        create_community(session, slug, slug.title(), policy=Policy.OPEN)


def build(app: App, site: Path) -> BuildReport:
    return SiteBuilder(app, site, search=False).run()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return tmp_path / "site"


def test_a_new_reply_rewrites_its_month_and_community_pages_only(app: App, site: Path) -> None:
    community(app, "design")
    now = utcnow()
    old = now - dt.timedelta(days=70)
    root = ingest_post(app, "design", subject="Grid system", at=old)
    ingest_post(app, "design", subject="Typography", at=now - dt.timedelta(days=1))
    build(app, site)
    design = site / "c" / "design"
    months = sorted(p.parent.name for p in design.glob("20*-*/index.html"))
    assert months == sorted({old.strftime("%Y-%m"), (now - dt.timedelta(days=1)).strftime("%Y-%m")})
    stamps = {p: p.stat().st_mtime_ns for p in design.rglob("index.html")}

    ingest_post(app, "design", subject="Re: Grid system", parent=root, sender="carol@example.com")
    update = build(app, site)

    changed = {p.relative_to(site).as_posix() for p in stamps if p.stat().st_mtime_ns != stamps[p]}
    assert changed == {"c/design/index.html", f"c/design/{old:%Y-%m}/index.html"}
    assert not update.full
    month = (design / f"{old:%Y-%m}" / "index.html").read_text()
    assert "Grid system" in month and "2 messages" in month and "Typography" not in month


def test_a_join_rewrites_the_community_page_but_none_of_its_months(app: App, site: Path) -> None:
    community(app, "design")
    ingest_post(app, "design", subject="Grid system", at=utcnow() - dt.timedelta(days=70))
    ingest_post(app, "design", subject="Typography")
    build(app, site)
    design = site / "c" / "design"
    stamps = {p: p.stat().st_mtime_ns for p in design.rglob("index.html")}

    with transaction(app.sessions) as session:
        add_members(session, get_community(session, "design"), ["erin@example.com"])
    update = build(app, site)

    changed = {p.relative_to(site).as_posix() for p in stamps if p.stat().st_mtime_ns != stamps[p]}
    assert changed == {"c/design/index.html"}
    # Not even rendered: the two month pages are in neither count (the same build
    # with them rendered says 9 pages unchanged).
    assert update.counts.unchanged == 7


def test_a_month_left_empty_is_removed(app: App, site: Path) -> None:
    community(app, "design")
    now = utcnow()
    alone = ingest_post(app, "design", subject="Alone", at=now - dt.timedelta(days=70))
    ingest_post(app, "design", subject="Recent", at=now)
    build(app, site)
    design = site / "c" / "design"
    old, recent = design / f"{now - dt.timedelta(days=70):%Y-%m}", design / f"{now:%Y-%m}"
    assert "Alone" in (old / "index.html").read_text()
    assert f'href="../../../c/design/{recent.name}/"' in (old / "index.html").read_text()
    with transaction(app.sessions) as session:  # a moderator takes it back
        session.execute(
            update(MessageCommunity)
            .where(MessageCommunity.message_id == message_row(session, alone))
            .values(status=MessageStatus.REJECTED)
        )
    report = build(app, site)
    assert not old.exists() and report.counts.removed >= 2  # its thread and its month
    assert f"{old.name}/" not in (design / "index.html").read_text()
    assert f"c/design/{old.name}/" not in (recent / "index.html").read_text()


def message_row(session: Session, message_id: str) -> int:
    return session.scalars(select(Message.id).where(Message.message_id == message_id)).one()


def test_the_home_page_lists_latest_threads_and_unanswered_questions(app: App, site: Path) -> None:
    community(app, "design")
    community(app, "launch")
    now = utcnow()
    ingest_post(app, "design", subject="Which font for print?", at=now - dt.timedelta(days=5))
    answered = ingest_post(app, "launch", subject="When do we ship?", at=now - dt.timedelta(days=6))
    ingest_post(app, "launch", subject="Re: When do we ship?", parent=answered,
                sender="bob@example.com", at=now - dt.timedelta(days=4.5))  # fmt: skip
    ingest_post(
        app, "design", "launch", subject="Too fresh to count?", at=now - dt.timedelta(hours=3)
    )
    ingest_post(app, "design", subject="A statement", at=now - dt.timedelta(days=4))
    ingest_post(app, "design", subject="Imported, long ago?", at=now - dt.timedelta(days=10),
                origin=Origin.IMPORT)  # fmt: skip
    build(app, site)
    home = (site / "index.html").read_text()
    latest = section(home, "latest")
    subjects = re.findall(r'class="thread" href="[^"]+">([^<]+)<', latest)
    assert subjects == ["Too fresh to count?", "A statement", "When do we ship?",
                        "Which font for print?", "Imported, long ago?"]  # fmt: skip
    assert "Design</a>, <a" in latest  # the cross-post names both communities
    unanswered = section(home, "unanswered")
    # a question: asked, no reply after [adoption] unanswered_after_hours, new mail
    assert re.findall(r'class="thread" href="[^"]+">([^<]+)<', unanswered) == [
        "Which font for print?"
    ]


def section(html: str, name: str) -> str:
    start = html.index(f'<section class="{name}">')
    return html[start : html.index("</section>", start)]


def test_a_thread_page_names_its_participants_with_their_counts(app: App, site: Path) -> None:
    community(app, "design")
    with transaction(app.sessions) as session:
        design = get_community(session, "design")
        add_members(session, design, ["alice@example.com", "bob@example.com"])
    root = ingest_post(app, "design", subject="Colours", name="Ann Lee")
    ingest_post(app, "design", subject="Re: Colours", parent=root, sender="eve@example.com")
    for sender in ("bob@example.com", "alice@example.com", "bob@example.com", "bob@example.com"):
        ingest_post(app, "design", subject="Re: Colours", parent=root, sender=sender)
    build(app, site)
    [page] = (site / "t").glob("*/index.html")
    line = page.read_text().split('<p class="participants"', 1)[1].split("</p>", 1)[0]
    found: list[Any] = re.findall(
        r'<a href="([^"]+)">([^<]+)</a>&nbsp;<span class="count">\((\d)\)', line
    )
    assert [(name, count) for _, name, count in found] == [("bob", "3"), ("Ann Lee", "2")]
    assert all(href.startswith("../../people/") for href, _, _ in found)
    # someone with no page on the site is named, not linked
    assert '<span>eve</span>&nbsp;<span class="count">(1)</span>' in line


def test_french_pages_name_their_months_and_dates_in_french(app: App, site: Path) -> None:
    french = dataclasses.replace(
        app, settings=dataclasses.replace(
            app.settings, gateway=dataclasses.replace(app.settings.gateway, language="fr")
        )
    )  # fmt: skip
    community(app, "design")
    ingest_post(app, "design", subject="Papier", at=dt.datetime(2024, 3, 8, 10, tzinfo=dt.UTC))
    ingest_post(app, "design", subject="Encre", at=utcnow())
    SiteBuilder(french, site, search=False).run()
    page = (site / "c" / "design" / "index.html").read_text()
    assert "<h2>Par mois</h2>" in page and ">mars</a>&nbsp;" in page
    assert "Messages par mois" in page and ">mars 2024</text>" in page
    month = (site / "c" / "design" / "2024-03" / "index.html").read_text()
    assert "Discussions ouvertes en mars 2024" in month and "Mois suivant" in month
    thread = next(p.read_text() for p in (site / "t").glob("*/index.html"))
    assert "Participants\xa0: " in thread
    # French counts 0 and 1 in the singular: "0 membre", "1 discussion".
    assert "0 membre · 2 messages · 2 discussions" in page
    assert "1 discussion</p>" in month and "1 message ·" in month


def test_counts_say_one_thing_and_several_things(app: App, site: Path) -> None:
    community(app, "design")
    with transaction(app.sessions) as session:
        add_members(session, get_community(session, "design"), ["erin@example.com"])
    ingest_post(app, "design", subject="Alone", at=utcnow())
    build(app, site)
    page = (site / "c" / "design" / "index.html").read_text()
    assert "1 member · 1 post · 1 thread</p>" in page and "1 message ·" in page
    home = (site / "index.html").read_text()
    assert "1 member · 1 post ·" in home and "1 message ·" in home
    assert "1 messages" not in home + page
