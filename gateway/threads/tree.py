"""A community's threads, and one thread as a tree: the shapes `gateway thread` prints.

Reading only; which thread a message belongs to is gateway.threads.rules' job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy import Subquery
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import Thread


def community_threads(
    session: Session, community_id: int, limit: int | None = None
) -> list[Thread]:
    """The threads with a message in this community, most recently active first."""
    in_community = (
        select(Message.thread_id)
        .join(MessageCommunity, MessageCommunity.message_id == Message.id)
        .where(MessageCommunity.community_id == community_id)
    )
    query = (
        select(Thread)
        .where(Thread.id.in_(in_community))
        .order_by(Thread.last_activity_at.desc(), Thread.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def roots(thread_ids: Sequence[int] | Select[Any]) -> Subquery:
    """Each thread's root, one row per thread (thread_id, id, message_id, sender_id,
    received_at): its earliest message without a parent. `thread_ids`: a list or a
    query of them."""
    ranked = (
        select(
            Message.thread_id,
            Message.id,
            Message.message_id,
            Message.sender_id,
            Message.received_at,
            func.row_number()
            .over(partition_by=Message.thread_id, order_by=(Message.received_at, Message.id))
            .label("rank"),
        )
        .where(Message.thread_id.in_(thread_ids), Message.parent_id.is_(None))
        .subquery()
    )
    return (
        select(
            ranked.c.thread_id,
            ranked.c.id,
            ranked.c.message_id,
            ranked.c.sender_id,
            ranked.c.received_at,
        )
        .where(ranked.c.rank == 1)
        .subquery("roots")
    )


def root_ids(session: Session, thread_ids: Sequence[int]) -> dict[int, str]:
    """The Message-ID of each thread's first top-level message."""
    found = roots(thread_ids)
    rows = session.execute(select(found.c.thread_id, found.c.message_id))
    return {thread_id: message_id for thread_id, message_id in rows}


def describe_thread_summary(thread: Thread, root_message_id: str | None) -> dict[str, Any]:
    return {
        "id": thread.id,
        "subject": thread.subject,
        "root_message_id": root_message_id,
        "messages": thread.message_count,
        "first_activity_at": thread.created_at.isoformat(),
        "last_activity_at": thread.last_activity_at.isoformat(),
    }


def describe_thread(session: Session, thread: Thread) -> dict[str, Any]:
    """A thread with its messages as a tree (each node's replies in arrival order)."""
    messages = list(
        session.scalars(
            select(Message)
            .where(Message.thread_id == thread.id)
            .order_by(Message.received_at, Message.id)
            .options(selectinload(Message.attachments), selectinload(Message.communities))
        )
    )
    by_id = {message.id: message for message in messages}
    nodes = {message.id: _describe_node(message, by_id) for message in messages}
    roots: list[dict[str, Any]] = []
    for message in messages:
        parent = nodes.get(message.parent_id) if message.parent_id else None
        (parent["replies"] if parent is not None else roots).append(nodes[message.id])
    slugs = sorted({c.slug for message in messages for c in message.communities})
    return {
        **describe_thread_summary(thread, str(roots[0]["message_id"]) if roots else None),
        "communities": slugs,
        "tree": roots,
    }


def _describe_node(message: Message, by_id: dict[int, Message]) -> dict[str, Any]:
    parent = by_id.get(message.parent_id) if message.parent_id else None
    return {**describe_message(message, parent.message_id if parent else None), "replies": []}


def describe_message(message: Message, parent_message_id: str | None) -> dict[str, Any]:
    """One message's metadata, as `thread show --json` and `export json` print it."""
    return {
        "message_id": message.message_id,
        "parent_message_id": parent_message_id,
        "from": message.sender_address,
        "name": message.sender_name,
        "date": message.date.isoformat() if message.date else None,
        "received_at": message.received_at.isoformat(),
        "subject": message.subject,
        "status": message.status.value,
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
            }  # fmt: skip
            for a in message.attachments
        ],
    }
