"""Claims on spooled mail: which node's inbox processor ingests each mail of the spool.

On PostgreSQL the spool is one table of the store that every node's processor reads,
so a processor claims the mails it takes: it names its node and a lease on them
(gateway.store.leases) in one short transaction, skipping the rows another claim is
taking at that moment (FOR UPDATE SKIP LOCKED). Mail another live node holds is left
to it; mail of a node that died is taken over once its lease ran out; a node that
starts again under its own id takes its previous run's mail back at once. With
SQLite (one node, a spool file of its own) the same claims are taken, by the only
processor there is.

A mail taken twice all the same (a lease that ran out during a slow batch) is stored
once: the pipeline knows a Message-ID already stored (gateway.ingest.pipeline).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import Row
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.store.leases import Lease
from gateway.store.leases import lease_over
from gateway.store.models import InboxMail
from gateway.store.sql import skip_locked

# Failed ingest attempts after which a mail waits for an admin (`gateway inbox retry`).
MAX_ATTEMPTS = 3
# How long a node holds the mail it claimed. A batch takes about a second at most (128
# small mails, or one large one in a few seconds), so a minute is ample without
# renewing; and it is what mail of a node that died waits before another node takes
# it, so it is short. Should a batch outlast it all the same, another node ingests
# the mail again and stores nothing twice. Not [delivery] lease_seconds: a delivery
# round may wait minutes for SMTP servers, the spool never waits for anything outside.
SPOOL_LEASE_SECONDS = 60


def claim_mail(
    engine: Engine,
    lease: Lease,
    now: dt.datetime,
    limit: int,
    skip: Collection[int] = (),
) -> Sequence[Row[Any]]:
    """Claim up to `limit` spooled mails for `lease.node`, oldest first, and return
    their rows; mails in `skip` (failed in this process) are left."""
    with Session(engine) as session, session.begin():
        query = (
            select(InboxMail.__table__)
            .where(InboxMail.attempts < MAX_ATTEMPTS, lease_over(InboxMail.lease_until, now))
            .order_by(InboxMail.id)
            .limit(limit)
        )
        if skip:
            query = query.where(InboxMail.id.not_in(skip))
        rows = alone_if_large(session.execute(skip_locked(session, query)).all())
        if rows:
            session.execute(
                update(InboxMail)
                .where(InboxMail.id.in_([row.id for row in rows]))
                .values(claimed_by=lease.node, lease_until=lease.until(now))
            )
    return rows


def mail_waiting(engine: Engine) -> bool:
    """Whether new mail waits in the spool (or is being ingested). Mail whose ingest
    failed is not counted: it may wait for another process, or for an admin."""
    with engine.connect() as connection:
        query = select(InboxMail.id).where(InboxMail.attempts == 0).limit(1)
        return connection.execute(query).first() is not None


def release_mail(engine: Engine, node: str) -> int:
    """Let go of every mail `node` claimed (at a processor's start: its previous run's;
    after a failed batch: that batch's), so that it is taken again now rather than
    after the lease; returns how many."""
    with engine.begin() as connection:
        result = connection.execute(
            update(InboxMail)
            .where(InboxMail.claimed_by == node)
            .values(claimed_by=None, lease_until=None)
        )
    return result.rowcount or 0


def finish_mail(
    engine: Engine, lease: Lease, done: Collection[int], failed: Mapping[int, str]
) -> None:
    """The claimed mails ingested (`done`) leave the spool; the `failed` ones (id: error)
    are released with one attempt more. Only the rows `lease.node` still holds: one
    another node took over meanwhile is that node's to finish."""
    mine = InboxMail.claimed_by == lease.node
    with engine.begin() as connection:
        if done:
            connection.execute(delete(InboxMail).where(InboxMail.id.in_(done), mine))
        for row_id, error in failed.items():
            connection.execute(
                update(InboxMail)
                .where(InboxMail.id == row_id, mine)
                .values(
                    attempts=InboxMail.attempts + 1,
                    last_error=error,
                    claimed_by=None,
                    lease_until=None,
                )
            )


def alone_if_large(rows: Sequence[Row[Any]]) -> Sequence[Row[Any]]:
    """The batch, cut so that a large mail (kept in the blob store by the spool) is
    ingested alone: a batch holds every mail's parse at once, and 16 mails of a few
    MB each took the processor past 1.5 GB (bench/fuzz.py)."""
    for index, row in enumerate(rows):
        if row.raw_sha256:
            return rows[: index or 1]
    return rows
