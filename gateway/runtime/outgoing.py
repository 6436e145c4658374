"""The outgoing loop of `gateway serve`: delivery, bounce and email-action rounds in turn.

Each package does one job (outbound/ delivers and reads bounces, actions/ answers
email actions); this loop composes their rounds, so neither imports the other. An
action's answer is queued by its round and sent by the next delivery round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from gateway.actions.runner import run_actions
from gateway.app import App
from gateway.outbound.bounces import handle_bounces
from gateway.outbound.worker import DeliveryWorker
from gateway.relay.envelope import Relay
from gateway.runtime.background import BackgroundLoop
from gateway.runtime.background import Signal
from gateway.store.db import transaction
from gateway.store.models import utcnow

log = logging.getLogger("gateway.relay")

IDLE_WAIT = 1.0  # seconds between rounds when the last one found nothing to do


class OutgoingLoop(BackgroundLoop):
    def __init__(
        self,
        app: App,
        relay: Relay,
        wake: Signal | None = None,
        stopping: Signal | None = None,
    ) -> None:
        super().__init__("gateway-deliver", wake, stopping)
        self.app = app
        self.deliveries = DeliveryWorker(app, relay)

    def run(self, alive: Callable[[], bool] = lambda: True) -> None:
        asyncio.run(self._run(alive))

    async def _run(self, alive: Callable[[], bool]) -> None:
        await self.deliveries.start()
        try:
            while not self._stopping.is_set() and alive():
                self._wake.clear()
                try:
                    busy = (
                        await self.deliveries.deliver_round(ahead=not self._stopping.is_set())
                        + self.bounce_round()
                        + self.action_round()
                    )
                except Exception:
                    log.exception("the delivery worker failed; trying again shortly")
                    busy = 0
                if not busy:
                    await asyncio.to_thread(self._wake.wait, IDLE_WAIT)
        finally:
            await self.deliveries.close()

    def bounce_round(self) -> int:
        """Bounces and delivery reports that came in: each acted on once."""
        app = self.app
        with transaction(app.sessions) as session:
            return handle_bounces(session, app.blobs, app.templates, app.settings, utcnow())

    def action_round(self) -> int:
        """Email actions (join, leave, profile, held posts...) that came in."""
        app = self.app
        return run_actions(app.sessions, app.blobs, app.templates, app.settings, utcnow)
