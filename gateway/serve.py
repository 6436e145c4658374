"""`gateway serve`: the SMTP server, the ingest worker, and a clean stop on SIGTERM/SIGINT.

On a stop signal the listener closes at once, the sessions that are in the middle
of a message get up to SHUTDOWN_GRACE seconds to finish it (and receive their
final reply), the remaining connections are told 421, and the worker commits
what it has before the process ends.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from sqlalchemy import select

from gateway import replies
from gateway.app import App
from gateway.app import build_app
from gateway.ingest.worker import IngestWorker
from gateway.settings import Settings
from gateway.smtp import CommunityState
from gateway.smtp import GatewayHandler
from gateway.smtp import GatewaySMTP
from gateway.store.db import transaction
from gateway.store.models import Community

log = logging.getLogger("gateway.serve")

SHUTDOWN_GRACE = 30.0


def community_lookup(app: App) -> Callable[[str], CommunityState]:
    def lookup(slug: str) -> CommunityState:
        with transaction(app.read_sessions) as session:
            closed_at = session.execute(
                select(Community.closed_at).where(Community.slug == slug)
            ).first()
        if closed_at is None:
            return CommunityState(exists=False)
        return CommunityState(exists=True, closed=closed_at[0] is not None)

    return lookup


async def serve(
    settings: Settings,
    stop: asyncio.Event | None = None,
    ready: Callable[[], None] | None = None,
) -> None:
    """Run until `stop` is set, or until SIGTERM/SIGINT when no event is given."""
    app = build_app(settings)
    worker = IngestWorker(app)
    worker.start()
    handler = GatewayHandler(
        domain=settings.gateway.domain,
        max_recipients=settings.smtp.max_recipients,
        lookup=community_lookup(app),
        submit=worker.submit,
    )
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    server = await loop.create_server(
        lambda: GatewaySMTP(
            handler,
            hostname=settings.gateway.domain,
            data_size_limit=settings.smtp.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
        ),
        host=settings.smtp.host,
        port=settings.smtp.port,
    )
    log.info(
        "listening on %s:%d for mail to @%s",
        settings.smtp.host,
        settings.smtp.port,
        settings.gateway.domain,
    )
    try:
        if ready is not None:
            ready()
        await stop.wait()
        log.info("stopping: finishing %d message(s) in flight", handler.in_flight)
    finally:
        server.close()
        await _finish_sessions(handler)
        await loop.run_in_executor(None, worker.stop)
        app.close()
        log.info("stopped")


def _busy(handler: GatewayHandler) -> bool:
    """Whether a session is inside a mail transaction (after MAIL FROM, before its reply)."""
    if handler.in_flight:
        return True
    return any(
        connection.envelope is not None and connection.envelope.mail_from is not None
        for connection in handler.connections
    )


async def _finish_sessions(handler: GatewayHandler) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHUTDOWN_GRACE
    while _busy(handler) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    goodbye = (replies.SHUTTING_DOWN + "\r\n").encode("ascii")
    for connection in list(handler.connections):
        transport = connection.transport
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(goodbye)
        if transport is not None:
            transport.close()
