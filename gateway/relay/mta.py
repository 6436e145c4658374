"""The SMTP relay: outgoing mail handed to the company MTA over a few persistent,
pipelined connections used in parallel.

MTAs close idle clients (Postfix after smtpd_timeout, 300 s, with a parting
"421 4.4.2 ... timeout exceeded"). So a pooled connection idle longer than
[relay] idle_seconds is closed with QUIT and a new one opened before it carries
mail; and a pooled connection that fails anyway (a 421, EOF, a reset) was stale,
not a refusal: the envelope is sent again at once on a new connection, and no
recipient is charged an attempt for it.

A new connection that fails is dropped and opened again for the next envelope;
the envelope it was carrying is answered 451 for every recipient, so the worker
tries it again later (the MTA may or may not have taken it: at least once, never
lost). When the MTA cannot be reached, envelopes are answered 451 at once for
REOPEN_WAIT seconds instead of each waiting for its own connection timeout.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping

from gateway.relay.envelope import Envelope
from gateway.relay.envelope import Reply
from gateway.relay.smtp_client import SmtpConnection
from gateway.relay.smtp_client import SmtpError
from gateway.relay.smtp_client import smtp_payload
from gateway.settings import RelaySettings

log = logging.getLogger("gateway.relay")

REOPEN_WAIT = 5.0


class MtaRelay:
    def __init__(
        self, settings: RelaySettings, helo_name: str, environ: Mapping[str, str] = os.environ
    ) -> None:
        self.settings = settings
        self.helo_name = helo_name
        self.password = environ.get(settings.password_env, "") if settings.username else ""
        self._idle: asyncio.Queue[SmtpConnection | None] | None = None
        self._xverp = False
        # After a failed connect: until when, and why, not to try again.
        self._down: tuple[float, str] = (0.0, "")

    @property
    def xverp(self) -> bool:
        return self._xverp

    async def start(self) -> None:
        """Open one connection to learn what the MTA offers; the others open on demand."""
        self._idle = asyncio.Queue()
        connection: SmtpConnection | None = None
        try:
            connection = await self._open()
            self._xverp = connection.xverp
        except SmtpError as error:
            log.warning("relay %s:%d unavailable at start: %s", *self._where(), error)
        self._idle.put_nowait(connection)
        for _ in range(self.settings.connections - 1):
            self._idle.put_nowait(None)

    def payload(self, message: bytes) -> bytes:
        """The DATA payload: CRLF line ends, leading dots doubled, CRLF.CRLF at the end."""
        return smtp_payload(message)

    async def send(self, envelope: Envelope) -> list[Reply]:
        assert self._idle is not None, "start() first"
        connection = await self._idle.get()
        try:
            if connection is not None and not connection.closed:
                replies = await self._send_reused(connection, envelope)
                if replies is not None:
                    return replies
            until, why = self._down
            if time.monotonic() < until:
                return self._failed(envelope, why)
            connection = await self._connect()
            replies = await self._transaction(connection, envelope)
            farewell = _farewell(connection, replies)
            if farewell is not None:
                log.warning("relay %s:%d closed a new connection: %s", *self._where(), farewell)
            return replies
        except (SmtpError, ValueError) as error:
            log.warning("relay %s:%d: %s", *self._where(), error)
            if connection is not None:
                await connection.close()
            connection = None
            return self._failed(envelope, str(error))
        finally:
            self._idle.put_nowait(connection)

    async def _send_reused(
        self, connection: SmtpConnection, envelope: Envelope
    ) -> list[Reply] | None:
        """The replies over a pooled connection, or None when it must be replaced first:
        idle too long (closed with QUIT), or found closed by the MTA (a 421, EOF, a reset)."""
        idle = connection.idle_seconds
        if idle > self.settings.idle_seconds:
            await connection.close()
            return None
        try:
            replies = await self._transaction(connection, envelope)
        except SmtpError as error:
            why = str(error)
        else:
            farewell = _farewell(connection, replies)
            if farewell is None:
                return replies
            why = str(farewell)
        log.warning(
            "relay %s:%d closed a connection idle for %.0f s (%s); sending again on a new "
            "one. If this recurs, set [relay] idle_seconds (%d) below the MTA's idle timeout",
            *self._where(), idle, why, self.settings.idle_seconds,
        )  # fmt: skip
        await connection.close()
        return None

    @staticmethod
    async def _transaction(connection: SmtpConnection, envelope: Envelope) -> list[Reply]:
        return await connection.send(
            envelope.sender, envelope.recipients, envelope.payload, xverp=envelope.xverp
        )

    async def _connect(self) -> SmtpConnection:
        try:
            return await self._open()
        except SmtpError as error:
            self._down = (time.monotonic() + REOPEN_WAIT, str(error))
            raise

    def _failed(self, envelope: Envelope, why: str) -> list[Reply]:
        failure = Reply(451, f"4.4.1 relay {self.settings.host}:{self.settings.port}: {why}")
        return [failure] * len(envelope.recipients)

    async def close(self) -> None:
        """QUIT every pooled connection, all at once."""
        if self._idle is None:
            return
        connections = []
        while not self._idle.empty():
            connection = self._idle.get_nowait()
            if connection is not None:
                connections.append(connection)
        await asyncio.gather(*(connection.close() for connection in connections))

    async def _open(self) -> SmtpConnection:
        return await SmtpConnection.open(
            self.settings.host,
            self.settings.port,
            helo_name=self.helo_name,
            security=self.settings.security,
            username=self.settings.username,
            password=self.password,
        )

    def _where(self) -> tuple[str, int]:
        return self.settings.host, self.settings.port


def _farewell(connection: SmtpConnection, replies: list[Reply]) -> Reply | None:
    """The 421 with which the MTA closed the connection during a transaction, if it did."""
    if not connection.closed:
        return None
    return next((reply for reply in replies if reply.code == 421), None)
