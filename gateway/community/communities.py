"""Communities: create, look up, edit, close, and describe them in a stable shape.

Functions take the session first and never commit (the caller owns the unit of work).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.community.publishing import published_here
from gateway.errors import AlreadyExists
from gateway.errors import InvalidInput
from gateway.errors import NotFound
from gateway.mail.addresses import ACTION_SUFFIXES
from gateway.mail.addresses import AddressError
from gateway.mail.addresses import community_address
from gateway.mail.addresses import normalize_address
from gateway.mail.addresses import validate_slug
from gateway.store.models import Community
from gateway.store.models import DeliveryMode
from gateway.store.models import Kind
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import Person
from gateway.store.models import Policy
from gateway.store.models import Role
from gateway.store.models import Visibility
from gateway.store.models import as_utc
from gateway.store.models import utcnow

REPLY_TO_COMMUNITY = "community"
REPLY_TO_SENDER = "sender"


@dataclass(frozen=True)
class CommunityChanges:
    """What `community edit` may change; None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    kind: Kind | None = None
    visibility: Visibility | None = None
    policy: Policy | None = None
    subject_prefix: str | None = None
    default_delivery: DeliveryMode | None = None
    reply_to: str | None = None
    hold_list_mail: bool | None = None
    fold_thanks: bool | None = None


def check_reply_to(value: str) -> str:
    """Where replies to a post go: the community, the author, or a fixed address."""
    value = value.strip()
    if value.lower() in (REPLY_TO_COMMUNITY, REPLY_TO_SENDER):
        return value.lower()
    try:
        return normalize_address(value)
    except AddressError as error:
        raise InvalidInput(
            f"reply-to must be 'community', 'sender' or an address: {error}"
        ) from None


def default_subject_prefix(slug: str) -> str:
    return f"[{slug}]"


def create_community(
    session: Session,
    slug: str,
    name: str,
    *,
    kind: Kind = Kind.PROJECT,
    description: str = "",
    visibility: Visibility = Visibility.PUBLIC,
    policy: Policy = Policy.MEMBERS,
    subject_prefix: str | None = None,
    default_delivery: DeliveryMode = DeliveryMode.INSTANT,
    reply_to: str = REPLY_TO_COMMUNITY,
    hold_list_mail: bool = False,
    fold_thanks: bool = True,
) -> Community:
    try:
        validate_slug(slug)
    except AddressError as error:
        raise InvalidInput(str(error)) from None
    if session.scalar(select(Community.id).where(Community.slug == slug)) is not None:
        raise AlreadyExists(f"a community with the slug {slug!r} already exists")
    community = Community(
        slug=slug,
        name=_required_name(name),
        kind=kind,
        description=description.strip(),
        visibility=visibility,
        policy=policy,
        subject_prefix=default_subject_prefix(slug) if subject_prefix is None else subject_prefix,
        default_delivery=default_delivery,
        reply_to=check_reply_to(reply_to),
        hold_list_mail=hold_list_mail,
        fold_thanks=fold_thanks,
    )
    session.add(community)
    session.flush()
    return community


def get_community(session: Session, slug: str) -> Community:
    community = session.scalar(select(Community).where(Community.slug == slug.lower()))
    if community is None:
        raise NotFound(f"no community {slug!r} (see `gateway community list`)")
    return community


def list_communities(session: Session) -> list[Community]:
    return list(session.scalars(select(Community).order_by(Community.slug)))


def edit_community(session: Session, slug: str, changes: CommunityChanges) -> Community:
    community = get_community(session, slug)
    if changes.name is not None:
        community.name = _required_name(changes.name)
    if changes.description is not None:
        community.description = changes.description.strip()
    if changes.reply_to is not None:
        community.reply_to = check_reply_to(changes.reply_to)
    for field in (
        "kind",
        "visibility",
        "policy",
        "subject_prefix",
        "default_delivery",
        "hold_list_mail",
        "fold_thanks",
    ):
        value = getattr(changes, field)
        if value is not None:
            setattr(community, field, value)
    session.flush()
    return community


def close_community(session: Session, slug: str) -> Community:
    """A closed community keeps its members and archive but refuses new posts."""
    community = get_community(session, slug)
    if community.closed_at is None:
        community.closed_at = utcnow()
    return community


def reopen_community(session: Session, slug: str) -> Community:
    community = get_community(session, slug)
    community.closed_at = None
    return community


def _required_name(name: str) -> str:
    if not name.strip():
        raise InvalidInput("the community name must not be empty")
    return name.strip()


# --- the stable shape printed by --json (documented in the README)


@dataclass(frozen=True)
class Activity:
    members: int = 0
    posts: int = 0
    last_activity_at: dt.datetime | None = None


def community_activity(session: Session, community_ids: list[int]) -> dict[int, Activity]:
    """Member and published-post counts per community, in two grouped queries."""
    members = dict(
        session.execute(
            select(Membership.community_id, func.count())
            .where(Membership.community_id.in_(community_ids))
            .group_by(Membership.community_id)
        ).all()
    )
    posts = {
        row[0]: (row[1], row[2])
        for row in session.execute(
            select(MessageCommunity.community_id, func.count(), func.max(Message.received_at))
            .join(Message, Message.id == MessageCommunity.message_id)
            .where(
                MessageCommunity.community_id.in_(community_ids),
                published_here(),
            )
            .group_by(MessageCommunity.community_id)
        )
    }
    result = {}
    for community_id in community_ids:
        count, last = posts.get(community_id, (0, None))
        result[community_id] = Activity(
            members.get(community_id, 0), count, as_utc(last) if last is not None else None
        )
    return result


def addresses(community: Community, domain: str) -> dict[str, str]:
    result = {"post": community_address(community.slug, domain)}
    result.update({a: community_address(community.slug, domain, a) for a in ACTION_SUFFIXES})
    return result


def describe_community(community: Community, activity: Activity, domain: str) -> dict[str, Any]:
    return {
        "slug": community.slug,
        "name": community.name,
        "description": community.description,
        "kind": community.kind.value,
        "visibility": community.visibility.value,
        "policy": community.policy.value,
        "subject_prefix": community.subject_prefix,
        "default_delivery": community.default_delivery.value,
        "reply_to": community.reply_to,
        "hold_list_mail": community.hold_list_mail,
        "fold_thanks": community.fold_thanks,
        "address": f"{community.slug}@{domain}",
        "status": "closed" if community.closed_at else "open",
        "created_at": community.created_at.isoformat(),
        "closed_at": community.closed_at.isoformat() if community.closed_at else None,
        "members": activity.members,
        "posts": activity.posts,
        "last_activity_at": (
            activity.last_activity_at.isoformat() if activity.last_activity_at else None
        ),
    }


def describe_community_details(
    session: Session, community: Community, domain: str
) -> dict[str, Any]:
    """The list shape plus the addresses and the people who run the community."""
    activity = community_activity(session, [community.id])[community.id]
    staff = session.execute(
        select(Person.address, Membership.role)
        .join(Membership, Membership.person_id == Person.id)
        .where(
            Membership.community_id == community.id,
            Membership.role.in_([Role.OWNER, Role.MODERATOR]),
        )
        .order_by(Person.address)
    )
    by_role: dict[Role, list[str]] = {Role.OWNER: [], Role.MODERATOR: []}
    for address, role in staff:
        by_role[role].append(address)
    return {
        **describe_community(community, activity, domain),
        "addresses": addresses(community, domain),
        "owners": by_role[Role.OWNER],
        "moderators": by_role[Role.MODERATOR],
    }
