"""Reactions and accepted answers in the archive, in a real browser: posts through the
ingest pipeline, reactions and an answer recorded in the store, the site built by
`gateway archive build` in English and in French, served on loopback and read in
Chromium at 1280 and 390 px, under axe-core.

Under each message its reactions show as emoji and count, with the names of who reacted
on hover (title), to screen readers (in the summary) and on a tap (the disclosure
opens); "Answered" stands by the thread's title and in the lists, and the answer is
quoted right under the question with a link to it in place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.app import build_app
from gateway.community.people import ensure_person
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.models import Reaction
from gateway.store.models import ReactionSource
from gateway.store.models import ThreadAnswer
from tests.accessibility import PHONE_HEIGHT
from tests.accessibility import PHONE_WIDTH
from tests.accessibility import axe_source
from tests.accessibility import axe_violations
from tests.accessibility import page_width
from tests.browser import WAIT_MS
from tests.browser import gateway_folder
from tests.browser import serving
from tests.factories import AT
from tests.factories import ingest
from tests.factories import post

expect: Any
try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture skips the browser tests with the reason
    expect = None

LANGUAGES = ("en", "fr")
# Many people on one emoji: their names must wrap on a phone, not widen the page.
THANKFUL = [f"{first} {last}" for first in ("Ann", "Bob", "Cy", "Dee") for last in ("Lee", "Park")]
WORDS = {
    "en": {"answered": "Answered", "accepted": "Accepted answer", "by": "by"},
    "fr": {"answered": "Résolu", "accepted": "Réponse acceptée", "by": "par"},
}


@dataclass
class Site:
    language: str
    origin: str
    thread: str  # the answered thread's path
    question: int  # message ids
    answer: int

    def url(self, path: str = "") -> str:
        return f"{self.origin}/{path}"


def address(name: str) -> str:
    return f"{name.replace(' ', '.').lower()}@example.com"


def seed(app: Any) -> tuple[int, int, int]:
    """The answered thread's id, its question's and its answer's message ids."""
    thread = [
        post("Which grid for the intranet?", "Twelve columns or eight? We need it by Friday.\n",
             message_id="q@example.com", sender="Alice Liddell <alice@example.com>"),
        post("Re: Which grid for the intranet?", "Maybe six.\n", message_id="r1@example.com",
             sender="Bob <bob@example.com>", parent="q@example.com"),
        post("Re: Which grid for the intranet?",
             "Twelve: it divides by 2, 3, 4 and 6, so every layout we have fits.\n\n"
             "> Twelve columns or eight?\n",
             message_id="r2@example.com", sender="Bob <bob@example.com>", parent="q@example.com"),
        post("Lunch on Friday", "Who comes?\n", message_id="l@example.com",
             sender="Bob <bob@example.com>"),
    ]  # fmt: skip
    for minutes, mail in enumerate(thread):
        sender = mail["From"].addresses[0].addr_spec
        at = AT + dt.timedelta(minutes=minutes)
        assert ingest(app, mail, ("design",), sender=sender, at=at).disposition == "published"
    with transaction(app.sessions) as session:
        ids: dict[str, int] = dict(session.execute(select(Message.message_id, Message.id)).all())
        question = session.get(Message, ids["q@example.com"])
        assert question is not None and question.thread_id is not None
        reactions = [(name, "🙏", ids["r2@example.com"]) for name in THANKFUL]
        reactions += [("Ann Lee", "👍", ids["r2@example.com"]), ("Eve", "👀", ids["q@example.com"])]
        for minute, (name, emoji, message_id) in enumerate(reactions):
            person = ensure_person(session, address(name))
            person.name = name
            session.flush()
            session.add(
                Reaction(
                    message_id=message_id,
                    person_id=person.id,
                    emoji=emoji,
                    source=ReactionSource.REPLY,
                    created_at=AT + dt.timedelta(hours=1, minutes=minute),
                )  # fmt: skip
            )
        session.add(ThreadAnswer(thread_id=question.thread_id, message_id=ids["r2@example.com"]))
        return question.thread_id, question.id, ids["r2@example.com"]


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[list[Site]]:
    folder = gateway_folder(tmp_path_factory, sqlite_template, "archive-engagement", LANGUAGES)
    folder.cli("community", "create", "design", "--name", "Design Studio")
    folder.cli("member", "add", "design", "alice@example.com", "bob@example.com")
    # Those who react are members: the site names only the people it shows.
    folder.cli("member", "add", "design", *(address(name) for name in [*THANKFUL, "Eve"]))
    app = build_app(folder.settings)
    try:
        thread, question, answer = seed(app)
    finally:
        app.close()
    for language in LANGUAGES:
        site = folder.root / f"site-{language}"
        folder.clis[language].json("archive", "build", "--out", str(site), "--no-search")
    with serving(folder.root / "site-en") as english, serving(folder.root / "site-fr") as french:
        yield [
            Site(language, server.origin, f"t/{thread}/", question, answer)
            for language, server in (("en", english), ("fr", french))
        ]


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": PHONE_HEIGHT})
    context.set_default_timeout(WAIT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_reactions_show_with_the_names_of_who_reacted(sites: list[Site], page: Any) -> None:
    for site in sites:
        page.goto(site.url(site.thread))
        reactions = page.locator(f"#m{site.answer} ul.reactions summary")
        expect(reactions).to_have_count(2)
        names = ", ".join(THANKFUL)
        # Most used first; the count and the emoji in sight, the names on hover...
        expect(reactions.nth(0)).to_have_attribute("title", names)
        assert reactions.nth(0).locator(".emoji").inner_text() == "🙏"
        expect(reactions.nth(0)).to_contain_text("🙏\xa08")
        expect(reactions.nth(1)).to_have_attribute("title", "Ann Lee")
        # ...to a screen reader, in what the summary says...
        label = reactions.nth(0).evaluate("s => s.textContent")
        assert f"({WORDS[site.language]['by']} {names})" in label, label
        # ...and on a tap, for a phone: the names appear under the emoji.
        shown = page.locator(f"#m{site.answer} ul.reactions p.names").first
        expect(shown).to_be_hidden()
        reactions.nth(0).click()
        expect(shown).to_be_visible()
        expect(shown).to_have_text(names)
        expect(page.locator(f"#m{site.question} ul.reactions summary")).to_have_attribute(
            "title", "Eve"
        )


def test_answered_stands_by_the_title_and_the_answer_under_the_question(
    sites: list[Site], page: Any
) -> None:
    for site in sites:
        words = WORDS[site.language]
        page.goto(site.url(site.thread))
        expect(page.locator("h1 + p.answered-state a.answered")).to_have_text(words["answered"])
        under = page.locator(f"#m{site.question} + div.accepted-answer")
        expect(under).to_be_visible()
        expect(under.locator("h2")).to_have_text(words["accepted"])
        expect(under.locator("blockquote")).to_have_text(
            "Twelve: it divides by 2, 3, 4 and 6, so every layout we have fits."
        )
        expect(page.locator(f"#m{site.answer} .answered")).to_have_text(words["accepted"])
        under.locator("a.in-place").click()
        assert page.url.endswith(f"#m{site.answer}")
        # The community's list marks the answered thread, and it only.
        page.goto(site.url("c/design/"))
        marked = page.locator("ol.threads li", has=page.locator(".answered"))
        expect(marked).to_have_count(1)
        expect(marked.locator("a.thread")).to_have_text("Which grid for the intranet?")
        page.goto(site.url())
        expect(page.locator("section.latest li", has=page.locator(".answered"))).to_have_count(1)


def test_the_pages_fit_a_phone_and_pass_axe(sites: list[Site], page: Any) -> None:
    source = axe_source()
    problems = []
    for site in sites:
        for path in (site.thread, "c/design/", ""):
            for width in (PHONE_WIDTH, 1280):
                page.set_viewport_size({"width": width, "height": PHONE_HEIGHT})
                page.goto(site.url(path))
                if path == site.thread:  # with the names shown, as after a tap
                    page.locator("ul.reactions summary").first.click()
                name = f"{site.language} {path or '(home)'} [{width} px]"
                problems += [str(v) for v in axe_violations(page, source, name)]
                if width == PHONE_WIDTH and page_width(page, name).overflows:
                    problems.append(str(page_width(page, name)))
    assert problems == [], "\n".join(problems)
