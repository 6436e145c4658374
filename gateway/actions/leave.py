"""SLUG-leave@: asks the member to confirm (confirm+TOKEN@), or leaves at once when the
mail came from the member's own address through a trusted relay ([actions]
trusted_relays: an MTA that checks senders, so the From can be believed)."""

from __future__ import annotations

from gateway.actions import tokens
from gateway.actions.context import ActionContext
from gateway.actions.membership_changes import leave_now
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
    if trusted(ctx):
        leave_now(ctx, community)
        return
    token = tokens.issue(
        ctx.session, ctx.settings, ctx.now, PendingAction.LEAVE, ctx.sender, community.id
    )
    confirm = ctx.confirm_address(token)
    ctx.answer(
        "action_leave_confirm",
        {**values, "confirm": confirm, "days": ctx.settings.actions.token_days},
        reply_to=confirm,
    )


def trusted(ctx: ActionContext) -> bool:
    """Whether it came through a trusted relay, from the member's own address: the
    envelope sender the relay checked is the From address."""
    return (
        bool(ctx.row.peer)
        and ctx.row.peer in ctx.settings.actions.trusted_relays
        and ctx.row.envelope_sender == ctx.sender
    )
