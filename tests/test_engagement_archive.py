"""The archive's people and stats pages count accepted answers and thanks received:
public messages only, in English and French, and an update rewrites only the pages
whose counts changed (crafted network of tests/adoption_network.py with
tests/engagement_network.py's rows)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from archive import urls
from archive.build import SiteBuilder
from gateway.app import App
from gateway.store.db import transaction
from gateway.store.models import Person
from gateway.store.models import Reaction
from gateway.store.models import ReactionSource
from gateway.store.models import ThreadAnswer
from tests import adoption_network as net
from tests import engagement_network as engagement


@pytest.fixture
def network(app: App) -> App:
    net.build(app)
    net.send(lambda post, raw: net.ingest(app, post, raw))
    engagement.seed(app)
    return app


def person_page(app: App, site: Path, address: str) -> str:
    with transaction(app.read_sessions) as session:
        person_id = session.scalar(select(Person.id).where(Person.address == address))
    assert person_id is not None
    return (site / urls.page_file(urls.person(person_id))).read_text()


def standing_line(page: str) -> str | None:
    start = page.find('<p class="meta standing">')
    return None if start == -1 else page[start : page.index("</p>", start) + 4]


def french(app: App) -> App:
    gateway = dataclasses.replace(app.settings.gateway, language="fr")
    return dataclasses.replace(app, settings=dataclasses.replace(app.settings, gateway=gateway))


def test_people_pages_say_accepted_answers_and_thanks_received(
    network: App, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    SiteBuilder(network, site, search=False).run()
    lines = {
        who: standing_line(person_page(network, site, f"{who}@example.com"))
        for who in ("alice", "bob", "carol", "dave")
    }
    assert lines == {
        "bob": '<p class="meta standing">2 accepted answers · 3 thanks received</p>',
        "carol": '<p class="meta standing">1 accepted answer</p>',
        # Her own accepted answer does not count; carol's ❤️ does.
        "alice": '<p class="meta standing">1 thanks received</p>',
        "dave": None,
    }
    # erin's thanks are in the private community, and so is she: no page at all.
    with pytest.raises(FileNotFoundError):
        person_page(network, site, "erin@example.com")

    stats = (site / urls.page_file(urls.STATS)).read_text()
    # The public communities: answers on p1, p7, i1, p5; reactions on p2, p8, p6.
    assert "<dt>Accepted answers</dt><dd>4</dd>" in stats
    assert "<dt>Questions with an accepted answer</dt><dd>2 / 3 (67&nbsp;%)</dd>" in stats
    assert "<dt>Reactions</dt><dd>5 reactions · 4 thanks received</dd>" in stats
    assert "<figcaption>Accepted answers by person</figcaption>" in stats
    assert "<title>Bob Durand: 2</title>" in stats and "<title>Carol Petit: 1</title>" in stats


def test_french_pages_count_in_french(network: App, tmp_path: Path) -> None:
    site = tmp_path / "site"
    SiteBuilder(french(network), site, search=False).run()
    bob = standing_line(person_page(network, site, "bob@example.com"))
    carol = standing_line(person_page(network, site, "carol@example.com"))
    alice = standing_line(person_page(network, site, "alice@example.com"))
    assert bob == '<p class="meta standing">2 réponses acceptées · 3 remerciements reçus</p>'
    assert carol == '<p class="meta standing">1 réponse acceptée</p>'
    assert alice == '<p class="meta standing">1 remerciement reçu</p>'
    stats = (site / urls.page_file(urls.STATS)).read_text()
    assert "<dt>Réponses acceptées</dt><dd>4</dd>" in stats
    assert "<dt>Réactions</dt><dd>5 réactions · 4 remerciements reçus</dd>" in stats
    assert "<figcaption>Réponses acceptées, par personne</figcaption>" in stats


def test_an_update_rewrites_only_the_people_whose_counts_changed(
    network: App, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    SiteBuilder(network, site, search=False).run()
    assert SiteBuilder(network, site, search=False).run().people == 0
    ids = engagement.message_ids(network)
    with transaction(network.sessions) as session:
        dave = session.scalar(select(Person.id).where(Person.address == "dave@example.com"))
        session.add(
            Reaction(message_id=ids["i2"], person_id=dave, emoji="👍", source=ReactionSource.CLI)
        )
    update = SiteBuilder(network, site, search=False).run()
    # Carol's page, and the page of the thread the reaction is in (no list page).
    assert (update.people, update.threads, update.communities) == (1, 1, 0)
    carol = standing_line(person_page(network, site, "carol@example.com"))
    assert carol == '<p class="meta standing">1 accepted answer · 1 thanks received</p>'
    # An answer accepted instead of another: both authors' pages change.
    with transaction(network.sessions) as session:
        answer = session.scalars(select(ThreadAnswer)).all()
        p1 = next(a for a in answer if a.message_id == ids["p2"])
        p1.message_id = ids["p3"]  # carol's reply in the same thread
    update = SiteBuilder(network, site, search=False).run()
    assert update.people == 2
    bob = standing_line(person_page(network, site, "bob@example.com"))
    assert bob == '<p class="meta standing">1 accepted answer · 3 thanks received</p>'
