"""Reactions and accepted answers as pages and digests read them (SQLite and PostgreSQL):
grouped per message and per thread, most used first, names in the order people reacted."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from gateway.community.communities import create_community
from gateway.community.people import ensure_person
from gateway.engagement.shown import Answer
from gateway.engagement.shown import ReactionCount
from gateway.engagement.shown import message_reactions
from gateway.engagement.shown import thread_answers
from gateway.engagement.shown import thread_reactions
from gateway.store.models import Message
from gateway.store.models import Person
from gateway.store.models import Reaction
from gateway.store.models import ReactionSource
from gateway.store.models import Thread
from gateway.store.models import ThreadAnswer
from gateway.store.sql import IN_LIST
from tests.factories import stored_post

NOON = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


def person(session: Session, address: str, name: str = "") -> Person:
    found = ensure_person(session, address)
    found.name = name
    return found


def thread_of(session: Session, *messages: Message) -> Thread:
    thread = Thread(subject="Colours", message_count=len(messages))
    session.add(thread)
    session.flush()
    for message in messages:
        message.thread_id = thread.id
    session.flush()
    return thread


def react(session: Session, message: Message, who: Person, emoji: str, minutes: int) -> None:
    session.add(
        Reaction(
            message_id=message.id,
            person_id=who.id,
            emoji=emoji,
            source=ReactionSource.CLI,
            created_at=NOON + dt.timedelta(minutes=minutes),
        )
    )
    session.flush()


def test_reactions_are_grouped_most_used_first_with_names_in_order(session: Session) -> None:
    design = create_community(session, "design", "Design")
    ann = person(session, "ann@example.com", "Ann Lee")
    bob = person(session, "bob@example.com")  # no name: the address's local part
    cy = person(session, "cy@example.com", "Cy")
    question = stored_post(session, "q@x", design, sender=ann)
    reply = stored_post(session, "r@x", design, sender=bob)
    quiet = stored_post(session, "quiet@x", design, sender=cy)
    react(session, reply, cy, "🙏", 1)  # used first, then outnumbered by 👍
    react(session, reply, bob, "👍", 2)
    react(session, reply, ann, "👍", 3)
    react(session, reply, ann, "🎉", 4)  # as many as 🙏, used later: after it
    react(session, question, bob, "👍", 5)

    shown = message_reactions(session, [question.id, reply.id, quiet.id])

    assert shown[reply.id] == (
        ReactionCount("👍", ("bob", "Ann Lee")),
        ReactionCount("🙏", ("Cy",)),
        ReactionCount("🎉", ("Ann Lee",)),
    )
    assert shown[reply.id][0].count == 2
    assert shown[question.id] == (ReactionCount("👍", ("bob",)),)
    assert quiet.id not in shown
    assert message_reactions(session) == shown  # the whole table: the same
    assert message_reactions(session, [question.id]) == {question.id: shown[question.id]}
    earlier = message_reactions(session, until=NOON + dt.timedelta(minutes=2, seconds=30))
    assert earlier == {reply.id: (ReactionCount("🙏", ("Cy",)), ReactionCount("👍", ("bob",)))}


def test_a_thread_counts_the_reactions_on_all_its_messages(session: Session) -> None:
    design = create_community(session, "design", "Design")
    ann = person(session, "ann@example.com", "Ann")
    bob = person(session, "bob@example.com", "Bob")
    question = stored_post(session, "q@x", design, sender=ann)
    reply = stored_post(session, "r@x", design, sender=bob)
    other = stored_post(session, "o@x", design, sender=bob)
    thread = thread_of(session, question, reply)
    elsewhere = thread_of(session, other)
    react(session, question, bob, "👍", 1)
    react(session, reply, ann, "👍", 2)
    react(session, reply, ann, "🙏", 3)
    react(session, other, ann, "🎉", 4)

    shown = thread_reactions(session, [thread.id])

    assert shown == {
        thread.id: (ReactionCount("👍", ("Bob", "Ann")), ReactionCount("🙏", ("Ann",)))
    }
    assert elsewhere.id not in shown
    assert thread_reactions(session, []) == {}


def test_reactions_of_more_messages_than_one_in_list_keep_their_order(session: Session) -> None:
    design = create_community(session, "design", "Design")
    ann = person(session, "ann@example.com", "Ann")
    bob = person(session, "bob@example.com", "Bob")
    messages = [stored_post(session, f"{n}@x", design, sender=ann) for n in range(IN_LIST + 2)]
    last = messages[-1]
    react(session, last, bob, "👍", 1)
    react(session, last, ann, "👍", 2)

    shown = message_reactions(session, [m.id for m in messages])

    assert shown == {last.id: (ReactionCount("👍", ("Bob", "Ann")),)}


def test_each_thread_has_its_accepted_answer(session: Session) -> None:
    design = create_community(session, "design", "Design")
    ann = person(session, "ann@example.com", "Ann")
    question = stored_post(session, "q@x", design, sender=ann)
    reply = stored_post(session, "r@x", design)
    open_question = stored_post(session, "open@x", design, sender=ann)
    thread = thread_of(session, question, reply)
    unanswered = thread_of(session, open_question)
    at = NOON + dt.timedelta(hours=1)
    answer = ThreadAnswer(thread_id=thread.id, message_id=reply.id, answered_by_id=ann.id)
    answer.answered_at = at
    session.add(answer)
    session.flush()

    expected = {thread.id: Answer(thread.id, reply.id, ann.id, at)}
    assert thread_answers(session) == expected
    assert thread_answers(session, [thread.id, unanswered.id]) == expected
    assert thread_answers(session, [unanswered.id]) == {}
    assert thread_answers(session, [thread.id], until=at) == {}  # chosen after the window
