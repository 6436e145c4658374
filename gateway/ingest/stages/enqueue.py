"""Stage enqueue: a published post is queued for its instant members, in its own transaction.

A batch stage: the batch's published posts are queued together, from the links to
their communities that write_messages stored.

Held posts wait for a moderator (who queues them on approval): their reasons are
kept on each community's link, and a HELD action row asks the email actions to
send the moderators their notice and tell the sender. Imported mail is history
and notifies no one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update

from gateway.ingest.action_rows import add_action_row
from gateway.ingest.context import IngestContext
from gateway.outbound.deliveries import enqueue_posts
from gateway.store.models import ActionKind
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Origin


def run_batch(ctxs: Sequence[IngestContext]) -> list[None]:
    """The batch's published posts queued in one statement (one round trip to the
    store, not one per post); the held ones wait, each with its reasons."""
    published = []
    for ctx in ctxs:
        message = ctx.message
        if message is None:
            continue
        if ctx.status is MessageStatus.HELD:
            _keep_reasons(ctx, message.id)
            if ctx.mail.origin is Origin.SMTP:
                _tell_moderators(ctx)
        elif ctx.mail.origin is Origin.SMTP:
            published.append(message.id)
    if published:
        enqueue_posts(ctxs[0].session, published)
    return [None] * len(ctxs)


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
