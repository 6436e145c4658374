"""SLUG-instant@, -daily@, -weekly@, -nomail@: change how a member gets the community's
mail, and say what changed and how to undo it. The change is made at once only when
the sender is authenticated; otherwise the member's address confirms it first
(gateway.actions.on_behalf)."""

from __future__ import annotations

from gateway.actions.context import ActionContext
from gateway.actions.on_behalf import authenticated
from gateway.actions.on_behalf import confirm_first
from gateway.community.members import find_membership
from gateway.store.models import Community
from gateway.store.models import Confirmation
from gateway.store.models import DeliveryMode
from gateway.store.models import Membership
from gateway.store.models import PendingAction

MODES = {
    "instant": DeliveryMode.INSTANT,
    "daily": DeliveryMode.DAILY,
    "weekly": DeliveryMode.WEEKLY,
    "nomail": DeliveryMode.NONE,
}
# The address that sets each mode (the undo link of an answer).
ADDRESS_OF = {mode: action for action, mode in MODES.items()}


def run(ctx: ActionContext) -> None:
    community = ctx.known_community()
    if community is None:
        return
    membership = _membership(ctx, community)
    if membership is None:
        return
    after = MODES[ctx.row.action]
    if membership.delivery is after or authenticated(ctx):
        _change(ctx, community, membership, after)
        return
    confirm_first(
        ctx,
        PendingAction.DELIVERY,
        "action_delivery_confirm",
        {
            "community": ctx.community_values(),
            "before": membership.delivery.value,
            "after": after.value,
        },
        community.id,
        {"mode": after.value},
    )


def confirmed(ctx: ActionContext, confirmation: Confirmation) -> None:
    """The member confirmed the change their address was sent."""
    assert ctx.community is not None  # confirm.run answers when it is gone
    membership = _membership(ctx, ctx.community)
    if membership is not None:
        after = DeliveryMode(confirmation.payload.get("mode", ""))
        _change(ctx, ctx.community, membership, after)


def _membership(ctx: ActionContext, community: Community) -> Membership | None:
    membership = find_membership(ctx.session, community, ctx.sender)
    if membership is None:
        ctx.answer("action_not_member", {"community": ctx.community_values(community)})
    return membership


def _change(
    ctx: ActionContext, community: Community, membership: Membership, after: DeliveryMode
) -> None:
    before = membership.delivery
    membership.delivery = after
    ctx.session.flush()
    ctx.answer(
        "action_delivery",
        {
            "community": ctx.community_values(community),
            "before": before.value,
            "after": after.value,
            "changed": before is not after,
            "undo": ctx.address(f"{community.slug}-{ADDRESS_OF[before]}"),
            "stopped": membership.disabled_at is not None,
        },
    )
