"""confirm+TOKEN@: a reply that confirms what its token was issued for (join, leave,
admitting someone to a private community, approving or rejecting a held post, a
change of profile, delivery, mute or accepted answer asked on the address's behalf).

A forged, used, expired or someone else's token is answered and changes nothing. A
reply that asks a question instead of confirming one's own request, or that says more
than yes to a staff member's approve or admit token, confirms nothing and is sent on to
the owners (gateway.actions.confirm_questions).
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.actions import answer
from gateway.actions import confirm_questions
from gateway.actions import delivery
from gateway.actions import membership_changes
from gateway.actions import moderation
from gateway.actions import mute
from gateway.actions import profile
from gateway.actions import tokens
from gateway.actions.context import ActionContext
from gateway.store.models import Community
from gateway.store.models import Confirmation
from gateway.store.models import PendingAction

Confirmed = Callable[[ActionContext, Confirmation], None]

CONFIRMED: dict[PendingAction, Confirmed] = {
    PendingAction.JOIN: membership_changes.confirm_join,
    PendingAction.ADMIT: membership_changes.admit,
    PendingAction.LEAVE: membership_changes.confirm_leave,
    PendingAction.APPROVE: moderation.approve,
    PendingAction.REJECT: moderation.reject,
    PendingAction.PROFILE: profile.confirmed,
    PendingAction.DELIVERY: delivery.confirmed,
    PendingAction.MUTE: mute.confirmed,
    PendingAction.ANSWER: answer.confirmed,
}
# Actions on a community's membership: nothing to do once the community is gone.
ON_MEMBERSHIP = frozenset(
    {PendingAction.JOIN, PendingAction.ADMIT, PendingAction.LEAVE, PendingAction.DELIVERY}
)


def run(ctx: ActionContext) -> None:
    result = tokens.check(ctx.session, ctx.row.token, ctx.sender, ctx.now)
    if isinstance(result, tokens.TokenProblem):
        ctx.answer("action_token", {"problem": result.value, "help": ctx.address("help")})
        return
    if result.community_id is not None:
        ctx.community = ctx.session.get(Community, result.community_id)
    if confirm_questions.handle(ctx, result):
        return  # a question: the token still works
    result.used_at = ctx.now
    if ctx.community is None and result.action in ON_MEMBERSHIP:
        ctx.answer("action_refused", {"reason": "unknown", "community": None})
        return
    CONFIRMED[result.action](ctx, result)
