"""The web server in a real browser: Chromium opens a one-click link's page from a real
`serve`, the page changes nothing, its button does it (on a desktop and a 390 px
phone); and with [web] serve_archive the same server gives the archive and its search."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from playwright.sync_api import expect

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.communities import get_community
from gateway.community.members import add_members
from gateway.community.members import find_membership
from gateway.community.people import find_person
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Policy
from gateway.web.tokens import Stop
from gateway.web.tokens import Tokens
from gateway.web.tokens import Unsubscribe
from tests.browser import watched_page
from tests.conftest import GatewayCli
from tests.conftest import running
from tests.factories import ingest_post

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def is_member(app: App, slug: str, address: str) -> bool:
    with transaction(app.read_sessions) as session:
        return find_membership(session, get_community(session, slug), address) is not None


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_button_of_the_page_leaves_and_opening_it_does_not(
    app: App, settings: Settings, chromium: Any, viewport: dict[str, int], language: str
) -> None:
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design Guild")
        add_members(session, design, ["bob@example.com"])
        person = find_person(session, "bob@example.com")
        assert person is not None
        request = Unsubscribe(person.id, Stop.LEAVE, (design.id,))
    localized = dataclasses.replace(
        settings, gateway=dataclasses.replace(settings.gateway, language=language)
    )
    with running(localized) as server:
        token = Tokens.for_settings(server.settings).issue(request)
        with watched_page(chromium, server.web_origin) as watched:
            page = watched.page
            page.set_viewport_size(viewport)
            page.goto(f"{server.web_origin}/u/{token}")
            heading = page.locator("h1")
            assert "Design Guild" in heading.inner_text()
            assert is_member(app, "design", "bob@example.com")  # opening changes nothing
            button = page.locator("button")
            box = button.bounding_box()
            assert box is not None and box["x"] >= 0
            assert box["x"] + box["width"] <= viewport["width"]
            # Nothing wider than the screen: no sideways scrolling on a phone.
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            button.click()
            page.wait_for_url(f"{server.web_origin}/u/{token}")
            page.locator("h1").wait_for()
            done = {"en": "You have left Design Guild", "fr": "Vous avez quitté Design Guild"}
            assert page.locator("h1").inner_text() == done[language]
        assert watched.foreign_requests() == [] and watched.blocked == []
    assert not is_member(app, "design", "bob@example.com")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_one_process_gives_the_site_and_its_search(
    app: App, settings: Settings, gateway_cli: GatewayCli, chromium: Any
) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "design", "Design Guild", policy=Policy.OPEN)
    ingest_post(app, "design", subject="Palette", body="The annual report uses teal.\n")
    gateway_cli("archive", "build")  # with its search index, into [archive] out_dir
    serving = dataclasses.replace(
        settings, web=dataclasses.replace(settings.web, serve_archive=True)
    )
    with running(serving) as server, watched_page(chromium, server.web_origin) as watched:
        page = watched.page
        page.goto(f"{server.web_origin}/search/?q=teal")
        results = page.locator(".pagefind-ui__result")
        expect(results).to_have_count(1)
        results.locator("a.pagefind-ui__result-link").click()
        expect(page.locator("article.thread")).to_contain_text("The annual report uses teal.")
        assert watched.foreign_requests() == [] and watched.blocked == []
        assert watched.refused == []  # the server's policy lets the site's search run
