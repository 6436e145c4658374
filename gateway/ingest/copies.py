"""A post whose Message-ID is stored already (an MTA split its envelope, a retry): it is
not stored again, but linked to its new communities and queued for their members."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.community.publishing import set_status
from gateway.ingest.context import IngestContext
from gateway.outbound.deliveries import enqueue_post
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Origin
from gateway.store.sql import chunks
from gateway.threads.batch import expire


@dataclass
class StoredCopy:
    """A stored message that arrived again: what linking it to more communities needs."""

    id: int
    status: MessageStatus
    origin: Origin
    sender_id: int | None
    community_ids: set[int]


def stored_copies(session: Session, ids: Sequence[int | None]) -> dict[str, StoredCopy]:
    """The stored messages with these row ids, by Message-ID, with their communities."""
    copies: dict[str, StoredCopy] = {}
    wanted = [row_id for row_id in ids if row_id is not None]
    for chunk in chunks(wanted):
        rows = session.execute(
            select(
                Message.id, Message.message_id, Message.status, Message.origin, Message.sender_id
            ).where(Message.id.in_(chunk))
        )
        by_id = {}
        for row in rows:
            copy = StoredCopy(row.id, row.status, row.origin, row.sender_id, set())
            copies[row.message_id] = by_id[row.id] = copy
        links = session.execute(
            select(MessageCommunity.message_id, MessageCommunity.community_id).where(
                MessageCommunity.message_id.in_(chunk)
            )
        )
        for message_id, community_id in links:
            by_id[message_id].community_ids.add(community_id)
    return copies


def add_communities(ctx: IngestContext, copy: StoredCopy) -> None:
    """A copy of a stored post sent to more communities (an MTA split the envelope):
    linked to those where its sender may post, and queued for their members who did
    not get it yet. (Where a policy holds this copy, it is not linked: as before the
    hold was kept per community, nothing is held from a second copy.)"""
    added = [c for c in ctx.published_in if c.id not in copy.community_ids]
    if not added:
        return
    ctx.session.execute(
        insert(MessageCommunity),
        [{"message_id": copy.id, "community_id": community.id} for community in added],
    )
    copy.community_ids.update(community.id for community in added)
    expire(ctx.session, Message, [copy.id])
    if copy.status is not MessageStatus.PUBLISHED:
        # Held or rejected where it went first, published in these: the message's own
        # status says so now (gateway.community.publishing).
        message = ctx.session.get(Message, copy.id)
        assert message is not None
        set_status(ctx.session, message, [c.id for c in added], MessageStatus.PUBLISHED)
        copy.status = message.status
    if copy.origin is Origin.SMTP:
        enqueue_post(
            ctx.session,
            copy.id,
            [community.id for community in added],
            copy.sender_id,
            ctx.mail.received_at,
        )
