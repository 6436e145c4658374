"""Communities a person is not in that match their interests, expertise and department
(`gateway suggest`, the monthly mails, and the welcome mail).

A Matcher reads the open public communities and who is in them once; each person's
suggestions are then worked out in memory, so the monthly mail to 10,000 people
costs a few queries. Private communities are never suggested: they may not want it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.adoption import topics
from gateway.community.people import fold_tag
from gateway.community.people import get_person
from gateway.store.models import Community
from gateway.store.models import Membership
from gateway.store.models import Person
from gateway.store.models import PersonTag
from gateway.store.models import TagKind
from gateway.store.models import Visibility

TAG_POINTS = {TagKind.EXPERTISE: 3.0, TagKind.INTEREST: 3.0}
DEPARTMENT_NAME = 4.0  # the community is named after the person's department
COLLEAGUE = 1.0  # per member of the same department...
COLLEAGUES_CAP = 5  # ...up to this many
LIMIT = 5


@dataclass(frozen=True)
class Reason:
    """kind: expertise or interest (label: the tag), or department (label: its name,
    count: the colleagues of that department who are members)."""

    kind: str
    label: str
    count: int = 0


@dataclass
class Suggestion:
    slug: str
    name: str
    description: str
    members: int
    score: float = 0.0
    reasons: list[Reason] = field(default_factory=list)


@dataclass(frozen=True)
class Profile:
    """What suggestions are made from."""

    person_id: int
    department: str
    tags: tuple[tuple[TagKind, str, str], ...]  # kind, folded tag, label
    member_of: frozenset[int]


@dataclass(frozen=True)
class _Community:
    id: int
    slug: str
    name: str
    description: str
    text: str  # folded, padded with spaces
    members: int


class Matcher:
    def __init__(self, session: Session) -> None:
        rows = session.scalars(
            select(Community)
            .where(Community.visibility == Visibility.PUBLIC, Community.closed_at.is_(None))
            .order_by(Community.slug)
        )
        counts = dict(
            session.execute(
                select(Membership.community_id, func.count()).group_by(Membership.community_id)
            ).all()
        )
        self.communities = [
            _Community(
                c.id,
                c.slug,
                c.name,
                c.description,
                topics.folded(f"{c.slug.replace('-', ' ')} {c.name} {c.description}"),
                counts.get(c.id, 0),
            )  # fmt: skip
            for c in rows
        ]
        self.colleagues: dict[tuple[int, str], int] = {}
        for community_id, department, count in session.execute(
            select(Membership.community_id, Person.department, func.count())
            .join(Person, Person.id == Membership.person_id)
            .where(Person.department != "")
            .group_by(Membership.community_id, Person.department)
        ):
            key = (community_id, fold_tag(department))
            self.colleagues[key] = self.colleagues.get(key, 0) + count

    def suggest(self, profile: Profile, limit: int = LIMIT) -> list[Suggestion]:
        department = fold_tag(profile.department)
        found = []
        for community in self.communities:
            if community.id in profile.member_of:
                continue
            suggestion = Suggestion(
                community.slug, community.name, community.description, community.members
            )
            for kind, tag, label in profile.tags:
                if f" {' '.join(topics.words(tag))} " in community.text:
                    suggestion.score += TAG_POINTS[kind]
                    suggestion.reasons.append(Reason(kind.value, label))
            if department:
                named = f" {' '.join(topics.words(department))} " in community.text
                colleagues = self.colleagues.get((community.id, department), 0)
                if named or colleagues:
                    suggestion.score += DEPARTMENT_NAME * named
                    suggestion.score += COLLEAGUE * min(colleagues, COLLEAGUES_CAP)
                    suggestion.reasons.append(Reason("department", profile.department, colleagues))
            if suggestion.score:
                found.append(suggestion)
        found.sort(key=lambda s: (-s.score, -s.members, s.slug))
        return found[:limit]


def profiles(session: Session, person_ids: list[int] | None = None) -> dict[int, Profile]:
    """The profiles of these people (everyone: None), in three queries."""
    people = select(Person.id, Person.department)
    tags = select(PersonTag.person_id, PersonTag.kind, PersonTag.tag, PersonTag.label).order_by(
        PersonTag.person_id, PersonTag.kind, PersonTag.position
    )
    memberships = select(Membership.person_id, Membership.community_id)
    if person_ids is not None:
        people = people.where(Person.id.in_(person_ids))
        tags = tags.where(PersonTag.person_id.in_(person_ids))
        memberships = memberships.where(Membership.person_id.in_(person_ids))
    tagged: dict[int, list[tuple[TagKind, str, str]]] = defaultdict(list)
    for person_id, kind, tag, label in session.execute(tags):
        tagged[person_id].append((TagKind(kind), tag, label))
    member_of: dict[int, set[int]] = defaultdict(set)
    for person_id, community_id in session.execute(memberships):
        member_of[person_id].add(community_id)
    return {
        person_id: Profile(
            person_id, department, tuple(tagged[person_id]), frozenset(member_of[person_id])
        )
        for person_id, department in session.execute(people)
    }


def suggest_for(session: Session, address: str, limit: int = LIMIT) -> list[Suggestion]:
    """The communities to suggest to one person (raises NotFound for an unknown address).

    The welcome mail calls this with the new member's address, after the join, and
    lays out describe_suggestion()'s values (their `join_link` is the one click).
    """
    person = get_person(session, address)
    return Matcher(session).suggest(profiles(session, [person.id])[person.id], limit)


def join_address(slug: str, domain: str) -> str:
    return f"{slug}-join@{domain}"


# --- the stable shape printed by --json (documented in the README)


def describe_suggestion(suggestion: Suggestion, domain: str) -> dict[str, Any]:
    return {
        "slug": suggestion.slug,
        "name": suggestion.name,
        "description": suggestion.description,
        "members": suggestion.members,
        "score": suggestion.score,
        "join": join_address(suggestion.slug, domain),
        # One click in a mail: the join request, which the person then confirms.
        "join_link": f"mailto:{join_address(suggestion.slug, domain)}?subject=join",
        "reasons": [
            {
                "kind": r.kind,
                "label": r.label,
                **({"count": r.count} if r.kind == "department" else {}),
            }
            for r in suggestion.reasons
        ],
    }
