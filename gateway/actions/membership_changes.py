"""What a confirmed join or leave does: the membership changes, and the person is told.

Shared by confirm+TOKEN@ (the person's or an owner's reply) and by a leave taken
at once from a trusted relay.
"""

from __future__ import annotations

from sqlalchemy import select

from gateway.actions import tokens
from gateway.actions.context import ActionContext
from gateway.actions.welcome import send_welcome
from gateway.community.members import find_membership
from gateway.community.people import ensure_person
from gateway.community.people import find_person
from gateway.community.people import keep_display_name
from gateway.store.models import Community
from gateway.store.models import Confirmation
from gateway.store.models import Membership
from gateway.store.models import PendingAction
from gateway.store.models import Person
from gateway.store.models import Role
from gateway.store.models import Visibility


def confirm_join(ctx: ActionContext, confirmation: Confirmation) -> None:
    community = ctx.community
    assert community is not None
    values = {"community": ctx.community_values()}
    if find_membership(ctx.session, community, ctx.sender) is not None:
        ctx.answer("action_already_member", {**values, "delivery": _delivery(ctx, community)})
        return
    name = _joiner_name(ctx, confirmation)
    if community.visibility is Visibility.PRIVATE:
        _ask_owners(ctx, community, name)
        ctx.answer("action_join_pending", values)
        return
    person = _add(ctx, community, ctx.sender, name)
    send_welcome(ctx, community, person)
    ctx.outcome = "joined"


def admit(ctx: ActionContext, confirmation: Confirmation) -> None:
    """An owner's yes to someone asking to join a private community."""
    community = ctx.community
    assert community is not None
    address = str(confirmation.payload.get("address", ""))
    values = {"community": ctx.community_values(), "address": address}
    if find_membership(ctx.session, community, address) is not None:
        ctx.answer("action_admitted", {**values, "already": True})
        return
    person = _add(ctx, community, address, str(confirmation.payload.get("name", "")))
    send_welcome(ctx, community, person)
    ctx.answer("action_admitted", {**values, "already": False})


def confirm_leave(ctx: ActionContext, confirmation: Confirmation) -> None:
    community = ctx.community
    assert community is not None
    leave_now(ctx, community)


def leave_now(ctx: ActionContext, community: Community) -> None:
    values = {"community": ctx.community_values(community)}
    membership = find_membership(ctx.session, community, ctx.sender)
    if membership is None:
        ctx.answer("action_not_member", values)
        return
    ctx.session.delete(membership)
    ctx.session.flush()
    ctx.answer("action_left", values)


def _joiner_name(ctx: ActionContext, confirmation: Confirmation) -> str:
    """The display name of the join mail's From, else of the confirming reply's."""
    return str(confirmation.payload.get("name") or "") or ctx.mail.from_name


def _add(ctx: ActionContext, community: Community, address: str, name: str = "") -> Person:
    """A member now; a display name from their mail if the profile has none."""
    person = ensure_person(ctx.session, address)
    keep_display_name(person, name)
    ctx.session.add(
        Membership(
            person_id=person.id,
            community_id=community.id,
            role=Role.MEMBER,
            delivery=community.default_delivery,
            joined_at=ctx.now,
        )
    )
    ctx.session.flush()
    return person


def _ask_owners(ctx: ActionContext, community: Community, joiner_name: str) -> None:
    """Each owner gets their own token to admit the sender (bound to the owner)."""
    person = find_person(ctx.session, ctx.sender)
    name = person.name if person is not None and person.name else joiner_name
    for owner in _staff(ctx, community, (Role.OWNER,)):
        token = tokens.issue(
            ctx.session,
            ctx.settings,
            ctx.now,
            PendingAction.ADMIT,
            owner.address,
            community.id,
            {"address": ctx.sender, "name": joiner_name},
        )
        confirm = ctx.confirm_address(token)
        ctx.notify(
            "action_join_request",
            owner.address,
            {
                "community": ctx.community_values(community),
                "address": ctx.sender,
                "name": name,
                "confirm": confirm,
                "days": ctx.settings.actions.token_days,
            },
            person_id=owner.id,
            reply_to=confirm,
        )


def _staff(ctx: ActionContext, community: Community, roles: tuple[Role, ...]) -> list[Person]:
    return list(
        ctx.session.scalars(
            select(Person)
            .join(Membership, Membership.person_id == Person.id)
            .where(Membership.community_id == community.id, Membership.role.in_(roles))
            .order_by(Person.address)
        )
    )


def staff(ctx: ActionContext, community: Community) -> list[Person]:
    """Owners and moderators: who moderates posts and reads SLUG-owner@."""
    return _staff(ctx, community, (Role.OWNER, Role.MODERATOR))


def _delivery(ctx: ActionContext, community: Community) -> str:
    membership = find_membership(ctx.session, community, ctx.sender)
    return membership.delivery.value if membership is not None else ""
