"""One person's digest, picked from the window's news: their communities' threads (a
cross-posted thread once), and the sections that invite them to take part."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gateway.digests.news import CommunityRef
from gateway.digests.news import NewMember
from gateway.digests.news import News
from gateway.digests.news import Question
from gateway.digests.news import ThreadNews
from gateway.store.models import Cadence

MOST_ACTIVE = 3
QUESTIONS = 5
# Questions matching the reader's expertise offered in one digest ([adoption]
# questions_per_day): a few a day, so that experts are asked, not flooded.
MATCHED_QUESTIONS = 3
NEW_MEMBERS = 10


@dataclass(frozen=True)
class Reader:
    id: int
    address: str
    name: str
    community_ids: tuple[int, ...]  # those whose delivery is this digest's cadence
    expertise: frozenset[str]  # folded tags (gateway.community.people.fold_tag)
    profile_empty: bool
    muted: frozenset[int] = frozenset()  # threads the reader muted (mute+THREAD@)
    timezone: str | None = None  # the profile's zone; None: the configured one


@dataclass(frozen=True)
class Section:
    community: CommunityRef
    threads: list[ThreadNews]


@dataclass(frozen=True)
class Digest:
    reader: Reader
    cadence: Cadence
    period: str
    start: dt.datetime
    end: dt.datetime
    sections: list[Section]
    most_active: list[ThreadNews]
    questions: list[tuple[Question, bool]]  # and whether it matches the reader's expertise
    new_members: list[NewMember]

    @property
    def message_count(self) -> int:
        return sum(t.new_count for s in self.sections for t in s.threads)

    @property
    def thread_count(self) -> int:
        return sum(len(s.threads) for s in self.sections)

    @property
    def empty(self) -> bool:
        """Nothing new in the reader's communities: no mail."""
        return not self.sections


def assemble(
    reader: Reader,
    news: News,
    cadence: Cadence,
    period: str,
    start: dt.datetime,
    end: dt.datetime,
    matched_questions: int = MATCHED_QUESTIONS,
) -> Digest:
    mine = sorted(
        (news.communities[c] for c in reader.community_ids if c in news.communities),
        key=lambda c: c.name.lower(),
    )
    shown: set[int] = set()
    sections = []
    for community in mine:
        threads = [
            t
            for t in news.threads.get(community.id, [])
            if t.thread_id not in shown and t.thread_id not in reader.muted
        ]
        shown.update(t.thread_id for t in threads)
        if threads:
            sections.append(Section(community, threads))
    every_thread = [t for s in sections for t in s.threads]
    busy = sorted((t for t in every_thread if t.new_count > 1), key=lambda t: -t.new_count)
    most_active = busy[:MOST_ACTIVE] if len(every_thread) > MOST_ACTIVE else []
    return Digest(
        reader=reader,
        cadence=cadence,
        period=period,
        start=start,
        end=end,
        sections=sections,
        most_active=most_active,
        questions=_questions(reader, news, mine, matched_questions),
        new_members=_new_members(reader, news, mine),
    )


def _questions(
    reader: Reader, news: News, mine: list[CommunityRef], matched_questions: int
) -> list[tuple[Question, bool]]:
    """Unanswered questions, those matching the reader's expertise first (at most
    `matched_questions` of them), then the oldest."""
    found: dict[int, Question] = {}
    for community in mine:
        for question in news.questions.get(community.id, []):
            if question.author_id != reader.id:
                found.setdefault(question.thread_id, question)
    ranked = sorted(
        ((q, q.matches(reader.expertise)) for q in found.values()),
        key=lambda pair: (not pair[1], pair[0].asked_at),
    )
    matched = [pair for pair in ranked if pair[1]][:matched_questions]
    return (matched + [pair for pair in ranked if not pair[1]])[:QUESTIONS]


def _new_members(reader: Reader, news: News, mine: list[CommunityRef]) -> list[NewMember]:
    found: dict[int, NewMember] = {}
    for community in mine:
        for member in news.new_members.get(community.id, []):
            if member.person_id != reader.id:
                found.setdefault(member.person_id, member)
    return list(found.values())[:NEW_MEMBERS]
