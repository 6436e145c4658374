"""`gateway serve`: the SMTP server, the web server ([web]), the spool, the inbox
processor, the delivery worker, and a clean stop.

The node registers itself (gateway.runtime.nodes) and beats while it runs. On
SIGTERM/SIGINT it drains: the node is marked draining, the listener closes at once,
the sessions in the middle of a message get up to SHUTDOWN_GRACE seconds to finish
it (and receive their final reply), the remaining connections are told 421, the
spool commits what it holds, and the processor and the worker finish their batch
and claim nothing more. Then the node gives back what it still holds (deliveries
left sending, its singletons) so that other nodes take them at once, and is marked
stopped. Mail still in the inbox, and deliveries still due, are for the other nodes
or the next start.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from gateway.app import App
from gateway.app import build_app
from gateway.app import make_relay
from gateway.ingest.processor import InboxProcessor
from gateway.ingest.spool import Spool
from gateway.outbound.signing import make_signer
from gateway.runtime.background import BackgroundLoop
from gateway.runtime.background import Signal
from gateway.runtime.nodes import NodeRegistry
from gateway.runtime.outgoing import OutgoingLoop
from gateway.runtime.scheduler import DigestScheduler
from gateway.runtime.wakeup import PipeSignal
from gateway.settings import Settings
from gateway.smtp import replies
from gateway.smtp.handler import CommunityState
from gateway.smtp.handler import GatewayHandler
from gateway.smtp.handler import GatewaySMTP
from gateway.store.db import transaction
from gateway.store.models import Community

if TYPE_CHECKING:
    from gateway.web.server import WebServer

log = logging.getLogger("gateway.runtime.serve")
LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"

SHUTDOWN_GRACE = 30.0
# Under contention the SMTP sessions come first, then ingest and delivery, then the
# companions (the archive's rebuilds of growing threads): see child_setup.
CHILD_NICENESS = 10
COMPANION_NICENESS = 19
SPAWN = multiprocessing.get_context("spawn")
# CPython's default thresholds of the cycle collector (gc.get_threshold() at start-up).
SERVER_COLLECTOR = (700, 10, 10)
CHILD_CHECK_INTERVAL = 1.0


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


def configure_logging(level: int) -> None:
    """One line per message at INFO; the libraries' chatter only when debugging.

    aiosmtpd logs every SMTP command at INFO, Alembic its checks at start-up,
    APScheduler each run of the digest check (every minute), mail-parser a
    warning for each part type it does not render, and flufl.bounce each detector it
    runs and the traceback of one that trips on broken mail (gateway.mail.bounce_scan
    catches it and logs it at DEBUG).
    """
    logging.basicConfig(level=level, format=LOG_FORMAT)
    quiet = logging.DEBUG if level <= logging.DEBUG else logging.WARNING
    for name in ("mail.log", "alembic", "apscheduler"):
        logging.getLogger(name).setLevel(quiet)
    logging.getLogger("mailparser").setLevel(logging.ERROR)
    debugging = level <= logging.DEBUG
    logging.getLogger("flufl.bounce").setLevel(logging.DEBUG if debugging else logging.CRITICAL)


def server_collector() -> None:
    """CPython's own pace of cycle collection, for processes that run for months (the
    `gateway` command sets a slower one for its short runs: cli/__init__.py)."""
    gc.set_threshold(*SERVER_COLLECTOR)


def started_up() -> None:
    """What a child made to start (modules, mappers, its app) lives as long as it does:
    frozen, the collector's full passes no longer walk it (in an ingest of 5 KB mails,
    a full pass went from 0.03 ms a mail to 0.007)."""
    gc.freeze()


def child_setup(name: str, log_level: int, niceness: int = CHILD_NICENESS) -> None:
    """What each child process of `gateway serve` (companions too, at
    COMPANION_NICENESS) does first."""
    server_collector()
    configure_logging(log_level)
    # Background work: when both compete for a core, answering SMTP sessions comes
    # first; the spool absorbs bursts and the children catch up after them. A
    # companion's work comes last: a post's copies before its page. Before the name:
    # a child that shows its name has its niceness (a test read 0 in between).
    os.nice(niceness)
    try:  # the name `ps` and `top` show (Linux): gateway-ingest, gateway-deliver
        Path("/proc/self/comm").write_text(name[:15])
    except OSError:
        pass
    # The parent decides when we stop: Ctrl-C reaches the whole process group, and a
    # service manager's SIGTERM every process of the unit (systemd's KillMode=
    # control-group); the parent drains us, each finishing the batch in hand.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def parent_alive() -> Callable[[], bool]:
    parent = multiprocessing.parent_process()
    return lambda: parent is None or parent.is_alive()


def run_inbox_processor(
    settings: Settings, wake: Signal, stopping: Signal, published: Signal, log_level: int
) -> None:
    """The inbox processor's own process: the pipeline's CPU work gets its own core
    (and its own GIL), so the SMTP sessions are answered at the network's pace."""
    child_setup("gateway-ingest", log_level)
    app = build_app(settings)
    started_up()
    try:
        InboxProcessor(app, wake, stopping, published).run(alive=parent_alive())
    finally:
        app.close()


def run_delivery_worker(settings: Settings, wake: Signal, stopping: Signal, log_level: int) -> None:
    """The outgoing loop's own process (deliveries, bounces, email actions), with the
    digest scheduler: fan-out to thousands of members is CPU work (rendering, SMTP
    commands, queue updates) that must not slow ingest down."""
    child_setup("gateway-deliver", log_level)
    app = build_app(settings)
    worker = OutgoingLoop(app, make_relay(settings), wake, stopping)
    scheduler = DigestScheduler(app, queued=worker.wake)
    started_up()
    scheduler.start()
    try:
        worker.run(alive=parent_alive())
    finally:
        scheduler.stop()
        app.close()


class ChildProcess:
    """A child process of `gateway serve`, started again if it dies: a crash in it must
    not leave accepted mail waiting until someone restarts the gateway."""

    def __init__(
        self,
        name: str,
        target: Callable[..., None],
        args: tuple[object, ...],
        stopping: Signal,
    ) -> None:
        self.name = name
        self.target = target
        self.args = args
        self.stopping = stopping
        self.process: BaseProcess | None = None

    def start(self) -> None:
        level = logging.getLogger().getEffectiveLevel()
        self.process = SPAWN.Process(target=self.target, args=(*self.args, level), name=self.name)
        self.process.start()

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(CHILD_CHECK_INTERVAL)
            if self.process is None or self.process.is_alive() or self.stopping.is_set():
                continue
            log.error(
                "the %s process ended (exit code %s); starting it again",
                self.name,
                self.process.exitcode,
            )
            self.start()

    def join(self, timeout: float) -> bool:
        """Wait for the process to end; whether it did."""
        if self.process is None:
            return True
        self.process.join(timeout)
        return not self.process.is_alive()


@dataclass(frozen=True)
class Companion:
    """A background loop that `gateway serve` runs beside its own, from a package the
    gateway does not import (the archive publisher): `run_process(settings, stopping,
    log_level)` is its child process's body, `make_loop(app, stopping)` its thread."""

    name: str
    run_process: Callable[[Settings, Signal, int], None]
    make_loop: Callable[[App, Signal], BackgroundLoop]


class Workers:
    """The inbox processor, the delivery worker and the companions: child processes
    (`gateway serve`) or threads of this process (tests), woken by the same events."""

    def __init__(self, app: App, in_processes: bool, companions: Sequence[Companion] = ()) -> None:
        settings = app.settings
        make_event = PipeSignal if in_processes else threading.Event
        self.inbox_wake, self.deliver_wake = make_event(), make_event()
        self.stopping = make_event()
        self.children: list[ChildProcess] = []
        self.threads: list[BackgroundLoop] = []
        self.scheduler: DigestScheduler | None = None  # in processes: in gateway-deliver
        if in_processes:
            self.children = [
                ChildProcess(
                    "gateway-ingest",
                    run_inbox_processor,
                    (settings, self.inbox_wake, self.stopping, self.deliver_wake),
                    self.stopping,
                ),
                ChildProcess(
                    "gateway-deliver",
                    run_delivery_worker,
                    (settings, self.deliver_wake, self.stopping),
                    self.stopping,
                ),
                *(
                    ChildProcess(c.name, c.run_process, (settings, self.stopping), self.stopping)
                    for c in companions
                ),
            ]
        else:
            worker = OutgoingLoop(app, make_relay(settings), self.deliver_wake, self.stopping)
            self.threads = [
                InboxProcessor(app, self.inbox_wake, self.stopping, self.deliver_wake),
                worker,
                *(c.make_loop(app, self.stopping) for c in companions),
            ]
            self.scheduler = DigestScheduler(app, queued=worker.wake)
        self._watchers: list[asyncio.Task[None]] = []

    def wake_inbox(self) -> None:
        self.inbox_wake.set()

    def start(self) -> None:
        for child in self.children:
            child.start()
            self._watchers.append(asyncio.create_task(child.watch()))
        for worker in self.threads:
            worker.start()
        if self.scheduler is not None:
            self.scheduler.start()

    def stop(self) -> bool:
        """Blocking: each finishes the batch in hand. Whether all of them ended (a child
        process still busy after SHUTDOWN_GRACE may still hold claims)."""
        self.stopping.set()
        self.inbox_wake.set()
        self.deliver_wake.set()
        for watcher in self._watchers:
            watcher.cancel()
        if self.scheduler is not None:
            self.scheduler.stop()
        for worker in self.threads:
            worker.stop()
        return all([child.join(SHUTDOWN_GRACE) for child in self.children])


async def serve(
    settings: Settings,
    stop: asyncio.Event | None = None,
    ready: Callable[[], None] | None = None,
    processor_process: bool = False,
    companions: Sequence[Companion] = (),
) -> None:
    """Run until `stop` is set, or until SIGTERM/SIGINT when no event is given.

    With processor_process the pipeline runs in a child process (what `gateway
    serve` does); without, in a thread (tests).
    """
    make_signer(settings)  # a bad [dkim] key stops us here, before anything started
    app = build_app(settings)
    workers = Workers(app, in_processes=processor_process, companions=companions)
    spool = Spool(app.spool_engine, app.blobs, on_commit=workers.wake_inbox)
    handler = GatewayHandler(
        domain=settings.gateway.domain,
        max_recipients=settings.smtp.max_recipients,
        lookup=community_lookup(app),
        submit=spool.submit,
        max_sessions=settings.smtp.max_sessions,
        max_data_memory=settings.smtp.max_data_memory,
    )
    loop = asyncio.get_running_loop()
    if stop is None:  # before listening: a SIGTERM as soon as the port opens stops us cleanly
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    try:
        # Listen first: if the port is taken, nothing else has been started.
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
        try:
            web_server = await _start_web(app)
        except BaseException:
            server.close()
            raise
    except BaseException:
        app.close()
        raise
    registry = NodeRegistry(app.sessions, settings.node_id)
    await registry.register()
    beating = asyncio.create_task(registry.run())
    workers.start()
    spool.start()
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
        await stop_accepting(server)
        await registry.drain()
        if web_server is not None:
            await web_server.close()
        await _finish_sessions(handler)
        await loop.run_in_executor(None, spool.stop)
        ended = await loop.run_in_executor(None, workers.stop)
        beating.cancel()
        if not ended:
            log.warning("a worker is still busy: its claims are released when their lease ends")
        await registry.stop(give_back_claims=ended)
        app.close()
        log.info("stopped")


async def stop_accepting(server: asyncio.AbstractServer) -> None:
    """Close the server once the connections it accepted already have their transport.

    asyncio (3.11) makes a connection's transport one loop iteration after accepting it,
    and asserts then that the server is still open: after Server.close(), the assertion
    fails, silently, and the accepted socket is never closed (a ResourceWarning when it
    is collected). So the listening sockets leave the selector first; close() next."""
    loop = asyncio.get_running_loop()
    for sock in getattr(server, "sockets", ()):
        loop.remove_reader(sock.fileno())
    for _ in range(2):  # their transport, then their protocol's connection_made()
        await asyncio.sleep(0)
    server.close()


async def _start_web(app: App) -> WebServer | None:
    """The [web] server, listening, or None when it is off. (Imported here: the commands
    that serve nothing start without aiohttp.)"""
    if not app.settings.web.enabled:
        return None
    from gateway.web.server import WebServer

    web_server = WebServer(app)
    await web_server.start()
    return web_server


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
