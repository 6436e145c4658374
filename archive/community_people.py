"""Who a community page shows besides its threads: its owners and moderators, the
members whose stated expertise matches what it is about, and its most helpful members.

Experts: a member's expertise tag matches the community's slug words, name and
description by gateway.adoption.topics.words_match (the matching of `gateway experts`);
in a community of interest, stated interests count too.

Most helpful: a member's replies that someone else answered (a reply to their message
by another person), over the whole history, imported mail included. A thanked reply
would count as well, but reactions do not exist yet (issue 22). The adoption figures
(gateway.adoption.stats) count posts in a window, not this, so it is counted here once
per build from the site's index: only public messages and public people reach it.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections import defaultdict
from dataclasses import dataclass

from archive.snapshot import SiteIndex
from gateway.adoption import topics
from gateway.store.models import Kind
from gateway.store.models import Role

HELPFUL_SHOWN = 5
EXPERTS_SHOWN = 12


@dataclass(frozen=True)
class CommunityPeople:
    owners: tuple[int, ...] = ()
    moderators: tuple[int, ...] = ()
    experts: tuple[tuple[int, tuple[str, ...]], ...] = ()  # person, the labels that matched
    helpful: tuple[tuple[int, int], ...] = ()  # person, their replies others answered


def community_people(index: SiteIndex) -> dict[int, CommunityPeople]:
    """Every public community's people, from the index alone (no query)."""
    helpful = _answered_replies(index)
    members: dict[int, list[int]] = defaultdict(list)
    for person in index.people.values():
        for community_id in person.communities:
            members[community_id].append(person.id)
    # People state the same few tags: each is folded once per build.
    words = functools.cache(topics.words)
    tag_words = {
        person.id: (
            [(words(tag), label) for tag, label in person.expertise],
            [(words(tag), label) for tag, label in person.interests],
        )
        for person in index.people.values()
    }
    found: dict[int, CommunityPeople] = {}
    for community in index.communities.values():
        about = topics.words(f"{community.slug.replace('-', ' ')} {community.name}")
        about += topics.words(community.description)
        experts = []
        for person_id in members.get(community.id, []):
            expertise, interests = tag_words[person_id]
            stated = expertise + interests if community.kind == Kind.INTEREST else expertise
            labels = tuple(label for words, label in stated if topics.words_match(words, about))
            if labels:
                experts.append((person_id, labels))
        experts.sort(key=lambda e: (-len(e[1]), _name_key(index, e[0])))
        staff = [(role, p) for role, p in community.staff if p in index.people]
        counts = helpful.get(community.id, Counter())
        found[community.id] = CommunityPeople(
            owners=tuple(p for role, p in staff if role == Role.OWNER),
            moderators=tuple(p for role, p in staff if role == Role.MODERATOR),
            experts=tuple(experts[:EXPERTS_SHOWN]),
            helpful=tuple(
                sorted(counts.items(), key=lambda c: (-c[1], _name_key(index, c[0])))[
                    :HELPFUL_SHOWN
                ]
            ),
        )
    return found


def _answered_replies(index: SiteIndex) -> dict[int, Counter[int]]:
    """Per community, per person: their replies answered by someone else."""
    counts: dict[int, Counter[int]] = defaultdict(Counter)
    for thread in index.threads.values():
        answerers: dict[int, set[int | None]] = defaultdict(set)
        for message in thread.messages:
            if message.parent_id is not None:
                answerers[message.parent_id].add(message.sender_id)
        for message in thread.messages:
            author = message.sender_id
            if message.parent_id is None or author is None or author not in index.people:
                continue
            if answerers.get(message.id, set()) - {author}:
                for community_id in message.communities:
                    counts[community_id][author] += 1
    return counts


def _name_key(index: SiteIndex, person_id: int) -> tuple[str, int]:
    return (index.people[person_id].display_name.casefold(), person_id)
