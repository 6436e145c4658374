"""Stage enqueue: a published post is queued for its instant members, in its own transaction.

Held posts wait for a moderator (who queues them on approval): their reasons are
kept on each community's link, and a HELD action row asks the email actions to
send the moderators their notice and tell the sender. Imported mail is history
and notifies no one.
"""

from __future__ import annotations

from sqlalchemy import update

from gateway.ingest.action_rows import add_action_row
from gateway.ingest.context import IngestContext
from gateway.outbound.deliveries import enqueue_post
from gateway.store.models import ActionKind
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Origin


def run(ctx: IngestContext) -> None:
    message = ctx.message
    if message is None:
        return
    if ctx.status is MessageStatus.HELD:
        _keep_reasons(ctx, message.id)
        if ctx.mail.origin is Origin.SMTP:
            _tell_moderators(ctx)
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


def _keep_reasons(ctx: IngestContext, message_id: int) -> None:
    """Why it waits, on each community's link: the notices are written from these."""
    rows = [
        {"message_id": message_id, "community_id": community_id, "hold_reasons": list(reasons)}
        for community_id, reasons in ctx.holds.items()
    ]
    ctx.session.execute(update(MessageCommunity), rows)


def _tell_moderators(ctx: IngestContext) -> None:
    for community in ctx.communities:
        address = f"{community.slug}@{ctx.domain}"
        add_action_row(ctx, address, ActionKind.HELD, community.id)
