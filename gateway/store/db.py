"""Engines and sessions: SQLite tuned for a mail server, PostgreSQL as configured.

The caller owns the transaction (STYLE.md, "Storage and transactions"): data
functions take a session and never commit; `transaction()` is the unit of work.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

# Execution option marking connections that only read (see _begin_sqlite).
READ_ONLY_OPTION = "gateway_read_only"

# How long a SQLite writer waits for another one before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000

# A pooled PostgreSQL connection idle this long is pinged before it is used again: the
# server may have restarted, or a firewall dropped the connection, meanwhile. One in use
# all along is not: a ping on every checkout (pool_pre_ping) was a round trip more for
# each transaction, one in four of a delivery record's (see _ping_when_idle).
PING_AFTER_IDLE_SECONDS = 5.0
_IDLE_SINCE = "gateway_idle_since"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database:
        return None
    if database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for the store; SQLite gets WAL, foreign keys and a busy timeout,
    psycopg its raw cursors."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raw = parsed.get_driver_name() == "psycopg"
        if raw:
            options = {"paramstyle": "numeric_dollar", **options}
        engine = create_engine(url, **options)
        _ping_when_idle(engine)
        if raw:
            event.listen(engine, "connect", _configure_psycopg)
            # Rows inserted together go as one INSERT of many VALUES, as they do with
            # RETURNING, not one statement each in a pipeline: PostgreSQL took 41 us for
            # each of a batch's community links, 20 us in the multi-row form
            # (bench/ingest.py --pg-statements). SQLAlchemy's psycopg2 dialect does the same.
            engine.dialect.use_insertmanyvalues_wo_returning = True
        return engine
    database = sqlite_file(url)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **options)
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_sqlite)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use once it sat idle PING_AFTER_IDLE_SECONDS; one
    the server dropped is replaced by a new connection before the caller gets it (the
    pool does so on DisconnectionError), as pool_pre_ping would on every checkout."""

    @event.listens_for(engine, "checkin")
    def idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return  # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise DisconnectionError(str(error)) from error
            raise


def _configure_psycopg(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy writes PostgreSQL's own $1 placeholders (paramstyle numeric_dollar) and
    # psycopg's raw cursors send them as they are. Its default cursors rewrite each
    # statement's %(name)s placeholders, and cache the rewrite only for statements of
    # at most 50 parameters: a batch's multi-row INSERT was parsed again each time, a
    # tenth of the ingest process's samples in py-spy on PostgreSQL (bench/ingest.py).
    import psycopg

    dbapi_connection.cursor_factory = psycopg.RawCursor
    dbapi_connection.server_cursor_factory = psycopg.RawServerCursor


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is off so that BEGIN is ours (see _begin_sqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: a commit is on disk before the SMTP 250 (DESIGN.md, principle 2).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _begin_sqlite(connection: Any) -> None:
    # A deferred BEGIN that later writes can fail with "database is locked" without
    # waiting; BEGIN IMMEDIATE takes the write lock up front and honours busy_timeout.
    # Readers (READ_ONLY) take no lock at all: WAL lets them run beside the writer.
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions for the store; read_only ones never wait for (or block) a writer on SQLite."""
    if read_only:
        engine = engine.execution_options(**{READ_ONLY_OPTION: True})
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back if it raises."""
    with sessions() as session, session.begin():
        yield session
