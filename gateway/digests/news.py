"""What happened in some communities during a window: the raw material of digests.

Gathered once per window for every community a digest run covers, with a few
set-based queries; each person's digest then picks its communities from it, so
10,000 digests cost ten queries, not ten per person.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from dataclasses import field
from typing import TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import links
from gateway.adoption.topics import unpunctuated
from gateway.community.people import fold_tag
from gateway.community.publishing import published_here
from gateway.digests.excerpts import excerpt
from gateway.engagement.shown import ReactionCount
from gateway.engagement.shown import thread_answers
from gateway.engagement.shown import thread_reactions
from gateway.store.models import Attachment
from gateway.store.models import Community
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import Origin
from gateway.store.models import Person
from gateway.store.models import PersonTag
from gateway.store.models import TagKind
from gateway.store.models import Thread
from gateway.store.models import Visibility
from gateway.store.models import as_utc

# A question is a thread whose first post asks something and got no reply after
# this long ([adoption] unanswered_after_hours); older than QUESTION_HORIZON, it is
# no longer news.
UNANSWERED_AFTER = dt.timedelta(days=2)
QUESTION_HORIZON = dt.timedelta(days=14)
EXCERPT_SOURCE = 4000  # characters of a body read to make its excerpt


@dataclass(frozen=True)
class CommunityRef:
    id: int
    slug: str
    name: str
    public: bool


@dataclass(frozen=True)
class Entry:
    """One new message of a thread."""

    author: str
    excerpt: str
    received_at: dt.datetime
    address: str = ""  # the author's, for a reply to them
    message_id: str = ""  # without angle brackets, for a reply's In-Reply-To


@dataclass(frozen=True)
class FileLink:
    filename: str
    url: str
    size: int
    sha256: str = ""
    content_type: str = ""


@dataclass
class ThreadNews:
    thread_id: int
    subject: str
    url: str  # "" for a thread in no public community
    community_ids: list[int] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    files: list[FileLink] = field(default_factory=list)
    # Over all its messages, as the window ends (gateway.engagement.shown): most used first.
    reactions: tuple[ReactionCount, ...] = ()
    answered: bool = False  # whether an accepted answer was chosen

    @property
    def new_count(self) -> int:
        return len(self.entries)

    @property
    def latest_message_id(self) -> str:
        """The newest message shown: a reply to the thread answers it."""
        return self.entries[-1].message_id if self.entries else ""

    @property
    def authors(self) -> list[str]:
        return list(dict.fromkeys(entry.author for entry in self.entries))


@dataclass(frozen=True)
class Question:
    thread_id: int
    subject: str
    url: str
    community_id: int
    author: str
    author_id: int | None
    asked_at: dt.datetime
    excerpt: str
    # Subject and excerpt folded like tags (gateway.community.people.fold_tag), between spaces.
    folded: str

    def matches(self, tags: frozenset[str]) -> bool:
        """Whether a tag, of one word or several ("print design"), is in the question."""
        return any(f" {tag} " in self.folded for tag in tags)


@dataclass(frozen=True)
class NewMember:
    person_id: int
    name: str
    address: str
    community_id: int
    expertise: tuple[str, ...]


@dataclass
class News:
    """Everything new in a window, per community."""

    communities: dict[int, CommunityRef]
    threads: dict[int, list[ThreadNews]]  # community id -> its threads, busiest first
    questions: dict[int, list[Question]]
    new_members: dict[int, list[NewMember]]


def gather(
    session: Session,
    community_ids: Collection[int],
    start: dt.datetime,
    end: dt.datetime,
    base_url: str,
    unanswered_after: dt.timedelta = UNANSWERED_AFTER,
) -> News:
    ids = sorted(community_ids)
    communities = {
        c.id: CommunityRef(c.id, c.slug, c.name, c.visibility is Visibility.PUBLIC)
        for c in session.scalars(select(Community).where(Community.id.in_(ids)))
    }
    return News(
        communities=communities,
        threads=_threads(session, communities, start, end, base_url),
        questions=_questions(session, communities, end, base_url, unanswered_after),
        new_members=_new_members(session, ids, start, end),
    )


def unanswered_questions(
    session: Session,
    community_ids: Collection[int],
    end: dt.datetime,
    base_url: str,
    unanswered_after: dt.timedelta = UNANSWERED_AFTER,
    horizon: dt.timedelta = QUESTION_HORIZON,
) -> dict[int, list[Question]]:
    """The questions of these communities still unanswered at `end`, asked within
    `horizon` (the monthly mails offer them too, gateway.adoption.monthly, and the
    archive's home page lists them, archive.build)."""
    communities = {
        c.id: CommunityRef(c.id, c.slug, c.name, c.visibility is Visibility.PUBLIC)
        for c in session.scalars(select(Community).where(Community.id.in_(sorted(community_ids))))
    }
    return _questions(session, communities, end, base_url, unanswered_after, horizon)


def _published_smtp() -> ColumnElement[bool]:
    """Posts people were told about: published in the community (a cross-post may still
    wait in another), not imported history."""
    return and_(
        published_here(),
        Message.origin == Origin.SMTP,
    )


def _threads(
    session: Session,
    communities: dict[int, CommunityRef],
    start: dt.datetime,
    end: dt.datetime,
    base_url: str,
) -> dict[int, list[ThreadNews]]:
    rows = session.execute(
        select(
            Message.id,
            Message.thread_id,
            Message.sender_name,
            Message.sender_address,
            func.substr(Message.body_text, 1, EXCERPT_SOURCE),
            Message.received_at,
            MessageCommunity.community_id,
            Message.message_id,
        )
        .join(MessageCommunity, MessageCommunity.message_id == Message.id)
        .where(*_in_window(communities, start, end))
        .order_by(Message.received_at, Message.id)
    ).all()
    thread_ids = {row[1] for row in rows}
    subjects = _subjects(session, thread_ids)
    news: dict[int, ThreadNews] = {}
    seen: set[tuple[int, int]] = set()
    message_thread: dict[int, int] = {}
    for message_id, thread_id, name, address, body, received_at, community_id, mid in rows:
        item = news.get(thread_id)
        if item is None:
            item = news[thread_id] = ThreadNews(thread_id, subjects.get(thread_id, ""), "")
        if community_id not in item.community_ids:
            item.community_ids.append(community_id)
            if communities[community_id].public and not item.url:
                item.url = links.thread_url(base_url, thread_id)
        if (thread_id, message_id) not in seen:
            seen.add((thread_id, message_id))
            message_thread[message_id] = thread_id
            item.entries.append(
                Entry(name or address, excerpt(body or ""), as_utc(received_at), address, mid)
            )
    for message_id, filename, sha256, size, content_type in session.execute(
        select(
            Attachment.message_id,
            Attachment.filename,
            Attachment.sha256,
            Attachment.size,
            Attachment.content_type,
        )
        .where(Attachment.message_id.in_(list(message_thread)), Attachment.inline.is_(False))
        .order_by(Attachment.message_id, Attachment.position)
    ):
        item = news[message_thread[message_id]]
        url = links.attachment_url(base_url, sha256, filename) if item.url else ""
        item.files.append(FileLink(filename, url, size, sha256, content_type))
    for thread_id, reactions in thread_reactions(session, list(news), end).items():
        news[thread_id].reactions = reactions
    for thread_id in thread_answers(session, list(news), end):
        news[thread_id].answered = True
    return _by_community(list(news.values()))


_Shown = TypeVar("_Shown", "ThreadNews", "ThreadHead")


def _by_community(threads: list[_Shown]) -> dict[int, list[_Shown]]:
    """Each community's threads, as a digest orders its blocks: busiest first."""
    by_community: dict[int, list[_Shown]] = defaultdict(list)
    for item in threads:
        for community_id in item.community_ids:
            by_community[community_id].append(item)
    for items in by_community.values():
        items.sort(key=lambda t: (-t.new_count, t.subject.lower()))
    return dict(by_community)


def _in_window(
    community_ids: Collection[int], start: dt.datetime, end: dt.datetime
) -> tuple[ColumnElement[bool], ...]:
    """A digest's posts: in these communities, received in the window, threaded, and
    published there by mail."""
    return (
        MessageCommunity.community_id.in_(list(community_ids)),
        Message.received_at >= start,
        Message.received_at < end,
        Message.thread_id.is_not(None),
        _published_smtp(),
    )


@dataclass
class ThreadHead:
    """A thread block of a digest, by what a reply to it needs: no excerpts or files."""

    thread_id: int
    subject: str
    latest_message_id: str = ""  # the newest message shown: a reply answers it
    community_ids: list[int] = field(default_factory=list)
    new_count: int = 0


def thread_heads(
    session: Session, community_ids: Collection[int], start: dt.datetime, end: dt.datetime
) -> dict[int, list[ThreadHead]]:
    """The threads gather() shows for each community in this window, in the same order,
    read with one light query (gateway.actions.replies)."""
    rows = session.execute(
        select(Message.id, Message.thread_id, MessageCommunity.community_id, Message.message_id)
        .join(MessageCommunity, MessageCommunity.message_id == Message.id)
        .where(*_in_window(community_ids, start, end))
        .order_by(Message.received_at, Message.id)
    ).all()
    subjects = _subjects(session, {row[1] for row in rows})
    heads: dict[int, ThreadHead] = {}
    seen: set[int] = set()
    for message_id, thread_id, community_id, mid in rows:
        if thread_id is None:  # _in_window holds threaded posts only
            continue
        head = heads.get(thread_id)
        if head is None:
            head = heads[thread_id] = ThreadHead(thread_id, subjects.get(thread_id, ""))
        if community_id not in head.community_ids:
            head.community_ids.append(community_id)
        if message_id not in seen:
            seen.add(message_id)
            head.new_count += 1
            head.latest_message_id = mid
    return _by_community(list(heads.values()))


def _questions(
    session: Session,
    communities: dict[int, CommunityRef],
    end: dt.datetime,
    base_url: str,
    unanswered_after: dt.timedelta,
    horizon: dt.timedelta = QUESTION_HORIZON,
) -> dict[int, list[Question]]:
    rows = session.execute(
        select(
            Message.thread_id,
            Message.subject,
            Message.sender_name,
            Message.sender_address,
            Message.sender_id,
            Message.received_at,
            func.substr(Message.body_text, 1, EXCERPT_SOURCE),
            MessageCommunity.community_id,
        )
        .join(MessageCommunity, MessageCommunity.message_id == Message.id)
        .join(Thread, Thread.id == Message.thread_id)
        .where(
            MessageCommunity.community_id.in_(list(communities)),
            Message.parent_id.is_(None),
            Thread.message_count == 1,  # a reply, let alone an accepted one: answered
            Message.received_at >= end - horizon,
            Message.received_at < end - unanswered_after,
            _published_smtp(),
        )
        .order_by(Message.received_at)
    ).all()
    questions: dict[int, list[Question]] = defaultdict(list)
    for thread_id, subject, name, address, sender_id, received_at, body, community_id in rows:
        asked_in_subject = "?" in subject
        if not asked_in_subject and "?" not in (body or ""):
            continue  # no question in it, whatever its excerpt keeps (trimming is costly)
        text = excerpt(body or "")
        if not asked_in_subject and "?" not in text:
            continue
        url = links.thread_url(base_url, thread_id) if communities[community_id].public else ""
        folded = f" {fold_tag(unpunctuated(f'{subject} {text}'))} "
        questions[community_id].append(
            Question(
                thread_id,
                subject,
                url,
                community_id,
                name or address,
                sender_id,
                as_utc(received_at),
                text,
                folded,
            )  # fmt: skip
        )
    return dict(questions)


def _new_members(
    session: Session, community_ids: list[int], start: dt.datetime, end: dt.datetime
) -> dict[int, list[NewMember]]:
    rows = session.execute(
        select(Membership.community_id, Person.id, Person.name, Person.address)
        .join(Person, Person.id == Membership.person_id)
        .where(
            Membership.community_id.in_(community_ids),
            Membership.joined_at >= start,
            Membership.joined_at < end,
        )
        .order_by(Membership.joined_at)
    ).all()
    expertise: dict[int, list[str]] = defaultdict(list)
    for person_id, label in session.execute(
        select(PersonTag.person_id, PersonTag.label)
        .where(
            PersonTag.person_id.in_({row[1] for row in rows}),
            PersonTag.kind == TagKind.EXPERTISE,
        )
        .order_by(PersonTag.person_id, PersonTag.position)
    ):
        expertise[person_id].append(label)
    members: dict[int, list[NewMember]] = defaultdict(list)
    for community_id, person_id, name, address in rows:
        members[community_id].append(
            NewMember(person_id, name, address, community_id, tuple(expertise[person_id]))
        )
    return dict(members)


def _subjects(session: Session, thread_ids: Collection[int]) -> dict[int, str]:
    return dict(
        session.execute(select(Thread.id, Thread.subject).where(Thread.id.in_(thread_ids))).all()
    )
