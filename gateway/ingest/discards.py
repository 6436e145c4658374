"""The record of discarded mail: each mail accepted with 250 and then discarded leaves a
row (who, what, why), so that no mail disappears without a trace (`gateway inbox
discarded`). No one is told: only automatic mail is discarded."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.ingest.context import IngestContext
from gateway.ingest.errors import DiscardReason
from gateway.store.models import DiscardedMail


def record_discard(ctx: IngestContext, reason: DiscardReason) -> None:
    parsed = ctx.parsed
    ctx.session.add(
        DiscardedMail(
            sender=(ctx.sender or ctx.mail.mail_from)[:254],
            recipients=list(ctx.mail.recipients),
            message_id=ctx.message_id[:998],
            subject=parsed.subject if parsed is not None else "",
            reason=reason.value,
            received_at=ctx.mail.received_at,
            discarded_at=dt.datetime.now(dt.UTC),
        )
    )


def list_discarded(session: Session, limit: int) -> list[dict[str, Any]]:
    """The most recent discards first, as `gateway inbox discarded --json` prints them."""
    rows = session.scalars(
        select(DiscardedMail).order_by(DiscardedMail.id.desc()).limit(limit)
    ).all()
    return [
        {
            "id": row.id,
            "sender": row.sender,
            "recipients": row.recipients,
            "message_id": row.message_id,
            "subject": row.subject,
            "reason": row.reason,
            "received_at": row.received_at.isoformat(),
            "discarded_at": row.discarded_at.isoformat(),
        }
        for row in rows
    ]
