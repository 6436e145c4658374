"""profile@: an empty mail gets the sender's profile back; lines such as "Expertise: a, b"
(or their French forms) change it. The answer shows the result and lists the lines
it could not use: unknown lines are reported, never guessed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gateway.actions.context import ActionContext
from gateway.actions.text import own_lines
from gateway.addresses import domain_allowed
from gateway.errors import InvalidInput
from gateway.people import ProfileChanges
from gateway.people import apply_profile_changes
from gateway.people import check_profile_changes
from gateway.people import describe_profile
from gateway.people import ensure_person
from gateway.people import find_person
from gateway.people import fold_tag

# Line names, compared folded (case and accents ignored), to the profile field.
FIELDS = {
    "name": "name",
    "nom": "name",
    "expertise": "expertise",
    "expertises": "expertise",
    "competences": "expertise",
    "interests": "interests",
    "interest": "interests",
    "centres d'interet": "interests",
    "centres d interet": "interests",
    "interets": "interests",
    "department": "department",
    "service": "department",
    "bio": "bio",
    "timezone": "timezone",
    "time zone": "timezone",
    "fuseau horaire": "timezone",
}
TAG_FIELDS = frozenset({"expertise", "interests"})
MAX_REPORTED = 10


def run(ctx: ActionContext) -> None:
    changes, problems = read_lines(own_lines(ctx.mail.body_text))
    person = find_person(ctx.session, ctx.sender)
    changed = False
    if changes != ProfileChanges():
        if not domain_allowed(ctx.sender, ctx.settings.gateway.allowed_domains):
            ctx.answer("action_refused", {"reason": "domain", "community": None})
            return
        person = ensure_person(ctx.session, ctx.sender)
        changed = apply_profile_changes(person, changes)
        ctx.session.flush()
    profile = describe_profile(person) if person is not None else None
    ctx.answer(
        "action_profile",
        {
            "profile": profile,
            "changed": changed,
            "asked": changes != ProfileChanges(),
            "problems": problems[:MAX_REPORTED],
            "more_problems": max(0, len(problems) - MAX_REPORTED),
            "profile_address": ctx.address("profile"),
        },
    )


def read_lines(lines: list[str]) -> tuple[ProfileChanges, list[dict[str, Any]]]:
    """The changes the lines ask for, each checked on its own, and the lines not used:
    {"line", "problem"} with problem "unknown" (no such field) or "invalid"."""
    changes = ProfileChanges()
    problems: list[dict[str, Any]] = []
    for line in lines:
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        field = FIELDS.get(fold_tag(name)) if colon else None
        if field is None:
            problems.append({"line": line.strip()[:200], "problem": "unknown"})
            continue
        value = value.strip()
        change = {field: [value] if field in TAG_FIELDS else value}
        try:
            checked = check_profile_changes(ProfileChanges(**change))  # type: ignore[arg-type]
        except InvalidInput:
            problems.append({"line": line.strip()[:200], "problem": "invalid"})
            continue
        changes = replace(changes, **{field: getattr(checked, field)})
    return changes, problems
