"""What `gateway status` shows: the nodes, the singletons, and the depth of each queue
(the inbox, deliveries, action mail, bounces), read in one go from the database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.outbound.deliveries import in_flight
from gateway.outbound.deliveries import shown_as
from gateway.runtime.nodes import alive
from gateway.store.leases import lease_over
from gateway.store.leases import lease_ran_out
from gateway.store.models import ActionKind
from gateway.store.models import ActionMail
from gateway.store.models import Delivery
from gateway.store.models import DeliveryStatus
from gateway.store.models import InboxMail
from gateway.store.models import Node
from gateway.store.models import NodeState
from gateway.store.models import Singleton
from gateway.store.singletons import NAMES


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def nodes(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    return [
        {
            "node_id": node.node_id,
            "host": node.host,
            "pid": node.pid,
            "version": node.version,
            "state": node.state.value,
            "started_at": _iso(node.started_at),
            "seen_at": _iso(node.seen_at),
            "alive": alive(node.seen_at, now) and node.state is not NodeState.STOPPED,
        }
        for node in session.scalars(select(Node).order_by(Node.node_id))
    ]


def singletons(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    """Each singleton there is (the known ones even before anyone took them): its holder
    while its lease holds, else None (free: the next node to ask takes it)."""
    rows = {row.name: row for row in session.scalars(select(Singleton))}
    result = []
    for name in sorted(set(NAMES) | set(rows)):
        row = rows.get(name)
        if row is None or lease_ran_out(row.lease_until, now):
            result.append({"name": name, "node_id": None, "since": None, "lease_until": None})
            continue
        result.append(
            {
                "name": name,
                "node_id": row.node_id,
                "since": _iso(row.since),
                "lease_until": _iso(row.lease_until),
            }
        )
    return result


def inbox(session: Session, now: dt.datetime) -> dict[str, int]:
    """Mail waiting for the pipeline, and how many of them a node is working on (claimed
    under a lease that holds)."""
    waiting = session.scalar(select(func.count()).select_from(InboxMail)) or 0
    claimed = ~lease_over(InboxMail.lease_until, now)
    held = session.scalar(select(func.count()).select_from(InboxMail).where(claimed)) or 0
    return {"waiting": waiting, "claimed": held}


def deliveries(session: Session, now: dt.datetime) -> dict[str, Any]:
    """Pending (due now), deferred (waiting for a retry), sending per node, failed."""
    pending = shown_as(DeliveryStatus.PENDING)
    due = Delivery.next_attempt_at <= now

    def count(*where: Any) -> int:
        return session.scalar(select(func.count()).select_from(Delivery).where(*where)) or 0

    sending = {
        node or "-": number
        for node, number in session.execute(
            select(Delivery.claimed_by, func.count())
            .where(in_flight())
            .group_by(Delivery.claimed_by)
            .order_by(Delivery.claimed_by)
        )
    }
    return {
        "pending": count(pending, due),
        "deferred": count(pending, ~due),
        "sending": sending,
        "failed": count(Delivery.status == DeliveryStatus.FAILED),
    }


def unhandled(session: Session) -> dict[str, int]:
    """Action mail and bounces taken in and not acted on yet."""
    bounce = ActionMail.action == ActionKind.BOUNCES
    rows = session.execute(
        select(bounce, func.count()).where(ActionMail.handled_at.is_(None)).group_by(bounce)
    )
    counts = {bool(is_bounce): number for is_bounce, number in rows}
    return {"action_mail": counts.get(False, 0), "bounces": counts.get(True, 0)}


def status(session: Session, spool: Session, now: dt.datetime) -> dict[str, Any]:
    """Everything `gateway status --json` prints (its shape is in the README). The
    spool may be a database of its own (SQLite), hence its own session."""
    return {
        "now": now.isoformat(),
        "nodes": nodes(session, now),
        "singletons": singletons(session, now),
        "inbox": inbox(spool, now),
        "deliveries": deliveries(session, now),
        **unhandled(session),
    }
