"""Reactions and accepted answers in digests (SQLite and PostgreSQL): beside each thread
"Answered" and its reactions ("👍 2 · 🙏 1") in the text and the HTML, as they were when
the window ended, a person once per emoji, at most ten names on hover."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest

from gateway.app import App
from gateway.app import build_app
from gateway.digests.runner import run_digests
from gateway.engagement.answers import accept_answer
from gateway.settings import Settings
from gateway.store.db import transaction
from tests.factories import ingest_post
from tests.factories import react
from tests.factories import stored_message
from tests.received import plain_text
from tests.test_digests import DAILY
from tests.test_digests import DUE
from tests.test_digests import HOUR
from tests.test_digests import RUN
from tests.test_digests import assert_safe_html
from tests.test_digests import community
from tests.test_digests import html_of
from tests.test_digests import join
from tests.test_digests import mail_for


def accept(app: App, message_id: str, at: dt.datetime) -> None:
    answer, thread = stored_message(app, message_id)
    with transaction(app.sessions) as session:
        accept_answer(session, thread, answer, None, at)


def engaged(app: App) -> tuple[str, str]:
    """design with bob daily: an answered thread with reactions, a quiet one; (question,
    answer) Message-IDs."""
    community(app, "design", "Design")
    join(app, "design", "bob@example.com")
    question = ingest_post(app, "design", subject="Which grid?", at=DUE - 5 * HOUR,
                           body="Twelve columns or eight?\n")  # fmt: skip
    answer = ingest_post(app, "design", subject="Re: Which grid?", at=DUE - 4 * HOUR,
                         parent=question, sender="cy@example.com", body="Twelve.\n")  # fmt: skip
    ingest_post(app, "design", subject="Lunch menu", at=DUE - 3 * HOUR)
    react(app, answer, "ann@example.com", "Ann Lee", "🙏", DUE - 3 * HOUR)
    react(app, answer, "dee@example.com", "Dee Park", "👍", DUE - 2 * HOUR)
    react(app, question, "erin@example.com", "Erin", "👍", DUE - 2 * HOUR)
    react(app, answer, "erin@example.com", "Erin", "👍", DUE - HOUR)  # Erin counts once
    react(app, answer, "fay@example.com", "Fay", "🎉", DUE + HOUR)  # after the window
    accept(app, answer, DUE - HOUR)
    return question, answer


def test_a_digest_shows_answered_and_reactions_beside_each_thread(app: App) -> None:
    engaged(app)

    run_digests(app, DAILY, RUN)

    message = mail_for(app, "bob@example.com")
    text = plain_text(message)
    assert "* Which grid? - 2 new messages\n  Answered · 👍 2 · 🙏 1\n  http" in text
    assert "* Lunch menu - 1 new message\n  http" in text  # nothing to show: no line
    assert "🎉" not in text  # made after the window ended
    html = html_of(message)
    assert_safe_html(html)
    grid = html[html.index(">Which grid?</a>") : html.index(">Lunch menu</a>")]
    assert "&#10003;&nbsp;Answered</strong>" in grid or "✓\xa0Answered</strong>" in grid
    assert '<span title="Dee Park, Erin">👍&nbsp;2</span>' in grid
    assert '<span title="Ann Lee">🙏&nbsp;1</span>' in grid
    lunch = html[html.index(">Lunch menu</a>") :]
    assert "Answered" not in lunch and "👍" not in lunch


@pytest.fixture
def french(settings: Settings) -> Iterator[App]:
    built = build_app(
        dataclasses.replace(settings, gateway=dataclasses.replace(settings.gateway, language="fr"))
    )
    yield built
    built.close()


def test_a_french_digest_says_resolu(french: App) -> None:
    engaged(french)

    run_digests(french, DAILY, RUN)

    message = mail_for(french, "bob@example.com")
    assert "* Which grid? - 2 nouveaux messages\n  Résolu · 👍 2 · 🙏 1\n" in plain_text(message)
    assert "Résolu</strong>" in html_of(message)


def test_a_digest_names_ten_people_an_emoji_then_counts_the_others(app: App) -> None:
    community(app, "design", "Design")
    join(app, "design", "bob@example.com")
    news = ingest_post(app, "design", subject="Launch day", at=DUE - 5 * HOUR)
    for n in range(12):
        react(
            app,
            news,
            f"p{n}@example.com",
            f"P{n}",
            "🎉",
            DUE - 4 * HOUR + n * dt.timedelta(minutes=1),
        )

    run_digests(app, DAILY, RUN)

    message = mail_for(app, "bob@example.com")
    assert "* Launch day - 1 new message\n  🎉 12\n" in plain_text(message)
    first_ten = ", ".join(f"P{n}" for n in range(10))
    assert f'<span title="{first_ten} and 2 others">🎉&nbsp;12</span>' in html_of(message)
