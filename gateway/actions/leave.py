"""SLUG-leave@: asks the member to confirm (confirm+TOKEN@), or leaves at once when the
sender is authenticated (gateway.actions.on_behalf: through a trusted relay that
vouches for the From address)."""

from __future__ import annotations

from gateway.actions.context import ActionContext
from gateway.actions.membership_changes import leave_now
from gateway.actions.on_behalf import authenticated
from gateway.actions.on_behalf import confirm_first
from gateway.community.members import find_membership
from gateway.store.models import PendingAction


def run(ctx: ActionContext) -> None:
    community = ctx.known_community()
    if community is None:
        return
    values = {"community": ctx.community_values()}
    if find_membership(ctx.session, community, ctx.sender) is None:
        ctx.answer("action_not_member", values)
        return
    if authenticated(ctx):
        leave_now(ctx, community)
        return
    confirm_first(ctx, PendingAction.LEAVE, "action_leave_confirm", values, community.id)
