"""The ledger of once-per-period mail: each (person, kind, period) is sent once.

Digests (digest_runs: person, cadence, period) and monthly mails (monthly_runs:
person, kind, community, period) each keep one. A run records its rows with
insert-if-new in the transaction that queues their mail, so two runs at once, or a
run again after a crash, find the key taken and queue nothing: the row a run did
not insert is "already" sent. A period with nothing to say is recorded as "empty",
so that it counts as done, and gets no mail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Generic
from typing import Protocol
from typing import TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from gateway.store.models import DigestRun
from gateway.store.models import MonthlyRun
from gateway.store.sql import insert_if_new

# What became of one entry of a run.
QUEUED = "queued"  # recorded by this run: its mail is queued
EMPTY = "empty"  # recorded by this run, with nothing to say: no mail
ALREADY = "already"  # recorded before, by another run: not sent again
FAILED = "failed"  # could not be written (logged with its error): set aside, not sent


class _HasStatus(Protocol):
    @property
    def status(self) -> str: ...


PlannedMail = TypeVar("PlannedMail", bound=_HasStatus)


@dataclass(kw_only=True)
class Tally(Generic[PlannedMail]):
    """A run's report: what became of each of its mails, and how many had each status."""

    planned: list[PlannedMail] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for p in self.planned if p.status == status)


@dataclass(frozen=True)
class Entry:
    """One mail a run means to send: its key (in the ledger's key order), whether it has
    nothing to say, and the other columns of its ledger row."""

    key: tuple[Any, ...]
    empty: bool = False
    columns: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    status: str  # QUEUED, EMPTY or ALREADY
    run_id: int  # the ledger row this run inserted (0 when ALREADY, or in a dry run)


@dataclass(frozen=True)
class Ledger:
    """A table of once-per-period mail and the columns of its unique key."""

    model: type[DigestRun] | type[MonthlyRun]
    key: tuple[str, ...]

    def recorded(self, session: Session, *where: ColumnElement[bool]) -> set[tuple[Any, ...]]:
        """The keys (in `key` order) already recorded among the rows `where` selects."""
        columns = [getattr(self.model, name) for name in self.key]
        return {tuple(row) for row in session.execute(select(*columns).where(*where))}

    def record(
        self,
        session: Session,
        entries: Sequence[Entry],
        at: dt.datetime,
        *,
        dry_run: bool = False,
    ) -> list[Recorded]:
        """Record the entries whose key is new, in one statement; what became of each,
        in order. A dry run records nothing and answers as if every key were new."""
        if dry_run or not entries:
            return [Recorded(EMPTY if e.empty else QUEUED, 0) for e in entries]
        rows = [
            {
                **dict(zip(self.key, e.key, strict=True)),
                **e.columns,
                "status": EMPTY if e.empty else QUEUED,
                "created_at": at,
            }
            for e in entries
        ]
        columns = [getattr(self.model, name) for name in self.key]
        statement = insert_if_new(session, self.model, self.key).returning(
            self.model.id, *columns, sort_by_parameter_order=True
        )
        first = {tuple(key): run_id for run_id, *key in session.execute(statement, rows)}
        return [
            Recorded(EMPTY if e.empty else QUEUED, first[e.key])
            if e.key in first
            else Recorded(ALREADY, 0)
            for e in entries
        ]

    def link(self, session: Session, deliveries: Mapping[int, int]) -> None:
        """Note the queued mail of rows this run recorded (run id -> delivery id)."""
        if deliveries:
            session.execute(
                update(self.model),
                [{"id": run_id, "delivery_id": d} for run_id, d in deliveries.items()],
            )


DIGESTS = Ledger(DigestRun, ("person_id", "cadence", "period"))
MONTHLY = Ledger(MonthlyRun, ("person_id", "kind", "community_id", "period"))
