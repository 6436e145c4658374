"""Changes on someone's behalf (leave, delivery, mute, profile, the monthly mail): done
at once when the sender is authenticated, else only once the address confirms.

Authenticated means through one of [actions] trusted_relays (an MTA that checks
senders), and either the envelope sender the relay checked is the From address, or
the relay's own Authentication-Results (the first one) shows DMARC or aligned DKIM
for the From domain. Anyone can write any From: without that, the change is mailed
to the address for confirmation (confirm+TOKEN@), and nothing changes until it is.
"""

from __future__ import annotations

from typing import Any

from gateway.actions import tokens
from gateway.actions.context import ActionContext
from gateway.mail.authentication import authenticates
from gateway.mail.headers import values
from gateway.store.models import PendingAction


def authenticated(ctx: ActionContext) -> bool:
    if not ctx.row.peer or ctx.row.peer not in ctx.settings.actions.trusted_relays:
        return False
    if ctx.row.envelope_sender == ctx.sender:
        return True
    return authenticates(values(ctx.mail.header_values, "authentication-results"), ctx.sender)


def confirm_first(
    ctx: ActionContext,
    action: PendingAction,
    key: str,
    answer_values: dict[str, Any],
    community_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Mail the sender's address the `key` answer, which says what will change, with a
    confirm+TOKEN@ address (its Reply-To) that does it."""
    token = tokens.issue(
        ctx.session, ctx.settings, ctx.now, action, ctx.sender, community_id, payload
    )
    confirm = ctx.confirm_address(token)
    ctx.answer(
        key,
        {**answer_values, "confirm": confirm, "days": ctx.settings.actions.token_days},
        reply_to=confirm,
    )
