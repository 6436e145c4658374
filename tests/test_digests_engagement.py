"""Reactions and accepted answers in digests (SQLite and PostgreSQL): beside each thread
"Answered" and its reactions ("👍 2 · 🙏 1") in the text and the HTML, as they were when
the window ended; an answered question is no longer offered as waiting for an answer,
in digests nor on the archive's home page."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.app import build_app
from gateway.community.people import ensure_person
from gateway.digests.news import unanswered_questions
from gateway.digests.runner import run_digests
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import Reaction
from gateway.store.models import ReactionSource
from gateway.store.models import ThreadAnswer
from tests.factories import ingest_post
from tests.received import plain_text
from tests.test_digests import DAILY
from tests.test_digests import DAY
from tests.test_digests import DUE
from tests.test_digests import HOUR
from tests.test_digests import RUN
from tests.test_digests import assert_safe_html
from tests.test_digests import community
from tests.test_digests import html_of
from tests.test_digests import join
from tests.test_digests import mail_for


def stored(app: App, message_id: str) -> tuple[int, int]:
    with transaction(app.sessions) as session:
        row = session.execute(
            select(Message.id, Message.thread_id).where(Message.message_id == message_id)
        ).one()
        return row.id, row.thread_id


def react(app: App, message_id: str, address: str, name: str, emoji: str, at: dt.datetime) -> None:
    message = stored(app, message_id)[0]
    with transaction(app.sessions) as session:
        person = ensure_person(session, address)
        person.name = name
        session.flush()
        session.add(
            Reaction(
                message_id=message,
                person_id=person.id,
                emoji=emoji,
                source=ReactionSource.RFC9078,
                created_at=at,
            )
        )


def accept(app: App, message_id: str, at: dt.datetime) -> None:
    answer, thread = stored(app, message_id)
    with transaction(app.sessions) as session:
        session.add(ThreadAnswer(thread_id=thread, message_id=answer, answered_at=at))


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


def test_an_answered_question_is_no_longer_waiting_for_an_answer(app: App) -> None:
    community(app, "design", "Design")
    join(app, "design", "bob@example.com")
    solved = ingest_post(app, "design", subject="Where is the logo?", at=DUE - 3 * DAY,
                         sender="erin@example.com")  # fmt: skip
    ingest_post(app, "design", subject="Which printer?", at=DUE - 3 * DAY,
                sender="erin@example.com")  # fmt: skip
    ingest_post(app, "design", subject="News of the day", at=DUE - HOUR)
    # Its author found it and marked their own post (`gateway thread answer`): no reply.
    accept(app, solved, DUE - 2 * DAY)

    run_digests(app, DAILY, RUN)

    text = plain_text(mail_for(app, "bob@example.com"))
    waiting = text[text.index("Still waiting for an answer") :]
    assert "Which printer?" in waiting and "Where is the logo?" not in waiting
    with transaction(app.sessions) as session:
        design = session.scalars(select(Community.id)).all()
        found = unanswered_questions(session, design, DUE, "", DAY, 90 * DAY)
    assert [q.subject for qs in found.values() for q in qs] == ["Which printer?"]
