"""help@ and SLUG-help@: the public communities grouped by kind, with their addresses and
descriptions, and the actions; SLUG-help@ puts that community first.

A reply to the gateway's own mail or to a post (help@ and digest@ receive those) is not
answered with the help text: gateway.actions.replies posts it or says why it could not."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.actions import replies
from gateway.actions.context import ActionContext
from gateway.actions.context import community_values
from gateway.store.models import Community
from gateway.store.models import Kind
from gateway.store.models import Visibility


def run(ctx: ActionContext) -> None:
    if replies.run(ctx):
        return
    ctx.answer(
        "action_help",
        {
            "community": ctx.community_values() if ctx.community is not None else None,
            "kinds": public_by_kind(ctx),
            "profile_address": ctx.address("profile"),
            "help_address": ctx.address("help"),
        },
    )


def public_by_kind(ctx: ActionContext) -> list[dict[str, Any]]:
    """[{"kind": "practice", "communities": [...]}] in the order of Kind, open ones only."""
    communities = ctx.session.scalars(
        select(Community)
        .where(Community.visibility == Visibility.PUBLIC, Community.closed_at.is_(None))
        .order_by(Community.name)
    ).all()
    groups = []
    for kind in Kind:
        found = [community_values(c, ctx.settings) for c in communities if c.kind is kind]
        if found:
            groups.append({"kind": kind.value, "communities": found})
    return groups
