"""Reactions and accepted answers as readers see them: the reading side of engagement.

The archive reads them for every public message on each update, and the digests for
the threads of a window, so each is read with one query (one per IN list of ids)
and grouped here: reactions as emoji, count and the names of the people, most used
first (then the one used first), and each thread's accepted answer. Only published
messages count, a person once per emoji; the archive names only the people it shows
anyway (the others are counted, not named). Parts that show them (archive pages,
digests, stats) take them from here, not from the tables.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection
from collections.abc import Container
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.community.people import display_name
from gateway.outbound.wording import plural
from gateway.store.models import Message
from gateway.store.models import MessageStatus
from gateway.store.models import Person
from gateway.store.models import Reaction
from gateway.store.models import ThreadAnswer
from gateway.store.sql import among

# At most this many names per emoji; the others are counted: "and 3 others".
MAX_NAMES = 10
# The people counted but not named (past MAX_NAMES, or not shown by the site), after
# the names; and when nobody is named. "#" is the count (gateway.outbound.wording).
OTHERS = {"en": ("and # other", "and # others"), "fr": ("et # autre", "et # autres")}
NOBODY_NAMED = {"en": ("# person", "# people"), "fr": ("# personne", "# personnes")}


@dataclass(frozen=True)
class ReactionCount:
    """One emoji on a message (or over a thread): how many people, and the names of
    those who may be named, in the order they reacted."""

    emoji: str
    count: int
    names: tuple[str, ...]

    def shown(self, language: str) -> dict[str, Any]:
        """As pages and digests show it: emoji, count and who, in words: at most
        MAX_NAMES names, then "and N others" ("et N autres")."""
        named = self.names[:MAX_NAMES]
        others = self.count - len(named)
        if not named:
            who = plural(self.count, *NOBODY_NAMED[language], language)
        elif others > 0:
            who = f"{', '.join(named)} {plural(others, *OTHERS[language], language)}"
        else:
            who = ", ".join(named)
        return {"emoji": self.emoji, "count": self.count, "names": who}


def message_reactions(
    session: Session, named: Container[int] | None = None
) -> dict[int, tuple[ReactionCount, ...]]:
    """Every message's reactions, read in one query over the whole table; only the
    people in `named` (None: everyone) are named, the others counted."""
    return _grouped(session, Reaction.message_id, None, None, named)


def thread_reactions(
    session: Session, thread_ids: Collection[int], until: dt.datetime | None = None
) -> dict[int, tuple[ReactionCount, ...]]:
    """Each thread's reactions on its published messages, made before `until` when
    given: what a digest shows beside a thread. A person's 👍 on two of its messages
    counts once."""
    return _grouped(session, Message.thread_id, thread_ids, until, None)


def thread_answers(
    session: Session, thread_ids: Collection[int] | None = None, until: dt.datetime | None = None
) -> dict[int, int]:
    """Each thread's accepted answer (thread id -> message id) when it is a published
    message, for these threads (None: every thread), chosen before `until` when given."""
    query = (
        select(ThreadAnswer.thread_id, ThreadAnswer.message_id)
        .join(Message, Message.id == ThreadAnswer.message_id)
        .where(Message.status == MessageStatus.PUBLISHED)
    )
    if until is not None:
        query = query.where(ThreadAnswer.answered_at < until)
    answers = {}
    connection = session.connection()  # Core rows: see _grouped
    for where in _each(session, ThreadAnswer.thread_id, thread_ids):
        for thread_id, message_id in connection.execute(query.where(where)):
            answers[thread_id] = message_id
    return answers


def _grouped(
    session: Session,
    key: Any,
    ids: Collection[int] | None,
    until: dt.datetime | None,
    named: Container[int] | None,
) -> dict[int, tuple[ReactionCount, ...]]:
    """Reactions grouped by `key` (a message's id or a thread's), for these keys, read
    in one query per IN list: a key's reactions are all in the same one, in order."""
    query = (
        select(key, Reaction.emoji, Reaction.person_id, Person.name, Person.address)
        .join(Person, Person.id == Reaction.person_id)
        .order_by(Reaction.created_at, Reaction.id)
    )
    if key is Message.thread_id:
        query = query.join(Message, Message.id == Reaction.message_id).where(
            Message.status == MessageStatus.PUBLISHED
        )
    if until is not None:
        query = query.where(Reaction.created_at < until)
    rows: list[Any] = []
    # Core rows, not ORM ones: the archive reads every reaction on each update, and the
    # ORM's handling of each row would double the time.
    connection = session.connection()
    for where in _each(session, key, ids):
        rows.extend(connection.execute(query.where(where)))
    return summarize(
        ((row[0], row[1], row[2], display_name(row[3], row[4])) for row in rows), named
    )


def summarize(
    reactions: Iterable[tuple[int, str, int, str]], named: Container[int] | None = None
) -> dict[int, tuple[ReactionCount, ...]]:
    """(key, emoji, person id, name) in the order they were made -> each key's
    reactions, the most used emoji first, then the one used first. A person counts
    once per emoji and key; only those in `named` (None: everyone) are named."""
    grouped: dict[int, dict[str, dict[int, str]]] = defaultdict(dict)
    for key_id, emoji, person_id, name in reactions:
        grouped[key_id].setdefault(emoji, {}).setdefault(person_id, name)
    return {
        key_id: tuple(
            ReactionCount(
                emoji,
                len(people),
                tuple(n for p, n in people.items() if named is None or p in named),
            )
            for emoji, people in sorted(by_emoji.items(), key=lambda item: -len(item[1]))
        )  # sorted() is stable: among equal counts, the emoji used first stays first
        for key_id, by_emoji in grouped.items()
    }


def _each(session: Session, column: Any, ids: Collection[int] | None) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the queries: one (true) for every row, else one per IN list."""
    if ids is None:
        return [column.is_not(None)]
    return list(among(session, column, sorted(set(ids))))
