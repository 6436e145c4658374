"""profile@: an empty mail gets the sender's profile back; lines such as "Expertise: a, b"
(or their French forms) change it. The answer shows the result and lists the lines
it could not use: unknown lines are reported, never guessed. A change is made at once
only when the sender is authenticated; otherwise the address is mailed what will
change and confirms it first (gateway.actions.on_behalf): a profile shows on the
public archive, and anyone can write any From."""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import replace
from typing import Any

from gateway.actions.context import ActionContext
from gateway.actions.on_behalf import authenticated
from gateway.actions.on_behalf import confirm_first
from gateway.actions.text import own_lines
from gateway.community.people import ON_OFF
from gateway.community.people import ProfileChanges
from gateway.community.people import apply_profile_changes
from gateway.community.people import check_profile_changes
from gateway.community.people import describe_profile
from gateway.community.people import ensure_person
from gateway.community.people import find_person
from gateway.community.people import fold_tag
from gateway.errors import InvalidInput
from gateway.mail.addresses import domain_allowed
from gateway.store.models import Confirmation
from gateway.store.models import PendingAction

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
    # The archive's "Write to <name>" link on the person's page: on, off or default.
    "write to": "write_to",
    "write to me": "write_to",
    "ecrire": "write_to",
    "m'ecrire": "write_to",
    "me contacter": "write_to",
}
TAG_FIELDS = frozenset({"expertise", "interests"})
# "Monthly: off" (the monthly mail's opt-out link writes it) and "Monthly: on".
MONTHLY_FIELDS = frozenset({"monthly", "monthly mail", "mensuel", "lettre mensuelle"})
MAX_REPORTED = 10


def run(ctx: ActionContext) -> None:
    monthly, lines, monthly_problems = read_monthly(own_lines(ctx.mail.body_text))
    changes, problems = read_lines(lines)
    problems = monthly_problems + problems
    asked = changes != ProfileChanges() or monthly is not None
    if asked and not domain_allowed(ctx.sender, ctx.settings.gateway.allowed_domains):
        ctx.answer("action_refused", {"reason": "domain", "community": None})
        return
    if asked and not authenticated(ctx):
        confirm_first(
            ctx,
            PendingAction.PROFILE,
            "action_profile_confirm",
            {"changes": asdict(changes), "monthly": monthly, **_problems(problems)},
            payload={"changes": asdict(changes), "monthly": monthly},
        )
        return
    _apply(ctx, changes, monthly, problems, asked)


def confirmed(ctx: ActionContext, confirmation: Confirmation) -> None:
    """The address confirmed the changes it was sent (checked when they were asked)."""
    changes = ProfileChanges(**confirmation.payload.get("changes", {}))
    _apply(ctx, changes, confirmation.payload.get("monthly"), [], True)


def _apply(
    ctx: ActionContext,
    changes: ProfileChanges,
    monthly: bool | None,
    problems: list[dict[str, Any]],
    asked: bool,
) -> None:
    person = find_person(ctx.session, ctx.sender)
    changed = False
    if asked:
        if person is not None:
            # Locked and read again: two profile mails at once (on two nodes) take
            # turns, and the second replaces the tags the first wrote, not the old ones.
            ctx.session.refresh(person, with_for_update=True)
        person = ensure_person(ctx.session, ctx.sender)
        changed = apply_profile_changes(person, changes)
        if monthly is not None and person.monthly_mail != monthly:
            person.monthly_mail = monthly
            changed = True
        ctx.session.flush()
    profile = describe_profile(person) if person is not None else None
    ctx.answer(
        "action_profile",
        {
            "profile": profile,
            "changed": changed,
            "asked": asked,
            "monthly": person.monthly_mail if person is not None else True,
            "write_to_default": ctx.settings.archive.show_write_to,
            "profile_address": ctx.address("profile"),
            **_problems(problems),
        },
    )


def _problems(problems: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "problems": problems[:MAX_REPORTED],
        "more_problems": max(0, len(problems) - MAX_REPORTED),
    }


def line_name(name: str) -> str:
    """A line's name as FIELDS keeps it: folded, with the curly apostrophe iOS and macOS
    type ("M’écrire", "Centres d’intérêt") made straight."""
    return fold_tag(name.replace("\u2019", "'"))


def read_monthly(lines: list[str]) -> tuple[bool | None, list[str], list[dict[str, Any]]]:
    """The "Monthly: on|off" line's wish (the last one wins), the other lines, and the
    monthly lines whose value is neither."""
    wish: bool | None = None
    others: list[str] = []
    problems: list[dict[str, Any]] = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or line_name(name) not in MONTHLY_FIELDS:
            others.append(line)
        elif fold_tag(value) in ON_OFF:
            wish = ON_OFF[fold_tag(value)]
        else:
            problems.append({"line": line.strip()[:200], "problem": "invalid"})
    return wish, others, problems


def read_lines(lines: list[str]) -> tuple[ProfileChanges, list[dict[str, Any]]]:
    """The changes the lines ask for, each checked on its own, and the lines not used:
    {"line", "problem"} with problem "unknown" (no such field) or "invalid"."""
    changes = ProfileChanges()
    problems: list[dict[str, Any]] = []
    for line in lines:
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        field = FIELDS.get(line_name(name)) if colon else None
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
