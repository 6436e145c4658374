"""Reactions and accepted answers in `gateway export json`, and back in from it.

The export names everything by Message-ID and address, never by row id, so that
`gateway import json` restores them in another gateway once the community's mbox
is imported there: a reaction by its message, person, emoji, source and time; an
accepted answer by its thread's first Message-ID, the answer's, who accepted it and
when. Importing is idempotent (one reaction per message, person and emoji, one
answer per thread: what is there already stays, a later time wins), and an entry
that names a message the community does not have is counted, not lost: import the
mbox, then the same file again. The file is input like any other: a reaction's emoji
must be exactly one emoji sequence, no time may be later than now plus a day, an
answer must be a published reply of its thread (gateway.engagement.answers), and
people are added only for the entries kept; the rest is counted invalid.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.community.people import canonical_address
from gateway.community.people import ensure_people
from gateway.community.publishing import published_here
from gateway.engagement.answers import AnswerRefused
from gateway.engagement.answers import accept_answer
from gateway.engagement.answers import check_answer
from gateway.engagement.reactions import record_reaction
from gateway.errors import InvalidInput
from gateway.mail.reactions import emoji_sequences
from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import Person
from gateway.store.models import Reaction
from gateway.store.models import ReactionSource
from gateway.store.models import ThreadAnswer
from gateway.store.models import as_utc
from gateway.store.models import utcnow
from gateway.store.sql import chunks
from gateway.threads.tree import root_ids

MAX_EMOJI = 32  # reactions.emoji
FUTURE = dt.timedelta(days=1)  # a time later than now plus this is not a real one


@dataclass
class Restored:
    """What one kind of entry of the file gave (`gateway import json --json`)."""

    restored: int = 0  # added, or moved to a later time
    unchanged: int = 0  # there already
    missing: int = 0  # names a message the community does not have (yet)
    invalid: int = 0  # not spelled as the export spells it

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


# --- out


def export_engagement(session: Session, community: Community) -> dict[str, list[dict[str, Any]]]:
    """The reactions on the community's published messages, and their accepted answers."""
    in_community = _published_ids(community)
    reactions = session.execute(
        select(
            Message.message_id,
            Person.address,
            Reaction.emoji,
            Reaction.source,
            Reaction.created_at,
        )
        .join(Message, Message.id == Reaction.message_id)
        .join(Person, Person.id == Reaction.person_id)
        .where(Message.id.in_(in_community))
        .order_by(Message.id, Reaction.created_at, Reaction.id)
    ).all()
    answers = session.execute(
        select(ThreadAnswer.thread_id, Message.message_id, Person.address, ThreadAnswer.answered_at)
        .join(Message, Message.id == ThreadAnswer.message_id)
        .outerjoin(Person, Person.id == ThreadAnswer.answered_by_id)
        .where(Message.id.in_(in_community))
        .order_by(ThreadAnswer.thread_id)
    ).all()
    roots = root_ids(session, [thread_id for thread_id, *_ in answers])
    return {
        "reactions": [
            {
                "message_id": message_id,
                "email": address,
                "emoji": emoji,
                "source": ReactionSource(source).value,
                "created_at": as_utc(created_at).isoformat(),
            }
            for message_id, address, emoji, source, created_at in reactions
        ],
        "answers": [
            {
                "thread_message_id": roots.get(thread_id),
                "message_id": message_id,
                "answered_by": address,
                "answered_at": as_utc(answered_at).isoformat(),
            }
            for thread_id, message_id, address, answered_at in answers
        ],
    }


def _published_ids(community: Community) -> Select[int]:
    return select(MessageCommunity.message_id).where(
        MessageCommunity.community_id == community.id, published_here()
    )


# --- back in


def restore_engagement(
    session: Session, community: Community, document: dict[str, Any]
) -> dict[str, Restored]:
    """Restore the reactions and answers of an export (an older one has none: nothing
    to do) onto the community's messages."""
    reactions = _entries(document, "reactions")
    answers = _entries(document, "answers")
    messages = _messages(
        session,
        community,
        [e.get("message_id") for e in reactions]
        + [e.get(k) for e in answers for k in ("message_id", "thread_message_id")],
    )
    latest = utcnow() + FUTURE
    return {
        "reactions": _restore_reactions(session, reactions, messages, latest),
        "answers": _restore_answers(session, answers, messages, latest),
    }


def _entries(document: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The file's list under `key`; anything else than a list of objects is refused whole."""
    entries = document.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidInput(f'"{key}" is not a list of objects, as `gateway export json` writes it')
    return entries


def _messages(
    session: Session, community: Community, message_ids: Iterable[object]
) -> dict[str, tuple[int, int | None]]:
    """The community's published messages among these Message-IDs: (id, thread id)."""
    wanted = sorted({m for m in message_ids if isinstance(m, str) and m})
    found: dict[str, tuple[int, int | None]] = {}
    for chunk in chunks(wanted):
        for message_id, id_, thread_id in session.execute(
            select(Message.message_id, Message.id, Message.thread_id)
            .join(MessageCommunity, MessageCommunity.message_id == Message.id)
            .where(
                Message.message_id.in_(chunk),
                MessageCommunity.community_id == community.id,
                published_here(),
            )
        ):
            found[message_id] = (id_, thread_id)
    return found


def _address(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return canonical_address(value)
    except InvalidInput:
        return None


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _source(value: object) -> ReactionSource:
    """The source the export gives; one this gateway does not know is an import's."""
    for source in ReactionSource:
        if source.value == value:
            return source
    return ReactionSource.IMPORT


def _one_emoji(value: object) -> str | None:
    """The entry's emoji when it is exactly one emoji sequence (gateway.mail.reactions),
    as every way in records one."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_EMOJI:
        return None
    sequences = emoji_sequences(value)
    return value if sequences is not None and len(sequences) == 1 else None


def _people(session: Session, addresses: Iterable[str]) -> dict[str, Person]:
    """The people of these addresses, added if new: only for entries that are kept."""
    people, _ = ensure_people(session, set(addresses))
    return people


def _restore_reactions(
    session: Session,
    entries: list[dict[str, Any]],
    messages: dict[str, tuple[int, int | None]],
    latest: dt.datetime,
) -> Restored:
    tally = Restored()
    kept: list[tuple[int, str, str, dt.datetime, ReactionSource]] = []
    for entry in entries:
        address, emoji, at = (
            _address(entry.get("email")),
            _one_emoji(entry.get("emoji")),
            _time(entry.get("created_at")),
        )
        if (
            address is None
            or at is None
            or at > latest
            or emoji is None
            or not isinstance(entry.get("message_id"), str)
        ):
            tally.invalid += 1
            continue
        message = messages.get(entry["message_id"])
        if message is None:
            tally.missing += 1
            continue
        kept.append((message[0], address, emoji, at, _source(entry.get("source"))))
    people = _people(session, (address for _, address, *_ in kept))
    ids = sorted({message_id for message_id, *_ in kept})
    existing: dict[tuple[int, int, str], Reaction] = {}
    for chunk in chunks(ids):
        for reaction in session.scalars(select(Reaction).where(Reaction.message_id.in_(chunk))):
            existing[(reaction.message_id, reaction.person_id, reaction.emoji)] = reaction
    for message_id, address, emoji, at, source in kept:
        key = (message_id, people[address].id, emoji)
        found = existing.get(key)
        if found is None:
            existing[key] = record_reaction(session, *key, source, at=at)
            tally.restored += 1
        elif at > as_utc(found.created_at):  # a later one replaces it (its time)
            record_reaction(
                session, *key, found.source, at=at,
                mail_message_id=found.mail_message_id, raw_sha256=found.raw_sha256,
            )  # fmt: skip
            tally.restored += 1
        else:
            tally.unchanged += 1
    return tally


def _restore_answers(
    session: Session,
    entries: list[dict[str, Any]],
    messages: dict[str, tuple[int, int | None]],
    latest: dt.datetime,
) -> Restored:
    tally = Restored()
    kept: list[tuple[int, int, str | None, dt.datetime]] = []
    for entry in entries:
        at, by = _time(entry.get("answered_at")), entry.get("answered_by")
        by_address, first = _address(by), entry.get("thread_message_id")
        if (
            at is None
            or at > latest
            or (by is not None and by_address is None)
            or not isinstance(entry.get("message_id"), str)
            or not isinstance(first, str | None)
        ):
            tally.invalid += 1
            continue
        # The thread is the answer's; its first message, when the export could name
        # one (a thread under a missing parent may have none), must be in it too.
        answer_row = messages.get(entry["message_id"])
        root = messages.get(first) if first else None
        if answer_row is None or answer_row[1] is None or (first and root is None):
            tally.missing += 1
            continue
        thread_id = answer_row[1]
        if root is not None and root[1] != thread_id:  # threaded otherwise here
            tally.invalid += 1
            continue
        try:  # a reply of that thread, published, not its first message
            check_answer(session, thread_id, answer_row[0])
        except AnswerRefused:
            tally.invalid += 1
            continue
        kept.append((thread_id, answer_row[0], by_address, at))
    people = _people(session, (by for *_, by, _ in kept if by))
    for thread_id, message_id, by_address, at in kept:
        current = session.get(ThreadAnswer, thread_id)
        later = current is None or (
            current.message_id != message_id and at > as_utc(current.answered_at)
        )
        by_id = people[by_address].id if by_address else None
        if later and accept_answer(session, thread_id, message_id, by_id, at):
            tally.restored += 1
        else:
            tally.unchanged += 1
    return tally
