"""Community services: activity counts come from SQL and only count what is published."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from gateway.community import communities
from gateway.community.members import add_members
from gateway.store.models import MessageStatus
from gateway.store.models import Role
from tests.factories import stored_post


def test_activity_counts_members_and_published_posts(session: Session) -> None:
    design = communities.create_community(session, "design", "Design")
    ux = communities.create_community(session, "ux", "UX")
    add_members(session, design, ["a@example.com", "b@example.com"])
    noon = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
    stored_post(session, "1@x", design, ux, received_at=noon)
    stored_post(session, "2@x", design, received_at=noon + dt.timedelta(hours=1))
    stored_post(
        session, "3@x", design, status=MessageStatus.HELD, received_at=noon + dt.timedelta(hours=2)
    )

    activity = communities.community_activity(session, [design.id, ux.id])

    assert activity[design.id] == communities.Activity(2, 2, noon + dt.timedelta(hours=1))
    assert activity[ux.id] == communities.Activity(0, 1, noon)


def test_a_community_without_activity_has_zero_counts(session: Session) -> None:
    quiet = communities.create_community(session, "quiet", "Quiet")
    assert communities.community_activity(session, [quiet.id]) == {quiet.id: communities.Activity()}


def test_details_list_owners_and_moderators(session: Session) -> None:
    design = communities.create_community(session, "design", "Design")
    add_members(session, design, ["o@example.com"], role=Role.OWNER)
    add_members(session, design, ["m@example.com"], role=Role.MODERATOR)
    add_members(session, design, ["x@example.com"])
    details = communities.describe_community_details(session, design, "lists.example.com")
    assert details["owners"] == ["o@example.com"]
    assert details["moderators"] == ["m@example.com"]
    assert details["addresses"]["join"] == "design-join@lists.example.com"
    assert details["members"] == 3
