"""Two nodes on one PostgreSQL database, for tests of what they do at the same moment:
work run in a thread, and a look at whether it waits for a lock the other holds."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from gateway.app import App
from gateway.app import build_app
from gateway.settings import Settings

WAIT_SECONDS = 30


@contextmanager
def two_nodes(settings: Settings) -> Iterator[tuple[App, App]]:
    """Nodes "node-a" and "node-b" on the test's database and data folder."""
    apps = tuple(
        build_app(
            dataclasses.replace(
                settings, gateway=dataclasses.replace(settings.gateway, node_id=node_id)
            )
        )
        for node_id in ("node-a", "node-b")
    )
    try:
        yield apps[0], apps[1]
    finally:
        for app in apps:
            app.close()


class Worker(threading.Thread):
    def __init__(self, work: Callable[[], object]) -> None:
        super().__init__()
        self.work = work
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.work()
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error


def in_thread(work: Callable[[], object]) -> Worker:
    worker = Worker(work)
    worker.start()
    return worker


def wait_for_a_lock_wait(app: App, other: threading.Thread) -> bool:
    """True once another session waits for a lock; False if `other` ends without one."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    with app.engine.connect() as connection:
        for _ in range(WAIT_SECONDS * 20):
            if connection.execute(query).scalar_one():
                return True
            if not other.is_alive():
                return False
            other.join(0.05)
    raise AssertionError("the other node neither waited nor finished")


def joined(*workers: Worker) -> None:
    """Wait for the workers to end."""
    for worker in workers:
        worker.join(WAIT_SECONDS)
        assert not worker.is_alive()
