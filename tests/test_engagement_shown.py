"""Reactions and accepted answers as pages and digests read them (SQLite and PostgreSQL):
grouped per message and per thread, most used first, names in the order people reacted,
a person once per emoji, only published messages, only the people who may be named
named, and at most MAX_NAMES names shown, then "and N others"."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from gateway.community.communities import create_community
from gateway.community.people import ensure_person
from gateway.engagement.answers import accept_answer
from gateway.engagement.shown import MAX_NAMES
from gateway.engagement.shown import ReactionCount
from gateway.engagement.shown import message_reactions
from gateway.engagement.shown import thread_answers
from gateway.engagement.shown import thread_reactions
from gateway.store.models import Message
from gateway.store.models import MessageStatus
from gateway.store.models import Person
from gateway.store.models import Reaction
from gateway.store.models import ReactionSource
from gateway.store.models import Thread
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

    shown = message_reactions(session)

    assert shown[reply.id] == (
        ReactionCount("👍", 2, ("bob", "Ann Lee")),
        ReactionCount("🙏", 1, ("Cy",)),
        ReactionCount("🎉", 1, ("Ann Lee",)),
    )
    assert shown[question.id] == (ReactionCount("👍", 1, ("bob",)),)
    assert quiet.id not in shown
    # Only the people the site shows are named: the others are counted.
    named = message_reactions(session, {ann.id})
    assert named[reply.id][0] == ReactionCount("👍", 2, ("Ann Lee",))
    assert named[question.id] == (ReactionCount("👍", 1, ()),)


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
        thread.id: (ReactionCount("👍", 2, ("Bob", "Ann")), ReactionCount("🙏", 1, ("Ann",)))
    }
    assert elsewhere.id not in shown
    assert thread_reactions(session, []) == {}
    earlier = thread_reactions(session, [thread.id], until=NOON + dt.timedelta(minutes=1.5))
    assert earlier == {thread.id: (ReactionCount("👍", 1, ("Bob",)),)}


def test_a_thread_counts_a_person_once_per_emoji_and_published_messages_only(
    session: Session,
) -> None:
    design = create_community(session, "design", "Design")
    ann = person(session, "ann@example.com", "Alice")
    bob = person(session, "bob@example.com", "Bob")
    question = stored_post(session, "q@x", design, sender=bob)
    reply = stored_post(session, "r@x", design, sender=bob)
    held = stored_post(session, "h@x", design, sender=bob, status=MessageStatus.HELD)
    thread = thread_of(session, question, reply, held)
    react(session, question, ann, "👍", 1)
    react(session, reply, ann, "👍", 2)  # Alice's second 👍 in the thread: one
    react(session, held, bob, "👍", 3)  # on a message no one was sent: none
    react(session, held, bob, "🔒", 4)

    shown = thread_reactions(session, [thread.id])

    assert shown == {thread.id: (ReactionCount("👍", 1, ("Alice",)),)}


def test_reactions_of_more_threads_than_one_in_list_keep_their_order(session: Session) -> None:
    design = create_community(session, "design", "Design")
    ann = person(session, "ann@example.com", "Ann")
    bob = person(session, "bob@example.com", "Bob")
    message = stored_post(session, "m@x", design, sender=ann)
    thread = thread_of(session, message)
    react(session, message, bob, "👍", 1)
    react(session, message, ann, "👍", 2)
    asked = [thread.id + 1 + n for n in range(IN_LIST + 1)] + [thread.id]

    shown = thread_reactions(session, asked)

    assert shown == {thread.id: (ReactionCount("👍", 2, ("Bob", "Ann")),)}


def test_a_reaction_is_shown_with_at_most_ten_names_then_the_others_counted() -> None:
    names = tuple(f"P{n}" for n in range(12))
    first_ten = ", ".join(names[:MAX_NAMES])

    assert MAX_NAMES == 10
    assert ReactionCount("👍", 2, ("Ann", "Bob")).shown("en") == {
        "emoji": "👍", "count": 2, "names": "Ann, Bob",
    }  # fmt: skip
    assert ReactionCount("👍", 12, names).shown("en")["names"] == f"{first_ten} and 2 others"
    assert ReactionCount("👍", 13, names).shown("fr")["names"] == f"{first_ten} et 3 autres"
    assert ReactionCount("👍", 3, ("Ann", "Bob")).shown("en")["names"] == "Ann, Bob and 1 other"
    assert ReactionCount("👍", 2, ("Ann",)).shown("fr")["names"] == "Ann et 1 autre"
    assert ReactionCount("🙏", 2, ()).shown("en")["names"] == "2 people"
    assert ReactionCount("🙏", 1, ()).shown("fr")["names"] == "1 personne"


def test_each_thread_has_its_accepted_answer(session: Session) -> None:
    design = create_community(session, "design", "Design")
    ann = person(session, "ann@example.com", "Ann")
    question = stored_post(session, "q@x", design, sender=ann)
    reply = stored_post(session, "r@x", design)
    open_question = stored_post(session, "open@x", design, sender=ann)
    thread = thread_of(session, question, reply)
    unanswered = thread_of(session, open_question)
    at = NOON + dt.timedelta(hours=1)
    accept_answer(session, thread.id, reply.id, ann.id, at)

    expected = {thread.id: reply.id}
    assert thread_answers(session) == expected
    assert thread_answers(session, [thread.id, unanswered.id]) == expected
    assert thread_answers(session, [unanswered.id]) == {}
    assert thread_answers(session, [thread.id], until=at) == {}  # chosen after the window
    reply.status = MessageStatus.REJECTED  # taken back after it was chosen: no answer
    session.flush()
    assert thread_answers(session) == {}
