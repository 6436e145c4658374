"""Held posts and their moderation: list, approve (publish as if just arrived), reject
(tell the sender why). Used by `gateway held` and by the moderators' replies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.community.publishing import publish_held
from gateway.errors import InvalidInput
from gateway.errors import NotFound
from gateway.outbound.notices import send_notice
from gateway.settings import Settings
from gateway.store.models import Message
from gateway.store.models import MessageStatus

if TYPE_CHECKING:
    import jinja2


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


def describe_held(message: Message) -> dict[str, Any]:
    """The shape `gateway held list --json` prints (README)."""
    return {
        "id": message.id,
        "message_id": message.message_id,
        "from": message.sender_address,
        "name": message.sender_name,
        "subject": message.subject,
        "communities": [c.slug for c in message.communities],
        "received_at": message.received_at.isoformat(),
        "size": message.raw_size,
    }
