"""A person page's accepted answers and thanks received, in a real browser: mail sent
over SMTP to a running gateway, an accepted answer and reactions put in as rows (parts
R and A build the mail side), the site built by `gateway archive build` in English
and French, served on loopback and read in Chromium on a desktop and a phone, under axe-core."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archive import urls
from gateway.app import build_app
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.models import Person
from gateway.store.models import Reaction
from gateway.store.models import ReactionSource
from gateway.store.models import ThreadAnswer
from tests.accessibility import axe_source
from tests.accessibility import axe_violations
from tests.browser import gateway_folder
from tests.browser import send_all
from tests.browser import serving
from tests.browser import watched_page
from tests.factories import post

PEOPLE = ["olga@example.com", "pia@example.com", "rene@example.com", "quinn@example.com"]


@pytest.fixture(scope="module")
def origins(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Any]:
    folder = gateway_folder(tmp_path_factory, sqlite_template, "standing", ("en", "fr"))
    cli = folder.cli
    cli("community", "create", "security", "--name", "Security", "--policy", "open")
    cli("member", "add", "security", *PEOPLE)
    cli("profile", "set", "pia@example.com", "--name", "Pia Jensen", "--department", "IT")
    send_all(folder.settings, [
        post("Which VPN client?", "Which VPN client do we use on Linux?\n",
             message_id="question@example.com", sender="olga@example.com", to="security"),
        post("Re: Which VPN client?", "WireGuard, with the profile on the intranet.\n",
             message_id="answer@example.com", sender="pia@example.com", to="security",
             parent="question@example.com"),
    ])  # fmt: skip
    app = build_app(folder.settings)
    try:
        with transaction(app.sessions) as session:
            people = dict(session.execute(select(Person.address, Person.id)).all())
            answer = session.scalars(
                select(Message).where(Message.message_id == "answer@example.com")
            ).one()
            assert answer.thread_id is not None
            session.add(
                ThreadAnswer(
                    thread_id=answer.thread_id,
                    message_id=answer.id,
                    answered_by_id=people["olga@example.com"],
                )
            )
            for who, emoji in [("olga", "🙏"), ("rene", "👍"), ("quinn", "👍"), ("pia", "👍")]:
                session.add(
                    Reaction(
                        message_id=answer.id,
                        person_id=people[f"{who}@example.com"],
                        emoji=emoji,
                        source=ReactionSource.RFC9078,
                    )
                )
        pia = people["pia@example.com"]
    finally:
        app.close()
    found = {}
    for language, language_cli in folder.clis.items():
        site = folder.root / f"site-{language}"
        language_cli.json("archive", "build", "--out", str(site), "--no-search")
        found[language] = site
    with serving(found["en"]) as english, serving(found["fr"]) as french:
        yield {"en": english.origin, "fr": french.origin, "pia": pia}


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "1 accepted answer · 3 thanks received"),
        ("fr", "1 réponse acceptée · 3 remerciements reçus"),
    ],
)
def test_a_person_page_shows_accepted_answers_and_thanks_received(
    chromium: Any, origins: Any, language: str, expected: str, width: int, tmp_path: Path
) -> None:
    origin = origins[language]
    with watched_page(chromium, origin) as watched:
        page = watched.page
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{origin}/{urls.person(origins['pia'])}")
        standing = page.locator("p.standing")
        assert standing.is_visible()
        # Her own 👍 is not a thanks; olga's acceptance is not her own.
        assert standing.inner_text() == expected
        heading = page.locator("h1").bounding_box()
        line = standing.bounding_box()
        assert heading is not None and line is not None
        assert line["y"] >= heading["y"] + heading["height"]  # under her name
        assert line["x"] + line["width"] <= width
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert axe_violations(page, axe_source(), f"person ({language}, {width} px)") == []
        page.screenshot(path=str(tmp_path / f"person-{language}-{width}.png"), full_page=True)
        assert watched.foreign_requests() == [] and watched.blocked == []
    # Someone with neither has no such line.
    with watched_page(chromium, origin) as watched:
        watched.page.goto(f"{origin}/people/")
        watched.page.get_by_role("link", name="quinn").first.click()
        assert watched.page.locator("p.standing").count() == 0
