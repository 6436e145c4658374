"""SQL helpers for every store user: long lists in chunks (or one array on PostgreSQL),
INSERT ... ON CONFLICT, insert-if-new, updates by key, SKIP LOCKED, advisory locks and
index walks in the store's dialect (SQLite or PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar
from typing import overload

from sqlalchemy import ColumnElement
from sqlalchemy import Insert
from sqlalchemy import Integer
from sqlalchemy import Select
from sqlalchemy import any_
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.store.models import Base

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql

# Values per IN (...) list: below SQLite's old limit of 999 parameters per statement.
IN_LIST = 500
# PostgreSQL's SQLSTATE for two transactions that waited for each other.
DEADLOCK = "40P01"

T = TypeVar("T")
Query = TypeVar("Query", bound=Select[*tuple[Any, ...]])


@overload
def chunks(items: list[T], size: int = IN_LIST) -> Iterator[list[T]]: ...
@overload
def chunks(items: Sequence[T], size: int = IN_LIST) -> Iterator[Sequence[T]]: ...
def chunks(items: Sequence[T], size: int = IN_LIST) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items: the values of one IN (...) list, or
    the rows of one transaction."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def among(session: Session, column: Any, ids: Sequence[int]) -> Iterator[ColumnElement[bool]]:
    """Conditions that together select the rows whose `column` is one of `ids`, one
    statement each: on PostgreSQL one `column = ANY(array)` with a single parameter (one
    round trip, one prepared statement whatever the count); on SQLite IN (...) lists of
    IN_LIST values."""
    if not ids:
        return
    if _is_postgresql(session):
        from sqlalchemy.dialects import postgresql  # see dialect_insert

        yield column == any_(bindparam("ids", list(ids), type_=postgresql.ARRAY(Integer)))
        return
    for chunk in chunks(ids):
        yield column.in_(chunk)


def among_selected(session: Session, column: Any, query: Select[Any]) -> ColumnElement[bool]:
    """The condition that `column` is one of the values `query` selects. On PostgreSQL
    `column = ANY(ARRAY(query))`: the query runs once and the rows are found through
    `column`'s index, where `column IN (query)` is planned as a hash join over a scan of
    the whole table (a delivery claim read every sent row: 40% of its cost at 200,000
    rows, and growing with the table)."""
    condition: ColumnElement[bool]
    if _is_postgresql(session):
        condition = column == any_(func.array(query.scalar_subquery()))
    else:
        condition = column.in_(query.scalar_subquery())
    return condition


def dialect_insert(session: Session, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """INSERT into `model`'s table in the session's dialect, whose ON CONFLICT clauses
    (do nothing, do update) both SQLite and PostgreSQL have."""
    if _is_postgresql(session):
        # Imported here: loading the PostgreSQL dialect costs a SQLite command's start-up
        # (an archive update) 30 ms.
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(model)
    return sqlite.insert(model)


def insert_if_new(session: Session, model: type[Base], key: Sequence[str]) -> Insert:
    """INSERT ... ON CONFLICT (key) DO NOTHING for the session's database: a row whose
    key is already stored is left as it is, and RETURNING gives only the rows inserted."""
    statement: Insert = dialect_insert(session, model).on_conflict_do_nothing(
        index_elements=list(key)
    )
    return statement


def set_by_id(session: Session, column: Any, values: Mapping[int, Any]) -> None:
    """Set `column` to values[id] in the row of each id. On PostgreSQL in one statement
    over two arrays, whatever their length: one UPDATE per row cost the server about
    150 µs each (1,247 of them for the replies adopted in a run of bench/ingest.py).
    On SQLite, which runs in our process, one executemany."""
    if not values:
        return
    table = column.table
    if _is_postgresql(session):
        pairs = (
            func.unnest(
                bindparam("ids", list(values), type_=ARRAY(Integer)),
                bindparam("values", list(values.values()), type_=ARRAY(column.type)),
            )
            .table_valued("id", "value")
            .render_derived(name="pairs")
        )
        session.execute(
            update(table).where(table.c.id == pairs.c.id).values({column: pairs.c.value})
        )
        return
    statement = update(table).where(table.c.id == bindparam("key"))
    session.execute(
        statement.values({column: bindparam("value")}),
        [{"key": key, "value": value} for key, value in values.items()],
    )


def skip_locked(session: Session, query: Query) -> Query:
    """Lock the rows the query selects, skipping those another transaction holds
    (FOR UPDATE SKIP LOCKED), so several processes can share a queue. On SQLite, whose
    writers take turns on the whole database, the query is left as it is."""
    if _is_postgresql(session):
        return query.with_for_update(skip_locked=True)
    return query


def walk_indexes(session: Session) -> None:
    """Plan the rest of this transaction's queries on PostgreSQL through indexes, with
    no sort and no scan of a whole table. A queue's "first rows in the index's order,
    LIMIT n" then walks the index and stops after n rows: its planner read every due
    row through a bitmap scan and sorted them whenever the statistics said few were
    due, which is what they say of a queue between two bursts (at 200,000 due copies a
    claim took 70 ms instead of 6). And rows chosen by key are found by key: a plan
    kept for any value (psycopg prepares a statement after five runs), made while a
    worker claimed from an empty queue, updated the claimed rows through a scan of the
    whole table, comparing each row with every id (7 s a claim at 200,000 rows, until
    an ANALYZE). SQLite's planner walks the indexes already."""
    if _is_postgresql(session):
        session.execute(
            text(
                "SELECT set_config('enable_sort', 'off', true),"
                " set_config('enable_seqscan', 'off', true)"
            )
        )


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lost_to_another_transaction(error: Exception) -> bool:
    """The database refused a statement because of another transaction: a row it
    committed took a unique key (23505) or removed a row this one names (23503), or the
    two waited for each other (a deadlock, 40P01). Done again, the work sees what the
    other one committed."""
    if isinstance(error, IntegrityError):
        return True
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", "") == DEADLOCK


def writes_side_by_side(session: Session) -> bool:
    """Whether other transactions may write while this one does (PostgreSQL). A SQLite
    writer holds the whole database from its BEGIN IMMEDIATE (gateway.store.db) to its
    end: what it read stays as it read it, and it has no turns to take."""
    return _is_postgresql(session)


# Advisory lock keys by name: (exclusive, shared).
Turns = tuple[Collection[str], Collection[str]]


def take_turns(session: Session, turns: Callable[[], Turns]) -> None:
    """Wait until no other transaction holds one of the exclusive keys `turns()` names,
    nor one of its shared ones exclusively, then hold them until this one ends
    (PostgreSQL's transaction-level advisory locks): transactions whose work meets on a
    key take turns, the others run side by side. The keys are taken in one statement, in
    one order for every transaction, so that two of them never wait for each other in a
    circle. On SQLite, whose writers already take turns on the whole database, nothing
    to do: the keys are not even made."""
    if not writes_side_by_side(session):
        return
    exclusive, shared = turns()
    modes = {_advisory_key(key): False for key in shared}
    modes.update((_advisory_key(key), True) for key in exclusive)
    keys = sorted(modes)
    session.execute(
        text(
            "SELECT CASE WHEN alone THEN pg_advisory_xact_lock(key)"
            " ELSE pg_advisory_xact_lock_shared(key) END"
            " FROM unnest(CAST(:keys AS bigint[]), CAST(:alone AS boolean[])) AS k(key, alone)"
        ),
        {"keys": keys, "alone": [modes[key] for key in keys]},
    )


def _advisory_key(name: str) -> int:
    """A name as an advisory lock's bigint key: two names that share a key merely take
    turns when they need not."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
