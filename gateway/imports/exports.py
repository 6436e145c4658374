"""Everything back out, in standard formats: a community's original messages as mboxrd
(from the raw blobs, byte for byte, its reaction mails after its posts), and its people,
threads and metadata as JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from gateway.blobs import BlobStore
from gateway.community.communities import community_activity
from gateway.community.communities import describe_community
from gateway.community.members import describe_membership
from gateway.community.members import list_members
from gateway.community.people import describe_profile
from gateway.community.publishing import published_here
from gateway.engagement.reactions import reaction_mails
from gateway.imports.engagement import export_engagement
from gateway.mail.mboxrd import mbox_entry
from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.threads.tree import community_threads
from gateway.threads.tree import describe_message
from gateway.threads.tree import describe_thread_summary
from gateway.threads.tree import root_ids


def _published(session: Session, community: Community) -> Iterator[Message]:
    query = (
        select(Message)
        .join(MessageCommunity, MessageCommunity.message_id == Message.id)
        .where(
            MessageCommunity.community_id == community.id,
            published_here(),
        )
        # In the order the gateway took them in: importing the export replays the
        # same arrivals, so threading (which depends on it) gives the same threads.
        .order_by(Message.id)
        .options(selectinload(Message.attachments))
        .execution_options(yield_per=500)
    )
    yield from session.scalars(query)


def export_mbox(session: Session, blobs: BlobStore, community: Community, out: BinaryIO) -> int:
    """Write the community's published messages as mboxrd, then the reaction mails on
    them as they came (an import takes them back as reactions); return how many."""
    count = 0
    for message in _published(session, community):
        raw = blobs.get(message.raw_sha256)
        out.write(mbox_entry(message.sender_address, message.received_at, raw))
        count += 1
    for raw_sha256, received_at, sender_address in reaction_mails(session, community.id):
        out.write(mbox_entry(sender_address, received_at, blobs.get(raw_sha256)))
        count += 1
    return count


def export_json(session: Session, community: Community, domain: str) -> dict[str, Any]:
    """The community, its members with their profiles, its threads, its messages'
    metadata (the shapes of the --json outputs of the other commands), and the
    reactions and accepted answers on them (gateway.imports.engagement)."""
    activity = community_activity(session, [community.id])[community.id]
    memberships = list_members(session, community)
    threads = community_threads(session, community.id)
    roots = root_ids(session, [t.id for t in threads])
    return {
        "community": describe_community(community, activity, domain),
        "members": [describe_membership(m) for m in memberships],
        "profiles": [describe_profile(m.person, memberships=False) for m in memberships],
        "threads": [describe_thread_summary(t, roots.get(t.id)) for t in threads],
        "messages": [_message(session, m) for m in _published(session, community)],
        **export_engagement(session, community),
    }


def _message(session: Session, message: Message) -> dict[str, Any]:
    parent = session.get(Message, message.parent_id) if message.parent_id else None
    return {
        **describe_message(message, parent.message_id if parent is not None else None),
        "thread_id": message.thread_id,
        "origin": message.origin.value,
        "flags": list(message.flags),
        "raw_sha256": message.raw_sha256,
    }
