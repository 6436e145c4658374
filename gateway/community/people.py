"""People and their profiles: name, department, bio, time zone, expertise and interests.

A profile is what lets colleagues find who knows what; tags are kept as typed
(label) and folded (tag: lowercase, no accents) so "Sécurité" finds "securite".
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import selectinload

from gateway.community.csvfiles import CsvTable
from gateway.community.csvfiles import ImportReport
from gateway.community.csvfiles import read_csv
from gateway.errors import InvalidInput
from gateway.errors import NotFound
from gateway.mail.addresses import AddressError
from gateway.mail.addresses import domain_allowed
from gateway.mail.addresses import normalize_address
from gateway.store.models import Membership
from gateway.store.models import Person
from gateway.store.models import PersonTag
from gateway.store.models import TagKind
from gateway.store.sql import chunks

MAX_NAME = 200
MAX_TAG = 100
MAX_TAGS = 50
MAX_BIO = 5000
_Parsed = TypeVar("_Parsed")

# Header names accepted in an HR directory export (`gateway profile import`).
PROFILE_COLUMNS = {
    "email": ("email", "e-mail", "mail", "address", "courriel"),
    "name": ("name", "display name", "full name", "nom"),
    "department": ("department", "service", "team", "équipe"),
    "expertise": ("expertise", "skills", "compétences"),
    "interests": ("interests", "centres d'intérêt", "interets"),
    "bio": ("bio", "about"),
    "timezone": ("timezone", "time zone", "fuseau horaire"),
}


@dataclass(frozen=True)
class ProfileChanges:
    """Fields to change on a profile; None leaves a field as it is."""

    name: str | None = None
    department: str | None = None
    bio: str | None = None
    timezone: str | None = None
    expertise: list[str] | None = None
    interests: list[str] | None = None
    # The archive's "Write to" link: "on", "off" or "default" ([archive] show_write_to).
    write_to: str | None = None


# "On" and "off" as people write them (folded), in both languages: profile@'s
# "Monthly: off" and "Write to: on" read the same words.
ON_OFF = {"on": True, "yes": True, "oui": True, "off": False, "no": False, "non": False}
# A "Write to" choice as people write it (folded), and as the profile keeps it.
WRITE_TO_VALUES = {
    **{word: "on" if on else "off" for word, on in ON_OFF.items()},
    "default": "default",
    "defaut": "default",
    "par defaut": "default",
}
WRITE_TO_STORED = {"on": True, "off": False, "default": None}


def canonical_address(address: str, allowed_domains: tuple[str, ...] = ()) -> str:
    """Validate and normalize an address, and check it is in an allowed domain."""
    try:
        canonical = normalize_address(address)
    except AddressError as error:
        raise InvalidInput(str(error)) from None
    if not domain_allowed(canonical, allowed_domains):
        raise InvalidInput(
            f"{canonical} is not in an allowed domain ({', '.join(allowed_domains)}; "
            "see [gateway] allowed_domains)"
        )
    return canonical


def find_person(session: Session, address: str) -> Person | None:
    try:
        canonical = normalize_address(address)
    except AddressError:
        return None
    return session.scalar(select(Person).where(Person.address == canonical))


def get_person(session: Session, address: str) -> Person:
    person = find_person(session, address)
    if person is None:
        raise NotFound(f"no one with the address {address.strip()!r} is known to the gateway")
    return person


def ensure_person(session: Session, address: str, allowed_domains: tuple[str, ...] = ()) -> Person:
    """The person with this address, created (with an empty profile) if new."""
    canonical = canonical_address(address, allowed_domains)
    person = session.scalar(select(Person).where(Person.address == canonical))
    if person is None:
        person = Person(address=canonical)
        session.add(person)
        session.flush()
    return person


def display_name(name: str, address: str) -> str:
    """A person as pages and mails name them: their name, else their address's local
    part (a page never shows an address)."""
    return name or address.split("@", 1)[0]


def keep_display_name(person: Person, name: str) -> bool:
    """Give a person without a name the display name of their mail's From header (a
    person who joins by mail); a name already in the profile is never overwritten.
    Returns whether the name was set."""
    name = " ".join(name.split())[:200]
    if person.name or not name or "@" in name:  # "alice@example.com" is not a name
        return False
    person.name = name
    return True


def people_by_address(session: Session, addresses: Iterable[str]) -> dict[str, Person]:
    """The known people among these canonical addresses, with their tags, in a few queries."""
    wanted = list(addresses)
    found: dict[str, Person] = {}
    for chunk in chunks(wanted):
        query = select(Person).where(Person.address.in_(chunk)).options(selectinload(Person.tags))
        found.update((person.address, person) for person in session.scalars(query))
    return found


def ensure_people(session: Session, addresses: Iterable[str]) -> tuple[dict[str, Person], set[str]]:
    """The people with these canonical addresses, creating the missing ones in one batch.

    Returns them by address, and the addresses that were new. Imports use this
    instead of ensure_person() to avoid a query and a flush per row.
    """
    wanted = list(dict.fromkeys(addresses))
    people = people_by_address(session, wanted)
    new = {address for address in wanted if address not in people}
    for address in wanted:
        if address in new:
            people[address] = Person(address=address, tags=[], memberships=[])
            session.add(people[address])
    session.flush()
    return people, new


def plan_rows(
    table: CsvTable,
    report: ImportReport,
    allowed_domains: tuple[str, ...],
    parse: Callable[[dict[str, str]], _Parsed],
) -> list[tuple[str, _Parsed]]:
    """Check every row of an import: its address, no repeats, and what parse() makes of it.

    Refusals are collected with their line numbers; the caller then calls
    report.raise_if_errors() before changing anything.
    """
    seen: dict[str, int] = {}
    planned: list[tuple[str, _Parsed]] = []
    for row in table.rows:
        with report.row(row.line):
            address = canonical_address(row.values.get("email", ""), allowed_domains)
            if address in seen:
                raise InvalidInput(f"{address} is already on line {seen[address]}")
            seen[address] = row.line
            planned.append((address, parse(row.values)))
    return planned


def set_profile(
    session: Session, address: str, changes: ProfileChanges, allowed_domains: tuple[str, ...] = ()
) -> Person:
    checked = check_profile_changes(changes)
    person = ensure_person(session, address, allowed_domains)
    apply_profile_changes(person, checked)
    session.flush()
    return person


def check_profile_changes(changes: ProfileChanges) -> ProfileChanges:
    """The changes trimmed and validated; raises InvalidInput on a value that cannot be kept."""

    def bounded(value: str | None, limit: int, what: str) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if len(value) > limit:
            raise InvalidInput(f"the {what} is {len(value)} characters long; at most {limit}")
        return value

    return ProfileChanges(
        name=bounded(changes.name, MAX_NAME, "name"),
        department=bounded(changes.department, MAX_NAME, "department"),
        bio=bounded(changes.bio, MAX_BIO, "bio"),
        timezone=None if changes.timezone is None else validate_timezone(changes.timezone),
        expertise=None if changes.expertise is None else parse_tags(", ".join(changes.expertise)),
        interests=None if changes.interests is None else parse_tags(", ".join(changes.interests)),
        write_to=None if changes.write_to is None else validate_write_to(changes.write_to),
    )


def apply_profile_changes(person: Person, changes: ProfileChanges) -> bool:
    """Apply checked changes to a person; return whether anything changed."""
    before = describe_profile(person, memberships=False)
    for field in ("name", "department", "bio", "timezone"):
        value = getattr(changes, field)
        if value is not None:
            setattr(person, field, value)
    if changes.expertise is not None:
        _replace_tags(person, TagKind.EXPERTISE, changes.expertise)
    if changes.interests is not None:
        _replace_tags(person, TagKind.INTEREST, changes.interests)
    if changes.write_to is not None:
        person.show_write_to = WRITE_TO_STORED[changes.write_to]
    return describe_profile(person, memberships=False) != before


def validate_write_to(value: str) -> str:
    """The choice "on", "off" or "default" from what a person wrote ("Oui", "défaut", "no"...)."""
    choice = WRITE_TO_VALUES.get(fold_tag(value))
    if choice is None:
        raise InvalidInput(f"{value.strip()!r} is not a Write to choice (on, off or default)")
    return choice


def write_to_choice(person: Person) -> str:
    """The person's "Write to" choice as profile@ and the CLI show it."""
    if person.show_write_to is None:
        return "default"
    return "on" if person.show_write_to else "off"


def validate_timezone(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"{value!r} is not a known time zone (e.g. 'Europe/Paris')") from None
    return value


# --- tags


def parse_tags(text: str) -> list[str]:
    """Split "a, b; c" into labels, dropping blanks and repeats (compared folded)."""
    labels: dict[str, str] = {}
    for part in re.split(r"[,;\n]", text):
        label = " ".join(part.split())
        if not label:
            continue
        if len(label) > MAX_TAG:
            raise InvalidInput(f"the tag {label[:40]!r}... is longer than {MAX_TAG} characters")
        labels.setdefault(fold_tag(label), label)
    if len(labels) > MAX_TAGS:
        raise InvalidInput(f"{len(labels)} tags given; at most {MAX_TAGS}")
    return list(labels.values())


def fold_tag(label: str) -> str:
    """The form tags are compared in: case- and accent-insensitive, single spaces."""
    decomposed = unicodedata.normalize("NFKD", label.casefold())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.split())


def _replace_tags(person: Person, kind: TagKind, labels: list[str]) -> None:
    # Update in place: deleting then re-adding the same tag in one flush would
    # trip the (person, kind, tag) unique constraint.
    wanted = {fold_tag(label): (position, label) for position, label in enumerate(labels)}
    for existing in [tag for tag in person.tags if tag.kind == kind]:
        if existing.tag in wanted:
            existing.position, existing.label = wanted.pop(existing.tag)
        else:
            person.tags.remove(existing)
    for tag, (position, label) in wanted.items():
        person.tags.append(PersonTag(kind=kind, tag=tag, label=label, position=position))
    person.tags.sort(key=lambda item: (item.kind, item.position))


def labels(person: Person, kind: TagKind) -> list[str]:
    return [tag.label for tag in sorted(person.tags, key=lambda t: t.position) if tag.kind == kind]


def find_by_tag(
    session: Session, tag: str, kind: TagKind | None = None
) -> list[tuple[Person, list[TagKind]]]:
    """People who list this expertise or interest, with which of the two matched."""
    folded = fold_tag(tag)
    if not folded:
        raise InvalidInput("the tag to find is empty")
    query = (
        select(Person, PersonTag.kind)
        .join(PersonTag, PersonTag.person_id == Person.id)
        .where(PersonTag.tag == folded)
        .order_by(Person.address, PersonTag.kind)
        .options(selectinload(Person.tags))
    )
    if kind is not None:
        query = query.where(PersonTag.kind == kind)
    found: dict[int, tuple[Person, list[TagKind]]] = {}
    for person, matched in session.execute(query):
        found.setdefault(person.id, (person, []))[1].append(matched)
    return list(found.values())


# --- the stable shape printed by --json (documented in the README)


def describe_profile(person: Person, memberships: bool = True) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "email": person.address,
        "name": person.name,
        "department": person.department,
        "bio": person.bio,
        "timezone": person.timezone,
        "expertise": labels(person, TagKind.EXPERTISE),
        "interests": labels(person, TagKind.INTEREST),
        "write_to": write_to_choice(person),
    }
    if memberships:
        profile["communities"] = [
            describe_own_membership(membership)
            for membership in sorted(person.memberships, key=lambda m: m.community.slug)
        ]
    return profile


def describe_own_membership(membership: Membership) -> dict[str, Any]:
    return {
        "slug": membership.community.slug,
        "name": membership.community.name,
        "role": membership.role.value,
        "delivery": membership.delivery.value,
    }


# --- HR directory import


def import_profiles(
    session: Session, path: Path, allowed_domains: tuple[str, ...] = ()
) -> ImportReport:
    """Create or update one profile per row; any bad row and nothing is imported.

    An empty cell leaves that field as it is, so a partial export never wipes data.
    """
    table = read_csv(path, PROFILE_COLUMNS, required="email")
    report = ImportReport(path=path, ignored_columns=table.ignored_columns)
    planned = plan_rows(table, report, allowed_domains, _row_changes)
    report.raise_if_errors()
    people, new = ensure_people(session, [address for address, _ in planned])
    for address, changes in planned:
        changed = apply_profile_changes(people[address], changes)
        report.count(added=address in new, changed=changed)
    session.flush()
    return report


def _row_changes(values: dict[str, str]) -> ProfileChanges:
    def cell(column: str) -> str | None:
        return values.get(column) or None

    def tags(column: str) -> list[str] | None:
        text = cell(column)
        return None if text is None else parse_tags(text)

    return check_profile_changes(
        ProfileChanges(
            name=cell("name"),
            department=cell("department"),
            bio=cell("bio"),
            timezone=cell("timezone"),
            expertise=tags("expertise"),
            interests=tags("interests"),
        )
    )
