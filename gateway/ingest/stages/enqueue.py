"""Stage enqueue: a published post is queued for its instant members, in its own transaction.

Held posts wait for a moderator (who queues them on approval); imported mail is
history and notifies no one.
"""

from __future__ import annotations

from gateway.ingest.context import IngestContext
from gateway.outbound.deliveries import enqueue_post
from gateway.store.models import MessageStatus
from gateway.store.models import Origin


def run(ctx: IngestContext) -> None:
    message = ctx.message
    if message is None or ctx.status is not MessageStatus.PUBLISHED:
        return
    if ctx.mail.origin is not Origin.SMTP:
        return
    enqueue_post(
        ctx.session,
        message.id,
        [community.id for community in ctx.communities],
        message.sender_id,
        ctx.mail.received_at,
    )
