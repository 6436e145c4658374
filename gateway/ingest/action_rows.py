"""The action_mail row of an inbound mail: what the email actions read to handle it.

Written by the record_actions stage (mail to an action address, delivery reports)
and by the enqueue stage (a held post asks for its notices)."""

from __future__ import annotations

from gateway.ingest.context import IngestContext
from gateway.store.models import ActionKind
from gateway.store.models import ActionMail


def action_row(
    ctx: IngestContext,
    recipient: str,
    action: ActionKind,
    community_id: int | None,
    token: str = "",
) -> ActionMail:
    """The action_mail row of this mail for one action (its raw blob is the mail's)."""
    return ActionMail(
        recipient=recipient[:254],
        action=action,
        community_id=community_id,
        token=token[:128],
        sender=ctx.sender[:254],
        message_id=ctx.message_id,
        raw_sha256=ctx.raw_sha256,
        raw_size=len(ctx.mail.raw),
        received_at=ctx.mail.received_at,
        peer=ctx.mail.peer[:64],
        envelope_sender=ctx.mail.mail_from.strip().strip("<>").lower()[:254],
    )
