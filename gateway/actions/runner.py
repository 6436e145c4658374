"""The email actions' round: each unhandled action mail is acted on in a transaction of
its own, so that one that fails (a bug, logged) never holds the others back.

Bounces are read by gateway.outbound.bounces; every other action mail is dispatched
here to its action module. gateway.runtime.outgoing runs both rounds.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from gateway.actions import answer
from gateway.actions import confirm
from gateway.actions import delivery
from gateway.actions import help as help_action
from gateway.actions import join
from gateway.actions import leave
from gateway.actions import moderation
from gateway.actions import mute
from gateway.actions import owner
from gateway.actions import profile
from gateway.actions.context import ActionContext
from gateway.blobs import BlobNotFound
from gateway.blobs import BlobStore
from gateway.mail.addresses import AddressError
from gateway.mail.addresses import normalize_address
from gateway.mail.headers import is_automatic
from gateway.mail.parse import parse_message
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import ActionKind
from gateway.store.models import ActionMail
from gateway.store.models import Community
from gateway.store.sql import lost_to_another_transaction
from gateway.store.sql import skip_locked

if TYPE_CHECKING:
    import jinja2

log = logging.getLogger("gateway.actions")

Action = Callable[[ActionContext], None]

# postmaster@ and abuse@ are kept for an admin, never answered; bounces are the
# delivery worker's.
ACTIONS: dict[ActionKind, Action] = {
    ActionKind.JOIN: join.run,
    ActionKind.LEAVE: leave.run,
    ActionKind.INSTANT: delivery.run,
    ActionKind.DAILY: delivery.run,
    ActionKind.WEEKLY: delivery.run,
    ActionKind.NOMAIL: delivery.run,
    ActionKind.PROFILE: profile.run,
    ActionKind.HELP: help_action.run,
    ActionKind.OWNER: owner.run,
    ActionKind.CONFIRM: confirm.run,
    ActionKind.MUTE: mute.run,
    ActionKind.UNMUTE: mute.run,
    ActionKind.ANSWER: answer.run,
    ActionKind.HELD: moderation.held,
}
# Mail that comes from the pipeline, not from a person writing to an action address.
INTERNAL = frozenset({ActionKind.HELD})
BATCH = 50
# Times an action mail that another node's commit refused is taken again.
RACE_RETRIES = 1


def pending_actions(session: Session, limit: int = BATCH) -> list[int]:
    """Ids of unhandled action mail, oldest first (bounces excepted)."""
    return list(
        session.scalars(
            select(ActionMail.id)
            .where(ActionMail.handled_at.is_(None), ActionMail.action != ActionKind.BOUNCES)
            .order_by(ActionMail.id)
            .limit(limit)
        )
    )


def run_actions(
    sessions: sessionmaker[Session],
    blobs: BlobStore,
    templates: jinja2.Environment,
    settings: Settings,
    now: Callable[[], dt.datetime],
    limit: int = BATCH,
) -> int:
    """Act on up to `limit` action mails, one transaction each; return how many."""
    with transaction(sessions) as session:
        ids = pending_actions(session, limit)
    for row_id in ids:
        try:
            _handle_once_more_if_raced(sessions, blobs, templates, settings, now, row_id)
        except Exception:
            log.exception("action mail %d failed; it is set aside", row_id)
            with transaction(sessions) as session:
                session.execute(
                    update(ActionMail)
                    .where(ActionMail.id == row_id, ActionMail.handled_at.is_(None))
                    .values(handled_at=now(), outcome="failed")
                )
    return len(ids)


def _handle_once_more_if_raced(
    sessions: sessionmaker[Session],
    blobs: BlobStore,
    templates: jinja2.Environment,
    settings: Settings,
    now: Callable[[], dt.datetime],
    row_id: int,
) -> None:
    """Act on one action mail in a transaction of its own, once more if another node's
    commit refused it (two people choosing a thread's answer, one person's two profile
    mails at once): done again, it sees what the other one did, and is answered."""
    for races_left in range(RACE_RETRIES, -1, -1):
        try:
            with transaction(sessions) as session:
                handle_action(session, blobs, templates, settings, now(), row_id)
            return
        except Exception as error:
            if not (races_left and lost_to_another_transaction(error)):
                raise
            log.info("action mail %d raced another transaction; once more", row_id)


def handle_action(
    session: Session,
    blobs: BlobStore,
    templates: jinja2.Environment,
    settings: Settings,
    now: dt.datetime,
    row_id: int,
) -> str:
    """Act on one action mail in the caller's transaction; return its outcome.

    On PostgreSQL the row is locked, and skipped if another `gateway serve` holds
    it, so that several processes never answer the same mail twice."""
    query = select(ActionMail).where(ActionMail.id == row_id, ActionMail.handled_at.is_(None))
    row = session.scalar(skip_locked(session, query))
    if row is None:
        return ""
    row.handled_at = now
    row.outcome = _act(session, blobs, templates, settings, now, row)
    log.info(
        "action message-id=<%s> from=%s to=%s outcome=%s",
        row.message_id,
        row.sender,
        row.recipient,
        row.outcome,
    )
    return row.outcome


def _act(
    session: Session,
    blobs: BlobStore,
    templates: jinja2.Environment,
    settings: Settings,
    now: dt.datetime,
    row: ActionMail,
) -> str:
    action = ACTIONS.get(row.action)
    if action is None:
        return "kept"  # postmaster@, abuse@: kept for an admin, never answered
    try:
        sender = normalize_address(row.sender)
        mail = parse_message(blobs.get(row.raw_sha256))
    except AddressError:
        return "ignored"
    except BlobNotFound:
        log.error("action message-id=<%s>: raw mail missing", row.message_id)
        return "missing"
    if row.action not in INTERNAL and is_automatic(
        mail.header_values,
        sender,
        settings.gateway.domain,
        envelope_sender=row.envelope_sender,
        extra=settings.gateway.automatic_headers,
    ):
        return "ignored"
    community = session.get(Community, row.community_id) if row.community_id else None
    ctx = ActionContext(session, blobs, templates, settings, now, row, mail, sender, community)
    action(ctx)
    return ctx.outcome
