"""Reactions recorded: one row per person, message and emoji, and the message a reaction
mail answers (issue 22, point 1).

A later reaction with the same emoji replaces the earlier one (its time, source and
mail). An RFC 9078 reaction is the person's whole set for that message (RFC 9078
section 4: a newer reaction message replaces the earlier ones), so it also takes away
the emoji of their earlier reaction mails that it no longer holds; thanks folded from
a reply and reactions given from the CLI stay. A mail taken in again (the same
Message-ID) changes nothing: the ingest stage asks reaction_mail_known first.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.community.people import display_name
from gateway.community.publishing import published_here
from gateway.mail.addresses import domain_allowed
from gateway.store.models import Community
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import Person
from gateway.store.models import Policy
from gateway.store.models import Reaction
from gateway.store.models import ReactionSource
from gateway.store.models import Role
from gateway.store.models import utcnow


class Lookup(enum.StrEnum):
    """What became of the search for the message a reaction answers."""

    FOUND = "found"
    UNKNOWN = "unknown"  # no message of the gateway has those Message-IDs
    ELSEWHERE = "elsewhere"  # there is one, but not published in these communities


@dataclass(frozen=True)
class Answered:
    """The message a reaction answers (its row id and author), or why there is none."""

    lookup: Lookup
    message_id: int | None = None
    sender_id: int | None = None
    sender_name: str = ""  # as pages name the author: their name, else their local part
    # Every community the message is published in: a reaction shows in each of them.
    published_in: tuple[int, ...] = ()


def answered_message(
    session: Session,
    in_reply_to: Sequence[str],
    references: Sequence[str],
    community_ids: Collection[int],
) -> Answered:
    """The message a reply answers: the first of In-Reply-To the gateway knows, else the
    nearest of References (their last), if it is published in one of `community_ids`."""
    wanted = list(dict.fromkeys([*in_reply_to, *reversed(references)]))
    if not wanted:
        return Answered(Lookup.UNKNOWN)
    known = {
        row.message_id: row
        for row in session.execute(
            select(
                Message.message_id,
                Message.id,
                Message.sender_id,
                Message.sender_name,
                Message.sender_address,
            ).where(Message.message_id.in_(wanted[:100]))
        )
    }
    first = next((known[m] for m in wanted if m in known), None)
    if first is None:
        return Answered(Lookup.UNKNOWN)
    published_in = tuple(
        sorted(
            session.scalars(
                select(MessageCommunity.community_id).where(
                    MessageCommunity.message_id == first.id, published_here()
                )
            )
        )
    )
    here = set(published_in) & set(community_ids)
    lookup = Lookup.FOUND if here else Lookup.ELSEWHERE
    # "Thanks Bob!" to bob@example.com, who sends no name: he is "bob" as pages call him.
    name = display_name(first.sender_name, first.sender_address)
    return Answered(lookup, first.id, first.sender_id, name, published_in)


def may_react_everywhere(
    session: Session, address: str, community_ids: Collection[int], allowed_domains: Sequence[str]
) -> bool:
    """Whether the person of `address` may post (unheld, as the authorize stage decides)
    in every one of these communities: a reaction shows wherever its message is
    published, so a member of a private community must not appear, through a
    cross-post, on a public community's page they could not post to."""
    if not community_ids:
        return False
    communities = session.scalars(select(Community).where(Community.id.in_(list(community_ids))))
    roles = dict(
        session.execute(
            select(Membership.community_id, Membership.role)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.address == address, Membership.community_id.in_(list(community_ids)))
        ).all()
    )
    for community in communities:
        role = roles.get(community.id)
        if community.closed_at is not None:
            return False
        if community.policy is Policy.OPEN:
            if role is None and not ("@" in address and domain_allowed(address, allowed_domains)):
                return False
        elif community.policy is Policy.MEMBERS:
            if role is None:
                return False
        elif community.policy is Policy.ANNOUNCE:
            if role not in (Role.OWNER, Role.MODERATOR):
                return False
        else:  # moderated: every post is held there
            return False
    return True


def reaction_mail_known(session: Session, mail_message_id: str) -> bool:
    """Whether a reaction came in a mail of this Message-ID already (a replay)."""
    found = session.scalar(
        select(Reaction.id).where(Reaction.mail_message_id == mail_message_id).limit(1)
    )
    return found is not None


def message_known(session: Session, message_id: str) -> bool:
    """Whether a message of this Message-ID is stored (a reaction mail stored as a post
    before, when its sender could not react: it stays that post)."""
    return session.scalar(select(Message.id).where(Message.message_id == message_id)) is not None


def record_reaction(
    session: Session,
    message_id: int,
    person_id: int,
    emoji: str,
    source: ReactionSource,
    *,
    at: dt.datetime | None = None,
    mail_message_id: str = "",
    raw_sha256: str = "",
) -> Reaction:
    """The person's reaction `emoji` on the message, added or (same emoji) renewed."""
    reaction = session.scalar(
        select(Reaction).where(
            Reaction.message_id == message_id,
            Reaction.person_id == person_id,
            Reaction.emoji == emoji,
        )
    )
    if reaction is None:
        reaction = Reaction(message_id=message_id, person_id=person_id, emoji=emoji)
        session.add(reaction)
    reaction.source = source
    reaction.created_at = at or utcnow()
    reaction.mail_message_id = mail_message_id
    reaction.raw_sha256 = raw_sha256
    session.flush()
    return reaction


def record_mail_reaction(
    session: Session,
    message_id: int,
    person_id: int,
    emoji: Sequence[str],
    source: ReactionSource,
    *,
    whole_set: bool,
    at: dt.datetime | None = None,
    mail_message_id: str = "",
    raw_sha256: str = "",
) -> None:
    """The reactions a mail carries. `whole_set` (an RFC 9078 reaction): `emoji` become
    the person's whole set from reaction mails on this message, and earlier ones it
    does not repeat are taken away."""
    if whole_set:
        session.execute(
            delete(Reaction)
            .where(
                Reaction.message_id == message_id,
                Reaction.person_id == person_id,
                Reaction.mail_message_id != "",
                Reaction.source != ReactionSource.REPLY,
                Reaction.emoji.not_in(list(emoji)),
            )
            .execution_options(synchronize_session=False)
        )
    for one in emoji:
        record_reaction(
            session,
            message_id,
            person_id,
            one,
            source,
            at=at,
            mail_message_id=mail_message_id,
            raw_sha256=raw_sha256,
        )


def reaction_mails(session: Session, community_id: int) -> list[tuple[str, dt.datetime, str]]:
    """The reaction mails on the community's published messages, kept raw, oldest first:
    (raw blob, when, sender address) once per mail, for `gateway export mbox`."""
    rows = session.execute(
        select(Reaction.raw_sha256, Reaction.mail_message_id, Reaction.created_at, Person.address)
        .join(Person, Person.id == Reaction.person_id)
        .join(MessageCommunity, MessageCommunity.message_id == Reaction.message_id)
        .where(
            MessageCommunity.community_id == community_id,
            published_here(),
            Reaction.raw_sha256 != "",
            Reaction.source != ReactionSource.REPLY,
        )
        .order_by(Reaction.created_at, Reaction.id)
    )
    seen: set[str] = set()
    mails = []
    for raw_sha256, mail_message_id, created_at, address in rows:
        if mail_message_id in seen:
            continue
        seen.add(mail_message_id)
        mails.append((raw_sha256, created_at, address))
    return mails
