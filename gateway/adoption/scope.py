"""The rows the adoption figures are grouped over: posts by community, or once overall.

Each figure is one grouped query over these subqueries, keyed by community id, or by
0 for the whole network (where a cross-posted message counts once), so the same
query gives both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import ColumnElement
from sqlalchemy import Date
from sqlalchemy import Select
from sqlalchemy import SQLColumnExpression
from sqlalchemy import Subquery
from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true

from gateway.community.publishing import published_here
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import MessageCommunity

OVERALL = 0  # the key of the whole network's rows
# A thread asks a question when its first post's subject, or the start of its body
# (as much as a digest excerpt reads), has a question mark (gateway.digests.news).
QUESTION_SOURCE = 4000


def posts(
    community_ids: Collection[int], per_community: bool, since: dt.datetime | None = None
) -> Subquery:
    """Published posts of these communities: key, id, thread, parent, sender, time, origin."""
    columns = (
        Message.id,
        Message.thread_id,
        Message.parent_id,
        Message.sender_id,
        Message.received_at,
        Message.origin,
        case(
            (and_(Message.parent_id.is_(None), asks(Message.subject, Message.body_text)), 1),
            else_=0,
        ).label("question"),
    )
    ids = list(community_ids)
    window = Message.received_at >= since if since is not None else true()
    if per_community:
        query = (
            select(MessageCommunity.community_id.label("key"), *columns)
            .join(Message, Message.id == MessageCommunity.message_id)
            .where(
                MessageCommunity.community_id.in_(ids),
                published_here(),
            )
        )
    else:
        posted = select(MessageCommunity.message_id).where(
            MessageCommunity.community_id.in_(ids),
            published_here(),
        )
        query = select(literal(OVERALL).label("key"), *columns).where(Message.id.in_(posted))
    return query.where(window).subquery("posts")


def authors(community_ids: Collection[int], per_community: bool, among: Select[int]) -> Subquery:
    """Published posts of these communities among some message ids (those with a
    reaction, an answer): key, id, sender and their address. Looked up by id first: a few
    reactions are not found by walking every post of the communities."""
    key = MessageCommunity.community_id if per_community else literal(OVERALL)
    query = (
        select(key.label("key"), Message.id, Message.sender_id, Message.sender_address)
        .join(MessageCommunity, MessageCommunity.message_id == Message.id)
        .where(
            Message.id.in_(among),
            # Checked on each post's few links, not probed once per community (+ 0
            # keeps SQLite from making the IN list part of the index search).
            (MessageCommunity.community_id + 0).in_(list(community_ids)),
            published_here(),
        )
    )
    if not per_community:
        query = query.distinct()  # a cross-posted message once
    return query.subquery("authors")


def members(community_ids: Collection[int], per_community: bool) -> Subquery:
    """Memberships: key and person (a person in several communities is one member overall)."""
    ids = list(community_ids)
    key = Membership.community_id if per_community else literal(OVERALL)
    query = select(
        key.label("key"),
        Membership.person_id,
        Membership.delivery,
        Membership.joined_at,
        Membership.disabled_at,
    ).where(Membership.community_id.in_(ids))
    return query.subquery("members")


def week(column: ColumnElement[dt.datetime], dialect: str) -> ColumnElement[object]:
    """The Monday (UTC) of a timestamp's week, as the database computes it."""
    if dialect == "sqlite":
        # Stored as naive UTC text: 'weekday 0' moves to the Sunday ending the week.
        return func.date(column, "weekday 0", "-6 days")
    return cast(func.date_trunc("week", func.timezone("UTC", column)), Date)


def asks(subject: SQLColumnExpression[str], body: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """Whether a post asks something (see QUESTION_SOURCE)."""
    return or_(subject.contains("?"), func.substr(body, 1, QUESTION_SOURCE).contains("?"))
