"""The node registry: each `gateway serve` registers its node ([gateway] node_id) at
start, writes a heartbeat every BEAT_SECONDS, is "draining" from SIGTERM on, and at a
clean exit gives back what it still holds and is "stopped".

`gateway status` reads the registry: a node whose heartbeat is older than
ALIVE_BEATS beats is shown as not alive (it died, or lost the database).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.metadata
import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from typing import cast

from sqlalchemy import CursorResult
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from gateway.outbound.deliveries import release_claims
from gateway.store.db import transaction
from gateway.store.models import Node
from gateway.store.models import NodeState
from gateway.store.models import utcnow
from gateway.store.singletons import release_all
from gateway.store.sql import dialect_insert

log = logging.getLogger("gateway.runtime.nodes")

BEAT_SECONDS = 5.0
# A node is alive while its last heartbeat is at most this many beats old.
ALIVE_BEATS = 3
ALIVE_SECONDS = BEAT_SECONDS * ALIVE_BEATS


def alive(seen_at: dt.datetime, now: dt.datetime) -> bool:
    return now - seen_at <= dt.timedelta(seconds=ALIVE_SECONDS)


def gateway_version() -> str:
    try:
        return importlib.metadata.version("community-gateway")
    except importlib.metadata.PackageNotFoundError:
        return ""


def register(session: Session, node_id: str, now: dt.datetime) -> None:
    """This node is running (again): its host, process, version and start time."""
    values = {
        "host": socket.gethostname()[:255],
        "pid": os.getpid(),
        "version": gateway_version()[:64],
        "state": NodeState.RUNNING.value,
        "started_at": now,
        "seen_at": now,
    }
    insert = dialect_insert(session, Node).values(node_id=node_id, **values)
    session.execute(insert.on_conflict_do_update(index_elements=[Node.node_id], set_=values))


def beat(session: Session, node_id: str, now: dt.datetime) -> bool:
    """The heartbeat: seen now. False if the node's row is gone (then register again)."""
    result = session.execute(update(Node).where(Node.node_id == node_id).values(seen_at=now))
    return bool(cast("CursorResult[Any]", result).rowcount)


def set_state(session: Session, node_id: str, state: NodeState, now: dt.datetime) -> None:
    session.execute(update(Node).where(Node.node_id == node_id).values(state=state, seen_at=now))


def give_back(session: Session, node_id: str, now: dt.datetime) -> tuple[int, int]:
    """At a clean exit: the deliveries this node still has "sending" are due again and
    its singletons free, so other nodes take them at once rather than after the lease.
    Returns (deliveries, singletons) released. A worker lets go of its singleton itself
    when it stops (SingletonLease.release); release_all is the safety net for a child
    process that died before it could."""
    return release_claims(session, node_id, now), release_all(session, node_id)


class NodeRegistry:
    """The parent process's side of the registry: register(), run() beating until
    cancelled, drain() and stop(). Every database call runs off the event loop, in a
    thread of its own (a heartbeat waiting for SQLite's write lock holds none of the
    threads the SMTP sessions use), and a failed one is logged, never raised: the
    registry must not stop SMTP."""

    def __init__(self, sessions: sessionmaker[Session], node_id: str) -> None:
        self.sessions = sessions
        self.node_id = node_id
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-node")

    async def register(self) -> None:
        await self._write("register", lambda s, now: register(s, self.node_id, now))

    async def run(self) -> None:
        """Beat every BEAT_SECONDS until cancelled."""
        while True:
            await asyncio.sleep(BEAT_SECONDS)
            await self._write("heartbeat", self._beat)

    def _beat(self, session: Session, now: dt.datetime) -> None:
        if not beat(session, self.node_id, now):  # deleted by hand: back in the list
            register(session, self.node_id, now)

    async def drain(self) -> None:
        await self._write(
            "draining", lambda s, now: set_state(s, self.node_id, NodeState.DRAINING, now)
        )

    async def stop(self, give_back_claims: bool) -> None:
        """Stopped; with give_back_claims (every worker ended), its claims released."""

        def stopped(session: Session, now: dt.datetime) -> None:
            if give_back_claims:
                deliveries, singletons = give_back(session, self.node_id, now)
                if deliveries or singletons:
                    log.info(
                        "released %d deliveries and %d singletons to the other nodes",
                        deliveries,
                        singletons,
                    )
            set_state(session, self.node_id, NodeState.STOPPED, now)

        await self._write("stopped", stopped)
        self._thread.shutdown(wait=False)

    async def _write(self, what: str, change: Any) -> None:
        def run() -> None:
            with transaction(self.sessions) as session:
                change(session, utcnow())

        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, run)
        except Exception:
            log.exception("recording this node as %s failed", what)
