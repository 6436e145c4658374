"""Threading: which thread a message belongs to, and under which parent.

JWZ-style, on the store (STYLE.md, "Threading and the archive"):
1. A single In-Reply-To id, then References newest first, then other In-Reply-To
   ids: the first id we hold is the parent (see candidates).
2. Else Outlook's Thread-Index: the message whose index is ours minus its last
   five bytes, or else the first message of the same conversation.
3. Else, a message naming a parent we do not hold joins the thread of other
   messages naming it (siblings under a "ghost" parent).
4. Else, only for a message with neither References nor In-Reply-To whose subject
   carries a reply prefix (Re:, AW:, TR:, ...): a recent thread of the same
   community with the same normalized subject.
A reply that arrives before its parent starts a thread of its own; when the
parent arrives, the reply is relinked under it and the two threads merge. A link
that would make a cycle is refused, and so is one into a thread of another audience
(public, or which private communities): see gateway.threads.audience. Walks over
ancestors are iterative and bounded: the depth of a thread is in the hands of whoever
writes the mail.

The rules run on a gateway.threads.batch.ThreadBatch: the store as a batch of new
messages sees it, one message after the other, so that a batch threads exactly
as its messages would one by one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import itertools
import re
from collections.abc import Iterable
from collections.abc import Sequence

from sqlalchemy.orm import Session

from gateway.store.models import Thread
from gateway.store.models import utcnow
from gateway.threads.batch import Node
from gateway.threads.batch import ThreadBatch
from gateway.threads.batch import ThreadState
from gateway.threads.batch import thread_figures

# Longest ancestor chain walked when checking for cycles.
MAX_DEPTH = 10_000
# Outlook's Thread-Index: 22 bytes name the conversation, each reply adds 5.
CONVERSATION_BYTES = 22
REPLY_BYTES = 5

# The reply and forward markers clients put before a subject, in English, French,
# German and Nordic mail (Re, Fwd, Fw, TR, AW, WG, SV, VS, Réf.), with Outlook's "RE :"
# spacing and counters such as "Re[2]:". gateway.mail.subjects reads them too.
REPLY_MARKER = re.compile(
    r"^\s*(?:re|fwd?|fw|tr|aw|wg|sv|vs|r[ée]f\.?)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*", re.IGNORECASE
)
_TAG = re.compile(r"^\s*\[[^\]]*\]\s*")


def split_markers(text: str, prefixes: Iterable[str] = ()) -> tuple[list[str], str]:
    """The leading run of reply markers and of the given community prefixes taken off
    `text`: the markers as written, and what follows.
    "Re: [design] AW: Colours" -> (["Re:", "AW:"], "Colours")."""
    prefix = _prefix_pattern(tuple(prefixes))
    markers: list[str] = []
    while True:
        match = REPLY_MARKER.match(text)
        if match:
            markers.append(match.group(0).strip())
            text = text[match.end() :]
            continue
        match = prefix.match(text)
        if match is None:
            return markers, text
        text = text[match.end() :].lstrip()


@functools.lru_cache(maxsize=64)
def _prefix_pattern(prefixes: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for the prefixes, longest first, ignoring case: asked for every
    subject of a thread or a site, with the same few sets of prefixes."""
    ordered = sorted({p for p in prefixes if p}, key=len, reverse=True)
    if not ordered:
        return re.compile(r"(?!)")  # matches nothing
    return re.compile("|".join(re.escape(p) for p in ordered), re.IGNORECASE)


def normalize_subject(subject: str, prefixes: Sequence[str] = ()) -> tuple[str, bool]:
    """The subject without reply/forward prefixes and community tags; and whether it had
    a reply or forward prefix. "RE : [design] Re: Colours" -> ("Colours", True)."""
    text = " ".join(subject.split())
    had_prefix = False
    while True:
        markers, text = split_markers(text, prefixes)
        had_prefix = had_prefix or bool(markers)
        match = _TAG.match(text)
        if not (match and had_prefix):  # "[tag]" after a "Re:" is some list's prefix
            return text.strip(), had_prefix
        text = text[match.end() :]


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
    batch: ThreadBatch,
    message: Node,
    *,
    subject: str,
    community_ids: Sequence[int],
    subject_prefixes: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> None:
    """Give a new message its parent and thread, add it to the batch, and adopt its early
    replies. Messages of a batch are threaded in order, each seeing those before it."""
    parent = _parent_by_references(batch, message)
    if parent is None:
        parent = _parent_by_thread_index(batch, message)
    normalized, had_prefix = normalize_subject(subject, subject_prefixes)
    thread: ThreadState | None = None
    if parent is not None:
        thread = parent.current_thread()
    elif message.references or message.in_reply_to:
        thread = _thread_of_ghost_siblings(batch, message)
    elif had_prefix and normalized:
        thread = batch.thread_by_subject(normalized, community_ids, now or utcnow())
        if not batch.admits(thread, message.audience):
            thread = None
        if thread is not None:
            parent = batch.root_of(thread)
    if thread is None:
        thread = batch.new_thread(normalized or subject, message.received_at)
    message.parent = parent
    message.thread = thread
    batch.add(message)
    if _adopt_early_replies(batch, message):
        batch.refresh(thread)
    else:  # the common case: one more message in a thread, no need to recount it
        if message.published:
            thread.message_count += 1
        thread.last_activity_at = max(thread.last_activity_at, message.received_at)
        batch.changed(thread)


def candidates(references: Sequence[str], in_reply_to: Sequence[str]) -> list[str]:
    """Ids that may name the parent, best first.

    A single In-Reply-To id is the parent by definition (RFC 5322 3.6.4) and wins
    when References disagree: clients that reorder References exist (the corpus'
    notmuch "parent-priority" case). Then References, newest first; then any
    other In-Reply-To ids (some clients put several, or prose, there).
    """
    direct = list(in_reply_to) if len(in_reply_to) == 1 else []
    return list(dict.fromkeys([*direct, *reversed(references), *in_reply_to]))


def _parent_by_references(batch: ThreadBatch, message: Node) -> Node | None:
    for candidate in candidates(message.references, message.in_reply_to):
        if candidate != message.message_id:
            found = batch.find(candidate)
            if found is not None and batch.admits(found.current_thread(), message.audience):
                return found
    return None


def _thread_of_ghost_siblings(batch: ThreadBatch, message: Node) -> ThreadState | None:
    """The thread of messages that name the same absent parent (a "ghost") as this one."""
    threads = [
        thread
        for candidate in candidates(message.references, message.in_reply_to)
        for sibling in batch.referencing(candidate)
        if sibling is not message
        and (thread := sibling.current_thread()) is not None
        and batch.admits(thread, message.audience)
    ]
    return min(threads, key=lambda thread: thread.order, default=None)


def _parent_by_thread_index(batch: ThreadBatch, message: Node) -> Node | None:
    index = decode_thread_index(message.thread_index)
    if len(index) < CONVERSATION_BYTES + REPLY_BYTES:
        return None
    same_conversation = sorted(
        (
            m
            for m in batch.conversation(conversation_key(index))
            if m is not message and batch.admits(m.current_thread(), message.audience)
        ),
        key=lambda m: (m.received_at, m.order),
    )
    parent_index = index[:-REPLY_BYTES]
    exact = [m for m in same_conversation if decode_thread_index(m.thread_index) == parent_index]
    return exact[0] if exact else (same_conversation[0] if same_conversation else None)


def _adopt_early_replies(batch: ThreadBatch, message: Node) -> bool:
    """Relink messages that named this one as parent before it arrived; True if any moved."""
    children = [m for m in batch.referencing(message.message_id) if m is not message]
    index = decode_thread_index(message.thread_index)
    if index:
        children += [
            m
            for m in batch.conversation(conversation_key(index))
            if not m.has_parent
            and m is not message
            and decode_thread_index(m.thread_index)[: len(index)] == index
            and len(decode_thread_index(m.thread_index)) > len(index)
        ]
    adopted = False
    for child in children:
        if (
            _prefers(batch, child, message)
            and not _is_ancestor(batch, child, message)
            and batch.admits(child.current_thread(), message.audience)
        ):
            batch.relink(child, message)
            into, absorbed = message.current_thread(), child.current_thread()
            if absorbed is not into and absorbed is not None and into is not None:
                batch.merge(into=into, absorbed=absorbed)
            adopted = True
    return adopted


def _prefers(batch: ThreadBatch, child: Node, candidate: Node) -> bool:
    """Whether `candidate` is a better parent for `child` than the parent it has."""
    if not child.has_parent:
        return True
    current = batch.parent_of(child)
    order = candidates(child.references, child.in_reply_to)
    rank = {message_id: position for position, message_id in enumerate(order)}
    worst = len(order)
    return rank.get(candidate.message_id, worst) < rank.get(
        current.message_id if current else "", worst
    )


def _is_ancestor(batch: ThreadBatch, message: Node, of: Node) -> bool:
    """Whether `message` is `of` or one of its ancestors (iterative, bounded). The batch
    gives a node it holds as that node, so `message` is met as itself."""
    for depth, current in enumerate(itertools.chain([of], batch.ancestors(of))):
        if current is message:
            return True
        if depth + 1 >= MAX_DEPTH:
            return True  # deeper than we are willing to walk: treat as a cycle, link nothing
    return False


def refresh_thread(session: Session, thread_id: int | None) -> None:
    """Recompute a thread's counts and dates from its messages.

    The thread's row is locked before its messages are counted, as a node's ingest
    batch locks it before it writes (gateway.threads.batch): a reply another node is
    adding is then counted once it is committed, not written over by a count made
    without it."""
    if thread_id is None:
        return
    thread = session.get(Thread, thread_id, with_for_update=True)
    if thread is None:
        return
    count, created, last = thread_figures(session, thread_id)
    thread.message_count = count
    if created is not None:
        thread.created_at = created
    if last is not None:
        thread.last_activity_at = last
