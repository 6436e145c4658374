"""Threading: which thread a message belongs to, and under which parent.

JWZ-style, on the store (STYLE.md, "Threading and the archive"):
1. A single In-Reply-To id, then References newest first, then other In-Reply-To
   ids: the first id we hold is the parent (see _candidates).
2. Else Outlook's Thread-Index: the message whose index is ours minus its last
   five bytes, or else the first message of the same conversation.
3. Else, a message naming a parent we do not hold joins the thread of other
   messages naming it (siblings under a "ghost" parent).
4. Else, only for a message with neither References nor In-Reply-To whose subject
   carries a reply prefix (Re:, AW:, TR:, ...): a recent thread of the same
   community with the same normalized subject.
A reply that arrives before its parent starts a thread of its own; when the
parent arrives, the reply is relinked under it and the two threads merge. A link
that would make a cycle is refused. Walks over ancestors are iterative and
bounded: the depth of a thread is in the hands of whoever writes the mail.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageReference
from gateway.store.models import MessageStatus
from gateway.store.models import Thread
from gateway.store.models import as_utc
from gateway.store.models import utcnow

# How far back a subject-only reply looks for its thread.
SUBJECT_WINDOW = dt.timedelta(days=30)
# Longest ancestor chain walked when checking for cycles.
MAX_DEPTH = 10_000
# Outlook's Thread-Index: 22 bytes name the conversation, each reply adds 5.
CONVERSATION_BYTES = 22
REPLY_BYTES = 5

_REPLY_PREFIX = re.compile(
    r"^\s*(?:re|fwd?|fw|tr|aw|sv|r[ée]f\.?)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*", re.IGNORECASE
)
_TAG = re.compile(r"^\s*\[[^\]]*\]\s*")


def normalize_subject(subject: str, prefixes: Sequence[str] = ()) -> tuple[str, bool]:
    """The subject without reply/forward prefixes and community tags; and whether it had
    a reply or forward prefix. "RE : [design] Re: Colours" -> ("Colours", True)."""
    text = " ".join(subject.split())
    had_prefix = False
    lowered_prefixes = [p.lower() for p in prefixes if p]
    while True:
        match = _REPLY_PREFIX.match(text)
        if match:
            text, had_prefix = text[match.end() :], True
            continue
        stripped = next(
            (text[len(p) :].lstrip() for p in lowered_prefixes if text.lower().startswith(p)),
            None,
        )
        if stripped is not None:
            text = stripped
            continue
        match = _TAG.match(text)
        if match and had_prefix:  # "[tag]" after a "Re:" is some list's prefix
            text = text[match.end() :]
            continue
        return text.strip(), had_prefix


def decode_thread_index(value: str) -> bytes:
    """Outlook's Thread-Index as bytes; b"" when absent or not base64 of at least 22 bytes."""
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return b""
    return data if len(data) >= CONVERSATION_BYTES else b""


def conversation_key(index: bytes) -> str:
    return index[:CONVERSATION_BYTES].hex() if index else ""


def canonical_thread_index(index: bytes) -> str:
    return base64.b64encode(index).decode("ascii") if index else ""


def thread_message(
    session: Session,
    message: Message,
    *,
    references: Sequence[str],
    in_reply_to: Sequence[str],
    community_ids: Sequence[int],
    subject_prefixes: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> None:
    """Give a new message its parent and thread, store it, and adopt its early replies.

    The lookups run before the message is flushed (no autoflush), so that the
    message and a new thread are inserted once each, already linked.
    """
    with session.no_autoflush:
        parent = _parent_by_references(session, message, references, in_reply_to)
        if parent is None:
            parent = _parent_by_thread_index(session, message)
        subject, had_prefix = normalize_subject(message.subject, subject_prefixes)
        thread: Thread | None = None
        if parent is not None:
            thread = session.get(Thread, parent.thread_id) if parent.thread_id else None
        elif references or in_reply_to:
            thread = _thread_of_ghost_siblings(session, message, references, in_reply_to)
        elif had_prefix and subject:
            thread = _thread_by_subject(session, subject, community_ids, now or utcnow())
            if thread is not None:
                parent = _root_of(session, thread.id)
    if thread is None:
        thread = Thread(subject=subject or message.subject, created_at=message.received_at,
                        last_activity_at=message.received_at, message_count=0)  # fmt: skip
        session.add(thread)
    message.parent_id = parent.id if parent is not None else None
    message.thread = thread
    session.flush()
    _record_references(session, message, references, in_reply_to)
    if _adopt_early_replies(session, message):
        refresh_thread(session, message.thread_id)
    else:  # the common case: one more message in a thread, no need to recount it
        if message.status is MessageStatus.PUBLISHED:
            thread.message_count += 1
        thread.last_activity_at = max(thread.last_activity_at, message.received_at)


def _candidates(references: Sequence[str], in_reply_to: Sequence[str]) -> list[str]:
    """Ids that may name the parent, best first.

    A single In-Reply-To id is the parent by definition (RFC 5322 3.6.4) and wins
    when References disagree: clients that reorder References exist (the corpus'
    notmuch "parent-priority" case). Then References, newest first; then any
    other In-Reply-To ids (some clients put several, or prose, there).
    """
    direct = list(in_reply_to) if len(in_reply_to) == 1 else []
    return list(dict.fromkeys([*direct, *reversed(references), *in_reply_to]))


def _parent_by_references(
    session: Session, message: Message, references: Sequence[str], in_reply_to: Sequence[str]
) -> Message | None:
    candidates = [c for c in _candidates(references, in_reply_to) if c != message.message_id]
    if not candidates:
        return None
    found = {
        m.message_id: m
        for m in session.scalars(select(Message).where(Message.message_id.in_(candidates)))
    }
    return next((found[c] for c in candidates if c in found), None)


def _thread_of_ghost_siblings(
    session: Session, message: Message, references: Sequence[str], in_reply_to: Sequence[str]
) -> Thread | None:
    """The thread of messages that name the same absent parent (a "ghost") as this one."""
    return session.scalar(
        select(Thread)
        .join(Message, Message.thread_id == Thread.id)
        .join(MessageReference, MessageReference.message_id == Message.id)
        .where(
            MessageReference.referenced_id.in_(_candidates(references, in_reply_to)),
            Message.id != message.id,
        )
        .order_by(Thread.id)
        .limit(1)
    )


def _parent_by_thread_index(session: Session, message: Message) -> Message | None:
    index = decode_thread_index(message.thread_index)
    if len(index) < CONVERSATION_BYTES + REPLY_BYTES:
        return None
    same_conversation = list(
        session.scalars(
            select(Message)
            .where(Message.conversation == conversation_key(index), Message.id != message.id)
            .order_by(Message.received_at, Message.id)
        )
    )
    parent_index = index[:-REPLY_BYTES]
    exact = [m for m in same_conversation if decode_thread_index(m.thread_index) == parent_index]
    return exact[0] if exact else (same_conversation[0] if same_conversation else None)


def _thread_by_subject(
    session: Session, subject: str, community_ids: Sequence[int], now: dt.datetime
) -> Thread | None:
    if not community_ids:
        return None
    return session.scalar(
        select(Thread)
        .join(Message, Message.thread_id == Thread.id)
        .join(MessageCommunity, MessageCommunity.message_id == Message.id)
        .where(
            MessageCommunity.community_id.in_(community_ids),
            func.lower(Thread.subject) == subject.lower(),
            Thread.last_activity_at >= now - SUBJECT_WINDOW,
        )
        .order_by(Thread.last_activity_at.desc())
        .limit(1)
    )


def _root_of(session: Session, thread_id: int) -> Message | None:
    return session.scalar(
        select(Message)
        .where(Message.thread_id == thread_id, Message.parent_id.is_(None))
        .order_by(Message.received_at, Message.id)
        .limit(1)
    )


def _record_references(
    session: Session, message: Message, references: Sequence[str], in_reply_to: Sequence[str]
) -> None:
    ids = [(ref, False) for ref in references] + [(ref, True) for ref in in_reply_to]
    session.add_all(
        MessageReference(
            message_id=message.id, position=position, referenced_id=ref, in_reply_to=is_reply
        )  # fmt: skip
        for position, (ref, is_reply) in enumerate(ids)
    )


def _adopt_early_replies(session: Session, message: Message) -> bool:
    """Relink messages that named this one as parent before it arrived; True if any moved."""
    naming_it = select(MessageReference.message_id).where(
        MessageReference.referenced_id == message.message_id
    )
    children = list(
        session.scalars(
            select(Message)
            .where(Message.id.in_(naming_it), Message.id != message.id)
            .order_by(Message.id)
        )
    )
    index = decode_thread_index(message.thread_index)
    if index:
        children += [
            m
            for m in session.scalars(
                select(Message).where(
                    Message.conversation == conversation_key(index),
                    Message.parent_id.is_(None),
                    Message.id != message.id,
                )
            )
            if decode_thread_index(m.thread_index)[: len(index)] == index
            and len(decode_thread_index(m.thread_index)) > len(index)
        ]
    adopted = False
    for child in children:
        if _prefers(session, child, message) and not _is_ancestor(session, child, message):
            child.parent_id = message.id
            if child.thread_id != message.thread_id and child.thread_id is not None:
                _merge_threads(session, into=message.thread_id, absorbed=child.thread_id)
            session.flush()
            adopted = True
    return adopted


def _prefers(session: Session, child: Message, candidate: Message) -> bool:
    """Whether `candidate` is a better parent for `child` than the parent it has."""
    if child.parent_id is None:
        return True
    current = session.get(Message, child.parent_id)
    order = _candidates(child.references.split(), child.in_reply_to.split())
    rank = {message_id: position for position, message_id in enumerate(order)}
    worst = len(order)
    return rank.get(candidate.message_id, worst) < rank.get(
        current.message_id if current else "", worst
    )


def _is_ancestor(session: Session, message: Message, of: Message) -> bool:
    """Whether `message` is `of` or one of its ancestors (iterative, bounded)."""
    current: Message | None = of
    for _ in range(MAX_DEPTH):
        if current is None:
            return False
        if current.id == message.id:
            return True
        current = session.get(Message, current.parent_id) if current.parent_id else None
    return True  # deeper than we are willing to walk: treat as a cycle, link nothing


def _merge_threads(session: Session, into: int | None, absorbed: int) -> None:
    session.execute(update(Message).where(Message.thread_id == absorbed).values(thread_id=into))
    session.execute(delete(Thread).where(Thread.id == absorbed))


def refresh_thread(session: Session, thread_id: int | None) -> None:
    """Recompute a thread's counts and dates from its messages."""
    if thread_id is None:
        return
    thread = session.get(Thread, thread_id)
    if thread is None:
        return
    published = Message.status == MessageStatus.PUBLISHED
    count, first, last = session.execute(
        select(
            func.count().filter(published),
            func.min(Message.received_at),
            func.max(Message.received_at),
        ).where(Message.thread_id == thread_id)  # fmt: skip
    ).one()
    thread.message_count = count
    root = _root_of(session, thread_id)
    if root is not None:
        thread.created_at = root.received_at
    if last is not None:
        thread.last_activity_at = as_utc(last)
    if first is not None and root is None:
        thread.created_at = as_utc(first)
