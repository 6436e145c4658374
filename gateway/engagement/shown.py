"""Reactions and accepted answers as readers see them: the reading side of engagement.

The archive reads them for every public message on each update, and the digests for
the threads of a window, so each is read with one query (one per IN list of ids)
and grouped here: reactions as emoji, count and the names of the people, most used
first (then the one used first), and each thread's accepted answer. Parts that show
them (archive pages, digests, stats) take them from here, not from the tables.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.models import Message
from gateway.store.models import Person
from gateway.store.models import Reaction
from gateway.store.models import ThreadAnswer
from gateway.store.models import as_utc
from gateway.store.sql import among


@dataclass(frozen=True)
class ReactionCount:
    """One emoji on a message (or over a thread): how many people, and who, in the
    order they reacted."""

    emoji: str
    names: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class Answer:
    """A thread's accepted answer: which message, who chose it and when."""

    thread_id: int
    message_id: int
    answered_by_id: int | None
    answered_at: dt.datetime


def display_name(name: str, address: str) -> str:
    """A person as the pages name them: their name, else their address's local part
    (an address is never shown)."""
    return name or address.split("@", 1)[0]


def message_reactions(
    session: Session,
    message_ids: Collection[int] | None = None,
    until: dt.datetime | None = None,
) -> dict[int, tuple[ReactionCount, ...]]:
    """Each message's reactions, for these messages (None: every message, one query
    over the whole table), made before `until` when given."""
    return _grouped(session, Reaction.message_id, message_ids, until)


def thread_reactions(
    session: Session, thread_ids: Collection[int], until: dt.datetime | None = None
) -> dict[int, tuple[ReactionCount, ...]]:
    """Each thread's reactions, over all its messages (a person's 👍 on two of its
    messages counts twice), made before `until` when given: what a digest shows beside
    a thread."""
    return _grouped(session, Message.thread_id, thread_ids, until)


def thread_answers(
    session: Session, thread_ids: Collection[int] | None = None, until: dt.datetime | None = None
) -> dict[int, Answer]:
    """Each thread's accepted answer, for these threads (None: every thread), chosen
    before `until` when given."""
    query = select(
        ThreadAnswer.thread_id,
        ThreadAnswer.message_id,
        ThreadAnswer.answered_by_id,
        ThreadAnswer.answered_at,
    )
    if until is not None:
        query = query.where(ThreadAnswer.answered_at < until)
    answers = {}
    connection = session.connection()  # Core rows: see _grouped
    for where in _each(session, ThreadAnswer.thread_id, thread_ids):
        for thread_id, message_id, by, at in connection.execute(query.where(where)):
            answers[thread_id] = Answer(thread_id, message_id, by, as_utc(at))
    return answers


def _grouped(
    session: Session,
    key: Any,
    ids: Collection[int] | None,
    until: dt.datetime | None,
) -> dict[int, tuple[ReactionCount, ...]]:
    """Reactions grouped by `key` (a message's id or a thread's), for these keys, read
    in one query per IN list: a key's reactions are all in the same one, in order."""
    query = (
        select(key, Reaction.emoji, Person.name, Person.address)
        .join(Person, Person.id == Reaction.person_id)
        .order_by(Reaction.created_at, Reaction.id)
    )
    if key is Message.thread_id:
        query = query.join(Message, Message.id == Reaction.message_id)
    if until is not None:
        query = query.where(Reaction.created_at < until)
    rows: list[Any] = []
    # Core rows, not ORM ones: the archive reads every reaction on each update, and the
    # ORM's handling of each row would double the time.
    connection = session.connection()
    for where in _each(session, key, ids):
        rows.extend(connection.execute(query.where(where)))
    return summarize((row[0], row[1], display_name(row[2], row[3])) for row in rows)


def summarize(reactions: Iterable[tuple[int, str, str]]) -> dict[int, tuple[ReactionCount, ...]]:
    """(key, emoji, name) in the order they were made -> each key's reactions, the most
    used emoji first, then the one used first."""
    grouped: dict[int, dict[str, list[str]]] = defaultdict(dict)
    for key_id, emoji, name in reactions:
        grouped[key_id].setdefault(emoji, []).append(name)
    return {
        key_id: tuple(
            ReactionCount(emoji, tuple(names))
            for emoji, names in sorted(by_emoji.items(), key=lambda item: -len(item[1]))
        )  # sorted() is stable: among equal counts, the emoji used first stays first
        for key_id, by_emoji in grouped.items()
    }


def _each(session: Session, column: Any, ids: Collection[int] | None) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the queries: one (true) for every row, else one per IN list."""
    if ids is None:
        return [column.is_not(None)]
    return list(among(session, column, sorted(set(ids))))
