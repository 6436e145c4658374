"""Reactions and accepted answers in the archive (SQLite and PostgreSQL): under each
message its reactions with the names of who reacted, "Answered" by the thread's title
and in the lists, the answer right under the question, and an update that rewrites
only the pages that show what changed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest

from archive.build import BuildReport
from archive.build import SiteBuilder
from gateway.app import App
from gateway.community.communities import create_community
from gateway.engagement.answers import accept_answer
from gateway.store.db import transaction
from gateway.store.models import Policy
from gateway.store.models import Visibility
from tests.factories import AT
from tests.factories import ingest_post
from tests.factories import react
from tests.factories import stored_message
from tests.test_digests import join


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return tmp_path / "site"


def build(app: App, site: Path) -> BuildReport:
    return SiteBuilder(app, site, search=False).run()


def community(app: App, slug: str, **options: Any) -> None:
    options.setdefault("policy", Policy.OPEN)
    with transaction(app.sessions) as session:
        create_community(session, slug, slug.title(), **options)


def accept(app: App, message_id: str) -> None:
    answer, thread = stored_message(app, message_id)
    with transaction(app.sessions) as session:
        accept_answer(session, thread, answer, None, AT + dt.timedelta(hours=1))


def page(site: Path, url: str) -> str:
    return (site / url / "index.html").read_text()


def section(html: str, message: int) -> str:
    """One message's <section> on its thread's page."""
    found = re.search(rf'<section class="message[^"]*" id="m{message}">.*?</section>', html, re.S)
    assert found, message
    return found.group(0)


def test_a_thread_page_shows_reactions_and_the_answer_under_the_question(
    app: App, site: Path
) -> None:
    community(app, "design")
    question = ingest_post(
        app, "design", subject="Which grid?", body="Twelve columns or eight?\n", name="Ann"
    )
    first = ingest_post(
        app, "design", subject="Re: Which grid?", body="Maybe six.\n", parent=question,
        sender="bob@example.com", name="Bob",
    )  # fmt: skip
    best = ingest_post(
        app, "design", subject="Re: Which grid?", parent=question, sender="cy@example.com",
        body="Twelve: it divides by 2, 3, 4 and 6.\n\n> Twelve columns or eight?\n", name="Cy",
    )  # fmt: skip
    ingest_post(app, "design", subject="Other topic", body="Lunch?\n")
    join(app, "design", "ann@example.com", "bob@example.com", "dee@example.com")  # named
    react(app, best, "ann@example.com", "Ann Lee", "🙏", AT + dt.timedelta(minutes=1))
    react(app, best, "bob@example.com", "Bob Stone", "👍", AT + dt.timedelta(minutes=2))
    react(app, best, "dee@example.com", "Dee Park", "👍", AT + dt.timedelta(minutes=3))
    react(app, question, "bob@example.com", "Bob Stone", "👀", AT + dt.timedelta(minutes=4))
    accept(app, best)

    build(app, site)

    best_id, thread = stored_message(app, best)
    html = page(site, f"t/{thread}")
    reactions = section(html, best_id)
    shown = r'<summary title="([^"]*)"><span class="emoji">(.)</span>&nbsp;(\d)'
    assert re.findall(shown, reactions) == [
        ("Bob Stone, Dee Park", "👍", "2"),
        ("Ann Lee", "🙏", "1"),
    ]
    assert '<span class="sr-only"> (by Bob Stone, Dee Park)</span>' in reactions
    assert '<span class="answered" data-pagefind-ignore>Accepted answer</span>' in reactions
    assert "👀" in section(html, stored_message(app, question)[0])
    assert "reactions" not in section(html, stored_message(app, first)[0])
    # "Answered" by the title, and the answer right after the question, before any reply.
    assert re.search(
        r'</h1>\n<p class="answered-state"[^>]*><a class="answered" href="#answer">', html
    )
    question_end = section(html, stored_message(app, question)[0])
    after_question = html.split(question_end, 1)[1]
    assert after_question.lstrip().startswith('<div class="accepted-answer" id="answer"')
    answer = after_question.split("</div>", 1)[0]
    assert "Twelve: it divides by 2, 3, 4 and 6." in answer
    assert "Twelve columns or eight?" not in answer  # the quote is not the answer
    assert f'href="#m{best_id}">Read it in the thread</a>' in answer and ">Cy<" in answer
    # The lists mark the answered thread, and it only.
    for listing in (page(site, "c/design"), page(site, "c/design/2026-11"), page(site, "")):
        marked = re.findall(r'>([^<]*)</a> <span class="answered">Answered</span>', listing)
        assert marked == ["Which grid?"], listing


def test_a_french_site_says_resolu(app: App, site: Path) -> None:
    community(app, "design")
    question = ingest_post(app, "design", subject="Quelle grille ?")
    reply = ingest_post(app, "design", subject="Re: Quelle grille ?", parent=question)
    accept(app, reply)
    join(app, "design", "bob@example.com")
    react(app, reply, "bob@example.com", "Bob", "👍", AT + dt.timedelta(minutes=1))
    french = dataclasses.replace(
        app, settings=dataclasses.replace(
            app.settings, gateway=dataclasses.replace(app.settings.gateway, language="fr")
        )
    )  # fmt: skip

    build(french, site)

    html = page(site, f"t/{stored_message(app, reply)[1]}")
    assert ">Résolu</a>" in html and "<h2>Réponse acceptée</h2>" in html
    assert "La lire dans la discussion" in html and "(par Bob)" in html


def test_a_new_reaction_rewrites_its_thread_page_only_and_an_answer_its_lists(
    app: App, site: Path
) -> None:
    community(app, "design")
    question = ingest_post(app, "design", subject="Which grid?")
    reply = ingest_post(app, "design", subject="Re: Which grid?", parent=question)
    ingest_post(app, "design", subject="Other topic")
    build(app, site)
    thread = stored_message(app, reply)[1]
    listing = site / "c" / "design" / "index.html"
    month = site / "c" / "design" / "2026-11" / "index.html"
    before = (listing.stat().st_mtime_ns, month.stat().st_mtime_ns)

    react(app, reply, "bob@example.com", "Bob", "👍", AT + dt.timedelta(minutes=1))
    reacted = build(app, site)

    assert not reacted.full and (reacted.threads, reacted.communities) == (1, 0)
    assert (listing.stat().st_mtime_ns, month.stat().st_mtime_ns) == before
    assert "👍" in page(site, f"t/{thread}")

    accept(app, reply)
    answered = build(app, site)

    assert (answered.threads, answered.communities) == (1, 1)
    assert 'class="answered">Answered' in listing.read_text()
    assert 'class="answered">Answered' in month.read_text()
    assert 'id="answer"' in page(site, f"t/{thread}")
    assert (build(app, site).threads, build(app, site).counts.written) == (0, 0)


def test_what_the_site_does_not_show_brings_no_reaction_and_no_answer(app: App, site: Path) -> None:
    community(app, "design")
    community(app, "council", visibility=Visibility.PRIVATE)
    ingest_post(app, "design", subject="Which grid?")
    secret = ingest_post(app, "council", subject="Budget", sender="zed@example.com")
    reply = ingest_post(app, "council", subject="Re: Budget", parent=secret)
    accept(app, reply)
    react(app, secret, "quill@example.com", "Quill Hidden", "🔒", AT + dt.timedelta(minutes=1))

    build(app, site)

    everything = "\n".join(p.read_text() for p in site.rglob("*.html"))
    assert "Quill Hidden" not in everything and "🔒" not in everything
    assert "Answered" not in everything and 'id="answer"' not in everything


def test_the_site_names_only_people_it_shows_and_ten_at_most(app: App, site: Path) -> None:
    community(app, "design")
    community(app, "council", visibility=Visibility.PRIVATE)
    join(app, "design", "alice@example.com")
    post = ingest_post(app, "design", subject="Launch day", name="Ann")
    # Members of a private community only, who never wrote in public: counted, not named.
    for address, name in (("quill@example.com", "Quill Hidden"), ("rex@example.com", "Rex")):
        join(app, "council", address)
        react(app, post, address, name, "👀", AT + dt.timedelta(minutes=0))
    for n in range(12):
        address = f"p{n}@example.com"
        join(app, "design", address)
        react(app, post, address, f"P{n:02}", "🎉", AT + dt.timedelta(minutes=1 + n))
    react(
        app, post, "alice@example.com", "Ann", "👀", AT + dt.timedelta(minutes=20)
    )  # shown by the site: named

    build(app, site)

    message, thread = stored_message(app, post)
    html = section(page(site, f"t/{thread}"), message)
    shown = r'<summary title="([^"]*)"><span class="emoji">(.)</span>&nbsp;(\d+)'
    first_ten = ", ".join(f"P{n:02}" for n in range(10))
    assert re.findall(shown, html) == [
        (f"{first_ten} and 2 others", "🎉", "12"),
        ("Ann and 2 others", "👀", "3"),
    ]
    assert f'<p class="names" aria-hidden="true">{first_ten} and 2 others</p>' in html
    assert "(by Ann and 2 others)</span>" in html
    assert "P10" not in html and "P11" not in html
    everything = "\n".join(p.read_text() for p in site.rglob("*.html"))
    assert "Quill" not in everything and "Rex" not in everything


def test_a_french_site_counts_the_others_in_french(app: App, site: Path) -> None:
    community(app, "design")
    community(app, "council", visibility=Visibility.PRIVATE)
    post = ingest_post(app, "design", subject="Lancement")
    for address in ("quill@example.com", "rex@example.com"):
        join(app, "council", address)
        react(app, post, address, address[0].upper(), "👍", AT + dt.timedelta(minutes=1))
    french = dataclasses.replace(
        app, settings=dataclasses.replace(
            app.settings, gateway=dataclasses.replace(app.settings.gateway, language="fr")
        )
    )  # fmt: skip

    build(french, site)

    message, thread = stored_message(app, post)
    html = section(page(site, f"t/{thread}"), message)
    assert '<summary title="2 personnes">' in html and "(par 2 personnes)" in html
