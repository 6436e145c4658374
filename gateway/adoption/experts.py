"""Who can help on a topic (`gateway experts`): stated expertise and interests, and what
people wrote and answered about it, by community and by the words of their threads.
People whose replies were accepted as the answer on threads about the topic rank
above everyone else (an accepted answer is someone saying "this solved it"; a
stated tag is only a claim).

Stated tags match by words and folded forms (gateway.adoption.topics.tag_matches:
"HDS" finds "HDS certification"). Each signal adds to a score and keeps its reason,
so that the answer says why ("stated expertise: Accessibility", "3 answers in
Design", "3 accepted answers on pricing"). Weights are here, in one place; four
grouped queries whatever the size of the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.adoption import topics
from gateway.community.publishing import published_here
from gateway.engagement.standing import accepted_answers
from gateway.errors import InvalidInput
from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import Person
from gateway.store.models import PersonTag
from gateway.store.models import TagKind
from gateway.store.models import Thread

STATED = {TagKind.EXPERTISE: 10.0, TagKind.INTEREST: 4.0}
ACCEPTED_ON_TOPIC = 12.0  # a reply accepted as the answer on a thread about the topic
ANSWER_ON_TOPIC = 3.0  # a reply in a thread whose subject is about the topic
THREAD_ON_TOPIC = 1.0  # a thread started about it
ANSWER_IN_COMMUNITY = 0.5  # a reply in a community about the topic...
COMMUNITY_CAP = 10  # ...counted up to this many per community
LIMIT = 10


@dataclass(frozen=True)
class Reason:
    """Why someone ranks: kind is accepted (answers accepted on the topic), expertise,
    interest, answers (on the topic), threads (started on it) or community (answers
    in a community about it)."""

    kind: str
    label: str = ""  # the stated tag
    topic: str = ""  # the query, for accepted answers
    count: int = 0
    community: str = ""  # slug
    community_name: str = ""


@dataclass
class Expert:
    person_id: int
    address: str = ""
    name: str = ""
    department: str = ""
    score: float = 0.0
    reasons: list[Reason] = field(default_factory=list)
    accepted_answers: int = 0


def find_experts(session: Session, query: str, limit: int = LIMIT) -> list[Expert]:
    """The people most likely to help on `query`, best first, with their reasons."""
    topic = topics.words(query)
    if not topic:
        raise InvalidInput("the topic to find experts on is empty")
    found: dict[int, Expert] = {}

    def add(person_id: int, points: float, reason: Reason) -> None:
        expert = found.setdefault(person_id, Expert(person_id))
        expert.score += points
        expert.reasons.append(reason)

    communities = {
        c.id: c for c in session.scalars(select(Community).where(Community.closed_at.is_(None)))
    }
    for person_id, count in accepted_answers(session, list(communities), topic).items():
        add(person_id, ACCEPTED_ON_TOPIC * count, Reason("accepted", count=count, topic=query))
        found[person_id].accepted_answers = count
    # SQL narrows to tags holding one of the words; topics.words_match decides.
    for person_id, kind, tag, label in session.execute(
        select(PersonTag.person_id, PersonTag.kind, PersonTag.tag, PersonTag.label)
        .where(or_(*(PersonTag.tag.contains(word, autoescape=True) for word in topic)))
        .order_by(PersonTag.kind, PersonTag.position)
    ):
        if topics.words_match(topics.words(tag), topic):
            add(person_id, STATED[TagKind(kind)], Reason(TagKind(kind).value, label=label))
    for person_id, community_id, answers, started in _activity(session, topic):
        community = communities.get(community_id)
        if community is None:
            continue
        where = {"community": community.slug, "community_name": community.name}
        if answers:
            add(person_id, ANSWER_ON_TOPIC * answers, Reason("answers", count=answers, **where))
        if started:
            add(person_id, THREAD_ON_TOPIC * started, Reason("threads", count=started, **where))
    about = [c.id for c in communities.values() if _about(c, topic)]
    for person_id, community_id, answers in _answers_in(session, about):
        community = communities[community_id]
        counted = min(answers, COMMUNITY_CAP)
        add(
            person_id,
            ANSWER_IN_COMMUNITY * counted,
            Reason(
                "community", count=answers, community=community.slug,
                community_name=community.name,
            ),
        )  # fmt: skip
    # Those with an accepted answer first, whatever the others state.
    ranked = sorted(found.values(), key=lambda e: (e.accepted_answers == 0, -e.score, e.person_id))[
        :limit
    ]
    ids = [e.person_id for e in ranked]
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
    for expert in ranked:
        person = people[expert.person_id]
        expert.address, expert.name, expert.department = (
            person.address, person.name, person.department,
        )  # fmt: skip
    return ranked


def _activity(session: Session, topic: tuple[str, ...]) -> list[Any]:
    """Per person and community: replies and threads started in threads about the topic."""
    reply = case((Message.parent_id.is_not(None), 1), else_=0)
    return list(
        session.execute(
            select(
                Message.sender_id,
                MessageCommunity.community_id,
                func.sum(reply),
                func.sum(1 - reply),
            )
            .join(MessageCommunity, MessageCommunity.message_id == Message.id)
            .join(Thread, Thread.id == Message.thread_id)
            .where(
                published_here(),
                Message.sender_id.is_not(None),
                topics.subject_matches(Thread.subject, topic),
            )
            .group_by(Message.sender_id, MessageCommunity.community_id)
        ).all()
    )


def _answers_in(session: Session, community_ids: list[int]) -> list[Any]:
    if not community_ids:
        return []
    return list(
        session.execute(
            select(Message.sender_id, MessageCommunity.community_id, func.count())
            .join(MessageCommunity, MessageCommunity.message_id == Message.id)
            .where(
                MessageCommunity.community_id.in_(community_ids),
                published_here(),
                Message.sender_id.is_not(None),
                Message.parent_id.is_not(None),
            )
            .group_by(Message.sender_id, MessageCommunity.community_id)
        ).all()
    )


def _about(community: Community, topic: tuple[str, ...]) -> bool:
    text = f"{community.slug} {community.name} {community.description}"
    return any(topics.mentions(text, [word]) for word in topic)


# --- the stable shape printed by --json (documented in the README)


def describe_reason(reason: Reason) -> dict[str, Any]:
    shape: dict[str, Any] = {"kind": reason.kind}
    if reason.label:
        shape["label"] = reason.label
    if reason.topic:
        shape.update(count=reason.count, topic=reason.topic)
    if reason.community:
        shape.update(count=reason.count, community=reason.community)
        shape["community_name"] = reason.community_name
    return shape


def describe_expert(expert: Expert) -> dict[str, Any]:
    return {
        "email": expert.address,
        "name": expert.name,
        "department": expert.department,
        "score": round(expert.score, 1),
        "reasons": [describe_reason(r) for r in expert.reasons],
    }
