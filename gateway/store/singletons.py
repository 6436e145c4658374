"""Singletons: work one node at a time does (the digest scheduler, the archive builder),
held under a lease in the `singletons` table.

Taking and renewing are one atomic statement, INSERT ... ON CONFLICT DO UPDATE ...
WHERE the row is this node's or its lease is over, on SQLite and PostgreSQL alike:
of two nodes asking at once, exactly one gets it. A lease row rather than a
PostgreSQL advisory lock: it shows in `gateway status` (who holds what, until when),
works on SQLite with the same code, needs no connection held open for the hours a
node holds the scheduler, and survives a dropped connection (the lease, not the
session, says who holds it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from typing import cast

from sqlalchemy import CursorResult
from sqlalchemy import case
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.store.leases import Lease
from gateway.store.leases import lease_over
from gateway.store.models import Singleton
from gateway.store.sql import dialect_insert

SCHEDULER = "scheduler"  # digests and monthly mails (gateway.runtime.scheduler)
ARCHIVE = "archive"  # the archive build into [archive] out_dir (archive/)
NAMES = (SCHEDULER, ARCHIVE)


def hold(session: Session, name: str, lease: Lease, now: dt.datetime) -> bool:
    """Take the singleton `name` for `lease.node`, or renew it if the node holds it
    already; whether the node holds it now. A live lease of another node is left alone."""
    until = lease.until(now)
    insert = dialect_insert(session, Singleton).values(
        name=name, node_id=lease.node, lease_until=until, since=now
    )
    table = Singleton.__table__.c
    mine = table.node_id == insert.excluded.node_id
    statement = insert.on_conflict_do_update(
        index_elements=[table.name],
        set_={
            "node_id": insert.excluded.node_id,
            "lease_until": insert.excluded.lease_until,
            # A renewal keeps the time it was taken; a take-over starts it again.
            "since": case(
                (mine & table.lease_until.is_not(None), table.since), else_=insert.excluded.since
            ),
        },
        where=mine | lease_over(table.lease_until, now),
    ).returning(table.node_id)
    return session.execute(statement).first() is not None


def release(session: Session, name: str, node: str) -> bool:
    """Let go of `name` if `node` holds it, so that another node takes it at once."""
    result = session.execute(
        update(Singleton)
        .where(Singleton.name == name, Singleton.node_id == node)
        .values(lease_until=None)
    )
    return bool(cast("CursorResult[Any]", result).rowcount)


def release_all(session: Session, node: str) -> int:
    """Let go of every singleton `node` holds (a node draining); returns how many."""
    result = session.execute(
        update(Singleton)
        .where(Singleton.node_id == node, Singleton.lease_until.is_not(None))
        .values(lease_until=None)
    )
    return cast("CursorResult[Any]", result).rowcount or 0


def holder(session: Session, name: str, now: dt.datetime) -> tuple[str, dt.datetime] | None:
    """Who holds `name` and until when, or None when nobody does (free or expired)."""
    row = session.execute(
        select(Singleton.node_id, Singleton.lease_until).where(
            Singleton.name == name, ~lease_over(Singleton.lease_until, now)
        )
    ).first()
    if row is None:
        return None
    return row.node_id, row.lease_until
