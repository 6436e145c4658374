"""gateway.adoption.stats and `gateway stats`: the figures of a crafted network, checked
against counts computed here from the list of posts, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import statistics
from pathlib import Path
from typing import Any

import pytest

from archive.build import SiteBuilder
from gateway.adoption.stats import compute_stats
from gateway.adoption.stats import describe_stats
from gateway.app import App
from gateway.store.db import transaction
from gateway.store.models import Origin
from gateway.store.models import Visibility
from tests import adoption_network as net
from tests.conftest import GatewayCli

SINCE = net.NOW - dt.timedelta(days=90)


@pytest.fixture
def network(app: App) -> App:
    net.build(app)
    net.send(lambda post, raw: net.ingest(app, post, raw))
    return app


def root(post: net.Post) -> net.Post:
    by_key = {p.key: p for p in net.POSTS}
    while post.reply_to:
        post = by_key[post.reply_to]
    return post


def expected(slug: str | None) -> dict[str, Any]:
    """The figures of one community (or all, None), from POSTS and MEMBERS alone."""
    posts = [p for p in net.POSTS if slug is None or slug in p.slugs]
    recent = [p for p in posts if p.at >= SINCE]
    members = {(a, d) for s, a, _, _, d in net.MEMBERS if slug is None or s == slug}
    people = {a for a, _ in members}
    first_joined = {a: min(d for b, d in members if b == a) for a in people}
    threads = [p for p in posts if not p.reply_to and p.at >= SINCE]
    waits = {}
    for thread in threads:
        replies = [p.at for p in posts if p.reply_to and root(p) is thread]
        if replies:
            waits[thread.key] = (min(replies) - thread.at).total_seconds() / 3600
    questions = [t for t in threads if "?" in t.subject or "?" in t.body]
    return {
        "members": len(people),
        "new_members": sum(1 for d in first_joined.values() if d < 90),
        "posters": len({p.sender for p in recent} & people),
        "readers_only": len(people - {p.sender for p in recent}),
        "posts": len(recent),
        "threads": len(threads),
        "reply_rate": round(len(waits) / len(threads), 3) if threads else None,
        "median_first_reply_hours": (
            round(statistics.median(waits.values()), 1) if waits else None
        ),
        "questions": len(questions),
        "questions_answered": sum(1 for q in questions if q.key in waits),
        "imported_posts": sum(1 for p in recent if p.origin is Origin.IMPORT),
        "new_posts": sum(1 for p in recent if p.origin is Origin.SMTP),
        "imported_threads_revived": len(
            {root(p).key for p in recent if p.reply_to and root(p).origin is Origin.IMPORT}
        ),
        "profiles_completed": sum(
            1
            for a in people
            if net.PROFILES[a].name
            and net.PROFILES[a].department
            and (net.PROFILES[a].expertise or net.PROFILES[a].interests)
        ),
    }


def test_figures_match_counts_made_from_the_posts(network: App) -> None:
    with transaction(network.read_sessions) as session:
        data = describe_stats(compute_stats(session, SINCE, now=net.NOW))
    by_slug = {c["slug"]: c for c in data["communities"]}
    assert sorted(by_slug) == sorted(net.COMMUNITIES)
    for slug in [*net.COMMUNITIES, None]:
        figures = data["overall"] if slug is None else by_slug[slug]
        assert {key: figures[key] for key in expected(slug)} == expected(slug), slug


def test_weekly_departments_delivery_and_contributors(network: App) -> None:
    with transaction(network.read_sessions) as session:
        data = describe_stats(compute_stats(session, SINCE, slugs=["design"], now=net.NOW))
    [design] = data["communities"]
    recent = [p for p in net.POSTS if "design" in p.slugs and p.at >= SINCE]
    weeks: dict[str, int] = {}
    for post in recent:
        monday = (post.at.date() - dt.timedelta(days=post.at.weekday())).isoformat()
        weeks[monday] = weeks.get(monday, 0) + 1
    assert {w["week"]: w["posts"] for w in design["weekly"]} == weeks
    assert sum(w["threads"] for w in design["weekly"]) == design["threads"]
    departments = {"alice@example.com": "Design", "bob@example.com": "IT"}
    by_department: dict[str, int] = {}
    for post in recent:
        name = departments.get(post.sender, "Sales")
        by_department[name] = by_department.get(name, 0) + 1
    assert design["posts_by_department"] == by_department
    assert design["delivery"] == {"instant": 2, "daily": 1, "weekly": 1, "none": 0}
    counts: dict[str, int] = {}
    for post in recent:
        counts[post.sender] = counts.get(post.sender, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    assert [(c["email"], c["posts"]) for c in design["top_contributors"]] == ranked
    # The private community is left out when only public ones are asked for.
    with transaction(network.read_sessions) as session:
        public = compute_stats(session, SINCE, public_only=True, now=net.NOW)
    assert "finance" not in {c.slug for c in public.communities}
    assert public.overall.posts == sum(
        1 for p in net.POSTS if p.at >= SINCE and set(p.slugs) - {"finance"}
    )


def test_the_command(network: App, gateway_cli: GatewayCli) -> None:
    data = gateway_cli.json("stats", "--since", "2020-01-01")
    assert data["overall"]["posts"] == len(net.POSTS)
    one = gateway_cli.json("stats", "--community", "security", "--since", "2020-01-01")
    assert [c["slug"] for c in one["communities"]] == ["security"]
    table = gateway_cli("stats", "--community", "security", "--since", "2020-01-01").stdout
    assert "security" in table and "Top contributors:" in table
    assert "not a date" in gateway_cli.error("stats", "--since", "yesterday", expect=2)
    assert "nobody" not in gateway_cli.error("stats", "--community", "nope")


def test_the_archive_stats_page_shows_public_communities_only(network: App, tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = SiteBuilder(network, site, search=False).run()
    page = (site / "stats" / "index.html").read_text()
    assert first.counts.written > 0
    for slug, (name, _, visibility, _) in net.COMMUNITIES.items():
        shown = f'<a href="../c/{slug}/">{name}</a>' in page
        assert shown == (visibility is Visibility.PUBLIC), slug
    assert page.count("<svg") == 5 and "<script" not in page
    # A build with nothing new leaves it as it is.
    assert "Participation" in page and "Posts by department" in page
    again = SiteBuilder(network, site, search=False).run()
    assert again.counts.written == 0
