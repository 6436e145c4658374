"""archive.community_people and the community page: owners, moderators, members whose
expertise matches the community, and the most helpful members (replies others
answered), counted from the site's index, public people only, and kept up to date by
the page's signature."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.build import SiteBuilder
from archive.community_people import community_people
from archive.snapshot import read_index
from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.communities import get_community
from gateway.community.members import add_members
from gateway.community.people import ProfileChanges
from gateway.community.people import set_profile
from gateway.store.db import transaction
from gateway.store.models import Kind
from gateway.store.models import Origin
from gateway.store.models import Policy
from gateway.store.models import Role
from gateway.store.models import Visibility
from tests.factories import ingest_post


@pytest.fixture
def network(app: App) -> App:
    """Security (with a description), and a private community whose members stay unseen."""
    with transaction(app.sessions) as session:
        create_community(
            session, "security", "Security", policy=Policy.OPEN, kind=Kind.PRACTICE,
            description="Penetration tests, audits and HDS certification.",
        )  # fmt: skip
        create_community(
            session, "hidden", "Hidden", policy=Policy.OPEN, visibility=Visibility.PRIVATE
        )
        security = get_community(session, "security")
        add_members(session, security, ["olga@example.com"], role=Role.OWNER)
        add_members(session, security, ["max@example.com"], role=Role.MODERATOR)
        add_members(session, security, ["pia@example.com", "quinn@example.com"])
        add_members(session, get_community(session, "hidden"), ["zed@example.com"])
        for address, changes in {
            "pia@example.com": ProfileChanges(name="Pia", expertise=["HDS", "Cooking"]),
            "quinn@example.com": ProfileChanges(name="Quinn", expertise=["Art"]),
            "olga@example.com": ProfileChanges(name="Olga"),
            "zed@example.com": ProfileChanges(name="Zed", expertise=["Security"]),
        }.items():
            set_profile(session, address, changes)
    return app


def people_of(app: App, slug: str) -> dict[str, object]:
    with transaction(app.read_sessions) as session:
        index = read_index(session)
    [community] = [c for c in index.communities.values() if c.slug == slug]
    found = community_people(index)[community.id]
    email = {p.id: p.address.split("@")[0] for p in index.people.values()}
    return {
        "owners": [email[p] for p in found.owners],
        "moderators": [email[p] for p in found.moderators],
        "experts": [(email[p], list(tags)) for p, tags in found.experts],
        "helpful": [(email[p], n) for p, n in found.helpful],
    }


def test_owners_moderators_and_members_whose_expertise_matches(network: App) -> None:
    found = people_of(network, "security")
    assert found["owners"] == ["olga"] and found["moderators"] == ["max"]
    # "HDS" is a word of the description; "Art" is in none of its words (not "parties").
    assert found["experts"] == [("pia", ["HDS"])]


def test_the_most_helpful_count_replies_someone_else_answered_imports_included(
    network: App,
) -> None:
    question = ingest_post(network, "security", subject="Audit?", sender="olga@example.com")
    answer = ingest_post(
        network, "security", subject="Re: Audit?", parent=question, sender="pia@example.com",
        origin=Origin.IMPORT,
    )  # fmt: skip
    # Olga answers Pia's reply: Pia's reply was answered by someone else.
    follow = ingest_post(
        network, "security", subject="Re: Audit?", parent=answer, sender="olga@example.com"
    )
    # Quinn answers himself: that does not count.
    own = ingest_post(
        network, "security", subject="Re: Audit?", parent=follow, sender="quinn@example.com"
    )
    ingest_post(network, "security", subject="Re: Audit?", parent=own, sender="quinn@example.com")
    assert people_of(network, "security")["helpful"] == [("olga", 1), ("pia", 1)]


def test_the_community_page_lists_its_people_and_an_answer_updates_it(
    network: App, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    question = ingest_post(network, "security", subject="Audit?", sender="olga@example.com")
    answer = ingest_post(
        network, "security", subject="Re: Audit?", parent=question, sender="pia@example.com"
    )
    SiteBuilder(network, site, search=False).run()
    page = (site / "c" / "security" / "index.html").read_text()
    owners = page.split('class="owners">')[1].split("</dd>")[0]
    assert "Olga" in owners and "Pia" not in owners
    assert "max" in page.split('class="moderators">')[1].split("</dd>")[0]
    assert 'Pia</a> <span class="meta">(HDS)' in page
    assert 'class="helpful"' not in page and "Zed" not in page

    ingest_post(network, "security", subject="Re: Audit?", parent=answer, sender="max@example.com")
    update = SiteBuilder(network, site, search=False).run()

    assert update.communities == 1
    page = (site / "c" / "security" / "index.html").read_text()
    helpful = page.split('class="helpful">')[1].split("</dd>")[0]
    assert 'Pia</a> <span class="meta">(1 reply answered)' in helpful


def test_a_new_expertise_rewrites_the_community_page_and_no_other(
    network: App, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    with transaction(network.sessions) as session:
        create_community(session, "kitchen", "Kitchen", policy=Policy.OPEN)
        add_members(session, get_community(session, "kitchen"), ["quinn@example.com"])
    SiteBuilder(network, site, search=False).run()
    kitchen = site / "c" / "kitchen" / "index.html"
    before = kitchen.stat().st_mtime_ns
    assert "Quinn" not in (site / "c" / "security" / "index.html").read_text()

    with transaction(network.sessions) as session:
        set_profile(session, "quinn@example.com", ProfileChanges(expertise=["Audits"]))
    update = SiteBuilder(network, site, search=False).run()

    assert (update.communities, update.people, update.threads) == (1, 1, 0)
    assert (
        'Quinn</a> <span class="meta">(Audits)'
        in (site / "c" / "security" / "index.html").read_text()
    )
    assert kitchen.stat().st_mtime_ns == before
