"""Stage record_actions: an action_mail row for each action address a mail was sent to
(and each delivery report), for the email actions to handle; its raw bytes are kept.
A mail taken in again adds no row (gateway.ingest.action_rows)."""

from __future__ import annotations

from sqlalchemy import select

from gateway.ingest.action_rows import add_action_row
from gateway.ingest.context import IngestContext
from gateway.store.models import Community


def run(ctx: IngestContext) -> None:
    for action in ctx.actions:
        assert action.action is not None  # route keeps only the action addresses
        slug = action.slug
        community_id = (
            ctx.session.scalar(select(Community.id).where(Community.slug == slug)) if slug else None
        )
        add_action_row(ctx, action.address, action.action, community_id, action.token)
