"""A real SMTP sink for tests of mail out: aiosmtpd on loopback, keeping what it receives
and answering from a script (refusals, temporary failures, XVERP, PIPELINING), and
hanging up on idle clients as Postfix does (smtpd_timeout)."""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import AuthResult
from aiosmtpd.smtp import Envelope
from aiosmtpd.smtp import LoginPassword
from aiosmtpd.smtp import Session

from gateway.runtime.serve import stop_accepting


@dataclass
class Sink:
    """An aiosmtpd handler that keeps what it receives and answers from a script."""

    ehlo: bool = True
    pipelining: bool = True
    xverp: bool = False
    mail_reply: str = ""
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    # One-shot replies per recipient, used in order before the address is accepted.
    rcpt_script: dict[str, list[str]] = field(default_factory=dict)
    data_replies: list[str] = field(default_factory=list)
    received: list[tuple[str | None, list[str], bytes]] = field(default_factory=list)
    mail_options: list[list[str]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Seconds each DATA takes: a slow MTA, so that a test can act mid-delivery.
    data_delay: float = 0.0
    # Seconds of client silence after which the sink, as Postfix after smtpd_timeout,
    # says "421 4.4.2 ... timeout exceeded" (unless farewell is False) and hangs up.
    idle_timeout: float = 0.0
    farewell: bool = True
    # Sessions greeted (EHLO), closed for idleness, and ended by the client's QUIT.
    sessions: int = 0
    timeouts: int = 0
    quits: int = 0

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        with self.lock:
            self.sessions += 1
        if not self.ehlo:
            return ["502 5.5.1 EHLO not implemented"]
        # aiosmtpd 1.4.6 does not advertise PIPELINING, though it reads commands in order.
        session.host_name = hostname
        extra = ["250-PIPELINING"] * self.pipelining + ["250-XVERP"] * self.xverp
        return responses[:-1] + extra + responses[-1:]

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.mail_options.append(list(options))
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        if self.rcpt_script.get(address):
            return self.rcpt_script[address].pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_replies:
            return self.data_replies.pop(0)
        assert isinstance(envelope.content, bytes)
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 queued"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.quits += 1
        return "221 2.0.0 Bye"

    def copies(self) -> list[tuple[str | None, str, bytes]]:
        """(envelope sender, recipient, message) for each copy received."""
        with self.lock:
            return [(sender, rcpt, data) for sender, rcpts, data in self.received for rcpt in rcpts]


class RecordingSMTP(SMTP):
    """aiosmtpd's server, recording each chunk read from the socket, accepting XVERP, and
    timing out idle clients as the handler says."""

    async def push(self, status: Any) -> None:
        await super().push(status)
        if self.event_handler.idle_timeout and self.transport is not None:
            self._reset_timeout()  # the client's silence counts from our last reply

    def _timeout_cb(self) -> None:
        sink = self.event_handler
        transport = self.transport
        if not isinstance(transport, asyncio.WriteTransport) or transport.is_closing():
            return
        with sink.lock:
            sink.timeouts += 1
        if sink.farewell:
            transport.write(b"421 4.4.2 sink.test Error: timeout exceeded\r\n")
        transport.close()

    def data_received(self, data: bytes) -> None:
        self.event_handler.chunks.append(data)
        super().data_received(data)

    def _getparams(self, params: Sequence[str]) -> dict[str, str | bool] | None:
        # aiosmtpd answers 555 to MAIL parameters it does not know; XVERP is Postfix's.
        result: dict[str, str | bool] | None = super()._getparams(params)
        if result is not None and self.event_handler.xverp:
            result.pop("XVERP", None)
        return result


class RecordingController(Controller):
    def factory(self) -> SMTP:
        timeout = {"timeout": self.handler.idle_timeout} if self.handler.idle_timeout else {}
        session = RecordingSMTP(self.handler, **self.SMTP_kwargs, **timeout)
        self._sessions.add(session)
        return session

    @functools.cached_property
    def _sessions(self) -> weakref.WeakSet[SMTP]:
        return weakref.WeakSet()

    def stop(self, no_assert: bool = False) -> None:
        """Close the sessions still open first: aiosmtpd only cancels their tasks, and a
        transport left open (a gateway's cached relay connection) warns when it is
        collected, during a later test (ResourceWarning, an error there)."""
        if self._thread is not None:
            asyncio.run_coroutine_threadsafe(self._close_sessions(), self.loop).result(5)
        super().stop(no_assert)

    async def _close_sessions(self) -> None:
        # First no new connection: one accepted after the sessions were closed (an MTA
        # reconnecting) would be left open the same way. And one accepted just before
        # must become a session before the server closes (stop_accepting).
        if self.server is not None:
            await stop_accepting(self.server)
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        await asyncio.sleep(0)  # their connection_lost(), which closes the sockets


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    assert isinstance(data, LoginPassword)
    # handled=False: AuthResult defaults to True, "the 535 is already sent", and sends none.
    return AuthResult(success=(data.login, data.password) == (b"gw", b"s3cret"), handled=False)
