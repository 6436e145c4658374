"""Reactions and accepted answers on the crafted network of tests/adoption_network.py,
inserted as rows (parts R and A build the mail side), with the figures they make."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from gateway.app import App
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.models import Person
from gateway.store.models import Reaction
from gateway.store.models import ReactionSource
from gateway.store.models import ThreadAnswer
from tests import adoption_network as net

# (question's key, answer's key, accepted by, days ago)
ANSWERS = [
    ("p1", "p2", "alice@example.com", 19),  # bob's answer to alice's question
    ("p7", "p8", "alice@example.com", 4),  # bob's again, cross-posted (design, security)
    ("i1", "i2", "alice@example.com", 2),  # carol's, on an imported thread
    ("p5", "p6", "alice@example.com", 13),  # alice's own: counted in totals, not for her
]
# (message's key, who, emoji, days ago, source)
REACTIONS = [
    ("p2", "carol@example.com", "👍", 18, ReactionSource.RFC9078),
    ("p2", "alice@example.com", "🎉", 18, ReactionSource.GMAIL),
    ("p8", "alice@example.com", "👍", 3, ReactionSource.REPLY),
    ("p8", "bob@example.com", "👍", 3, ReactionSource.CLI),  # on his own post: no thanks
    ("p6", "carol@example.com", "❤️", 12, ReactionSource.RFC9078),
    ("p9", "erin@example.com", "👍", 7, ReactionSource.REPLY),  # her own, private
    ("p9", "dave@example.com", "🙏", 7, ReactionSource.REPLY),  # private community
]


def message_ids(app: App) -> dict[str, int]:
    with transaction(app.read_sessions) as session:
        rows = session.execute(select(Message.message_id, Message.id))
        return {message_id.split("@")[0]: id_ for message_id, id_ in rows}


def seed(app: App) -> None:
    ids = message_ids(app)
    with transaction(app.sessions) as session:
        people = dict(session.execute(select(Person.address, Person.id)).all())
        threads = dict(session.execute(select(Message.id, Message.thread_id)).all())
        for question, answer, by, days in ANSWERS:
            session.add(
                ThreadAnswer(
                    thread_id=threads[ids[question]],
                    message_id=ids[answer],
                    answered_by_id=people[by],
                    answered_at=net.NOW - dt.timedelta(days=days),
                )
            )
        for key, who, emoji, days, source in REACTIONS:
            session.add(
                Reaction(
                    message_id=ids[key],
                    person_id=people[who],
                    emoji=emoji,
                    source=source,
                    created_at=net.NOW - dt.timedelta(days=days),
                )
            )
