"""Tests for the pipelining SMTP client, against a real aiosmtpd server on loopback."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from gateway.relay.envelope import Reply
from gateway.relay.smtp_client import NO_SMTPUTF8
from gateway.relay.smtp_client import SmtpConnection
from gateway.relay.smtp_client import SmtpError
from gateway.relay.smtp_client import smtp_payload
from tests.postgres import free_port
from tests.sink import RecordingController
from tests.sink import Sink
from tests.sink import authenticate

HOST = "127.0.0.1"
SENDER = "bounces@gateway.example"
RECIPIENTS = ["ann@example.org", "bob@example.org", "cid@example.org"]
MESSAGE = b"Subject: hi\n\nfirst line\n.starts with a dot\n..two dots\n"


@dataclass
class Relay:
    sink: Sink
    port: int

    def connect(self, **options: Any) -> Coroutine[Any, Any, SmtpConnection]:
        options.setdefault("timeout", 10.0)
        return SmtpConnection.open(HOST, self.port, helo_name="gateway.test", **options)


StartRelay = Callable[..., Relay]


@pytest.fixture
def start_relay() -> Iterator[StartRelay]:
    """Start aiosmtpd servers on loopback (`start_relay(sink, **smtp_options)`); stop them after."""
    controllers: list[Controller] = []

    def start(sink: Sink | None = None, **smtp_options: Any) -> Relay:
        relay = Relay(sink or Sink(), free_port())
        controller = RecordingController(relay.sink, hostname=HOST, port=relay.port, **smtp_options)
        controller.start()
        controllers.append(controller)
        return relay

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("STARTTLS tests need the openssl command to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


async def send_all(
    relay: Relay, transactions: list[tuple[list[str], bytes]], **options: Any
) -> tuple[list[list[Reply]], bool]:
    """Send transactions on one connection; their replies and whether it was still open."""
    connection = await relay.connect(**options)
    try:
        results = [await connection.send(SENDER, rcpts, payload) for rcpts, payload in transactions]
        return results, connection.closed
    finally:
        await connection.close()


def run_one(relay: Relay, recipients: list[str], message: bytes = MESSAGE) -> list[Reply]:
    results, closed = asyncio.run(send_all(relay, [(recipients, smtp_payload(message))]))
    assert not closed
    return results[0]


# smtp_payload


@pytest.mark.parametrize(
    ("message", "payload"),
    [
        (b"a\nb\n", b"a\r\nb\r\n.\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
        (b"a\r\nb", b"a\r\nb\r\n.\r\n"),
        (b".a\n.\n..b\nc.d\n", b"..a\r\n..\r\n...b\r\nc.d\r\n.\r\n"),
        (b"", b".\r\n"),
        (b"\n", b"\r\n.\r\n"),
        (b"caf\xc3\xa9\n", b"caf\xc3\xa9\r\n.\r\n"),
    ],
)
def test_smtp_payload(message: bytes, payload: bytes) -> None:
    assert smtp_payload(message) == payload


# Transactions


def test_three_recipients_receive_the_exact_bytes(start_relay: StartRelay) -> None:
    relay = start_relay()
    replies = run_one(relay, RECIPIENTS)
    assert [str(reply) for reply in replies] == ["250 2.0.0 queued"] * 3
    expected = b"Subject: hi\r\n\r\nfirst line\r\n.starts with a dot\r\n..two dots\r\n"
    assert relay.sink.received == [(SENDER, RECIPIENTS, expected)]


def test_refused_recipients_get_their_own_reply(start_relay: StartRelay) -> None:
    sink = Sink(rcpt_replies={"ann@example.org": "550 5.1.1 no such user"})
    sink.rcpt_replies["bob@example.org"] = "451 4.3.0 try later"
    replies = run_one(start_relay(sink), RECIPIENTS)
    assert replies == [
        Reply(550, "5.1.1 no such user"),
        Reply(451, "4.3.0 try later"),
        Reply(250, "2.0.0 queued"),
    ]
    assert replies[0].permanent and replies[1].temporary
    assert [rcpts for _, rcpts, _ in sink.received] == [["cid@example.org"]]


def test_refused_data_then_accepted_on_the_same_connection(start_relay: StartRelay) -> None:
    sink = Sink(data_replies=["451 4.3.0 busy"])
    payload = smtp_payload(MESSAGE)
    results, closed = asyncio.run(
        send_all(start_relay(sink), [(RECIPIENTS, payload), (RECIPIENTS, payload)])
    )
    assert results[0] == [Reply(451, "4.3.0 busy")] * 3
    assert results[1] == [Reply(250, "2.0.0 queued")] * 3
    assert not closed
    assert len(sink.received) == 1


@pytest.mark.parametrize("pipelining", [True, False])
def test_refused_sender_is_every_recipients_reply(
    start_relay: StartRelay, pipelining: bool
) -> None:
    sink = Sink(pipelining=pipelining, mail_reply="550 5.7.1 sender refused")
    relay = start_relay(sink)
    assert run_one(relay, RECIPIENTS) == [Reply(550, "5.7.1 sender refused")] * 3
    sink.mail_reply = ""
    assert run_one(relay, RECIPIENTS) == [Reply(250, "2.0.0 queued")] * 3
    assert len(sink.received) == 1


@pytest.mark.parametrize("pipelining", [True, False])
def test_no_recipient_accepted_sends_no_body(start_relay: StartRelay, pipelining: bool) -> None:
    refusals = {address: "550 5.1.1 no such user" for address in RECIPIENTS[:2]}
    sink = Sink(pipelining=pipelining, rcpt_replies=refusals)
    payload = smtp_payload(MESSAGE)
    results, closed = asyncio.run(
        send_all(start_relay(sink), [(RECIPIENTS[:2], payload), (RECIPIENTS, payload)])
    )
    assert results[0] == [Reply(550, "5.1.1 no such user")] * 2
    assert results[1][2] == Reply(250, "2.0.0 queued")
    assert not closed
    assert sum(chunk.count(b"DATA\r\n") for chunk in sink.chunks) == (2 if pipelining else 1)
    assert [rcpts for _, rcpts, _ in sink.received] == [["cid@example.org"]]
    assert sum(chunk.count(b"first line") for chunk in sink.chunks) == 1


def test_pipelining_sends_the_envelope_in_one_write(start_relay: StartRelay) -> None:
    sink = Sink()
    run_one(start_relay(sink), RECIPIENTS)
    envelope = b"".join(b"RCPT TO:<%s>\r\n" % address.encode() for address in RECIPIENTS)
    assert any(
        chunk.startswith(b"MAIL FROM:<") and chunk.endswith(envelope + b"DATA\r\n")
        for chunk in sink.chunks
    )


def test_without_pipelining_one_command_at_a_time(start_relay: StartRelay) -> None:
    sink = Sink(pipelining=False)
    assert run_one(start_relay(sink), RECIPIENTS) == [Reply(250, "2.0.0 queued")] * 3
    assert not any(b"MAIL" in chunk and b"RCPT" in chunk for chunk in sink.chunks)


def test_size_and_8bitmime_when_offered(start_relay: StartRelay) -> None:
    sink = Sink()
    relay = start_relay(sink)
    eight_bit, seven_bit = b"Subject: caf\xc3\xa9\n\nbody\n", b"Subject: plain\n\nbody\n"
    run_one(relay, RECIPIENTS[:1], eight_bit)
    run_one(relay, RECIPIENTS[:1], seven_bit)
    assert sink.mail_options == [
        [f"SIZE={len(smtp_payload(eight_bit))}", "BODY=8BITMIME"],
        [f"SIZE={len(smtp_payload(seven_bit))}"],
    ]


def test_helo_when_ehlo_is_refused(start_relay: StartRelay) -> None:
    sink = Sink(ehlo=False)
    assert run_one(start_relay(sink), RECIPIENTS) == [Reply(250, "2.0.0 queued")] * 3
    assert sink.mail_options == [[]]
    assert any(chunk.startswith(b"HELO gateway.test") for chunk in sink.chunks)


def test_non_ascii_address(start_relay: StartRelay) -> None:
    sink = Sink()
    replies = run_one(start_relay(sink), ["zoé@example.org"])
    assert replies == [Reply(250, "2.0.0 queued")]
    assert sink.mail_options[0][-1] == "SMTPUTF8"


def test_non_ascii_address_without_smtputf8(start_relay: StartRelay) -> None:
    sink = Sink()
    replies = run_one(start_relay(sink, enable_SMTPUTF8=False), ["zoé@example.org", "a@b.c"])
    assert replies == [NO_SMTPUTF8] * 2
    assert sink.mail_options == []


def test_xverp(start_relay: StartRelay) -> None:
    async def send(relay: Relay) -> list[Reply]:
        connection = await relay.connect()
        try:
            assert connection.xverp == relay.sink.xverp
            return await connection.send(SENDER, RECIPIENTS, smtp_payload(MESSAGE), xverp=True)
        finally:
            await connection.close()

    sink = Sink(xverp=True)
    assert asyncio.run(send(start_relay(sink))) == [Reply(250, "2.0.0 queued")] * 3
    assert "XVERP" in sink.mail_options[0]
    with pytest.raises(ValueError, match="XVERP"):
        asyncio.run(send(start_relay()))


def test_421_closes_the_connection(start_relay: StartRelay) -> None:
    shutdown = "421 4.3.2 shutting down"
    sink = Sink(rcpt_replies={"bob@example.org": shutdown})
    results, closed = asyncio.run(send_all(start_relay(sink), [(RECIPIENTS, b".\r\n")]))
    assert results == [[Reply(421, "4.3.2 shutting down")] * 3]
    assert closed
    assert sink.received == []


def test_send_on_a_closed_connection_raises(start_relay: StartRelay) -> None:
    async def scenario(relay: Relay) -> None:
        connection = await relay.connect()
        await connection.close()
        await connection.close()
        assert connection.closed
        with pytest.raises(SmtpError, match="closed"):
            await connection.send(SENDER, RECIPIENTS, b".\r\n")

    asyncio.run(scenario(start_relay()))


# A scripted server for what aiosmtpd will not do: hang up, stay silent, misbehave.

EHLO_REPLY = b"250-scripted\r\n250 PIPELINING\r\n"


@dataclass
class Script:
    """Send `greeting`, answer each line read with the next reply, then `then`."""

    replies: list[bytes]
    greeting: bytes = b"220 scripted ESMTP\r\n"
    then: str = "silence"  # or "hang up"
    received: list[bytes] = field(default_factory=list)

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(self.greeting)
            for reply in self.replies:
                self.received.append(await reader.readline())
                writer.write(reply)
            if self.then == "silence":
                await reader.read()
        finally:
            writer.close()


async def run_scripted(script: Script, scenario: Callable[[int], Awaitable[None]]) -> None:
    server = await asyncio.start_server(script.session, HOST, 0)
    async with server:
        await scenario(server.sockets[0].getsockname()[1])


def open_scripted(port: int) -> Coroutine[Any, Any, SmtpConnection]:
    return SmtpConnection.open(HOST, port, helo_name="gw", timeout=0.5)


@pytest.mark.parametrize(
    ("then", "error"), [("hang up", "connection to the relay lost"), ("silence", "timed out")]
)
def test_lost_connection_raises(then: str, error: str) -> None:
    async def scenario(port: int) -> None:
        connection = await open_scripted(port)
        assert connection.pipelining
        try:
            with pytest.raises(SmtpError, match=error):
                await connection.send(SENDER, RECIPIENTS, b".\r\n")
            assert connection.closed
        finally:
            await connection.close()

    asyncio.run(run_scripted(Script([EHLO_REPLY], then=then), scenario))


def test_malformed_reply_closes_the_connection() -> None:
    async def scenario(port: int) -> None:
        connection = await open_scripted(port)
        try:
            with pytest.raises(SmtpError, match="malformed reply"):
                await connection.send(SENDER, RECIPIENTS, b".\r\n")
            assert connection.closed
        finally:
            await connection.close()

    asyncio.run(run_scripted(Script([EHLO_REPLY, b"hello\r\n"]), scenario))


@pytest.mark.parametrize(
    ("script", "reply"),
    [
        (Script([], greeting=b"554 5.7.1 go away\r\n"), Reply(554, "5.7.1 go away")),
        (Script([b"421 4.3.2 bye\r\n"]), Reply(421, "4.3.2 bye")),
        (Script([b"502 no\r\n", b"550 no HELO either\r\n"]), Reply(550, "no HELO either")),
    ],
    ids=["greeting", "ehlo-421", "helo"],
)
def test_refused_session(script: Script, reply: Reply) -> None:
    async def scenario(port: int) -> None:
        with pytest.raises(SmtpError) as refused:
            await open_scripted(port)
        assert refused.value.reply == reply

    asyncio.run(run_scripted(script, scenario))


def test_starttls_not_offered() -> None:
    async def scenario(port: int) -> None:
        with pytest.raises(SmtpError, match="does not offer STARTTLS"):
            await SmtpConnection.open(HOST, port, helo_name="gw", security="starttls")

    asyncio.run(run_scripted(Script([EHLO_REPLY]), scenario))


def test_data_accepted_without_recipients_gets_an_empty_body() -> None:
    """RFC 2920 3.1: a server may wrongly answer 354; the client then sends a lone dot."""
    replies = [b"250 ok\r\n", b"550 5.1.1 no\r\n", b"354 go\r\n", b"554 no valid\r\n"]
    script = Script([EHLO_REPLY, *replies, b"250 reset\r\n", b"221 bye\r\n"])

    async def scenario(port: int) -> None:
        connection = await open_scripted(port)
        try:
            assert await connection.send(SENDER, ["a@b.c"], b"x\r\n.\r\n") == [
                Reply(550, "5.1.1 no")
            ]
            assert not connection.closed
        finally:
            await connection.close()

    asyncio.run(run_scripted(script, scenario))
    assert script.received[4:] == [b".\r\n", b"RSET\r\n", b"QUIT\r\n"]


def test_connection_refused() -> None:
    with pytest.raises(SmtpError, match="cannot connect"):
        asyncio.run(SmtpConnection.open(HOST, free_port(), helo_name="gw"))


# AUTH and TLS


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize(("password", "code"), [("s3cret", 250), ("wrong", 535)])
def test_auth(start_relay: StartRelay, mechanism: str, password: str, code: int) -> None:
    excluded = [{"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]]
    relay = start_relay(
        auth_require_tls=False, authenticator=authenticate, auth_exclude_mechanism=excluded
    )

    async def scenario() -> list[Reply]:
        connection = await relay.connect(username="gw", password=password)
        try:
            return await connection.send(SENDER, RECIPIENTS, smtp_payload(MESSAGE))
        finally:
            await connection.close()

    if code == 250:
        assert asyncio.run(scenario())[0].code == 250
        return
    with pytest.raises(SmtpError) as refused:
        asyncio.run(scenario())
    assert refused.value.reply is not None and refused.value.reply.code == 535
    assert any(chunk.startswith(b"AUTH " + mechanism.encode()) for chunk in relay.sink.chunks)


def test_starttls(start_relay: StartRelay, certificate: tuple[Path, Path]) -> None:
    relay = start_relay(tls_context=server_tls(certificate), require_starttls=True)
    results, closed = asyncio.run(
        send_all(
            relay,
            [(RECIPIENTS, smtp_payload(MESSAGE))],
            security="starttls",
            ssl_context=client_tls(certificate),
        )
    )
    assert results == [[Reply(250, "2.0.0 queued")] * 3]
    assert len(relay.sink.received) == 1


def test_starttls_untrusted_certificate(
    start_relay: StartRelay, certificate: tuple[Path, Path]
) -> None:
    relay = start_relay(tls_context=server_tls(certificate), require_starttls=True)
    with pytest.raises(SmtpError, match="SSLCertVerificationError"):
        asyncio.run(relay.connect(security="starttls"))


def test_implicit_tls(start_relay: StartRelay, certificate: tuple[Path, Path]) -> None:
    relay = start_relay(ssl_context=server_tls(certificate))
    results, _ = asyncio.run(
        send_all(
            relay,
            [(RECIPIENTS, smtp_payload(MESSAGE))],
            security="tls",
            ssl_context=client_tls(certificate),
        )
    )
    assert results == [[Reply(250, "2.0.0 queued")] * 3]
