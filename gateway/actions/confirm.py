"""confirm+TOKEN@: a reply that confirms what its token was issued for (join, leave,
admitting someone to a private community, approving or rejecting a held post).

A forged, used, expired or someone else's token is answered and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.actions import membership_changes
from gateway.actions import moderation
from gateway.actions import tokens
from gateway.actions.context import ActionContext
from gateway.store.models import Community
from gateway.store.models import Confirmation

Confirmed = Callable[[ActionContext, Confirmation], None]

CONFIRMED: dict[str, Confirmed] = {
    "join": membership_changes.confirm_join,
    "admit": membership_changes.admit,
    "leave": membership_changes.confirm_leave,
    "approve": moderation.approve,
    "reject": moderation.reject,
}


def run(ctx: ActionContext) -> None:
    result = tokens.redeem(ctx.session, ctx.row.token, ctx.sender, ctx.now)
    if isinstance(result, tokens.TokenProblem):
        ctx.answer("action_token", {"problem": result.value, "help": ctx.address("help")})
        return
    if result.community_id is not None:
        ctx.community = ctx.session.get(Community, result.community_id)
    if ctx.community is None and result.action in ("join", "admit", "leave"):
        ctx.answer("action_refused", {"reason": "unknown", "community": None})
        return
    CONFIRMED[result.action](ctx, result)
