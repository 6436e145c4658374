"""Memberships: who is in a community, with which role and which delivery mode.

Commands that name several addresses check them all first: either every change
is made or none is (the caller's transaction rolls back on the first refusal).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from gateway.community.csvfiles import ImportReport
from gateway.community.csvfiles import read_csv
from gateway.community.people import MAX_NAME
from gateway.community.people import canonical_address
from gateway.community.people import ensure_people
from gateway.community.people import plan_rows
from gateway.errors import AlreadyExists
from gateway.errors import InvalidInput
from gateway.errors import NotFound
from gateway.store.models import Community
from gateway.store.models import DeliveryMode
from gateway.store.models import Membership
from gateway.store.models import Person
from gateway.store.models import Role

MEMBER_COLUMNS = {
    "email": ("email", "e-mail", "mail", "address", "courriel"),
    "name": ("name", "display name", "full name", "nom"),
    "role": ("role", "rôle"),
    "delivery": ("delivery", "mode"),
}

_Choice = TypeVar("_Choice", Role, DeliveryMode)


@dataclass(frozen=True)
class MemberChanges:
    role: Role | None = None
    delivery: DeliveryMode | None = None
    own_posts: bool | None = None
    # True: start mail again after bounces stopped it (the score starts from zero).
    enable: bool = False


def find_membership(session: Session, community: Community, address: str) -> Membership | None:
    return session.scalar(
        select(Membership)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.community_id == community.id, Person.address == address)
    )


def communities_of(session: Session, address: str) -> list[Community]:
    """The open communities `address` belongs to, by name."""
    return list(
        session.scalars(
            select(Community)
            .join(Membership, Membership.community_id == Community.id)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.address == address, Community.closed_at.is_(None))
            .order_by(Community.name)
        )
    )


def get_membership(session: Session, community: Community, address: str) -> Membership:
    canonical = canonical_address(address)
    membership = find_membership(session, community, canonical)
    if membership is None:
        raise NotFound(f"{canonical} is not a member of {community.slug}")
    return membership


def add_members(
    session: Session,
    community: Community,
    addresses: list[str],
    *,
    role: Role = Role.MEMBER,
    delivery: DeliveryMode | None = None,
    allowed_domains: tuple[str, ...] = (),
) -> list[Membership]:
    """Add people (created if new); None delivery means the community's default."""
    canonical = _distinct([canonical_address(a, allowed_domains) for a in addresses])
    existing = memberships_by_address(session, community)
    for address in canonical:
        if address in existing:
            raise AlreadyExists(
                f"{address} is already a member of {community.slug} "
                "(change it with `gateway member set`)"
            )
    people, _ = ensure_people(session, canonical)
    added = [
        _join(session, community, people[address], role, delivery or community.default_delivery)
        for address in canonical
    ]
    session.flush()
    return added


def memberships_by_address(session: Session, community: Community) -> dict[str, Membership]:
    """Every membership of a community by canonical address, in one query."""
    query = (
        select(Person.address, Membership)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.community_id == community.id)
    )
    return {address: membership for address, membership in session.execute(query)}


def _join(
    session: Session, community: Community, person: Person, role: Role, delivery: DeliveryMode
) -> Membership:
    # By id, not relationship: appending to person.memberships would load that
    # collection, one query per person in a large import.
    membership = Membership(
        person_id=person.id, community_id=community.id, role=role, delivery=delivery
    )
    session.add(membership)
    return membership


def remove_members(session: Session, community: Community, addresses: list[str]) -> list[str]:
    """Remove memberships; the people and their posts stay. Returns the addresses removed."""
    canonical = _distinct([canonical_address(address) for address in addresses])
    memberships = [get_membership(session, community, address) for address in canonical]
    removed = [membership.person.address for membership in memberships]
    for membership in memberships:
        session.delete(membership)
    session.flush()
    return removed


def set_member(
    session: Session, community: Community, address: str, changes: MemberChanges
) -> Membership:
    membership = get_membership(session, community, address)
    _apply(membership, changes)
    session.flush()
    return membership


def _apply(membership: Membership, changes: MemberChanges) -> bool:
    changed = False
    if changes.enable and (membership.disabled_at is not None or membership.bounce_score):
        membership.disabled_at = None
        membership.bounce_score = 0
        changed = True
    for field in ("role", "delivery", "own_posts"):
        value = getattr(changes, field)
        if value is not None and getattr(membership, field) != value:
            setattr(membership, field, value)
            changed = True
    return changed


def list_members(
    session: Session,
    community: Community,
    role: Role | None = None,
    delivery: DeliveryMode | None = None,
) -> list[Membership]:
    query = (
        select(Membership)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.community_id == community.id)
        .options(selectinload(Membership.person))
        .order_by(Person.address)
    )
    if role is not None:
        query = query.where(Membership.role == role)
    if delivery is not None:
        query = query.where(Membership.delivery == delivery)
    return list(session.scalars(query))


def _distinct(addresses: list[str]) -> list[str]:
    return list(dict.fromkeys(addresses))


# --- CSV import


def import_members(
    session: Session,
    community: Community,
    path: Path,
    allowed_domains: tuple[str, ...] = (),
) -> ImportReport:
    """Add or update one member per row; any bad row and nothing is imported.

    Re-running the same file changes nothing; an empty cell keeps the current
    value (or the default for a new member).
    """
    table = read_csv(path, MEMBER_COLUMNS, required="email")
    report = ImportReport(path=path, ignored_columns=table.ignored_columns)
    planned = plan_rows(table, report, allowed_domains, _row_changes)
    report.raise_if_errors()
    existing = memberships_by_address(session, community)
    people, _ = ensure_people(session, [address for address, _ in planned])
    for address, (name, changes) in planned:
        person = people[address]
        # A member list's name fills an empty profile; names belong to `profile import`.
        named = bool(name) and not person.name
        if named:
            person.name = name
        membership = existing.get(address)
        if membership is None:
            _join(
                session, community, person,
                changes.role or Role.MEMBER,
                changes.delivery or community.default_delivery,
            )  # fmt: skip
            report.count(added=True, changed=True)
        else:
            report.count(added=False, changed=_apply(membership, changes) or named)
    session.flush()
    return report


def _row_changes(values: dict[str, str]) -> tuple[str, MemberChanges]:
    name = values.get("name", "")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"the name is longer than {MAX_NAME} characters")
    changes = MemberChanges(
        role=_choice(Role, values.get("role", ""), "role"),
        delivery=_choice(DeliveryMode, values.get("delivery", ""), "delivery"),
    )
    return name, changes


def _choice(kind: type[_Choice], value: str, what: str) -> _Choice | None:
    value = value.strip().lower()
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise InvalidInput(f"{what} {value!r} is not one of {choices}") from None


# --- the stable shape printed by --json (documented in the README)


def describe_membership(membership: Membership) -> dict[str, Any]:
    return {
        "email": membership.person.address,
        "name": membership.person.name,
        "role": membership.role.value,
        "delivery": membership.delivery.value,
        "own_posts": membership.own_posts,
        "bounce_score": membership.bounce_score,
        # "stopped": bounces passed the threshold and no mail is sent (DESIGN.md, bounces)
        "state": "stopped" if membership.disabled_at is not None else "active",
        "bounced_at": membership.bounced_at.isoformat() if membership.bounced_at else None,
        "joined_at": membership.joined_at.isoformat(),
    }
