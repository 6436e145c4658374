"""Where a post stands in each of its communities, and publishing a held post: what a
moderator's approval does (by mail or from the CLI).

A cross-post has a status per community (message_communities.status): published
where its sender may post, held where a policy holds it. The message's own status
sums them up: published if published in any community (the thread counts it),
held if it waits everywhere, rejected if rejected everywhere. Approving it in a
community queues it for that community's instant members who have not had it yet
(a member of two communities gets one copy); mail imported from an archive stays
silent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import ColumnElement
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.errors import InvalidInput
from gateway.outbound.deliveries import enqueue_post
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Origin
from gateway.threads.rules import refresh_thread


def published_here() -> ColumnElement[bool]:
    """The clause "published in this community", on a post's link to a community. It
    implies the message's own status is published (summed_up); a post published in one
    community may still be held or rejected in another, so Message.status alone is not
    enough where a community is concerned."""
    return MessageCommunity.status == MessageStatus.PUBLISHED


def statuses(session: Session, message_id: int) -> dict[int, MessageStatus]:
    """The post's status in each of its communities, by community id."""
    rows = session.execute(
        select(MessageCommunity.community_id, MessageCommunity.status).where(
            MessageCommunity.message_id == message_id
        )
    )
    return {community_id: status for community_id, status in rows}


def held_communities(session: Session, message: Message) -> list[int]:
    """The ids of the communities where the post waits for a moderator."""
    return sorted(
        community_id
        for community_id, status in statuses(session, message.id).items()
        if status is MessageStatus.HELD
    )


def chosen_held(
    session: Session, message: Message, community_ids: Collection[int] | None
) -> list[int]:
    """The communities among these (None: any) where the post waits; raises when it
    waits in none of them (decided already).

    The post's row is locked and read again first: two moderators deciding at once (an
    approval by mail, a rejection from the CLI) take turns, and the second sees what the
    first decided, not the post as it was held."""
    session.refresh(message, with_for_update=True)
    waiting = held_communities(session, message)
    chosen = waiting if community_ids is None else [i for i in waiting if i in community_ids]
    if not chosen:
        raise InvalidInput(f"message <{message.message_id}> is {message.status.value}, not held")
    return chosen


def summed_up(found: Collection[MessageStatus]) -> MessageStatus:
    """The message's own status from its statuses per community."""
    if MessageStatus.PUBLISHED in found:
        return MessageStatus.PUBLISHED
    if MessageStatus.HELD in found:
        return MessageStatus.HELD
    return MessageStatus.REJECTED


def set_status(
    session: Session, message: Message, community_ids: Collection[int], status: MessageStatus
) -> None:
    """Set the post's status in these communities, and its own status from all of them."""
    session.execute(
        update(MessageCommunity)
        .where(
            MessageCommunity.message_id == message.id,
            MessageCommunity.community_id.in_(list(community_ids)),
        )
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    before = message.status
    message.status = summed_up(statuses(session, message.id).values())
    session.flush()
    if (before is MessageStatus.PUBLISHED) != (message.status is MessageStatus.PUBLISHED):
        refresh_thread(session, message.thread_id)  # held posts are not counted in threads


def publish_held(
    session: Session,
    message: Message,
    now: dt.datetime,
    community_ids: Collection[int] | None = None,
) -> int:
    """Publish a held post in these communities (None: everywhere it waits); return how
    many deliveries were queued."""
    chosen = chosen_held(session, message, community_ids)
    set_status(session, message, chosen, MessageStatus.PUBLISHED)
    if message.origin is not Origin.SMTP:
        return 0
    return enqueue_post(session, message.id, chosen, message.sender_id, now)
