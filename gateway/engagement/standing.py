"""What a person's help earned them: accepted answers and thanks received.

A person's accepted answers are their replies that someone else accepted as a
thread's answer (a thread's author who accepts their own reply gains nothing), and
their thanks received the reactions, any emoji, that others put on their messages.
`gateway experts`, the stats and the archive's people pages count with these, over
the whole store or over the messages published in some communities (the public
ones, for the archive): each figure is one grouped query, whatever the network's size.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy import SQLColumnExpression
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.adoption import topics
from gateway.community.publishing import published_here
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Person
from gateway.store.models import Reaction
from gateway.store.models import Thread
from gateway.store.models import ThreadAnswer


@dataclass(frozen=True)
class Standing:
    accepted_answers: int = 0
    thanks_received: int = 0


def standings(
    session: Session, community_ids: Collection[int] | None = None
) -> dict[int, Standing]:
    """Per person id, for people with at least one of either (None: the whole store)."""
    answers = accepted_answers(session, community_ids)
    thanks = thanks_received(session, community_ids)
    return {
        person_id: Standing(answers.get(person_id, 0), thanks.get(person_id, 0))
        for person_id in sorted({*answers, *thanks})
    }


def accepted_answers(
    session: Session,
    community_ids: Collection[int] | None = None,
    topic: Sequence[str] = (),
) -> dict[int, int]:
    """Per person id, their replies accepted as answers by someone else; with a topic
    (gateway.adoption.topics.words), only on threads whose subject has every word of
    it as a whole folded word (topics.mentions: "sécurité" counts "Sécurité réseau",
    "ai" does not count "Email"), as `gateway experts` matches tags."""
    answer = (
        select(Message.sender_id)
        .select_from(ThreadAnswer)
        .join(Message, Message.id == ThreadAnswer.message_id)
        .where(
            # Redundant with the join, it makes SQLite start from the answers, not
            # from every message (as it does from the reactions below).
            Message.id.in_(select(ThreadAnswer.message_id)),
            Message.sender_id.is_not(None),
            Message.parent_id.is_not(None),
            accepted_by_someone_else(Message.sender_id),
            _published_in(community_ids),
        )
    )
    if not topic:
        query = answer.add_columns(func.count()).group_by(Message.sender_id)
        return {person_id: count for person_id, count in session.execute(query) if person_id}
    # One answer per thread at most: grouped by subject, folded and matched here.
    query = (
        answer.join(Thread, Thread.id == ThreadAnswer.thread_id)
        .add_columns(Thread.subject, func.count())
        .group_by(Message.sender_id, Thread.subject)
    )
    counts: dict[int, int] = {}
    for person_id, subject, count in session.execute(query):
        if person_id and topics.mentions(subject, topic):
            counts[person_id] = counts.get(person_id, 0) + count
    return counts


def thanks_received(
    session: Session, community_ids: Collection[int] | None = None
) -> dict[int, int]:
    """Per person id, the thanks they received. A thanks received is a reaction, any
    emoji, put on a message by someone else than its author (the reactor's address is
    not the message's sender address); gateway.adoption.stats counts a community's
    thanks received by the same rule. Here each is someone's: a message stored before
    its author was a person (sender_id NULL) counts in the stats, for no one here."""
    query = (
        select(Message.sender_id, func.count())
        .select_from(Reaction)
        .join(Message, Message.id == Reaction.message_id)
        .join(Person, Person.id == Reaction.person_id)
        .where(
            Message.id.in_(select(Reaction.message_id)),
            Message.sender_id.is_not(None),
            Person.address != Message.sender_address,
            _published_in(community_ids),
        )
        .group_by(Message.sender_id)
    )
    return {person_id: count for person_id, count in session.execute(query) if person_id}


def accepted_by_someone_else(sender_id: SQLColumnExpression[int | None]) -> ColumnElement[bool]:
    """An answer counts for its author (`sender_id`) unless they accepted it themselves
    (the one who accepted it may be gone: answered_by_id NULL still counts)."""
    return func.coalesce(ThreadAnswer.answered_by_id, 0) != sender_id


def _published_in(community_ids: Collection[int] | None) -> ColumnElement[bool]:
    """The message is published in one of these communities (None: anywhere): checked
    on its own few links (+ 0: not probed once per community by the index)."""
    if community_ids is None:
        return Message.status == MessageStatus.PUBLISHED
    return exists().where(
        MessageCommunity.message_id == Message.id,
        (MessageCommunity.community_id + 0).in_(list(community_ids)),
        published_here(),
    )
