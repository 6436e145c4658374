"""Stage record_actions: an action_mail row for each action address a mail was sent to
(and each delivery report), for the email actions to handle; its raw bytes are kept."""

from __future__ import annotations

from sqlalchemy import select

from gateway.ingest.action_rows import action_row
from gateway.ingest.context import IngestContext
from gateway.store.models import ActionKind
from gateway.store.models import ActionMail
from gateway.store.models import Community


def run(ctx: IngestContext) -> None:
    for action in ctx.actions:
        assert action.action is not None  # route keeps only the action addresses
        _record_action(ctx, action.address, action.action, action.slug, action.token)
    if ctx.actions:
        ctx.session.flush()


def _record_action(
    ctx: IngestContext, recipient: str, action: ActionKind, slug: str, token: str
) -> None:
    session = ctx.session
    already = session.scalar(
        select(ActionMail.id).where(
            ActionMail.recipient == recipient, ActionMail.message_id == ctx.message_id
        )
    )
    if already is not None:
        return
    community_id = (
        session.scalar(select(Community.id).where(Community.slug == slug)) if slug else None
    )
    session.add(action_row(ctx, recipient, action, community_id, token))
