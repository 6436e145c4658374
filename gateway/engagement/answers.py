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
from collections.abc import Collection
from dataclasses import dataclass

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
from gateway.threads.tree import roots

STAFF = (Role.OWNER, Role.MODERATOR)


class AnswerRefused(InvalidInput):
    """The message named cannot be the thread's answer; its text says why."""


class UnknownThread(NotFound, AnswerRefused):
    """No such thread."""


@dataclass(frozen=True)
class Candidate:
    """A reply that may be its thread's answer (check_answer), with what was read to
    tell: whoever then asks who may choose or makes the choice reads nothing again."""

    thread: Thread
    message: Message
    asker_id: int | None  # the author of the thread's first message


def thread_root(session: Session, thread_id: int) -> tuple[int | None, int | None]:
    """(the thread's first message's id, its author's id), None for what is not known."""
    root = roots([thread_id])
    found = session.execute(select(root.c.id, root.c.sender_id)).first()
    return (found[0], found[1]) if found is not None else (None, None)


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


def may_accept(session: Session, candidate: Candidate, person: Person) -> bool:
    """Whether `person` may choose the thread's answer: its first author while they may
    post to one of its communities, or an owner or moderator of one of them."""
    thread = candidate.thread
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
    if candidate.asker_id != person.id:
        return False
    return bool(roles) or any(c.policy is Policy.OPEN for c in communities)


def check_answer(session: Session, thread_id: int, message_id: int) -> Candidate:
    """The thread and the message, when the message may be its answer: a published
    reply in it, not its first message; AnswerRefused (UnknownThread) otherwise."""
    thread = session.get(Thread, thread_id)
    if thread is None:
        raise UnknownThread(f"no thread {thread_id}")
    message = session.get(Message, message_id)
    if message is None:
        raise AnswerRefused(f"no message {message_id}")
    if message.thread_id != thread.id:
        raise AnswerRefused(f"<{message.message_id}> is not in thread {thread.id}")
    first_id, author_id = thread_root(session, thread.id)
    starts = message.id == first_id if first_id is not None else message.parent_id is None
    if starts:
        raise AnswerRefused(
            f"<{message.message_id}> starts thread {thread.id}: the answer is one of its replies"
        )
    if message.status is not MessageStatus.PUBLISHED:
        raise AnswerRefused(f"<{message.message_id}> is {message.status.value}, not published")
    return Candidate(thread, message, author_id)


def accept_answer(
    session: Session,
    thread_id: int,
    message_id: int,
    by_person_id: int | None,
    when: dt.datetime,
) -> bool:
    """Make the message the thread's answer; False when it already was (nothing changes).
    AnswerRefused when it cannot be. Who may choose is the caller's question (may_accept)."""
    return choose(session, check_answer(session, thread_id, message_id), by_person_id, when)


def choose(
    session: Session, candidate: Candidate, by_person_id: int | None, when: dt.datetime
) -> bool:
    """accept_answer for a candidate checked already (check_answer, same transaction)."""
    thread_id, message_id = candidate.thread.id, candidate.message.id
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
        raise UnknownThread(f"no thread {thread_id}")
    current = session.get(ThreadAnswer, thread_id)
    if current is None:
        return False
    session.delete(current)
    session.flush()
    return True


def askers_of_replies(session: Session, message_ids: Collection[int]) -> dict[int, tuple[int, int]]:
    """For each of the messages that is a published reply in a thread whose first
    message has a known author: (thread id, that author's id), whose copy of it offers
    the link that accepts it (gateway.engagement.answer_links). One query for all."""
    wanted = list(message_ids)
    if not wanted:
        return {}
    of_replies = select(Message.thread_id).where(Message.id.in_(wanted))
    root = roots(of_replies)
    rows = session.execute(
        select(Message.id, Message.thread_id, root.c.sender_id)
        .join(root, root.c.thread_id == Message.thread_id)
        .where(
            Message.id.in_(wanted),
            Message.status == MessageStatus.PUBLISHED,
            Message.id != root.c.id,
            root.c.sender_id.is_not(None),
        )
    )
    return {message_id: (thread_id, sender_id) for message_id, thread_id, sender_id in rows}
