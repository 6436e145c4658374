"""Accepted answers: which reply answered a thread's question, and who may say so.

A thread has at most one accepted answer (thread_answers), a published reply of that
thread, never its first message. Its first author may choose it, as may an owner or a
moderator of one of its communities; the first author only while they may still post
to one of them (a member, or an open community), so that someone removed from a
community marks nothing there (issue 22, point 3). A later choice replaces the
earlier one; the same choice again changes nothing. The email actions (answer+TOKEN@),
the ingest stage mark_answers ("solved" replies) and `gateway thread answer` all go
through here; the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.errors import InvalidInput
from gateway.errors import NotFound
from gateway.store.models import Community
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Person
from gateway.store.models import Policy
from gateway.store.models import Role
from gateway.store.models import Thread
from gateway.store.models import ThreadAnswer

STAFF = (Role.OWNER, Role.MODERATOR)


class Refusal(enum.StrEnum):
    """Why a message cannot be a thread's answer; each is an AnswerRefused's message."""

    UNKNOWN_THREAD = "unknown-thread"
    UNKNOWN_MESSAGE = "unknown-message"
    NOT_IN_THREAD = "not-in-thread"
    FIRST_MESSAGE = "first-message"
    NOT_PUBLISHED = "not-published"


class AnswerRefused(InvalidInput):
    """The message named cannot be the thread's answer; `refusal` says why."""

    def __init__(self, refusal: Refusal, text: str) -> None:
        super().__init__(text)
        self.refusal = refusal


class UnknownThread(NotFound, AnswerRefused):
    """No such thread."""


def first_message(session: Session, thread_id: int) -> Message | None:
    """The thread's first message: its earliest top-level published one (the question)."""
    return session.scalar(
        select(Message)
        .where(
            Message.thread_id == thread_id,
            Message.parent_id.is_(None),
            Message.status == MessageStatus.PUBLISHED,
        )
        .order_by(Message.received_at, Message.id)
        .limit(1)
    )


def thread_communities(session: Session, thread_id: int) -> list[Community]:
    """The communities the thread's published messages were published in."""
    in_thread = (
        select(MessageCommunity.community_id)
        .join(Message, Message.id == MessageCommunity.message_id)
        .where(
            Message.thread_id == thread_id,
            MessageCommunity.status == MessageStatus.PUBLISHED,
        )
    )
    return list(session.scalars(select(Community).where(Community.id.in_(in_thread))))


def may_accept(session: Session, thread: Thread, person: Person) -> bool:
    """Whether `person` may choose the thread's answer: its first author while they may
    post to one of its communities, or an owner or moderator of one of them."""
    communities = [c for c in thread_communities(session, thread.id) if c.closed_at is None]
    if not communities:
        return False
    roles = list(
        session.scalars(
            select(Membership.role).where(
                Membership.person_id == person.id,
                Membership.community_id.in_([c.id for c in communities]),
            )
        )
    )
    if any(role in STAFF for role in roles):
        return True
    first = first_message(session, thread.id)
    if first is None or first.sender_id != person.id:
        return False
    return bool(roles) or any(c.policy is Policy.OPEN for c in communities)


def check_answer(session: Session, thread_id: int, message_id: int) -> tuple[Thread, Message]:
    """The thread and the message, when the message may be its answer: a published
    reply in it, not its first message; AnswerRefused (UnknownThread) otherwise."""
    thread = session.get(Thread, thread_id)
    if thread is None:
        raise UnknownThread(Refusal.UNKNOWN_THREAD, f"no thread {thread_id}")
    message = session.get(Message, message_id)
    if message is None:
        raise AnswerRefused(Refusal.UNKNOWN_MESSAGE, f"no message {message_id}")
    if message.thread_id != thread.id:
        raise AnswerRefused(
            Refusal.NOT_IN_THREAD, f"<{message.message_id}> is not in thread {thread.id}"
        )
    first = first_message(session, thread.id)
    starts = first.id == message.id if first is not None else message.parent_id is None
    if starts:
        raise AnswerRefused(
            Refusal.FIRST_MESSAGE,
            f"<{message.message_id}> starts thread {thread.id}: the answer is one of its replies",
        )
    if message.status is not MessageStatus.PUBLISHED:
        raise AnswerRefused(
            Refusal.NOT_PUBLISHED,
            f"<{message.message_id}> is {message.status.value}, not published",
        )
    return thread, message


def accept_answer(
    session: Session,
    thread_id: int,
    message_id: int,
    by_person_id: int | None,
    when: dt.datetime,
) -> bool:
    """Make the message the thread's answer; False when it already was (nothing changes).
    AnswerRefused when it cannot be. Who may choose is the caller's question (may_accept)."""
    check_answer(session, thread_id, message_id)
    current = session.get(ThreadAnswer, thread_id)
    if current is not None and current.message_id == message_id:
        return False
    if current is None:
        session.add(
            ThreadAnswer(
                thread_id=thread_id,
                message_id=message_id,
                answered_by_id=by_person_id,
                answered_at=when,
            )
        )
    else:
        current.message_id = message_id
        current.answered_by_id = by_person_id
        current.answered_at = when
    session.flush()
    return True


def clear_answer(session: Session, thread_id: int) -> bool:
    """Take the thread's answer away; False when it had none. UnknownThread if no thread."""
    if session.get(Thread, thread_id) is None:
        raise UnknownThread(Refusal.UNKNOWN_THREAD, f"no thread {thread_id}")
    current = session.get(ThreadAnswer, thread_id)
    if current is None:
        return False
    session.delete(current)
    session.flush()
    return True


def answer_of(session: Session, thread_id: int) -> ThreadAnswer | None:
    return session.get(ThreadAnswer, thread_id)


def asker_of_reply(session: Session, message_id: int) -> tuple[int, int] | None:
    """(thread id, person id of its first author) when the message is a published reply
    in a thread whose first message has a known author: whose copy of it offers the
    link that accepts it (gateway.engagement.answer_links). None otherwise."""
    message = session.get(Message, message_id)
    if message is None or message.thread_id is None:
        return None
    if message.status is not MessageStatus.PUBLISHED:
        return None
    first = first_message(session, message.thread_id)
    if first is None or first.id == message.id or first.sender_id is None:
        return None
    return message.thread_id, first.sender_id
