"""SLUG-join@: asks the sender to confirm (confirm+TOKEN@); the confirmation makes them a
member, or, for a private community, asks its owners to admit them.

The display name of the mail's From goes with the token: a new person, or one
known without a name, keeps it in their profile (a name already there is never
replaced). An existing member is told so; an address outside [gateway] allowed_domains, or a
closed community, gets a refusal saying why.
"""

from __future__ import annotations

from gateway.actions import tokens
from gateway.actions.context import ActionContext
from gateway.community.members import find_membership
from gateway.mail.addresses import domain_allowed
from gateway.store.models import PendingAction


def run(ctx: ActionContext) -> None:
    community = ctx.known_community()
    if community is None:
        return
    values = {"community": ctx.community_values()}
    if community.closed_at is not None:
        ctx.answer("action_refused", {**values, "reason": "closed"})
        return
    if not domain_allowed(ctx.sender, ctx.settings.gateway.allowed_domains):
        ctx.answer("action_refused", {**values, "reason": "domain"})
        return
    membership = find_membership(ctx.session, community, ctx.sender)
    if membership is not None:
        ctx.answer("action_already_member", {**values, "delivery": membership.delivery.value})
        return
    # The From's display name, kept for the profile when the join is confirmed.
    token = tokens.issue(
        ctx.session,
        ctx.settings,
        ctx.now,
        PendingAction.JOIN,
        ctx.sender,
        community.id,
        {"name": ctx.mail.from_name},
    )
    confirm = ctx.confirm_address(token)
    ctx.answer(
        "action_join_confirm",
        {**values, "confirm": confirm, "days": ctx.settings.actions.token_days},
        reply_to=confirm,
    )
