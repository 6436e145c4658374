"""Stage enqueue: a published post is queued for its instant members, in its own transaction.

Held posts wait for a moderator (who queues them on approval): a "held" action row
asks the email actions to send the moderators their notice and tell the sender.
Imported mail is history and notifies no one.
"""

from __future__ import annotations

from gateway.ingest.action_rows import action_row
from gateway.ingest.context import IngestContext
from gateway.outbound.deliveries import enqueue_post
from gateway.store.models import MessageStatus
from gateway.store.models import Origin

HELD = "held"


def run(ctx: IngestContext) -> None:
    message = ctx.message
    if message is None or ctx.mail.origin is not Origin.SMTP:
        return
    if ctx.status is MessageStatus.HELD:
        _held(ctx)
        return
    if ctx.status is not MessageStatus.PUBLISHED:
        return
    enqueue_post(
        ctx.session,
        message.id,
        [community.id for community in ctx.communities],
        message.sender_id,
        ctx.mail.received_at,
    )


def _held(ctx: IngestContext) -> None:
    for community in ctx.communities:
        ctx.session.add(action_row(ctx, f"{community.slug}@{ctx.domain}", HELD, community.id))
