"""What the site shows, read from the store in a few grouped queries.

Only public communities, and published messages posted to at least one of them, ever
reach the site: held, rejected and private mail is filtered here, once, so no page
template can leak it. The index (every public message's metadata, without bodies)
is cheap enough to read for every build; bodies are read only for the pages
being written.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import NamedTuple

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from gateway import links
from gateway.community.people import display_name
from gateway.engagement.shown import ReactionCount
from gateway.engagement.shown import message_reactions
from gateway.engagement.shown import thread_answers
from gateway.engagement.standing import Standing
from gateway.engagement.standing import standings
from gateway.store.models import Attachment
from gateway.store.models import Community
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Person
from gateway.store.models import PersonTag
from gateway.store.models import Role
from gateway.store.models import TagKind
from gateway.store.models import Thread
from gateway.store.models import Visibility
from gateway.store.models import as_utc
from gateway.store.sql import chunks
from gateway.threads.rules import normalize_subject


@dataclass(frozen=True)
class SiteCommunity:
    id: int
    slug: str
    name: str
    description: str
    kind: str
    policy: str
    members: int
    closed: bool
    # Its owners and moderators, as (role, person id), owners first.
    staff: tuple[tuple[str, int], ...] = ()


class MessageEntry(NamedTuple):
    """A public message's metadata: what lists, feeds and signatures need (a tuple:
    a full build makes one per public message)."""

    id: int
    thread_id: int
    parent_id: int | None
    sender_id: int | None
    sender_name: str
    sender_address: str
    received_at: dt.datetime
    raw_sha256: str
    communities: tuple[int, ...]
    message_id: str = ""  # without <>: the In-Reply-To of a reply from the page


@dataclass
class SiteThread:
    id: int
    subject: str
    messages: list[MessageEntry] = field(default_factory=list)  # in arrival order

    @functools.cached_property
    def communities(self) -> tuple[int, ...]:
        return tuple(sorted({c for m in self.messages for c in m.communities}))

    @property
    def first(self) -> MessageEntry:
        return self.messages[0]

    @property
    def last_activity(self) -> dt.datetime:
        return self.messages[-1].received_at


@dataclass(frozen=True)
class SitePerson:
    id: int
    name: str
    address: str
    department: str
    bio: str
    expertise: tuple[tuple[str, str], ...]  # (folded tag, label)
    interests: tuple[tuple[str, str], ...]
    communities: tuple[int, ...]
    # Whether the page shows "Write to <name>": the person's choice, or the setting's.
    write_to: bool = True

    @property
    def display_name(self) -> str:
        return display_name(self.name, self.address)


@dataclass(frozen=True)
class SiteAttachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    content_id: str
    inline: bool


@dataclass(frozen=True)
class MessageBody:
    subject: str
    date: dt.datetime | None
    body_text: str
    body_html: str
    attachments: tuple[SiteAttachment, ...]
    flags: tuple[str, ...] = ()  # the message's flags: gateway.mail.flowed's among them


@dataclass
class SiteIndex:
    communities: dict[int, SiteCommunity]
    threads: dict[int, SiteThread]
    people: dict[int, SitePerson]
    # Every community's subject prefix, private ones too: a thread's page takes them off
    # its messages' subjects (archive.pages.shown_subject); another "[tag]" stays.
    subject_prefixes: tuple[str, ...] = ()
    # Reactions on public messages (message id -> most used first), and the accepted
    # answer of each thread whose answer the site shows (thread id -> message id).
    reactions: dict[int, tuple[ReactionCount, ...]] = field(default_factory=dict)
    answers: dict[int, int] = field(default_factory=dict)
    # Accepted answers and thanks received on public messages, by person id.
    standing: dict[int, Standing] = field(default_factory=dict)

    def messages(self) -> Iterator[MessageEntry]:
        for thread in self.threads.values():
            yield from thread.messages

    def community_threads(self) -> dict[int, list[SiteThread]]:
        """Each community's threads, most recently active first."""
        by_community: dict[int, list[SiteThread]] = defaultdict(list)
        for thread in self.threads.values():
            for community_id in thread.communities:
                by_community[community_id].append(thread)
        for threads in by_community.values():
            threads.sort(key=lambda t: (t.last_activity, t.id), reverse=True)
        return by_community


def read_index(session: Session, write_to_default: bool = True) -> SiteIndex:
    """`write_to_default`: [archive] show_write_to, for people who did not choose."""
    communities = _public_communities(session)
    threads = _public_threads(session, communities)
    prefixes = session.scalars(select(Community.subject_prefix).distinct())
    shown = {m.id: m.thread_id for thread in threads.values() for m in thread.messages}
    people = _people(session, communities, threads, write_to_default)
    return SiteIndex(
        communities,
        threads,
        people,
        tuple(sorted(prefix for prefix in prefixes if prefix)),
        # One query over each whole table: cheaper than lists of 10,000 ids. Reactors
        # the site does not show otherwise are counted, not named.
        {m: counts for m, counts in message_reactions(session, people).items() if m in shown},
        {
            thread_id: message_id
            for thread_id, message_id in thread_answers(session).items()
            if shown.get(message_id) == thread_id
        },
        standings(session, list(communities)),
    )


def _public_communities(session: Session) -> dict[int, SiteCommunity]:
    counts: dict[int, int] = {
        community_id: count
        for community_id, count in session.execute(
            select(Membership.community_id, func.count()).group_by(Membership.community_id)
        )
    }
    rows = session.execute(
        select(
            Community.id,
            Community.slug,
            Community.name,
            Community.description,
            Community.kind,
            Community.policy,
            Community.closed_at,
        )
        .where(Community.visibility == Visibility.PUBLIC)
        .order_by(Community.slug)
    )
    staff: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for community_id, role, person_id in session.execute(
        select(Membership.community_id, Membership.role, Membership.person_id)
        .where(Membership.role != Role.MEMBER)
        .order_by(Membership.community_id, Membership.person_id)
    ):
        staff[community_id].append((role.value, person_id))
    return {
        row.id: SiteCommunity(
            row.id,
            row.slug,
            row.name,
            row.description,
            row.kind.value,
            row.policy.value,
            counts.get(row.id, 0),
            row.closed_at is not None,
            tuple(sorted(staff.get(row.id, ()), key=lambda s: (s[0] != Role.OWNER, s[1]))),
        )
        for row in rows
    }


def _public_threads(
    session: Session, communities: dict[int, SiteCommunity]
) -> dict[int, SiteThread]:
    # Core rows, not ORM ones: the ORM's row handling would double the time of reading
    # 10,000 messages, and these are plain columns.
    connection = session.connection()
    posted_in: dict[int, list[int]] = defaultdict(list)
    # Where each post is published: a cross-post held in one community shows only in
    # the others until a moderator approves it there.
    for message_id, community_id in connection.execute(
        select(MessageCommunity.message_id, MessageCommunity.community_id).where(
            MessageCommunity.status == MessageStatus.PUBLISHED
        )
    ):
        if community_id in communities:
            posted_in[message_id].append(community_id)
    subjects = {
        thread_id: subject
        for thread_id, subject in connection.execute(select(Thread.id, Thread.subject))
    }
    threads: dict[int, SiteThread] = {}
    # The time and the status as the driver gives them, converted here: the column
    # types' own conversions took up to half of this query's time (which `archive
    # build` pays on every update, one reply or none).
    rows = connection.execute(
        select(
            Message.id,
            Message.thread_id,
            Message.parent_id,
            Message.sender_id,
            Message.sender_name,
            Message.sender_address,
            type_coerce(Message.received_at, NullType()),
            Message.raw_sha256,
            Message.message_id,
            type_coerce(Message.status, NullType()),
        )
        .where(Message.thread_id.is_not(None))
        .order_by(Message.received_at, Message.id)
    )
    mixed: set[int] = set()  # threads holding a message the site does not show
    for row in rows:
        where = posted_in.get(row[0])
        thread_id = row[1]
        if thread_id is None:
            continue
        if not where or row[9] != MessageStatus.PUBLISHED:
            mixed.add(thread_id)
            continue
        thread = threads.get(thread_id)
        if thread is None:
            thread = threads[thread_id] = SiteThread(thread_id, subjects[thread_id])
        entry = (*row[:6], as_utc(row[6]), row[7], tuple(sorted(where)), row[8])
        thread.messages.append(MessageEntry._make(entry))
    _titles_from_shown_messages(session, [threads[t] for t in mixed if t in threads])
    return threads


def _titles_from_shown_messages(session: Session, threads: list[SiteThread]) -> None:
    """Title threads that hold a message the site does not show (private, held or
    rejected) after their first shown message: the thread's own subject may be the
    hidden one's. Threading keeps audiences apart (gateway.threads.audience); this
    covers threads stored before it did, and held or rejected first posts."""
    firsts = {thread.first.id: thread for thread in threads}
    for ids in chunks(sorted(firsts)):
        for message_id, subject in session.execute(
            select(Message.id, Message.subject).where(Message.id.in_(ids))
        ):
            normalized, _ = normalize_subject(subject)
            firsts[message_id].subject = normalized or subject


def _people(
    session: Session,
    communities: dict[int, SiteCommunity],
    threads: dict[int, SiteThread],
    write_to_default: bool,
) -> dict[int, SitePerson]:
    """Members of a public community and authors of a public message."""
    connection = session.connection()  # Core rows: see _public_threads
    joined: dict[int, list[int]] = defaultdict(list)
    for person_id, community_id in connection.execute(
        select(Membership.person_id, Membership.community_id)
    ):
        if community_id in communities:
            joined[person_id].append(community_id)
    wanted = set(joined)
    wanted.update(m.sender_id for t in threads.values() for m in t.messages if m.sender_id)
    tags: dict[int, dict[TagKind, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for person_id, kind, tag, label in connection.execute(
        select(PersonTag.person_id, PersonTag.kind, PersonTag.tag, PersonTag.label).order_by(
            PersonTag.person_id, PersonTag.position
        )
    ):
        if person_id in wanted:
            tags[person_id][kind].append((tag, label))
    people: dict[int, SitePerson] = {}
    for ids in chunks(sorted(wanted)):
        for row in connection.execute(
            select(
                Person.id,
                Person.name,
                Person.address,
                Person.department,
                Person.bio,
                Person.show_write_to,
            ).where(Person.id.in_(ids))
        ):
            own = tags.get(row.id, {})
            people[row.id] = SitePerson(
                row.id,
                row.name,
                row.address,
                row.department,
                row.bio,
                tuple(own.get(TagKind.EXPERTISE, ())),
                tuple(own.get(TagKind.INTEREST, ())),
                tuple(sorted(joined.get(row.id, ()))),
                write_to_default if row.show_write_to is None else row.show_write_to,
            )
    return people


def read_bodies(session: Session, message_ids: Iterable[int]) -> dict[int, MessageBody]:
    """The texts and attachments of these messages, for the pages that show them."""
    attachments: dict[int, list[SiteAttachment]] = defaultdict(list)
    bodies: dict[int, MessageBody] = {}
    for ids in chunks(sorted(set(message_ids))):
        for row in session.execute(
            select(
                Attachment.message_id,
                Attachment.filename,
                Attachment.content_type,
                Attachment.size,
                Attachment.sha256,
                Attachment.content_id,
                Attachment.inline,
            )
            .where(Attachment.message_id.in_(ids))
            .order_by(Attachment.message_id, Attachment.position)
        ):
            attachments[row.message_id].append(SiteAttachment(*row[1:]))
        for message_id, subject, date, text, html, flags in session.execute(
            select(
                Message.id,
                Message.subject,
                Message.date,
                Message.body_text,
                Message.body_html,
                Message.flags,
            ).where(Message.id.in_(ids))
        ):
            bodies[message_id] = MessageBody(
                subject,
                as_utc(date) if date is not None else None,
                text,
                html,
                tuple(attachments.get(message_id, ())),
                tuple(flags or ()),
            )
    return bodies


def public_attachments(session: Session, index: SiteIndex) -> dict[str, str]:
    """Every attachment of a public message, as site path -> blob hash (one file for
    all the messages that carry the same content under the same name)."""
    public = {m.id for m in index.messages()}
    return {
        links.attachment_path(sha256, filename): sha256
        for message_id, sha256, filename in session.execute(
            select(Attachment.message_id, Attachment.sha256, Attachment.filename)
        )
        if message_id in public
    }
