"""Bounces counted at once, as several `gateway serve` nodes (or a bounce round beside
the delivery worker's refusals) count them: scores add up exactly, a membership is
stopped and its owners told once.

Real threads with connections of their own to a real database, each in its own
committed transaction; on SQLite the writers take turns, on PostgreSQL they cross.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.outbound.bounces import count_refusals
from gateway.outbound.deliveries import Claimed
from gateway.outbound.deliveries import Outcome
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Delivery
from gateway.store.models import Membership
from gateway.store.models import Role

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
PEOPLE = [f"member{n:03d}@example.com" for n in range(300)]
OWNER = "olga@example.com"


def with_threshold(settings: Settings, threshold: int) -> Settings:
    return dataclasses.replace(
        settings, delivery=dataclasses.replace(settings.delivery, bounce_threshold=threshold)
    )


def community_of(app: App, people: list[str]) -> None:
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design")
        add_members(session, design, people)
        add_members(session, design, [OWNER], role=Role.OWNER)


def scores(app: App) -> list[tuple[int, bool]]:
    """(bounce_score, stopped) of every membership but the owner's, by address."""
    with transaction(app.sessions) as session:
        rows = session.execute(
            select(Membership.bounce_score, Membership.disabled_at.is_not(None))
            .where(Membership.role == Role.MEMBER)
            .order_by(Membership.id)
        )
        return [(score, stopped) for score, stopped in rows]


def notices(app: App) -> int:
    with transaction(app.sessions) as session:
        return session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.kind == "bounce_disabled")
        )


def at_once(*passes: Callable[[], object]) -> list[object]:
    """Run the passes in threads of their own, started together; their results."""
    start = threading.Barrier(len(passes))

    def run(one: Callable[[], object]) -> object:
        start.wait()
        return one()

    with ThreadPoolExecutor(len(passes)) as pool:
        futures = [pool.submit(run, one) for one in passes]
        return [future.result() for future in futures]


def refusal_pass(app: App, settings: Settings) -> Callable[[], int]:
    """The relay refusing every person (550 5.1.1: 2 points), counted in one transaction
    as the delivery worker counts a batch's refusals; returns how many were counted."""
    refusals = [
        Outcome(Claimed(n, 1, 1, address, 0, NOW), 550, "5.1.1 User unknown")
        for n, address in enumerate(PEOPLE)
    ]

    def count() -> int:
        with transaction(app.sessions) as session:
            return count_refusals(session, app.templates, settings, refusals, NOW)

    return count


def test_bounces_counted_at_once_add_up(app: App, settings: Settings) -> None:
    community_of(app, PEOPLE)
    passes = refusal_pass(app, settings)

    assert at_once(passes, passes) == [len(PEOPLE)] * 2

    assert scores(app) == [(4, False)] * len(PEOPLE)


def test_two_bounces_that_reach_the_threshold_at_once_stop_the_mail_once(
    app: App, settings: Settings
) -> None:
    community_of(app, PEOPLE)
    with transaction(app.sessions) as session:
        yesterday = NOW - dt.timedelta(days=1)
        session.execute(
            update(Membership)
            .where(Membership.role == Role.MEMBER)
            .values(bounce_score=2, bounced_at=yesterday)
        )
    passes = refusal_pass(app, with_threshold(settings, 4))

    at_once(passes, passes)

    # The second bounce found the membership stopped: it counted no more.
    assert scores(app) == [(4, True)] * len(PEOPLE)
    assert notices(app) == len(PEOPLE)  # the owner is told once per member
