"""The MTA relay: a pool of pipelined connections to a real aiosmtpd on loopback, with the
login password taken from the environment, a relay that is down answered 451, and
connections that the MTA closes while idle (as Postfix does) replaced without a failure."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from gateway.relay.envelope import Envelope
from gateway.relay.envelope import Reply
from gateway.relay.mta import MtaRelay
from gateway.settings import RelaySettings
from tests.postgres import free_port
from tests.sink import RecordingController
from tests.sink import Sink
from tests.sink import authenticate

HOST = "127.0.0.1"
PAYLOAD = MtaRelay(RelaySettings(), "gw.test", environ={}).payload(b"Subject: hi\r\n\r\nHello.")


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = free_port()
    controller: Controller = RecordingController(
        handler, hostname=HOST, port=port, auth_require_tls=False, authenticator=authenticate
    )
    controller.start()
    yield handler, port
    controller.stop()


def send_many(relay: MtaRelay, envelopes: list[Envelope]) -> list[list[Reply]]:
    async def scenario() -> list[list[Reply]]:
        await relay.start()
        try:
            return list(await asyncio.gather(*(relay.send(e) for e in envelopes)))
        finally:
            await relay.close()

    return asyncio.run(scenario())


def envelopes(count: int, prefix: str = "r") -> list[Envelope]:
    return [
        Envelope("bounces@gw.test", [f"{prefix}{n}@example.com"], PAYLOAD) for n in range(count)
    ]


async def sent(relay: MtaRelay, batch: list[Envelope]) -> list[int]:
    """Send envelopes in parallel: as many at once as the pool has connections."""
    return [reply.code for [reply] in await asyncio.gather(*(relay.send(e) for e in batch))]


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_envelopes_share_a_few_connections_logged_in_with_the_password_from_env(
    sink: tuple[Sink, int],
) -> None:
    handler, port = sink
    settings = RelaySettings(host=HOST, port=port, username="gw", connections=3)
    relay = MtaRelay(settings, "gw.test", environ={settings.password_env: "s3cret"})
    replies = send_many(relay, envelopes(30))
    assert all(reply.code == 250 for [reply] in replies)
    assert sorted(rcpt for _, rcpt, _ in handler.copies()) == sorted(
        f"r{n}@example.com" for n in range(30)
    )
    greetings = [chunk for chunk in handler.chunks if chunk.startswith(b"EHLO")]
    assert len(greetings) == 3  # three persistent connections, not one per envelope


def test_the_payload_is_dot_stuffed_so_the_mta_receives_the_message_as_written(
    sink: tuple[Sink, int],
) -> None:
    handler, port = sink
    relay = MtaRelay(RelaySettings(host=HOST, port=port, connections=1), "gw.test", environ={})
    message = b"Subject: dots\r\n\r\n.one dot\r\n..two dots\r\n.\r\nlast line\r\n"
    payload = relay.payload(message)
    assert payload.endswith(b"\r\nlast line\r\n.\r\n") and b"\r\n...two dots" in payload
    [[reply]] = send_many(relay, [Envelope("bounces@gw.test", ["r@example.com"], payload)])
    assert reply.code == 250
    assert handler.copies() == [("bounces@gw.test", "r@example.com", message)]


def test_a_wrong_password_answers_every_recipient_451(sink: tuple[Sink, int]) -> None:
    handler, port = sink
    settings = RelaySettings(host=HOST, port=port, username="gw", connections=1)
    relay = MtaRelay(settings, "gw.test", environ={settings.password_env: "wrong"})
    [[reply]] = send_many(relay, envelopes(1))
    assert reply.code == 451 and "refused our credentials" in reply.text
    assert handler.copies() == []


def test_a_relay_that_is_down_answers_451_without_trying_each_envelope() -> None:
    """An MTA that hangs up at once: after the failed start, 50 envelopes try no
    new connection for a few seconds (mta.REOPEN_WAIT)."""
    accepted = 0
    with socket.create_server((HOST, 0)) as listener:
        listener.settimeout(0.2)

        def hang_up() -> None:
            nonlocal accepted
            while True:
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    return
                accepted += 1
                connection.close()

        thread = threading.Thread(target=hang_up)
        thread.start()
        settings = RelaySettings(host=HOST, port=listener.getsockname()[1], connections=2)
        replies = send_many(MtaRelay(settings, "gw.test", environ={}), envelopes(50))
        thread.join()
    assert [reply.code for [reply] in replies] == [451] * 50
    assert all(reply.text.startswith("4.4.1 relay 127.0.0.1:") for [reply] in replies)
    # The one at start, then one per pooled connection trying at once; not 50.
    assert accepted == 1 + settings.connections


@pytest.mark.parametrize("farewell", [True, False], ids=["421-timeout-exceeded", "silent-close"])
def test_connections_the_mta_closed_while_idle_are_replaced_and_the_mail_sent_at_once(
    sink: tuple[Sink, int], farewell: bool
) -> None:
    """The sink hangs up on clients idle for 1 s, before the relay's own idle limit (60 s):
    the second batch finds every pooled connection dead, and is sent anyway, once."""
    handler, port = sink
    handler.idle_timeout, handler.farewell = 1.0, farewell
    relay = MtaRelay(RelaySettings(host=HOST, port=port, connections=3), "gw.test", environ={})

    async def scenario() -> tuple[list[int], list[int]]:
        await relay.start()
        try:
            first = await sent(relay, envelopes(6, "a"))
            await until(lambda: handler.timeouts == handler.sessions, "the sink to hang up")
            return first, await sent(relay, envelopes(6, "b"))
        finally:
            await relay.close()

    first, second = asyncio.run(scenario())
    assert first == second == [250] * 6
    assert handler.timeouts >= 3  # every pooled connection was dead when reused
    recipients = sorted(rcpt for _, rcpt, _ in handler.copies())
    assert recipients == sorted(f"{p}{n}@example.com" for p in "ab" for n in range(6))
    assert len(handler.mail_options) == 12  # no transaction was tried twice


def test_connections_idle_longer_than_idle_seconds_are_closed_with_quit_before_reuse(
    sink: tuple[Sink, int],
) -> None:
    handler, port = sink
    settings = RelaySettings(host=HOST, port=port, connections=3, idle_seconds=1)
    relay = MtaRelay(settings, "gw.test", environ={})

    async def scenario() -> tuple[list[int], list[int], int]:
        await relay.start()
        try:
            first = await sent(relay, envelopes(6, "a"))
            await asyncio.sleep(1.5)  # past idle_seconds
            second = await sent(relay, envelopes(6, "b"))
            return first, second, handler.quits
        finally:
            await relay.close()

    first, second, quits_before_close = asyncio.run(scenario())
    assert first == second == [250] * 6
    assert (handler.sessions, quits_before_close) == (6, 3)  # three closed, three new
    assert handler.quits == 6  # and the new ones closed with QUIT at the end
    assert len(handler.copies()) == 12


def test_a_421_on_a_new_connection_is_the_recipients_reply(sink: tuple[Sink, int]) -> None:
    """A pooled connection's 421 means "send again on a new one"; a new one's counts."""
    handler, port = sink
    handler.mail_reply = "421 4.3.2 sink.test going down"
    relay = MtaRelay(RelaySettings(host=HOST, port=port, connections=1), "gw.test", environ={})

    async def scenario() -> list[int]:
        await relay.start()
        try:
            return await sent(relay, envelopes(1)) + await sent(relay, envelopes(1))
        finally:
            await relay.close()

    assert asyncio.run(scenario()) == [421, 421]
    # The first went out on the pooled connection from start(), then on a new one; the
    # second, finding the pool's connection closed, on a new one only.
    assert len(handler.mail_options) == 3
    assert handler.copies() == []
