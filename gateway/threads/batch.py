"""The part of the store a batch of new mail is threaded against, held in memory.

Threading one message at a time asks the store a handful of questions per message
(is its parent stored? did replies arrive before it?) and writes a few rows, each
with its own statement. Here the questions of a whole batch are asked in one query
each, the answers and the new messages are kept as nodes, and the changes are
written back with one statement per table (flush). The rules themselves are in
gateway.threads.rules; this module only remembers, and answers as the store would.

What is not fetched ahead is loaded on demand, so the answers are never partial.
The two rules that need the store's own view (a subject match, a recount after
early replies were adopted) flush first, then query the store.

On PostgreSQL, several nodes' batches are threaded at once: each locks the threads it
writes to when it writes them (FOR UPDATE, _lock_for_writing), and
gateway.ingest.stages.write_messages makes batches that meet on a Message-ID, a
conversation or a subject take turns before they read anything.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy import Select
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import aliased
from sqlalchemy.orm.util import identity_key

from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageReference
from gateway.store.models import MessageStatus
from gateway.store.models import Thread
from gateway.store.models import ThreadAnswer
from gateway.store.models import ThreadMute
from gateway.store.models import Visibility
from gateway.store.models import as_utc
from gateway.store.sql import chunks
from gateway.store.sql import set_by_id
from gateway.store.sql import writes_side_by_side
from gateway.threads.audience import audience
from gateway.threads.tree import roots

# New rows get ids above every stored one; until written, they sort by creation after them.
_NEW = 1 << 62
# How far back a subject-only reply looks for its thread.
SUBJECT_WINDOW = dt.timedelta(days=30)

# Stored parent links read at once by ancestors(): a walk up a long thread costs one
# query per this many messages, not one per message (a round trip each on PostgreSQL).
ANCESTRY = 1000

_NODE_COLUMNS = (
    Message.id,
    Message.message_id,
    Message.parent_id,
    Message.thread_id,
    Message.references,
    Message.in_reply_to,
    Message.thread_index,
    Message.conversation,
    Message.received_at,
    Message.status,
)
_THREAD_COLUMNS = (
    Thread.id,
    Thread.subject,
    Thread.created_at,
    Thread.last_activity_at,
    Thread.message_count,
)


class ThreadGone(Exception):
    """A thread the batch's messages were in was merged into another by a transaction
    that committed meanwhile: what the batch read of them is out of date."""


@dataclass(eq=False)
class ThreadState:
    """A thread as the batch sees it: stored, or new (id None until written)."""

    id: int | None
    order: int  # as the ids will compare: stored ids, then new threads by creation
    subject: str
    created_at: dt.datetime
    last_activity_at: dt.datetime
    message_count: int
    merged_into: ThreadState | None = None
    removed: bool = False  # merged into another and deleted from the store
    # message_count as the store has it (read or written by this batch): what the
    # batch added is the difference, kept when another node's count is taken (rebase).
    stored_count: int = 0

    def resolved(self) -> ThreadState:
        """The thread this one now is: itself, or the one it was merged into."""
        thread = self
        while thread.merged_into is not None:
            thread = thread.merged_into
        return thread

    def rebase(self, row: Any) -> None:
        """Take the figures the store holds now (another node's batch may have added
        messages since this one read them), with this batch's own messages on top."""
        self.message_count = row.message_count + self.message_count - self.stored_count
        self.stored_count = row.message_count
        self.subject, self.created_at = row.subject, row.created_at
        self.last_activity_at = max(row.last_activity_at, self.last_activity_at)


@dataclass(eq=False)
class Node:
    """A message as threading sees it: stored, or new in the batch (id None until written)."""

    message_id: str
    order: int  # as the ids will compare: stored ids, then new messages by creation
    references: tuple[str, ...]
    in_reply_to: tuple[str, ...]
    thread_index: str  # as stored: canonical base64
    conversation: str
    received_at: dt.datetime
    published: bool
    id: int | None = None
    parent_id: int | None = None  # a stored message's parent, until `parent` is known
    parent: Node | None = None
    thread: ThreadState | None = None
    relinked: bool = False  # its parent changed: to write back
    row: dict[str, Any] | None = None  # a new message's columns, until written
    community_ids: tuple[int, ...] = ()
    audience: str = ""  # a new message's (gateway.threads.audience); stored ones: their thread's

    @property
    def has_parent(self) -> bool:
        return self.parent is not None or self.parent_id is not None

    def current_thread(self) -> ThreadState | None:
        return self.thread.resolved() if self.thread is not None else None


class ThreadBatch:
    """Nodes for the messages a batch touches, and the batch's changes until flush()."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._serial = 0
        self._by_message_id: dict[str, Node] = {}
        self._by_id: dict[int, Node] = {}
        self._threads: dict[int, ThreadState] = {}
        # Message-ID -> the nodes naming it in References or In-Reply-To, and
        # conversation -> its nodes: complete for the keys in the _known_ sets
        # (fetched), and for every key as far as new messages go.
        self._referencing: dict[str, dict[Node, None]] = {}
        self._conversations: dict[str, dict[Node, None]] = {}
        self._known_ids: set[str] = set()
        self._known_references: set[str] = set()
        self._known_conversations: set[str] = set()
        self._unthreaded: list[tuple[Node, int]] = []  # loaded nodes, their stored thread ids
        self._new_nodes: list[Node] = []
        self._new_threads: list[ThreadState] = []
        self._merged: list[ThreadState] = []
        self._relinked: list[Node] = []
        self._changed: dict[ThreadState, None] = {}  # threads whose figures changed
        self._stale: dict[ThreadState, None] = {}  # threads to recount (refresh)
        self._audiences: dict[ThreadState, set[str]] = {}  # of each thread's messages
        self._stored_parents: dict[int, int | None] = {}  # row id -> parent id, as stored
        self._locked: set[int] = set()  # threads locked for writing (_lock_for_writing)

    # -- what the store holds

    def prefetch(
        self,
        *,
        message_ids: Collection[str] = (),
        referenced: Collection[str] = (),
        conversations: Collection[str] = (),
    ) -> None:
        """Fetch ahead, in one query per kind: the messages with these Message-IDs, the
        messages naming these ids, the messages of these conversations, their threads."""
        self._load_message_ids(message_ids)
        self._load_referencing(referenced)
        self._load_conversations(conversations)
        self._load_threads()

    def find(self, message_id: str) -> Node | None:
        """The message with this Message-ID, stored or new; None if there is none."""
        if message_id not in self._known_ids:
            self._load_message_ids([message_id])
            self._load_threads()
        return self._by_message_id.get(message_id)

    def referencing(self, message_id: str) -> list[Node]:
        """The messages naming this id in References or In-Reply-To, in id order."""
        if message_id not in self._known_references:
            self._load_referencing([message_id])
            self._load_threads()
        return sorted(self._referencing.get(message_id, ()), key=_order)

    def conversation(self, key: str) -> list[Node]:
        """The messages of an Outlook conversation, in id order."""
        if key not in self._known_conversations:
            self._load_conversations([key])
            self._load_threads()
        return sorted(self._conversations.get(key, ()), key=_order)

    def parent_of(self, node: Node) -> Node | None:
        if node.parent is None and node.parent_id is not None:
            node.parent = self.by_id(node.parent_id)
        return node.parent

    def by_id(self, row_id: int) -> Node | None:
        """The message with this row id."""
        if row_id not in self._by_id:
            self._add_rows(self.session.execute(select(*_NODE_COLUMNS).where(Message.id == row_id)))
            self._load_threads()
        return self._by_id.get(row_id)

    def ancestors(self, node: Node) -> Iterator[Node | int]:
        """`node`'s ancestors, nearest first, up to the root or round a cycle for ever
        (the caller bounds the walk): the node where the batch holds one (its link may
        have changed), else the stored row's id. Stored links are read as ids alone,
        ANCESTRY at a time: making a whole node of each ancestor of a reply deep in a
        long thread, in every batch, was 15% of the inbox processor's time
        (bench/ingest.py, whose replies arrive slightly out of order)."""
        current: Node | int | None = node
        while True:
            if isinstance(current, Node):
                current = current.parent if current.parent is not None else current.parent_id
            else:
                current = self._stored_parent(current)
            if current is None:
                return
            if isinstance(current, int):
                current = self._by_id.get(current, current)
            yield current

    def _stored_parent(self, row_id: int) -> int | None:
        if row_id not in self._stored_parents:
            for ancestor, parent in self.session.execute(_ancestry(), {"row_id": row_id}):
                self._stored_parents.setdefault(ancestor, parent)
        return self._stored_parents.get(row_id)

    def thread(self, thread_id: int) -> ThreadState:
        if thread_id not in self._threads:
            self._read_threads([thread_id])
        return self._threads[thread_id]

    def thread_by_subject(
        self, subject: str, community_ids: Sequence[int], now: dt.datetime
    ) -> ThreadState | None:
        """The most recently active thread of these communities with this subject, active
        within SUBJECT_WINDOW of `now`."""
        if not community_ids:
            return None
        self.flush()
        thread_id = self.session.scalar(
            select(Thread.id)
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
        return self.thread(thread_id) if thread_id is not None else None

    def audiences(self, thread: ThreadState) -> set[str]:
        """The audiences of a thread's messages (one, but for threads stored before
        threading kept to one audience): asked of the store once, then kept up to date."""
        thread = thread.resolved()
        known = self._audiences.get(thread)
        if known is None:
            known = self._audiences[thread] = set()
            if thread.id is not None:
                per_message: dict[int, list[tuple[int, Visibility]]] = {}
                for message_id, community_id, visibility in self.session.execute(
                    select(Message.id, Community.id, Community.visibility)
                    .join(MessageCommunity, MessageCommunity.message_id == Message.id)
                    .join(Community, Community.id == MessageCommunity.community_id)
                    .where(Message.thread_id == thread.id)
                ):
                    per_message.setdefault(message_id, []).append((community_id, visibility))
                known.update(audience(pairs) for pairs in per_message.values())
        return known

    def admits(self, thread: ThreadState | None, audience: str) -> bool:
        """Whether a message of this audience may join this thread: every message the
        thread holds has the same audience."""
        return thread is None or self.audiences(thread) <= {audience}

    def root_of(self, thread: ThreadState) -> Node | None:
        """The thread's first message without a parent."""
        self.flush()
        root = _root(self.session, thread.resolved().id)
        return self.by_id(root[0]) if root is not None else None

    # -- what the batch changes

    def new_message(
        self,
        row: dict[str, Any],
        references: Sequence[str],
        in_reply_to: Sequence[str],
        community_ids: Sequence[int],
        audience: str = "",
    ) -> Node:
        """A node for a new message (`row`: its columns); add() it once threaded."""
        return Node(
            message_id=row["message_id"],
            order=self._next_order(),
            references=tuple(references),
            in_reply_to=tuple(in_reply_to),
            thread_index=row["thread_index"],
            conversation=row["conversation"],
            received_at=row["received_at"],
            published=row["status"] is MessageStatus.PUBLISHED,
            row=row,
            community_ids=tuple(community_ids),
            audience=audience,
        )

    def add(self, node: Node) -> None:
        """Count a new, threaded message in: from now on it is found like a stored one."""
        self._by_message_id[node.message_id] = node
        for message_id in (*node.references, *node.in_reply_to):
            self._referencing.setdefault(message_id, {})[node] = None
        if node.conversation:
            self._conversations.setdefault(node.conversation, {})[node] = None
        self._new_nodes.append(node)
        thread = node.current_thread()
        if thread is not None:
            self.audiences(thread).add(node.audience)

    def new_thread(self, subject: str, at: dt.datetime) -> ThreadState:
        thread = ThreadState(None, self._next_order(), subject, at, at, 0)
        self._new_threads.append(thread)
        return thread

    def changed(self, thread: ThreadState) -> None:
        """Its figures changed: to write back (with the thread, for a new one)."""
        self._changed[thread] = None

    def relink(self, node: Node, parent: Node) -> None:
        node.parent = parent
        if not node.relinked:
            node.relinked = True
            self._relinked.append(node)

    def merge(self, into: ThreadState, absorbed: ThreadState) -> None:
        """Move every message of `absorbed` into `into`; `absorbed` goes away."""
        moved = self.audiences(absorbed)
        self.audiences(into).update(moved)
        absorbed.merged_into = into
        self._merged.append(absorbed)

    def refresh(self, thread: ThreadState) -> None:
        """Recount a thread's messages and dates in the store (after its messages moved),
        at the next flush: once per thread, however many replies it adopted meanwhile
        (mail that arrives out of order, as a burst over several connections does,
        made one recount and one flush per adopted reply)."""
        self._stale[thread] = None

    def _recount(self, written: set[ThreadState]) -> None:
        """The figures of the threads refresh() named, from the store, once the batch's
        messages are in it; to write back, also for a thread inserted just now."""
        stale, self._stale = self._stale, {}
        for thread in dict.fromkeys(t.resolved() for t in stale):
            if thread.merged_into is not None or thread.id is None:
                continue
            count, created, last = thread_figures(self.session, thread.id)
            thread.message_count = count
            if created is not None:
                thread.created_at = created
            if last is not None:
                thread.last_activity_at = last
            self.changed(thread)
            written.discard(thread)

    def flush(self) -> None:
        """Write the batch's changes to the store: new threads and messages (with their
        references and communities), moved messages, merged threads, new thread figures."""
        session = self.session
        self._lock_for_writing()
        threads = [t for t in self._new_threads if t.merged_into is None]
        self._new_threads = []
        if threads:
            statement = insert(Thread).returning(Thread.id, sort_by_parameter_order=True)
            ids = session.scalars(statement, [_thread_row(t) for t in threads]).all()
            for thread, thread_id in zip(threads, ids, strict=True):
                thread.id, thread.stored_count = thread_id, thread.message_count
                self._threads[thread_id] = thread
            self._locked.update(ids)  # new: no other transaction sees them yet
        nodes, self._new_nodes = self._new_nodes, []
        if nodes:
            # Matched by Message-ID (one node each in a batch), not by the order of the
            # rows: SQLite cannot promise that order, and SQLAlchemy sent each row alone
            # when asked for it (126 statements for a batch of 128 mails).
            # Every row with every column, NULLs too: rows with other columns than their
            # neighbours' were a statement of their own.
            statement = (
                insert(Message)
                .returning(Message.id, Message.message_id)
                .execution_options(render_nulls=True)
            )
            rows = session.execute(statement, [self._message_row(n) for n in nodes])
            ids = {message_id: row_id for row_id, message_id in rows}
            for node in nodes:
                node.id, node.row = ids[node.message_id], None
                self._by_id[node.id] = node
        relinked, self._relinked = self._relinked, []
        if relinked:
            set_by_id(session, Message.parent_id, dict(map(_parent_link, relinked)))
            for node in relinked:
                node.relinked = False
            expire(session, Message, [node.id for node in relinked])
        self._write_merges()
        if nodes:
            references = [
                {
                    "message_id": n.id,
                    "position": position,
                    "referenced_id": referenced,
                    "in_reply_to": is_reply,
                }
                for n in nodes
                for position, (referenced, is_reply) in enumerate(
                    [(r, False) for r in n.references] + [(r, True) for r in n.in_reply_to]
                )
            ]
            if references:
                session.execute(insert(MessageReference), references)
            links = [
                {"message_id": n.id, "community_id": community_id}
                for n in nodes
                for community_id in n.community_ids
            ]
            if links:
                session.execute(insert(MessageCommunity), links)
        written = set(threads)
        self._recount(written)
        # In the order of their ids: two nodes' batches that update the same threads
        # lock them in the same order, and so never wait for each other in a circle.
        changed = sorted(
            (t for t in self._changed if t.merged_into is None and t not in written),
            key=lambda t: t.id or 0,
        )
        self._changed = {}
        if changed:
            session.execute(update(Thread), [_thread_row(t) | {"id": t.id} for t in changed])
            for thread in changed:
                thread.stored_count = thread.message_count
            expire(session, Thread, [t.id for t in changed])

    # -- loading

    def _write_merges(self) -> None:
        merged, self._merged = self._merged, []
        for absorbed in merged:
            if absorbed.id is None or absorbed.removed:
                continue  # never written: its messages are written in their new thread
            into = absorbed.resolved()
            assert into.id is not None  # written above, with the batch's new threads
            self.session.execute(
                update(Message).where(Message.thread_id == absorbed.id).values(thread_id=into.id)
            )
            _keep_marks(self.session, absorbed.id, into.id)
            self.session.execute(delete(Thread).where(Thread.id == absorbed.id))
            absorbed.removed = True

    def _message_row(self, node: Node) -> dict[str, Any]:
        assert node.row is not None
        thread = node.current_thread()
        parent = node.parent
        if parent is not None and parent.id is None and not node.relinked:
            # Its parent is written in the same statement: linked just after.
            self._relinked.append(node)
            node.relinked = True
        return node.row | {
            "thread_id": thread.id if thread is not None else None,
            "parent_id": parent.id if parent is not None else None,
        }

    def _next_order(self) -> int:
        self._serial += 1
        return _NEW + self._serial

    def _load_message_ids(self, message_ids: Iterable[str]) -> None:
        wanted = [m for m in dict.fromkeys(message_ids) if m not in self._known_ids]
        self._known_ids.update(wanted)
        for chunk in chunks(wanted):
            self._add_rows(
                self.session.execute(select(*_NODE_COLUMNS).where(Message.message_id.in_(chunk)))
            )

    def _load_referencing(self, message_ids: Iterable[str]) -> None:
        wanted = [m for m in dict.fromkeys(message_ids) if m not in self._known_references]
        self._known_references.update(wanted)
        for chunk in chunks(wanted):
            rows = self.session.execute(
                select(MessageReference.referenced_id, *_NODE_COLUMNS)
                .join(Message, Message.id == MessageReference.message_id)
                .where(MessageReference.referenced_id.in_(chunk))
            ).all()
            nodes = self._add_rows(rows)
            for row, node in zip(rows, nodes, strict=True):
                self._referencing.setdefault(row.referenced_id, {})[node] = None

    def _load_conversations(self, keys: Iterable[str]) -> None:
        wanted = [k for k in dict.fromkeys(keys) if k and k not in self._known_conversations]
        self._known_conversations.update(wanted)
        for chunk in chunks(wanted):
            rows = self.session.execute(
                select(*_NODE_COLUMNS).where(Message.conversation.in_(chunk))
            ).all()
            for node in self._add_rows(rows):
                self._conversations.setdefault(node.conversation, {})[node] = None

    def _add_rows(self, rows: Iterable[Any]) -> list[Node]:
        """Nodes for stored rows; a row already known keeps its node (and its changes)."""
        nodes = []
        for row in rows:
            node = self._by_id.get(row.id)
            if node is None:
                node = Node(
                    message_id=row.message_id,
                    order=row.id,
                    references=tuple(row.references.split()),
                    in_reply_to=tuple(row.in_reply_to.split()),
                    thread_index=row.thread_index,
                    conversation=row.conversation,
                    received_at=row.received_at,
                    published=row.status is MessageStatus.PUBLISHED,
                    id=row.id,
                    parent_id=row.parent_id,
                )
                self._by_id[row.id] = node
                self._by_message_id[node.message_id] = node
                if row.thread_id is not None:
                    self._unthreaded.append((node, row.thread_id))
            nodes.append(node)
        return nodes

    def _load_threads(self) -> None:
        """The threads of the nodes loaded since the last call, in one query."""
        pending, self._unthreaded = self._unthreaded, []
        self._read_threads({thread_id for _, thread_id in pending} - self._threads.keys())
        for node, thread_id in pending:
            node.thread = self._threads[thread_id]

    def _read_threads(self, wanted: Collection[int]) -> None:
        self._add_threads(self._thread_rows(wanted))
        _none_gone(wanted, self._threads.keys())

    def _thread_rows(self, wanted: Collection[int], for_update: bool = False) -> Iterator[Any]:
        """The stored threads among these, in the order of their ids; locked until the
        transaction ends if `for_update`."""
        for chunk in chunks(sorted(wanted)):
            query = select(*_THREAD_COLUMNS).where(Thread.id.in_(chunk)).order_by(Thread.id)
            yield from self.session.execute(query.with_for_update() if for_update else query)

    def _lock_for_writing(self) -> None:
        """Lock the stored threads this flush writes to until the transaction ends (FOR
        UPDATE on PostgreSQL), all at once and in the order of their ids, and take the
        figures another node's batch committed since they were read (rebase). Another
        batch that adds to one of them, or merges it away, waits for this one, or this one
        for it; a thread gone meanwhile (merged away by a batch that committed after this
        one read its messages) is a ThreadGone, and the batch is taken again
        (gateway.ingest.batch.lost_a_race). Locked when written, not when read: the reads
        come in several rounds, and two batches locking in the order of their reads would
        wait for each other in a circle. A SQLite writer has nobody to wait for: what it
        read is as it is."""
        if not writes_side_by_side(self.session):
            return
        touched = {*self._changed, *self._stale, *self._merged}
        touched |= {thread.resolved() for thread in self._merged}
        wanted = {t.id for t in touched if t.id is not None and not t.removed} - self._locked
        seen = set()
        for row in self._thread_rows(wanted, for_update=True):
            self._threads[row.id].rebase(row)
            seen.add(row.id)
        _none_gone(wanted, seen)
        self._locked.update(wanted)

    def _add_threads(self, rows: Iterable[Any]) -> None:
        for row in rows:
            if row.id not in self._threads:
                self._threads[row.id] = ThreadState(
                    row.id, row.id, row.subject, row.created_at, row.last_activity_at,
                    row.message_count, stored_count=row.message_count,
                )  # fmt: skip


def _none_gone(wanted: Collection[int], found: Collection[int]) -> None:
    gone = set(wanted).difference(found)
    if gone:
        raise ThreadGone(f"threads {sorted(gone)} were merged away by another transaction")


def thread_figures(
    session: Session, thread_id: int
) -> tuple[int, dt.datetime | None, dt.datetime | None]:
    """A thread's figures from its messages: published messages, when it started (its
    root's arrival, else its first message's), its last activity (None: no messages)."""
    published = Message.status == MessageStatus.PUBLISHED
    count, first, last = session.execute(
        select(
            func.count().filter(published),
            func.min(Message.received_at),
            func.max(Message.received_at),
        ).where(Message.thread_id == thread_id)  # fmt: skip
    ).one()
    root = _root(session, thread_id)
    if root is not None:
        created: dt.datetime | None = root[1]
    else:
        created = as_utc(first) if first is not None else None
    return count, created, as_utc(last) if last is not None else None


def _keep_marks(session: Session, absorbed: int, into: int) -> None:
    """What people set on a thread that a merge absorbs goes to the thread it joins, not
    away with it (the rows would go by ON DELETE CASCADE): their mutes, and its accepted
    answer unless the thread it joins has one. A reply that came before its parent had a
    thread of its own, muted or answered before the parent merged it into the parent's."""
    muted_already = select(ThreadMute.person_id).where(ThreadMute.thread_id == into)
    session.execute(
        update(ThreadMute)
        .where(ThreadMute.thread_id == absorbed, ThreadMute.person_id.not_in(muted_already))
        .values(thread_id=into)
    )
    answered = select(ThreadAnswer.thread_id).where(ThreadAnswer.thread_id == into).exists()
    session.execute(
        update(ThreadAnswer)
        .where(ThreadAnswer.thread_id == absorbed, ~answered)
        .values(thread_id=into)
    )


def _root(session: Session, thread_id: int | None) -> Row[int, dt.datetime] | None:
    """(id, received_at) of the thread's root (gateway.threads.tree.roots)."""
    if thread_id is None:
        return None
    root = roots([thread_id])
    return session.execute(select(root.c.id, root.c.received_at)).first()


def _thread_row(thread: ThreadState) -> dict[str, Any]:
    return {
        "subject": thread.subject,
        "created_at": thread.created_at,
        "last_activity_at": thread.last_activity_at,
        "message_count": thread.message_count,
    }


def _parent_link(node: Node) -> tuple[int, int]:
    assert node.id is not None and node.parent is not None and node.parent.id is not None
    return node.id, node.parent.id


def _order(node: Node) -> int:
    return node.order


def expire(
    session: Session, model: type[Message] | type[Thread], ids: Iterable[int | None]
) -> None:
    """Objects of rows written behind the session's back are read again when next used."""
    for row_id in ids:
        loaded = session.identity_map.get(identity_key(model, row_id))
        if loaded is not None:
            session.expire(loaded)


@functools.cache
def _ancestry() -> Select[tuple[int, int | None]]:
    """The ids and parent ids of the message `row_id` (a parameter) and of its stored
    ancestors, at most ANCESTRY in all (the depth bound also ends a walk round a cycle
    of parent links). Built once: building the recursive query took as long as running it."""
    chain = (
        select(Message.id, Message.parent_id, literal(1).label("depth"))
        .where(Message.id == bindparam("row_id"))
        .cte("ancestry", recursive=True)
    )
    parent = aliased(Message)
    chain = chain.union_all(
        select(parent.id, parent.parent_id, chain.c.depth + 1)
        .join(chain, parent.id == chain.c.parent_id)
        .where(chain.c.depth < ANCESTRY)
    )
    return select(chain.c.id, chain.c.parent_id)
