"""An asyncio SMTP client with PIPELINING (RFC 2920) that hands outgoing mail to the relay MTA.

We write our own because aiosmtplib has no PIPELINING support: without it every RCPT
costs a round trip, and the delivery worker must reach 20,000 recipients/s (100 per
transaction) and 2,000 one-recipient transactions/s over a few persistent connections.
With PIPELINING a transaction is one write of MAIL, RCPT... and DATA, then the body.

A connection runs one exchange at a time; run several connections for parallelism.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator
from collections.abc import Sequence
from contextlib import asynccontextmanager
from contextlib import suppress

from gateway.relay.envelope import Reply

SECURITY_MODES = ("none", "starttls", "tls")
# Seconds to wait for the 221 to a QUIT: a peer that says nothing is not worth more.
QUIT_TIMEOUT = 5.0
# Connection-level failures: TimeoutError and ssl.SSLError are OSErrors; an EOF in the
# middle of a reply is asyncio.IncompleteReadError, an EOFError.
_IO_ERRORS = (OSError, EOFError, asyncio.LimitOverrunError)


# RFC 6531 3.4: a non-ASCII address needs SMTPUTF8 end to end; we cannot downgrade it.
NO_SMTPUTF8 = Reply(553, "5.6.7 the relay does not offer SMTPUTF8 for a non-ASCII address")


class SmtpError(Exception):
    """The connection failed or the server refused the session (connect, greeting, EHLO,
    STARTTLS, AUTH)."""

    def __init__(self, message: str, reply: Reply | None = None) -> None:
        super().__init__(message if reply is None else f"{message}: {reply}")
        self.reply = reply


def smtp_payload(message: bytes) -> bytes:
    """The DATA payload for a message: line endings made CRLF, leading dots doubled
    (RFC 5321 4.5.2), ending in CRLF.CRLF. The SMTP relay computes it once per message
    and reuses it for every transaction. A bare CR is left as it is."""
    data = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _positive(reply: Reply) -> bool:
    return 200 <= reply.code < 300


class SmtpConnection:
    """One persistent SMTP session with the relay; see `open`, `send` and `close`."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._deadline: asyncio.Timeout | None = None
        self._wait = timeout  # the current exchange's bound on each wait
        self._closed = False
        self._busy = False
        self._last_used = self._loop.time()
        self.capabilities: dict[str, str] = {}

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        helo_name: str,
        security: str = "none",
        username: str = "",
        password: str = "",
        timeout: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> SmtpConnection:
        """Connect, greet, optionally STARTTLS and authenticate; SmtpError on any failure."""
        if security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {SECURITY_MODES}, not {security!r}")
        context = None
        if security != "none":
            context = ssl_context or ssl.create_default_context()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context if security == "tls" else None
                )
        except _IO_ERRORS as error:
            raise SmtpError(f"cannot connect to {host}:{port}: {_describe(error)}") from error
        connection = cls(reader, writer, timeout)
        starttls = context if security == "starttls" else None
        try:
            async with connection._exchange():
                await connection._handshake(host, helo_name, starttls, username, password)
        except Exception:
            await connection.close()
            raise
        return connection

    @property
    def pipelining(self) -> bool:
        return "PIPELINING" in self.capabilities

    @property
    def xverp(self) -> bool:
        return "XVERP" in self.capabilities

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def idle_seconds(self) -> float:
        """Seconds since the last exchange ended (or since the connection opened)."""
        return self._loop.time() - self._last_used

    async def send(
        self, mail_from: str, recipients: Sequence[str], payload: bytes, *, xverp: bool = False
    ) -> list[Reply]:
        """One mail transaction; one Reply per recipient, in order.

        A refused recipient gets its RCPT reply, the others the reply to the body (or to
        DATA when DATA was refused); a refused MAIL is every recipient's reply. A 421
        closes the connection and is the reply of every recipient not refused before it.
        An I/O error, EOF or timeout closes the connection and raises SmtpError: what
        became of the transaction is unknown, retry it on a new connection.
        """
        if xverp and not self.xverp:
            raise ValueError("the relay does not offer XVERP")
        if not recipients:
            return []
        utf8 = not (mail_from.isascii() and all(address.isascii() for address in recipients))
        if utf8 and "SMTPUTF8" not in self.capabilities:
            return [NO_SMTPUTF8] * len(recipients)
        mail = self._mail_command(mail_from, payload, utf8=utf8, xverp=xverp)
        rcpts = [_command("RCPT TO:<", address, ">") for address in recipients]
        async with self._exchange():
            if self.pipelining:
                replies = await self._pipeline([mail, *rcpts, b"DATA\r\n"])
            else:
                replies = await self._lockstep(mail, rcpts)
            return await self._finish(replies, len(rcpts), payload)

    async def close(self) -> None:
        """Say QUIT (errors ignored, its reply awaited at most QUIT_TIMEOUT seconds) and
        close the socket; safe to call more than once."""
        if not self._closed and not self._busy:
            with suppress(SmtpError):
                async with self._exchange(QUIT_TIMEOUT):
                    await self._command(b"QUIT\r\n")
        self._closed = True
        self._writer.close()
        with suppress(*_IO_ERRORS):
            async with asyncio.timeout(QUIT_TIMEOUT):
                await self._writer.wait_closed()

    # The session

    async def _handshake(
        self,
        host: str,
        helo_name: str,
        starttls: ssl.SSLContext | None,
        username: str,
        password: str,
    ) -> None:
        greeting = await self._read_reply()
        if greeting.code != 220:
            raise SmtpError("the relay refused the session", greeting)
        await self._hello(helo_name)
        if starttls is not None:
            if "STARTTLS" not in self.capabilities:
                raise SmtpError("the relay does not offer STARTTLS")
            reply = await self._command(b"STARTTLS\r\n")
            if reply.code != 220:
                raise SmtpError("the relay refused STARTTLS", reply)
            await self._writer.start_tls(starttls, server_hostname=host)
            await self._hello(helo_name)  # RFC 3207 4.2: forget what was learned before TLS
        if username:
            await self._login(username, password)

    async def _hello(self, helo_name: str) -> None:
        self._writer.write(_command("EHLO ", helo_name, ""))
        await self._drain()
        code, lines = await self._read_lines()
        if code == 250:
            self.capabilities = _capabilities(lines[1:])
            return
        if code // 100 != 5:
            raise SmtpError("the relay refused EHLO", Reply(code, " ".join(lines)))
        self.capabilities = {}
        reply = await self._command(_command("HELO ", helo_name, ""))
        if reply.code != 250:
            raise SmtpError("the relay refused HELO", reply)

    async def _login(self, username: str, password: str) -> None:
        methods = self.capabilities.get("AUTH", "").upper().split()
        if "PLAIN" in methods:
            token = _b64(f"\0{username}\0{password}")
            reply = await self._command(b"AUTH PLAIN " + token + b"\r\n")
        elif "LOGIN" in methods:
            reply = await self._command(b"AUTH LOGIN\r\n")
            for secret in (username, password):
                if reply.code == 334:
                    reply = await self._command(_b64(secret) + b"\r\n")
        else:
            raise SmtpError(f"the relay offers no AUTH PLAIN or LOGIN (AUTH {' '.join(methods)})")
        if reply.code != 235:
            raise SmtpError("the relay refused our credentials", reply)

    # The transaction

    def _mail_command(self, mail_from: str, payload: bytes, *, utf8: bool, xverp: bool) -> bytes:
        params = ""
        if "SIZE" in self.capabilities:
            params += f" SIZE={len(payload)}"
        if "8BITMIME" in self.capabilities and not payload.isascii():
            params += " BODY=8BITMIME"
        if utf8:
            params += " SMTPUTF8"
        if xverp:
            params += " XVERP"
        return _command("MAIL FROM:<", mail_from, ">" + params)

    async def _pipeline(self, commands: list[bytes]) -> list[Reply]:
        """RFC 2920: write the whole group at once, then read its replies (until a 421)."""
        self._writer.write(b"".join(commands))
        await self._drain()
        replies = []
        for _ in commands:
            replies.append(await self._read_reply())
            if self._closed:
                break
        return replies

    async def _lockstep(self, mail: bytes, rcpts: list[bytes]) -> list[Reply]:
        """Without PIPELINING: the same replies as `_pipeline`, one command at a time,
        stopping where the transaction cannot go on."""
        replies = [await self._command(mail)]
        if not _positive(replies[0]):
            return replies
        for rcpt in rcpts:
            replies.append(await self._command(rcpt))
            if self._closed:
                return replies
        if any(_positive(reply) for reply in replies[1:]):
            replies.append(await self._command(b"DATA\r\n"))
        return replies

    async def _finish(self, replies: list[Reply], count: int, payload: bytes) -> list[Reply]:
        """Send the body if DATA was accepted and map the replies to the recipients."""
        mail, rcpt_replies = replies[0], replies[1 : count + 1]
        if not _positive(mail):
            await self._reset()
            return [mail] * count
        if self._closed:
            outcome = replies[-1]  # the 421; it ends the transaction for the others too
        elif not any(_positive(reply) for reply in rcpt_replies):
            await self._abandon(replies[count + 1] if len(replies) > count + 1 else None)
            return rcpt_replies
        else:
            outcome = await self._data(replies[-1], payload)
        refused = [reply if not _positive(reply) else outcome for reply in rcpt_replies]
        return refused + [outcome] * (count - len(rcpt_replies))

    async def _data(self, data: Reply, payload: bytes) -> Reply:
        """The body's final reply, or DATA's own reply when DATA was refused."""
        if data.code != 354:
            await self._reset()
            return data
        self._writer.write(payload)
        await self._drain()
        return await self._read_reply()

    async def _abandon(self, data: Reply | None) -> None:
        """End a transaction in which no recipient was accepted."""
        if data is not None and data.code == 354:
            # RFC 2920 3.1: a server that accepts DATA with no recipient gets an empty body.
            await self._command(b".\r\n")
        await self._reset()

    async def _reset(self) -> None:
        """RSET after a transaction that failed partway, so the connection can be reused."""
        if not self._closed and not _positive(await self._command(b"RSET\r\n")):
            self._abort()

    # The stream

    @asynccontextmanager
    async def _exchange(self, timeout: float | None = None) -> AsyncIterator[None]:
        """Bound every wait by the timeout; any failure leaves the connection closed."""
        if self._closed:
            raise SmtpError("the connection to the relay is closed")
        if self._busy:
            raise RuntimeError("an SmtpConnection runs one exchange at a time")
        self._busy = True
        self._wait = timeout or self._timeout
        try:
            async with asyncio.timeout(self._wait) as self._deadline:
                yield
        except _IO_ERRORS as error:
            self._abort()
            raise SmtpError(f"connection to the relay lost: {_describe(error)}") from error
        except BaseException:
            self._abort()
            raise
        finally:
            self._busy = False
            self._deadline = None
            self._last_used = self._loop.time()

    async def _command(self, line: bytes) -> Reply:
        self._writer.write(line)
        await self._drain()
        return await self._read_reply()

    async def _drain(self) -> None:
        self._extend_deadline()
        await self._writer.drain()

    async def _read_reply(self) -> Reply:
        code, lines = await self._read_lines()
        return Reply(code, " ".join(lines))

    async def _read_lines(self) -> tuple[int, list[str]]:
        """One reply: its code and the text of each line ("250-..." lines continue it)."""
        self._extend_deadline()
        lines = []
        while True:
            line = await self._reader.readuntil(b"\n")
            code = line[:3]
            if not code.isdigit() or line[3:4] not in (b" ", b"-", b"\r", b"\n"):
                raise SmtpError(f"malformed reply from the relay: {line[:80]!r}")
            lines.append(line[4:].rstrip(b"\r\n").decode("utf-8", "replace"))
            if line[3:4] != b"-":
                break
        if code == b"421":  # RFC 5321 3.8: the server is closing the channel
            self._abort()
        return int(code), lines

    def _extend_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.reschedule(self._loop.time() + self._wait)

    def _abort(self) -> None:
        self._closed = True
        self._writer.close()


def _command(prefix: str, argument: str, suffix: str) -> bytes:
    # A CR or LF in an address would smuggle a command into the stream.
    if "\r" in argument or "\n" in argument:
        raise ValueError(f"line break in SMTP argument {argument!r}")
    return f"{prefix}{argument}{suffix}\r\n".encode()


def _capabilities(lines: list[str]) -> dict[str, str]:
    """EHLO keywords, uppercased, with their parameters ("" when none)."""
    capabilities = {}
    for line in lines:
        keyword, _, params = line.partition(" ")
        capabilities[keyword.upper()] = params
    return capabilities


def _b64(text: str) -> bytes:
    return base64.b64encode(text.encode())


def _describe(error: BaseException) -> str:
    return "timed out" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
