"""Held posts and their moderation: list where and why each waits, approve (publish as
if just arrived), reject (tell the sender why). A cross-post waits only in the
communities that hold it (gateway.community.publishing), and is approved or rejected
in each of them: by a moderator's reply, in that community; from the CLI, in all of
them at once. Used by `gateway held` and by the moderators' notices and replies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import exists
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.community.publishing import chosen_held
from gateway.community.publishing import held_communities
from gateway.community.publishing import publish_held
from gateway.community.publishing import published_here
from gateway.community.publishing import set_status
from gateway.errors import InvalidInput
from gateway.errors import NotFound
from gateway.ingest.errors import HoldReason
from gateway.outbound.composer import send_notice
from gateway.settings import Settings
from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus

if TYPE_CHECKING:
    import jinja2


@dataclass(frozen=True)
class Place:
    """One community of a post: its status there, and why it waits there if held."""

    community: Community
    status: MessageStatus
    reasons: tuple[HoldReason, ...]


def places(session: Session, message: Message) -> list[Place]:
    """Every community of the post, by slug, read once: where it waits (and why), where
    it is published or rejected."""
    rows = session.execute(
        select(Community, MessageCommunity.status, MessageCommunity.hold_reasons)
        .join(MessageCommunity, MessageCommunity.community_id == Community.id)
        .where(MessageCommunity.message_id == message.id)
        .order_by(Community.slug)
    )
    return [
        Place(community, status, tuple(map(HoldReason, reasons or ())))
        for community, status, reasons in rows
    ]


def _by_slug(session: Session, community_ids: Collection[int]) -> list[Community]:
    return list(
        session.scalars(
            select(Community).where(Community.id.in_(list(community_ids))).order_by(Community.slug)
        )
    )


def published_in(session: Session, message: Message) -> list[Community]:
    """The communities where the post is published, by slug."""
    return list(
        session.scalars(
            select(Community)
            .join(MessageCommunity, MessageCommunity.community_id == Community.id)
            .where(
                MessageCommunity.message_id == message.id,
                published_here(),
            )
            .order_by(Community.slug)
        )
    )


def _waiting() -> Any:
    return exists().where(
        MessageCommunity.message_id == Message.id, MessageCommunity.status == MessageStatus.HELD
    )


def held_messages(session: Session) -> list[Message]:
    """The posts that wait in at least one community, oldest first (a cross-post may
    be published in another already)."""
    return list(
        session.scalars(select(Message).where(_waiting()).order_by(Message.received_at, Message.id))
    )


def get_held(session: Session, ids: Sequence[int]) -> list[Message]:
    """The messages with these ids, each waiting in some community; raises if one is
    unknown or waits nowhere."""
    messages = []
    for message_id in dict.fromkeys(ids):
        message = session.get(Message, message_id)
        if message is None:
            raise NotFound(f"no message with id {message_id}")
        if not held_communities(session, message):
            raise InvalidInput(f"message {message_id} is {message.status.value}, not held")
        messages.append(message)
    return messages


def approve(
    session: Session,
    message: Message,
    now: dt.datetime,
    community_ids: Collection[int] | None = None,
) -> int:
    """Publish a held post in these communities (None: wherever it waits); return how
    many deliveries were queued."""
    return publish_held(session, message, now, community_ids)


def reject(
    session: Session,
    templates: jinja2.Environment,
    settings: Settings,
    message: Message,
    reason: str,
    now: dt.datetime,
    community_ids: Collection[int] | None = None,
) -> None:
    """Reject a held post in these communities (None: wherever it waits) and tell its
    sender, with the moderator's reason if any."""
    chosen = chosen_held(session, message, community_ids)
    set_status(session, message, chosen, MessageStatus.REJECTED)
    if message.sender_address:
        send_notice(
            session,
            templates,
            settings,
            "action_rejected",
            message.sender_address,
            {
                "subject": message.subject,
                "communities": [c.name for c in _by_slug(session, chosen)],
                "reason": reason.strip(),
            },
            now,
            person_id=message.sender_id,
            in_reply_to=message.message_id,
        )


def describe_held(session: Session, message: Message) -> dict[str, Any]:
    """The shape `gateway held list` prints (README)."""
    every = places(session, message)
    waiting = [place for place in every if place.status is MessageStatus.HELD]
    return {
        "id": message.id,
        "message_id": message.message_id,
        "from": message.sender_address,
        "name": message.sender_name,
        "subject": message.subject,
        "communities": [place.community.slug for place in waiting],
        # per community where it waits, why it waits there
        "reasons": {place.community.slug: [str(r) for r in place.reasons] for place in waiting},
        # where a cross-post is published already
        "published_in": [p.community.slug for p in every if p.status is MessageStatus.PUBLISHED],
        "received_at": message.received_at.isoformat(),
        "size": message.raw_size,
    }
