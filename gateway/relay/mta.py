"""The SMTP relay: outgoing mail handed to the company MTA over a few persistent,
pipelined connections used in parallel.

A connection that fails is dropped and opened again for the next envelope; the
envelope it was carrying is answered 451 for every recipient, so the worker tries
it again later (the MTA may or may not have taken it: at least once, never lost).
When the MTA cannot be reached, envelopes are answered 451 at once for
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
            if connection is None or connection.closed:
                until, why = self._down
                if time.monotonic() < until:
                    return self._failed(envelope, why)
                connection = await self._connect()
            return await connection.send(
                envelope.sender, envelope.recipients, envelope.payload, xverp=envelope.xverp
            )
        except (SmtpError, ValueError) as error:
            log.warning("relay %s:%d: %s", *self._where(), error)
            if connection is not None:
                await connection.close()
            connection = None
            return self._failed(envelope, str(error))
        finally:
            self._idle.put_nowait(connection)

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
        if self._idle is None:
            return
        while not self._idle.empty():
            connection = self._idle.get_nowait()
            if connection is not None:
                await connection.close()

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
