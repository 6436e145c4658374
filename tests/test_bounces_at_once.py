"""Bounces counted at once, as several `gateway serve` nodes (or a bounce round beside
the delivery worker's refusals) count them: scores add up exactly, a membership is
stopped and its owners told once, and a bounce mail is counted by one round only.

Real threads with connections of their own to a real database, each in its own
committed transaction; on SQLite the writers take turns, on PostgreSQL they cross.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.outbound import bounces
from gateway.outbound.bounces import count_refusals
from gateway.outbound.bounces import handle_bounces
from gateway.outbound.deliveries import Claimed
from gateway.outbound.deliveries import Outcome
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import ActionMail
from gateway.store.models import Delivery
from gateway.store.models import Membership
from gateway.store.models import Role
from tests.corpus import sample

DOMAIN = "lists.example.com"
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
MAILBOX_FULL = sample("mime/flanker/bounce/mailbox-full.eml")  # 5.2.2: permanent, 2 points
LIMIT = 1000  # bounce mails per round: all of them
PEOPLE = [f"member{n:03d}@example.com" for n in range(300)]
OWNER = "olga@example.com"
# How long round A keeps its transaction open while round B runs: B returns at once on
# PostgreSQL, waits on SQLite (below its busy timeout of 10 s). Longer only slows the test.
HOLD = 2.0


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


def bounce_mails(app: App) -> None:
    """A VERP bounce mail (a permanent failure) for every person."""
    with transaction(app.sessions) as session:
        sha256 = app.blobs.put(MAILBOX_FULL)
        for n, address in enumerate(PEOPLE):
            token = address.replace("@", "=")
            session.add(
                ActionMail(
                    recipient=f"bounces+{token}@{DOMAIN}",
                    action="bounces",
                    token=token,
                    sender="mailer-daemon@aol.com",
                    message_id=f"bounce-{n}@aol.com",
                    raw_sha256=sha256,
                    raw_size=len(MAILBOX_FULL),
                    received_at=NOW,
                )
            )


def handled(app: App) -> int:
    with transaction(app.sessions) as session:
        return session.scalar(
            select(func.count()).select_from(ActionMail).where(ActionMail.handled_at.is_not(None))
        )


def bounce_round(app: App, settings: Settings) -> int:
    """One bounce round of the delivery worker, in its own transaction."""
    with transaction(app.sessions) as session:
        return handle_bounces(session, app.blobs, app.templates, settings, NOW, limit=LIMIT)


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


def test_a_bounce_mail_handled_by_two_rounds_in_turn_counts_once(
    app: App, settings: Settings
) -> None:
    community_of(app, PEOPLE)
    bounce_mails(app)

    assert [bounce_round(app, settings), bounce_round(app, settings)] == [len(PEOPLE), 0]
    assert scores(app) == [(2, False)] * len(PEOPLE)


def test_a_bounce_mail_is_not_counted_by_a_round_while_another_holds_it(
    app: App, settings: Settings
) -> None:
    """Round A has counted every bounce mail and not committed yet when round B starts:
    B must leave them to A (on PostgreSQL it skips the rows A locked, on SQLite it waits
    for A's transaction) and count nothing, not count them a second time."""
    community_of(app, PEOPLE)
    bounce_mails(app)

    with ThreadPoolExecutor(1) as pool:
        with transaction(app.sessions) as session:
            first = handle_bounces(session, app.blobs, app.templates, settings, NOW, limit=LIMIT)
            second = pool.submit(bounce_round, app, settings)
            wait([second], timeout=HOLD)
        assert (first, second.result()) == (len(PEOPLE), 0)

    assert handled(app) == len(PEOPLE)
    assert scores(app) == [(2, False)] * len(PEOPLE)


def test_two_rounds_at_once_share_the_bounce_mails_and_count_each_once(
    app: App, settings: Settings
) -> None:
    community_of(app, PEOPLE)
    bounce_mails(app)

    counted = at_once(*[lambda: bounce_round(app, settings)] * 2)

    assert sum(counted) == len(PEOPLE)  # type: ignore[arg-type]
    assert handled(app) == len(PEOPLE)
    assert scores(app) == [(2, False)] * len(PEOPLE)


def test_a_round_the_database_fails_is_rolled_back_and_counted_by_the_next(
    app: App, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deadlock (PostgreSQL aborts one of two rounds that wait for each other) or a lost
    connection is not the bounce mail's fault: the round is rolled back, nothing is set
    aside, and the next round counts every mail once."""
    community_of(app, PEOPLE)
    bounce_mails(app)
    count = bounces.count_bounce
    failing = PEOPLE[150]

    def deadlocked(session: Session, address: str, *args: Any) -> list[Membership]:
        if address == failing:
            raise OperationalError("UPDATE memberships ...", {}, Exception("deadlock detected"))
        return count(session, address, *args)

    monkeypatch.setattr(bounces, "count_bounce", deadlocked)
    with pytest.raises(OperationalError):
        bounce_round(app, settings)
    assert handled(app) == 0
    assert scores(app) == [(0, False)] * len(PEOPLE)

    monkeypatch.setattr(bounces, "count_bounce", count)
    assert bounce_round(app, settings) == len(PEOPLE)
    assert scores(app) == [(2, False)] * len(PEOPLE)
