"""The action_mail row of an inbound mail: what the email actions read to handle it.

Written by the record_actions stage (mail to an action address, delivery reports)
and by the enqueue stage (a held post asks for its notices). One row per Message-ID
and recipient: a mail taken in again (an MTA's retry, the same bytes spooled on two
nodes, ingested by both at the same moment) leaves the first row as it is, so that
it is acted on, and answered, once."""

from __future__ import annotations

from gateway.ingest.context import IngestContext
from gateway.store.models import ActionKind
from gateway.store.models import ActionMail
from gateway.store.sql import insert_if_new

# The unique key of action_mail (migration 0012).
KEY = ("message_id", "recipient")


def add_action_row(
    ctx: IngestContext,
    recipient: str,
    action: ActionKind,
    community_id: int | None,
    token: str = "",
) -> None:
    """Insert this mail's action_mail row for one action (its raw blob is the mail's),
    unless the row of its Message-ID and recipient is stored already (INSERT ... ON
    CONFLICT DO NOTHING: with another transaction inserting it at the same time, this
    one waits for it and then leaves it, rather than failing)."""
    session = ctx.session
    values = {
        "recipient": recipient[:254],
        "action": action,
        "community_id": community_id,
        "token": token[:128],
        "sender": ctx.sender[:254],
        "message_id": ctx.message_id,
        "raw_sha256": ctx.raw_sha256,
        "raw_size": len(ctx.mail.raw),
        "received_at": ctx.mail.received_at,
        "peer": ctx.mail.peer[:64],
        "envelope_sender": ctx.mail.mail_from.strip().strip("<>").lower()[:254],
    }
    session.execute(insert_if_new(session, ActionMail, KEY).values(values))
