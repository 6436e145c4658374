"""SLUG-instant@, -daily@, -weekly@, -nomail@: change how a member gets the community's
mail, and say what changed and how to undo it."""

from __future__ import annotations

from gateway.actions.context import ActionContext
from gateway.community.members import find_membership
from gateway.store.models import DeliveryMode

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
    values = {"community": ctx.community_values()}
    membership = find_membership(ctx.session, community, ctx.sender)
    if membership is None:
        ctx.answer("action_not_member", values)
        return
    before = membership.delivery
    after = MODES[ctx.row.action]
    membership.delivery = after
    ctx.session.flush()
    ctx.answer(
        "action_delivery",
        {
            **values,
            "before": before.value,
            "after": after.value,
            "changed": before is not after,
            "undo": ctx.address(f"{community.slug}-{ADDRESS_OF[before]}"),
            "stopped": membership.disabled_at is not None,
        },
    )
