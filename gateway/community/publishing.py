"""Publishing a held post: what a moderator's approval does (by mail or from the CLI).

It becomes visible and is queued for the instant members of its communities as if
it had just arrived; mail imported from an archive stays silent.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from gateway.errors import InvalidInput
from gateway.outbound.deliveries import enqueue_post
from gateway.store.models import Message
from gateway.store.models import MessageStatus
from gateway.store.models import Origin
from gateway.threads.rules import refresh_thread


def publish_held(session: Session, message: Message, now: dt.datetime) -> int:
    """Publish a held message; return how many deliveries were queued."""
    if message.status is not MessageStatus.HELD:
        raise InvalidInput(f"message <{message.message_id}> is {message.status.value}, not held")
    message.status = MessageStatus.PUBLISHED
    session.flush()
    refresh_thread(session, message.thread_id)  # held posts are not counted in threads
    if message.origin is not Origin.SMTP:
        return 0
    return enqueue_post(
        session, message.id, [c.id for c in message.communities], message.sender_id, now
    )
