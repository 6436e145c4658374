"""Stage enqueue: a published post is queued for its instant members, in its own transaction.

A batch stage: the batch's published posts are queued together, from the links to
their communities that write_messages stored.

A cross-post is published in each community where its sender may post, and held
only in those whose policy holds it: it is queued at once for the members of the
communities where it is published, and waits for a moderator (who queues it for
the other community's members on approval) where it is held. Each held link keeps
its status and reasons, and a HELD action row per held community asks the email
actions to send that community's moderators their notice and tell the sender.
Imported mail is history and notifies no one.
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
        if ctx.holds:
            _keep_holds(ctx, message.id)
            if ctx.mail.origin is Origin.SMTP:
                _tell_moderators(ctx)
        if ctx.published_in and ctx.mail.origin is Origin.SMTP:
            published.append(message.id)
    if published:
        # enqueue_posts queues each post for the communities where its link is published.
        enqueue_posts(ctxs[0].session, published)
    return [None] * len(ctxs)


def _keep_holds(ctx: IngestContext, message_id: int) -> None:
    """Where it waits and why, on each held community's link: the notices are written
    from these, and approving there publishes it there."""
    rows = [
        {
            "message_id": message_id,
            "community_id": community_id,
            "hold_reasons": list(reasons),
            "status": MessageStatus.HELD,
        }
        for community_id, reasons in ctx.holds.items()
    ]
    ctx.session.execute(update(MessageCommunity), rows)


def _tell_moderators(ctx: IngestContext) -> None:
    """One HELD row per community that holds the post: only its moderators are told."""
    for community in ctx.held_in:
        address = f"{community.slug}@{ctx.domain}"
        add_action_row(ctx, address, ActionKind.HELD, community.id)
