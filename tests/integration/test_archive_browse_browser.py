"""Browsing a built archive by date, in a real Chromium: month pages reached from a
community's page with their counts, the home page's latest threads and unanswered
questions, a thread's participants, and a chart that counts imported history on a
dated axis. The site is built from an imported mbox and mail sent to a real gateway."""

from __future__ import annotations

import datetime as dt
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy import update

from gateway.app import build_app
from gateway.settings import Settings
from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import utcnow
from tests.browser import Watched
from tests.browser import gateway_folder
from tests.browser import send_all
from tests.browser import serving
from tests.factories import post

try:
    from playwright.sync_api import expect
except ImportError:  # tests.browser skips the tests with the reason
    expect = None

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Imported history: two threads started in March 2024 (one answered in May), one in May.
HISTORY = [
    ("Kerning tables", "old-1@example.org", "", "Fri, 08 Mar 2024 10:00:00 +0000"),
    ("Paper stock", "old-2@example.org", "", "Tue, 19 Mar 2024 10:00:00 +0000"),
    ("Re: Kerning tables", "old-3@example.org", "old-1@example.org",
     "Mon, 06 May 2024 10:00:00 +0000"),
    ("Ink suppliers", "old-4@example.org", "", "Wed, 15 May 2024 10:00:00 +0000"),
]  # fmt: skip


@dataclass
class World:
    site: Path
    origin: str
    now: dt.datetime
    threads_this_month: int  # in Design Studio, as the store dates them
    posts_this_month: int

    def url(self, path: str = "") -> str:
        return f"{self.origin}/{path}"


def history_mbox(path: Path) -> Path:
    box = mailbox.mbox(path)
    for subject, message_id, parent, date in HISTORY:
        mail = post(subject, f"{subject}, from the old list.\n", message_id=message_id,
                    sender="Olga <olga@example.org>", parent=parent)  # fmt: skip
        del mail["Date"]
        mail["Date"] = date
        box.add(mail)
    box.close()
    return path


def received_this_month(settings: Settings, slug: str, now: dt.datetime) -> tuple[int, int]:
    """(threads started, posts) in `slug` in the month of `now`, as the store dates them."""
    app = build_app(settings)
    try:
        with app.read_sessions() as session:
            rows = session.execute(
                select(Message.received_at, Message.parent_id)
                .join(MessageCommunity, MessageCommunity.message_id == Message.id)
                .join(Community, Community.id == MessageCommunity.community_id)
                .where(Community.slug == slug)
            ).all()
    finally:
        app.close()
    month = [
        row
        for row in rows
        if (row.received_at.year, row.received_at.month) == (now.year, now.month)
    ]
    return sum(row.parent_id is None for row in month), len(month)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[World]:
    folder = gateway_folder(tmp_path_factory, sqlite_template, "archive-browse")
    root, settings, cli = folder.root, folder.settings, folder.cli
    cli("community", "create", "design", "--name", "Design Studio")
    cli("community", "create", "launch", "--name", "Launch Team")
    cli("member", "add", "design", "alice@example.com", "bob@example.com")
    cli("member", "add", "launch", "alice@example.com", "bob@example.com")
    cli("profile", "set", "alice@example.com", "--name", "Alice Liddell")
    cli("import", "mbox", "design", str(history_mbox(root / "history.mbox")), "--quiet")

    alice, bob = "Alice <alice@example.com>", "Bob <bob@example.com>"
    send_all(settings, [
        post("Which paper for the annual report?", "Matte or gloss?\n",
             message_id="question@example.com", sender=alice),
        post("When do we ship?", "Is the date set?\n", message_id="answered@example.com",
             sender=alice, to="launch"),
        post("Re: When do we ship?", "The 12th.\n", message_id="answer@example.com",
             sender=bob, to="launch", parent="answered@example.com"),
        post("Colour palette", "Teal and sand.\n", message_id="palette@example.com",
             sender=alice),
        post("Re: Colour palette", "Darker teal?\n", message_id="palette-2@example.com",
             sender=bob, parent="palette@example.com"),
        post("Re: Colour palette", "Agreed.\n", message_id="palette-3@example.com",
             sender=bob, parent="palette-2@example.com"),
    ])  # fmt: skip
    # Time passes: the question and the launch thread were sent three days ago, longer
    # than [adoption] unanswered_after_hours (48), and the question had no reply.
    now = utcnow()
    app = build_app(settings)
    try:
        with app.sessions.begin() as session:
            for message_id in ("question@example.com", "answered@example.com"):
                session.execute(
                    update(Message)
                    .where(Message.message_id == message_id)
                    .values(received_at=now - dt.timedelta(days=3))
                )
    finally:
        app.close()
    # Three days ago is last month on the 1st to the 3rd: this month's figures are the
    # store's, whatever the day the test runs.
    threads, posts = received_this_month(settings, "design", now)
    assert (threads, posts) in ((2, 4), (1, 3)), (threads, posts)  # with the question or not
    cli.json("archive", "build", "--out", str(root / "site"), "--no-search")
    with serving(root / "site") as server:
        yield World(root / "site", server.origin, now, threads, posts)


@pytest.fixture(scope="module")
def origin(world: World) -> str:
    return world.origin


def test_month_pages_are_reached_from_the_community_page_with_their_counts(
    world: World, browse: Watched
) -> None:
    page = browse.page
    page.goto(world.url("c/design/"))
    months = page.locator("section.months")
    this_month = f"{MONTHS_EN[world.now.month - 1]}"
    years = months.locator("ul.years > li")
    # this month: the palette thread, and the question unless three days ago was last month
    expect(years.first).to_contain_text(f"{world.now.year} ")
    expect(years.first.get_by_role("link", name=this_month)).to_be_visible()
    expect(years.first.locator("span.count").last).to_have_text(str(world.threads_this_month))
    expect(years.last).to_have_text("2024 Mar\xa02 · May\xa01")

    years.last.get_by_role("link", name="Mar").click()
    expect(page).to_have_url(world.url("c/design/2024-03/"))
    expect(page.locator("h1")).to_have_text("Threads started in March 2024")
    expect(page.locator("a.thread")).to_have_text(["Kerning tables", "Paper stock"])
    expect(page.locator("ol.threads li", has_text="Kerning")).to_contain_text("2 messages")
    page.get_by_role("link", name=re.compile("Later month")).click()
    expect(page).to_have_url(world.url("c/design/2024-05/"))
    expect(page.locator("a.thread")).to_have_text(["Ink suppliers"])
    page.get_by_role("link", name=re.compile("Earlier month")).click()
    expect(page).to_have_url(world.url("c/design/2024-03/"))
    page.get_by_role("link", name="All threads").click()
    expect(page).to_have_url(world.url("c/design/"))


def test_the_home_page_shows_the_latest_threads_and_the_unanswered_question(
    world: World, browse: Watched
) -> None:
    page = browse.page
    page.goto(world.url())
    latest = page.locator("section.latest a.thread")
    expect(latest.first).to_have_text("Colour palette")
    expect(latest).to_contain_text(["Colour palette", "When do we ship?", "Ink suppliers"])
    unanswered = page.locator("section.unanswered")
    expect(unanswered.locator("a.thread")).to_have_text(["Which paper for the annual report?"])
    expect(unanswered).to_contain_text("asked by Alice Liddell")
    unanswered.locator("a.thread").click()
    expect(page.locator("h1")).to_have_text("Which paper for the annual report?")


def test_a_thread_shows_its_participants_linked_to_their_pages(
    world: World, browse: Watched
) -> None:
    page = browse.page
    page.goto(world.url("c/design/"))
    page.locator("a.thread", has_text="Colour palette").click()
    participants = page.locator("p.participants")
    expect(participants).to_have_text("Participants: Bob\xa0(2), Alice Liddell\xa0(1)")
    participants.get_by_role("link", name="Alice Liddell").click()
    expect(page.locator("h1")).to_have_text("Alice Liddell")


def test_the_chart_counts_imported_history_on_a_dated_axis(world: World, browse: Watched) -> None:
    page = browse.page
    page.goto(world.url("c/design/"))
    chart = page.locator("figure.chart").first
    this_month = f"{MONTHS_EN[world.now.month - 1]} {world.now.year}"
    expect(chart.locator("figcaption")).to_have_text(
        f"Posts per month · 8 in all · Mar 2024 – {this_month}"
    )
    ticks = chart.locator("svg text.tick")
    expect(ticks.first).to_have_text("Mar 2024")
    expect(ticks.last).to_have_text(this_month)
    expect(ticks.nth(1)).to_have_text("2025")
    # The figures are there for a screen reader: the image's name, and a table.
    expect(
        page.get_by_role("img", name=f"Posts per month, Mar 2024 – {this_month}")
    ).to_be_attached()
    table = page.get_by_role("table", name="Posts per month")
    expect(table.get_by_role("row", name="Mar 2024 2")).to_be_attached()
    expect(table.get_by_role("row", name="May 2024 2")).to_be_attached()
    posts = world.posts_this_month
    expect(table.get_by_role("row", name=f"{this_month} {posts}")).to_be_attached()
    # ... and hidden from sight: the figure is no taller than its drawing.
    box = chart.bounding_box()
    assert box is not None and box["height"] < 250, box
