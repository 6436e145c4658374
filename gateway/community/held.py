"""Held posts and their moderation: list with why each waits in each community, approve
(publish as if just arrived), reject (tell the sender why). Used by `gateway held` and
by the moderators' notices and replies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.community.publishing import publish_held
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
class HeldIn:
    """One community of a held post, and why the post waits there: no reason when
    it waits only because another community of a cross-post holds it."""

    community: Community
    reasons: tuple[HoldReason, ...]


def held_in(session: Session, message: Message) -> list[HeldIn]:
    """The post's communities by slug, with the reasons the ingest stages stored."""
    rows = session.execute(
        select(Community, MessageCommunity.hold_reasons)
        .join(MessageCommunity, MessageCommunity.community_id == Community.id)
        .where(MessageCommunity.message_id == message.id)
        .order_by(Community.slug)
    )
    return [HeldIn(community, tuple(map(HoldReason, reasons))) for community, reasons in rows]


def held_messages(session: Session) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .where(Message.status == MessageStatus.HELD)
            .order_by(Message.received_at, Message.id)
        )
    )


def get_held(session: Session, ids: Sequence[int]) -> list[Message]:
    """The held messages with these ids; raises if one is unknown or no longer held."""
    messages = []
    for message_id in dict.fromkeys(ids):
        message = session.get(Message, message_id)
        if message is None:
            raise NotFound(f"no message with id {message_id}")
        if message.status is not MessageStatus.HELD:
            raise InvalidInput(f"message {message_id} is {message.status.value}, not held")
        messages.append(message)
    return messages


def approve(session: Session, message: Message, now: dt.datetime) -> int:
    """Publish a held post; return how many deliveries were queued."""
    return publish_held(session, message, now)


def reject(
    session: Session,
    templates: jinja2.Environment,
    settings: Settings,
    message: Message,
    reason: str,
    now: dt.datetime,
) -> None:
    """Reject a held post and tell its sender, with the moderator's reason if any."""
    if message.status is not MessageStatus.HELD:
        raise InvalidInput(f"message <{message.message_id}> is {message.status.value}, not held")
    message.status = MessageStatus.REJECTED
    session.flush()
    if message.sender_address:
        send_notice(
            session,
            templates,
            settings,
            "action_rejected",
            message.sender_address,
            {
                "subject": message.subject,
                "communities": [c.name for c in message.communities],
                "reason": reason.strip(),
            },
            now,
            person_id=message.sender_id,
            in_reply_to=message.message_id,
        )


def describe_held(session: Session, message: Message) -> dict[str, Any]:
    """The shape `gateway held list --json` prints (README)."""
    places = held_in(session, message)
    return {
        "id": message.id,
        "message_id": message.message_id,
        "from": message.sender_address,
        "name": message.sender_name,
        "subject": message.subject,
        "communities": [place.community.slug for place in places],
        # per community, why it waits there (none: another community holds it)
        "reasons": {place.community.slug: [str(r) for r in place.reasons] for place in places},
        "received_at": message.received_at.isoformat(),
        "size": message.raw_size,
    }
