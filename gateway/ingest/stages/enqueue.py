"""Stage enqueue: a published post is queued for its instant members, in its own transaction.

Held posts wait for a moderator (who queues them on approval): a "held" action row
asks the email actions to send the moderators their notice and tell the sender.
Imported mail is history and notifies no one.
"""

from __future__ import annotations

from gateway.ingest.context import IngestContext
from gateway.outbound.deliveries import enqueue_post
from gateway.store.models import ActionMail
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
        ctx.session.add(
            ActionMail(
                recipient=f"{community.slug}@{ctx.domain}"[:254],
                action=HELD,
                community_id=community.id,
                sender=ctx.sender[:254],
                message_id=ctx.message_id,
                raw_sha256=ctx.raw_sha256,
                raw_size=len(ctx.mail.raw),
                received_at=ctx.mail.received_at,
                peer=ctx.mail.peer[:64],
            )
        )
