"""Unanswered questions offered to the experts: the delay before a thread counts as
unanswered ([adoption] unanswered_after_hours) and the few a digest offers
(questions_per_day), on the crafted network."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.digests.assemble import Reader
from gateway.digests.assemble import assemble
from gateway.digests.news import Question
from gateway.digests.news import gather
from gateway.digests.news import unanswered_questions
from gateway.store.db import transaction
from gateway.store.models import Cadence
from gateway.store.models import Community
from tests import adoption_network as net


@pytest.fixture
def network(app: App) -> App:
    net.build(app)
    net.send(lambda post, raw: net.ingest(app, post, raw))
    return app


def test_the_delay_before_a_question_is_unanswered(network: App) -> None:
    with transaction(network.read_sessions) as session:
        design = session.scalar(select(Community.id).where(Community.slug == "design"))
        assert design is not None

        def asked(after: dt.timedelta) -> list[str]:
            found = unanswered_questions(session, [design], net.NOW, "http://x/", after)
            return [q.subject for q in found.get(design, [])]

        # "Which font for print" was asked 8 days ago and never answered.
        assert asked(dt.timedelta(hours=48)) == ["Which font for print"]
        assert asked(dt.timedelta(days=9)) == []


def test_a_digest_offers_a_few_matching_questions(network: App) -> None:
    with transaction(network.read_sessions) as session:
        design = session.scalar(select(Community.id).where(Community.slug == "design"))
        assert design is not None
        news = gather(
            session, [design], net.NOW - dt.timedelta(days=1), net.NOW, "http://x/",
            dt.timedelta(hours=1),
        )  # fmt: skip
    [question] = news.questions[design]
    # Seven questions, five of which match the reader's expertise.
    many = [
        dataclasses.replace(question, thread_id=n, folded=" typography " if n < 5 else " x ")
        for n in range(7)
    ]
    news.questions[design] = many
    reader = Reader(99, "r@example.com", "", (design,), frozenset({"typography"}), False)
    digest = assemble(reader, news, Cadence.DAILY, "p", net.NOW, net.NOW, matched_questions=2)
    assert [(q.thread_id, matched) for q, matched in digest.questions] == [
        (0, True), (1, True), (5, False), (6, False),
    ]  # fmt: skip
    assert isinstance(digest.questions[0][0], Question)
