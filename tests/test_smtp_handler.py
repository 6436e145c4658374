"""The SMTP handler's last resort at connection time: an unexpected error says 421 4.3.0
and hangs up, with the traceback in the log (the errors at commands: test_smtp.py)."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future

import pytest

from gateway.ingest.context import InboundMail
from gateway.smtp import replies
from gateway.smtp.handler import CommunityState
from gateway.smtp.handler import GatewayHandler
from gateway.smtp.handler import GatewaySMTP
from tests.faults import FailingConnectionSet


def never_called(_: object) -> CommunityState:
    raise AssertionError("no command reaches the handler")


def not_submitted(mail: InboundMail) -> Future[None]:
    raise AssertionError("no mail reaches the handler")


def test_an_error_at_connection_time_says_421_and_hangs_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = GatewayHandler(
        domain="lists.example.com", max_recipients=10, lookup=never_called, submit=not_submitted
    )
    handler.connections = FailingConnectionSet()

    async def scenario() -> bytes:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: GatewaySMTP(handler), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            async with asyncio.timeout(30):
                return await reader.read()  # all it says, up to its hanging up
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(scenario()) == (replies.UNAVAILABLE + "\r\n").encode()
    [failure] = [r for r in caplog.records if r.name == "gateway.smtp.handler"]
    assert failure.levelname == "ERROR" and failure.exc_info is not None


ADDRESS_ARGUMENTS = [
    "<Alice.Smith@Example.COM>",
    "<alice@example.com> SIZE=5123 BODY=8BITMIME",
    "alice@example.com",
    "<>",
    '<"alice smith"@example.com>',
    "<@relay.example.org:alice@example.com>",
    "<alice@[192.0.2.1]>",
    "<" + "a" * 70 + "@example.com>",
    "<alice@example.com",
    "<<alice@example.com>>",
    "<alice@example.com> x" * 40,  # longer than what is remembered
    "",
    "   ",
]


@pytest.mark.parametrize("local_part_limit", [0, 64])
def test_addresses_parse_as_aiosmtpd_parses_them(local_part_limit: int) -> None:
    """GatewaySMTP._getaddr is aiosmtpd's made cheaper: same answers, twice over (the
    second from what it remembers)."""
    from aiosmtpd.smtp import SMTP

    handler = GatewayHandler(
        domain="lists.example.com", max_recipients=10, lookup=never_called, submit=not_submitted
    )

    async def both() -> tuple[SMTP, GatewaySMTP]:
        limits = {"enable_SMTPUTF8": True}
        return (
            SMTP(handler, **limits),  # type: ignore[arg-type]
            GatewaySMTP(handler, **limits),  # type: ignore[arg-type]
        )

    theirs, ours = asyncio.run(both())
    theirs.local_part_limit = ours.local_part_limit = local_part_limit
    for argument in ADDRESS_ARGUMENTS * 2:
        assert ours._getaddr(argument) == theirs._getaddr(argument), argument
