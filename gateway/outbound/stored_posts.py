"""What a delivery round renders its posts from, read a chunk of posts at a time.

Read post by post, each copy cost a transaction and five queries (the message, its
community, its other communities, its attachments' names); under a steady load of
posts to small communities that was half of the delivery worker's time. Here a chunk
of posts costs three queries, and the communities one per round.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.outbound.render import Post
from gateway.store.models import Attachment
from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import Visibility
from gateway.store.sql import chunks


@dataclass(frozen=True)
class StoredCommunity:
    id: int
    slug: str
    name: str
    subject_prefix: str
    reply_to: str
    public: bool


@dataclass(frozen=True)
class StoredPost:
    id: int
    message_id: str
    subject: str
    sender_name: str
    sender_address: str
    thread_id: int | None
    received_at: dt.datetime
    raw_sha256: str
    community_ids: tuple[int, ...]  # every community it was posted to
    # sha256 -> the stored (sanitized) filename
    attachment_names: dict[str, str] = field(default_factory=dict)

    def post(self, raw: bytes, rewrite_from: bool) -> Post:
        """What the renderer takes: this post with its stored bytes."""
        return Post(
            raw, self.message_id, self.subject, self.sender_name, self.sender_address,
            self.thread_id, self.received_at, self.attachment_names, rewrite_from,
        )  # fmt: skip


def read_communities(session: Session) -> dict[int, StoredCommunity]:
    """Every community by id, in the order of their ids."""
    rows = session.execute(
        select(
            Community.id,
            Community.slug,
            Community.name,
            Community.subject_prefix,
            Community.reply_to,
            Community.visibility,
        ).order_by(Community.id)
    )
    return {
        row.id: StoredCommunity(
            row.id,
            row.slug,
            row.name,
            row.subject_prefix,
            row.reply_to,
            row.visibility is Visibility.PUBLIC,
        )
        for row in rows
    }


def read_posts(session: Session, message_ids: Iterable[int]) -> dict[int, StoredPost]:
    """The posts still stored among `message_ids`, by id."""
    wanted = sorted(set(message_ids))
    posted: defaultdict[int, list[int]] = defaultdict(list)
    names: defaultdict[int, dict[str, str]] = defaultdict(dict)
    messages = []
    for chunk in chunks(wanted):
        messages += session.execute(
            select(
                Message.id,
                Message.message_id,
                Message.subject,
                Message.sender_name,
                Message.sender_address,
                Message.thread_id,
                Message.received_at,
                Message.raw_sha256,
            ).where(Message.id.in_(chunk))
        ).all()
        links = select(MessageCommunity.message_id, MessageCommunity.community_id).where(
            MessageCommunity.message_id.in_(chunk)
        )
        for message_id, community_id in session.execute(links):
            posted[message_id].append(community_id)
        files = select(Attachment.message_id, Attachment.sha256, Attachment.filename).where(
            Attachment.message_id.in_(chunk)
        )
        for message_id, sha256, filename in session.execute(files):
            names[message_id][sha256] = filename
    return {
        # The selected columns are named as StoredPost's fields.
        row.id: StoredPost(
            **row._mapping, community_ids=tuple(posted[row.id]), attachment_names=names[row.id]
        )
        for row in messages
    }
