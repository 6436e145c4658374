"""Bounces: delivery reports to bounces+TOKEN@, and the relay's refusals of a recipient,
raise the bouncing member's score; past the threshold their mail stops and the
community's owners are told.

Points follow Mailman's scale, doubled to stay whole: a permanent failure counts 2,
a delay 1, and a score last raised more than a week ago starts again from zero, so
an address that bounced once in a while is never cut off. A relay's refusal counts
only when it is about the recipient (see refuses_recipient): a relay in trouble must
not stop everyone's mail.

Several `gateway serve` nodes on one PostgreSQL count at once, and the delivery
worker's refusals beside the bounce round: a score is raised by one UPDATE on the row
as it stands (count_bounce), and a bounce mail is claimed by one round (handle_bounces),
so that each report counts once and the owners are told once.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import case
from sqlalchemy import literal
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gateway.blobs import BlobNotFound
from gateway.blobs import BlobStore
from gateway.outbound.composer import send_notice
from gateway.outbound.deliveries import Outcome
from gateway.outbound.dsn import BounceReport
from gateway.outbound.dsn import parse_bounce
from gateway.relay.envelope import verp_recipient
from gateway.settings import Settings
from gateway.store.models import ActionKind
from gateway.store.models import ActionMail
from gateway.store.models import Membership
from gateway.store.models import Person
from gateway.store.models import Role
from gateway.store.sql import skip_locked

if TYPE_CHECKING:
    import jinja2

log = logging.getLogger("gateway.bounces")

PERMANENT_POINTS = 2
TRANSIENT_POINTS = 1
STALE_AFTER = dt.timedelta(days=7)
# RFC 3463 class.subject.detail at the start of a reply's text.
_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.\d{1,3}(?!\.?\d)")
# Subjects about the recipient: 1 its address (5.1.1 user unknown), 2 its mailbox (full,
# disabled). Network, system, protocol, content and policy troubles (3 to 7) are not.
_RECIPIENT_SUBJECTS = frozenset({"1", "2"})
# Without an enhanced code: mailbox unavailable, user not local, name not allowed.
_RECIPIENT_CODES = frozenset({450, 550, 551, 553})


def handle_bounces(
    session: Session,
    blobs: BlobStore,
    templates: jinja2.Environment,
    settings: Settings,
    now: dt.datetime,
    limit: int = 100,
) -> int:
    """Act on up to `limit` unhandled bounce mails; return how many were handled.

    The rows are claimed: on PostgreSQL locked, and those another node's round holds
    skipped; on SQLite the round's transaction is the only writer. Each is marked
    handled in the same transaction, so a report counts once however many rounds run
    at once.

    Each in a savepoint of its own: one that cannot be read or counted is set aside
    (outcome "failed") and the others are still counted. The database's own trouble (a
    deadlock, a lost connection, a lock wait timed out) is not the mail's fault: it
    rolls the round back, to be run again. The rows are counted in the order of the
    addresses they name, the order count_refusals locks memberships in too, so that two
    rounds never wait for each other in a circle.
    """
    query = (
        select(ActionMail)
        .where(ActionMail.action == ActionKind.BOUNCES, ActionMail.handled_at.is_(None))
        .order_by(ActionMail.id)
        .limit(limit)
    )
    rows = session.scalars(skip_locked(session, query)).all()
    read = {row.id: _read(row, blobs) for row in rows}
    for row in sorted(rows, key=lambda row: read[row.id] or []):
        found = read[row.id]
        if found is None or not _count(session, templates, settings, row, found, now):
            row.outcome = "failed"
        row.handled_at = now
    return len(rows)


def _read(row: ActionMail, blobs: BlobStore) -> list[tuple[str, int, str]] | None:
    """The row's failures by address, or None (logged) when it cannot be read."""
    try:
        return sorted(_failures(row, blobs))
    except Exception:
        log.exception("bounce %d cannot be read; it is set aside", row.id)
        return None


def _count(
    session: Session,
    templates: jinja2.Environment,
    settings: Settings,
    row: ActionMail,
    failures: list[tuple[str, int, str]],
    now: dt.datetime,
) -> bool:
    """Count one bounce mail's failures in a savepoint; False (logged) when it fails."""
    try:
        with session.begin_nested():
            for address, points, reason in failures:
                for membership in count_bounce(session, address, points, reason, settings, now):
                    _tell_owners(session, templates, settings, membership, reason, now)
    except OperationalError:
        raise
    except Exception:
        log.exception("bounce %d failed; it is set aside", row.id)
        return False
    return True


def count_refusals(
    session: Session,
    templates: jinja2.Environment,
    settings: Settings,
    outcomes: Iterable[Outcome],
    now: dt.datetime,
) -> int:
    """Count the relay's refusals of a recipient (at RCPT or after DATA) like bounces:
    a 5xx like a permanent failure, a 4xx like a delay. A delay counts once per delivery,
    on its first attempt: a mailbox full for a day is retried many times, and is one
    delay, not one per retry. Returns how many were counted."""
    refusals = sorted(
        (
            outcome.delivery.recipient.lower(),
            PERMANENT_POINTS if outcome.code >= 500 else TRANSIENT_POINTS,
            str(outcome),
        )
        for outcome in outcomes
        if refuses_recipient(outcome.code, outcome.text)
        and (outcome.code >= 500 or outcome.delivery.attempts == 0)
    )
    # In the order of the addresses, like handle_bounces: see there.
    for address, points, reason in refusals:
        for membership in count_bounce(session, address, points, reason, settings, now):
            _tell_owners(session, templates, settings, membership, reason, now)
    return len(refusals)


def refuses_recipient(code: int, text: str) -> bool:
    """Whether a relay's 4xx/5xx reply is about the recipient (5.1.1 user unknown, 4.2.2
    mailbox full), not about the relay, the network or the message."""
    if not 400 <= code < 600:
        return False
    enhanced = _ENHANCED.match(text)
    if enhanced:
        return enhanced.group(1) == str(code)[0] and enhanced.group(2) in _RECIPIENT_SUBJECTS
    return code in _RECIPIENT_CODES


def _failures(row: ActionMail, blobs: BlobStore) -> list[tuple[str, int, str]]:
    """(address, points, reason) for each recipient the bounce reports a failure for.

    The VERP address names the recipient we sent to, which the report may not (a
    forwarding address fails instead); the report says how bad it is.
    """
    try:
        reports = parse_bounce(blobs.get(row.raw_sha256), null_sender=not row.envelope_sender)
    except BlobNotFound:
        log.error("bounce message-id=<%s>: raw mail missing", row.message_id)
        reports = []
    failing = [r for r in reports if r.permanent or r.transient]
    verp = verp_recipient(row.token)
    if verp:
        if failing:
            worst = max(failing, key=_points)
            return [(verp, _points(worst), _reason(worst))]
        # A bounce to a VERP address that says nothing readable: count it, lightly.
        return [(verp, TRANSIENT_POINTS, "unreadable bounce")]
    return [(r.recipient, _points(r), _reason(r)) for r in failing]


def _points(report: BounceReport) -> int:
    return PERMANENT_POINTS if report.permanent else TRANSIENT_POINTS


def _reason(report: BounceReport) -> str:
    return " ".join(part for part in (report.status, report.diagnostic) if part)


def count_bounce(
    session: Session, address: str, points: int, reason: str, settings: Settings, now: dt.datetime
) -> list[Membership]:
    """Add a bounce to each of the address's active memberships; return those it stopped.

    One UPDATE raises the score, or starts it again when stale, and stops the membership
    when the new score reaches the threshold. Bounces counted at once add up: the
    database applies each to the row as it stands when it gets the row's lock
    (PostgreSQL re-reads a row another transaction changed before it updates it), never
    to a score read before. A stopped membership is not matched, so of two updates that
    reach the threshold together only the first stops it, and the owners are told once.
    """
    stale = or_(Membership.bounced_at.is_(None), Membership.bounced_at < now - STALE_AFTER)
    score = case((stale, points), else_=Membership.bounce_score + points)
    stop = case(
        (score >= settings.delivery.bounce_threshold, literal(now, Membership.disabled_at.type)),
        else_=Membership.disabled_at,
    )
    people = select(Person.id).where(Person.address == address)
    changed = session.execute(
        update(Membership)
        .where(Membership.person_id.in_(people), Membership.disabled_at.is_(None))
        .values(bounce_score=score, bounced_at=now, disabled_at=stop)
        .returning(Membership.id, Membership.bounce_score, Membership.disabled_at)
        .execution_options(synchronize_session="fetch")
    ).all()
    stopped = []
    for membership_id, new_score, disabled_at in sorted(changed):
        if disabled_at is None:
            continue
        membership = session.get_one(Membership, membership_id)
        stopped.append(membership)
        log.warning(
            "bounces: mail to %s for %s stopped (score %d): %s",
            address,
            membership.community.slug,
            new_score,
            reason,
        )
    return stopped


def _tell_owners(
    session: Session,
    templates: jinja2.Environment,
    settings: Settings,
    membership: Membership,
    reason: str,
    now: dt.datetime,
) -> None:
    community = membership.community
    owners = session.scalars(
        select(Person)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.community_id == community.id, Membership.role == Role.OWNER)
    ).all()
    values = {
        "community": {
            "name": community.name,
            "slug": community.slug,
            "address": f"{community.slug}@{settings.gateway.domain}",
        },
        "address": membership.person.address,
        "score": membership.bounce_score,
        "last_error": reason or "-",
    }
    for owner in owners:
        send_notice(
            session,
            templates,
            settings,
            "bounce_disabled",
            owner.address,
            values,
            now,
            owner.id,
        )
