"""Fires the digest runs inside `gateway serve`: APScheduler checks every minute
(and once at start-up) whether anyone's digest, or the monthly mail
(gateway.adoption.monthly), is due.

The runs themselves are gateway.digests.runner.run_digests, which queues each
digest once however often it is called, so a late start catches up with one digest.
With several nodes on one database only the node holding the "scheduler" singleton
(gateway.store.singletons) runs them; the others ask again the next minute, and take
it over when its holder stops (at once) or dies (after its lease).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from gateway.adoption.monthly import run_monthly
from gateway.app import App
from gateway.digests.runner import run_digests
from gateway.runtime.singleton import for_turns
from gateway.store.models import Cadence
from gateway.store.models import utcnow
from gateway.store.singletons import SCHEDULER

log = logging.getLogger("gateway.digests")

CHECK_EVERY_SECONDS = 60


class DigestScheduler:
    def __init__(self, app: App, queued: Callable[[], None]) -> None:
        self.app = app
        self.queued = queued  # wakes the delivery worker
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self.singleton = for_turns(
            app.sessions,
            SCHEDULER,
            app.settings.node_id,
            app.settings.delivery.lease_seconds,
            CHECK_EVERY_SECONDS,
        )

    def start(self) -> None:
        self._scheduler.add_job(
            self.run_due,
            IntervalTrigger(seconds=CHECK_EVERY_SECONDS),
            next_run_time=utcnow(),  # at start-up: the catch-up after downtime
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            id="digests",
        )
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self.singleton.release()

    def run_due(self) -> None:
        """The due digests and monthly mails, if this node holds the scheduler (kept
        renewed while they run, so a long run is not taken over halfway)."""
        if not self.singleton.take():
            return
        with self.singleton.kept():
            self._run_all()

    def _run_all(self) -> None:
        for cadence in Cadence:
            try:
                report = run_digests(self.app, cadence, utcnow())
            except Exception:
                log.exception("the %s digest run failed; trying again in a minute", cadence.value)
                continue
            if report.count("queued"):
                self.queued()
        try:
            monthly = run_monthly(self.app, utcnow())
        except Exception:
            log.exception("the monthly mail run failed; trying again in a minute")
            return
        if monthly.count("queued"):
            self.queued()
