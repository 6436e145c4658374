"""The welcome mail of a new member: the community, its addresses, a catch-up on its
most active threads of the last 30 days, so a newcomer finds it alive, and other
communities that match their profile, one click away."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func
from sqlalchemy import select

from gateway import links
from gateway.actions.context import ActionContext
from gateway.adoption.suggest import describe_suggestion
from gateway.adoption.suggest import suggest_for
from gateway.community.publishing import published_here
from gateway.store.models import Community
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import Person
from gateway.store.models import Thread
from gateway.store.models import Visibility

CATCH_UP = dt.timedelta(days=30)
CATCH_UP_THREADS = 5
# Communities the newcomer is not in that match their profile (gateway.adoption.suggest).
SUGGESTIONS = 3


def send_welcome(ctx: ActionContext, community: Community, person: Person) -> None:
    """Queue the welcome for a person who just became a member (not rate-limited: it
    answers a confirmation, once)."""
    membership = ctx.session.scalar(
        select(Membership).where(
            Membership.community_id == community.id, Membership.person_id == person.id
        )
    )
    assert membership is not None
    ctx.notify(
        "action_welcome",
        person.address,
        {
            "community": ctx.community_values(community),
            "delivery": membership.delivery.value,
            "threads": catch_up(ctx, community),
            "profile_empty": not person.tags,
            "profile_address": ctx.address("profile"),
            "suggestions": [
                describe_suggestion(suggestion, ctx.settings.gateway.domain)
                for suggestion in suggest_for(ctx.session, person.address, SUGGESTIONS)
            ],
        },
        person_id=person.id,
    )


def catch_up(ctx: ActionContext, community: Community) -> list[dict[str, Any]]:
    """The community's threads with the most posts in the last 30 days, busiest first."""
    since = ctx.now - CATCH_UP
    posts = func.count(Message.id).label("posts")
    rows = ctx.session.execute(
        select(Thread.id, Thread.subject, posts)
        .join(Message, Message.thread_id == Thread.id)
        .join(MessageCommunity, MessageCommunity.message_id == Message.id)
        .where(
            MessageCommunity.community_id == community.id,
            published_here(),
            Message.received_at >= since,
        )
        .group_by(Thread.id, Thread.subject, Thread.last_activity_at)
        .order_by(posts.desc(), Thread.last_activity_at.desc())
        .limit(CATCH_UP_THREADS)
    ).all()
    public = community.visibility is Visibility.PUBLIC
    base_url = ctx.settings.archive.base_url
    return [
        {
            "subject": subject,
            "posts": count,
            "url": links.thread_url(base_url, thread_id) if public else "",
        }
        for thread_id, subject, count in rows
    ]
