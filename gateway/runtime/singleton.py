"""A singleton as a process uses it: take it (or renew it) before each turn of work,
keep it renewed while a long turn goes on, release it when the process stops.

The atomic take-or-renew is gateway.store.singletons.hold; the lease is the node's
([gateway] node_id, [delivery] lease_seconds), so a node that dies loses its
singletons within one lease and another node takes them over.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from gateway.store.db import transaction
from gateway.store.leases import Lease
from gateway.store.models import utcnow
from gateway.store.singletons import hold
from gateway.store.singletons import release

log = logging.getLogger("gateway.runtime.singleton")

# Renewals per lease while a turn of work goes on: one missed renewal loses nothing.
RENEWALS = 3

# Held by a renewal while it runs, and by a fork while it forks (archive.parallel forks
# renderers during `gateway archive build`): the child never starts with a lock (the
# database pool's, logging's) that the renewal thread held at that moment.
_RENEWING = threading.Lock()


@functools.cache
def _make_forks_wait() -> None:
    """Once per process: forks wait for a renewal in progress."""
    os.register_at_fork(
        before=_RENEWING.acquire,
        after_in_parent=_RENEWING.release,
        after_in_child=_RENEWING.release,
    )


def for_turns(
    sessions: sessionmaker[Session], name: str, node: str, lease_seconds: int, turn_seconds: float
) -> SingletonLease:
    """The singleton of a job that takes it once per turn, every `turn_seconds`: its lease
    lasts [delivery] lease_seconds, and never less than RENEWALS turns, so that a live
    holder's lease does not lapse between two turns and pass to another node (the digest
    scheduler checks every minute; lease_seconds may be 30)."""
    seconds = max(lease_seconds, math.ceil(RENEWALS * turn_seconds))
    return SingletonLease(sessions, name, Lease(node, seconds))


class SingletonLease:
    def __init__(self, sessions: sessionmaker[Session], name: str, lease: Lease) -> None:
        self.sessions = sessions
        self.name = name
        self.lease = lease
        self.held = False

    def take(self) -> bool:
        """Take or renew it; whether this node holds it now. A database error counts as
        not holding (the work waits for the next turn)."""
        try:
            with transaction(self.sessions) as session:
                held = hold(session, self.name, self.lease, utcnow())
        except Exception:
            log.exception("taking the %s singleton failed", self.name)
            held = False
        if held != self.held:
            log.info(
                "node %s %s the %s", self.lease.node, "holds" if held else "no longer holds",
                self.name,
            )  # fmt: skip
        self.held = held
        return held

    def release(self) -> None:
        """Let go (at a stop), so another node takes it at once; nothing to do unless
        this process holds it."""
        if not self.held:
            return
        try:
            with transaction(self.sessions) as session:
                release(session, self.name, self.lease.node)
        except Exception:
            log.exception("releasing the %s singleton failed", self.name)
        self.held = False

    @contextmanager
    def kept(self) -> Iterator[None]:
        """Renew the lease in a thread while the block runs (a long build). The block
        may fork: a fork waits for a renewal in progress to end."""
        _make_forks_wait()
        done = threading.Event()

        def renew() -> None:
            while not done.wait(self.lease.seconds / RENEWALS):
                with _RENEWING:
                    held = self.take()
                if not held:
                    log.warning("the %s singleton was lost during a long turn", self.name)

        renewer = threading.Thread(target=renew, name=f"renew-{self.name}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join()
