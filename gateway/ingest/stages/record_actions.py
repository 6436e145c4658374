"""Stage record_actions: an action_mail row for each action address a mail was sent to
(and each delivery report), for the email actions to handle; its raw bytes are kept.
A mail taken in again adds no row (gateway.ingest.action_rows)."""

from __future__ import annotations

from gateway.ingest.action_rows import add_action_row
from gateway.ingest.communities import community_for
from gateway.ingest.context import IngestContext


def run(ctx: IngestContext) -> None:
    for action in ctx.actions:
        assert action.action is not None  # route keeps only the action addresses
        community = community_for(ctx, action.slug) if action.slug else None
        community_id = community.id if community is not None else None
        add_action_row(ctx, action.address, action.action, community_id, action.token)
