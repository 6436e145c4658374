"""The SMTP edge: aiosmtpd hooks that refuse early and answer only for durable mail.

RCPT refuses what we will never take (another domain, an unknown address, a closed
community, too many recipients); DATA hands the bytes to the spool off the event
loop and answers 250 only once they are committed (DESIGN.md, principle 2). What
the mail then becomes (a post, held, a duplicate, dropped) is decided by the
ingest pipeline, after the reply, and logged there.

Only policy answers 5xx: any unexpected error (a lookup on a locked database, a
bug) is logged with its traceback and answered 451, never aiosmtpd's own
"500 Error: (RuntimeError) ...", which refuses the mail for good and shows our
internals to the sender.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from email._header_value_parser import get_addr_spec
from email._header_value_parser import get_angle_addr
from email.errors import HeaderParseError
from typing import Any

from aiosmtpd.smtp import MISSING
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope
from aiosmtpd.smtp import Session as SmtpSession

from gateway.ingest.context import InboundMail
from gateway.mail.recipients import Kind
from gateway.mail.recipients import parse_recipient
from gateway.smtp import replies
from gateway.smtp.data import DataState
from gateway.smtp.data import read_data
from gateway.smtp.limits import MemoryBudget
from gateway.store.models import utcnow

log = logging.getLogger("gateway.smtp.handler")

# How long a community's existence and open/closed state are trusted at RCPT time:
# a community created or closed with the CLI is seen by the server within this.
LOOKUP_TTL = 2.0


@dataclass(frozen=True)
class CommunityState:
    exists: bool
    closed: bool = False


# slug -> whether that community exists and is closed; runs in a thread (it queries).
CommunityLookup = Callable[[str], CommunityState]
# Hands a mail to the spool; the future resolves once it is durably stored.
Submit = Callable[[InboundMail], "Future[None]"]


# Arguments up to this length are remembered (at most 1,024 of them): a client that
# sends long ones cannot make the cache hold much.
ADDRESS_CACHED = 320


def _address(arg: str) -> tuple[str, str] | None:
    """An SMTP command's address and the parameters after it, as aiosmtpd parses them."""
    try:
        if arg.lstrip().startswith("<"):
            angle, rest = get_angle_addr(arg)
            return angle.addr_spec, rest
        spec, rest = get_addr_spec(arg)
        return spec.addr_spec, rest
    except HeaderParseError:
        return None


_remembered_address = functools.lru_cache(maxsize=1024)(_address)


class GatewaySMTP(SMTP):
    """aiosmtpd's SMTP with our size reply, a more tolerant line length, and DATA
    read in pieces (gateway.smtp.data).

    RFC 5321 caps lines at 1000 octets, but real mail has longer header lines (the
    corpus' long-header.eml): refusing it would lose mail that every MTA forwards.
    """

    line_length_limit = 64 * 1024

    def __init__(self, handler: GatewayHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        if self._decode_data:
            raise ValueError("the gateway's DATA stays bytes: decode_data must be False")
        self.gateway_handler = handler
        # data_size_limit is lowered to each DATA's reservation (smtp_DATA): the
        # configured limit, for MAIL FROM's SIZE check and the 552's text.
        self.max_message_size = self.data_size_limit

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's parse of MAIL FROM's and RCPT TO's argument, without the typing
        class that aiosmtpd 1.4 defines on every call, and remembered: RCPT TO names
        the same few addresses. This process's CPU per mail fell by a fifth
        (bench/ingest.py prints it)."""
        if not arg:
            return "", ""
        parsed = _remembered_address(arg) if len(arg) <= ADDRESS_CACHED else _address(arg)
        if parsed is None:
            return None, None
        address, rest = parsed
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest

    def connection_made(self, transport: Any) -> None:
        try:
            super().connection_made(transport)
            if len(self.gateway_handler.connections) >= self.gateway_handler.max_sessions:
                # Each session costs memory and a slot of the loop: past the cap, the
                # client is told to come back later, before anything else is said.
                log.warning("SMTP connection from %s: too many sessions", _peer(transport))
                self._goodbye(transport, replies.TOO_MANY_CONNECTIONS)
                return
            self.gateway_handler.connections.add(self)
        except Exception:
            # Nothing has been said yet: say goodbye for now, so the client retries.
            log.exception("SMTP connection from %s: unexpected error", _peer(transport))
            self._goodbye(transport, replies.UNAVAILABLE)

    def _goodbye(self, transport: Any, reply: str) -> None:
        """Answer `reply` instead of the greeting and close the connection."""
        if self._handler_coroutine is not None:
            self._handler_coroutine.cancel()  # no 220 after our goodbye
        transport.write((reply + "\r\n").encode("ascii"))
        transport.close()

    def connection_lost(self, error: Exception | None) -> None:
        self.gateway_handler.connections.discard(self)
        super().connection_lost(error)

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, entered only if the memory budget has room for this message:
        it is held in memory until the spool has it. Past the budget, 452 4.3.1: the
        sender's MTA tries again later.

        A message reserves the size its MAIL FROM declared (RFC 1870: Postfix and
        Exchange always do), with some slack for the estimate, else the largest one
        allowed; and may not pass what it reserved (552). So many small mails share
        the budget while the DATA in memory stays bounded, whatever the clients say."""
        if self.envelope is None or not self.envelope.rcpt_tos or arg:
            await super().smtp_DATA(arg)  # aiosmtpd's own 503 or 501, nothing read
            return
        budget = self.gateway_handler.data_memory
        allowed = self.max_message_size or budget.limit
        size = _reservation(self.envelope.mail_options, allowed)
        if not budget.reserve(size):
            log.warning("SMTP DATA from %s: memory budget full", _peer(self.transport))
            await self.push(replies.INSUFFICIENT_STORAGE)
            return
        self.data_size_limit = size
        try:
            await self._receive_data()
        except asyncio.CancelledError as cancelled:
            # The session ended during DATA. aiosmtpd's frame, kept by this exception's
            # traceback, still holds what arrived, in a reference cycle (task, protocol,
            # streams) that only a full garbage collection would free: free it now.
            traceback.clear_frames(cancelled.__traceback__)
            raise
        finally:
            self.data_size_limit = self.max_message_size
            budget.release(size)

    async def _receive_data(self) -> None:
        """aiosmtpd's DATA once its checks are passed, with the data read in pieces
        (gateway.smtp.data), not a line at a time."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            data = await read_data(self._reader, self.data_size_limit, self.line_length_limit)
        except asyncio.CancelledError:
            log.info("SMTP connection from %s lost during DATA", _peer(self.transport))
            self._writer.close()
            raise
        if data.state is DataState.NOMINAL:
            assert self.envelope is not None
            self.envelope.content = self.envelope.original_content = data.content
            status = await self._call_handler_hook("DATA")
            reply = "250 OK" if status is MISSING else status
        elif data.state is DataState.TOO_MUCH:
            reply = replies.MESSAGE_TOO_BIG.format(limit=self.max_message_size)
        else:
            reply = replies.LINE_TOO_LONG
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push(reply)

    async def push(self, status: Any) -> None:
        # aiosmtpd words its size refusals itself; ours carry the enhanced code 5.3.4.
        if isinstance(status, str) and status.startswith("552 Error:"):
            status = replies.MESSAGE_TOO_BIG.format(limit=self.max_message_size)
        await super().push(status)


class GatewayHandler:
    def __init__(
        self,
        *,
        domain: str,
        max_recipients: int,
        lookup: CommunityLookup,
        submit: Submit,
        max_sessions: int = 100,
        max_data_memory: int = 256 * 1024 * 1024,
    ) -> None:
        self.domain = domain
        self.max_recipients = max_recipients
        self.max_sessions = max_sessions
        self.data_memory = MemoryBudget(max_data_memory)
        self.lookup = lookup
        self.submit = submit
        self.connections: set[GatewaySMTP] = set()
        self.in_flight = 0
        self._states: dict[str, tuple[CommunityState, float]] = {}

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd's hook for an exception in any command (EHLO, MAIL, RCPT, DATA...)."""
        log.error("SMTP command failed: %s", _describe(error), exc_info=error)
        return replies.TEMPORARY_FAILURE

    async def handle_RCPT(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return replies.TOO_MANY_RECIPIENTS.format(limit=self.max_recipients)
        recipient = parse_recipient(address, self.domain)
        if recipient.kind is Kind.FOREIGN:
            return replies.RELAY_DENIED.format(address=address, domain=self.domain)
        if recipient.kind is Kind.UNKNOWN:
            return replies.UNKNOWN_RECIPIENT.format(address=address)
        if recipient.slug:
            state = await self._community(recipient.slug)
            if not state.exists:
                return replies.UNKNOWN_RECIPIENT.format(address=address)
            if state.closed and recipient.kind is Kind.POST:
                return replies.COMMUNITY_CLOSED.format(address=address, slug=recipient.slug)
        envelope.rcpt_tos.append(address)
        return replies.RECIPIENT_OK

    async def _community(self, slug: str) -> CommunityState:
        """The community's state, from a cache of LOOKUP_TTL seconds: a query per RCPT
        would cost more than the rest of the SMTP dialogue."""
        loop = asyncio.get_running_loop()
        cached = self._states.get(slug)
        if cached is not None and cached[1] > loop.time():
            return cached[0]
        state = await loop.run_in_executor(None, self.lookup, slug)
        self._states[slug] = (state, loop.time() + LOOKUP_TTL)
        return state

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        started = time.perf_counter()
        raw = envelope.original_content or b""
        mail = InboundMail(
            raw=raw,
            mail_from=envelope.mail_from or "",
            recipients=tuple(envelope.rcpt_tos),
            received_at=utcnow(),
            peer=str(session.peer[0]) if session.peer else "",
        )
        self.in_flight += 1
        try:
            await asyncio.wrap_future(self.submit(mail))
        except Exception:
            # Logged with its traceback by the spool; the sender's MTA will retry.
            log.warning("mail from=%s: temporary failure", mail.mail_from or "<>")
            return replies.TEMPORARY_FAILURE
        finally:
            self.in_flight -= 1
        if log.isEnabledFor(logging.DEBUG):
            milliseconds = (time.perf_counter() - started) * 1000
            log.debug("spooled from=%s to=%s bytes=%d ms=%.1f", mail.mail_from or "<>",
                      ",".join(mail.recipients), len(raw), milliseconds)  # fmt: skip
        return replies.ACCEPTED


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _peer(transport: Any) -> str:
    # None once the connection is lost (aiosmtpd's connection_lost)
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if peer else "?"


# Slack over a declared SIZE: an estimate (RFC 1870 section 4), counted by some MTAs
# before line ends became CRLF.
SIZE_SLACK = 64 * 1024


def _reservation(mail_options: list[str], allowed: int) -> int:
    """What a DATA may hold: its declared SIZE with slack, at most `allowed`."""
    for option in mail_options:
        name, _, value = option.partition("=")
        if name.upper() == "SIZE" and value.isdigit():
            declared = int(value)
            return min(allowed, declared + declared // 8 + SIZE_SLACK)
    return allowed
