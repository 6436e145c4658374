"""Leases: how a node holds shared work (a queue row, a singleton job) on one database.

A claim names the node (`[gateway] node_id`) and a time until which it holds unless
renewed. A node that dies stops renewing; once its lease has run out, another node
may take the work over. The same rule serves the delivery queue, the spool and the
singletons (the scheduler, the archive builder), so it is written once, here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import or_

from gateway.settings import DeliverySettings


@dataclass(frozen=True)
class Lease:
    """Who claims work, and how long a claim lasts unless renewed.

    [delivery] lease_seconds (300 by default) is far longer than a round takes (a
    round's SMTP exchanges time out after 60 s each, and the worker renews its claims
    meanwhile), and short enough that a dead node's work is taken over within minutes.
    """

    node: str
    seconds: int = DeliverySettings.lease_seconds

    def until(self, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(seconds=self.seconds)


def lease_over(lease_until: Any, now: dt.datetime) -> ColumnElement[bool]:
    """No node holds the claim any more: its lease ran out, or there is none (work
    left by a gateway older than leases, or released)."""
    return or_(lease_until.is_(None), lease_until <= now)


def lease_ran_out(lease_until: dt.datetime | None, now: dt.datetime) -> bool:
    """lease_over for a row already loaded: no lease, or one that ran out."""
    return lease_until is None or lease_until <= now
