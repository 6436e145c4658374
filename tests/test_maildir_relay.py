"""The Maildir relay: one file per recipient in the outbox, as a local delivery would write it."""

from __future__ import annotations

import asyncio
import email
import email.policy
import mailbox
from pathlib import Path

import pytest

from gateway.relay.envelope import Envelope
from gateway.relay.envelope import Reply
from gateway.relay.maildir import MaildirRelay

DOMAIN = "lists.example.com"
SENDER = f"bounces@{DOMAIN}"
MESSAGE = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: Design <design@lists.example.com>\r\n"
    b"Subject: [design] Dots\r\n"
    b"Message-ID: <m1@example.com>\r\n"
    b"\r\n"
    b"first line\r\n"
    b".starts with a dot\r\n"
    b"..two dots\r\n"
    b".\r\n"
    b"last line\r\n"
)
RECIPIENTS = ["ann@example.org", "bob+tag@example.com"]


def maildir_form(message: bytes) -> bytes:
    return MaildirRelay(Path("unused"), DOMAIN).payload(message)


def send(outbox: Path, envelope: Envelope) -> list[Reply]:
    async def run() -> list[Reply]:
        relay = MaildirRelay(outbox, DOMAIN)
        await relay.start()
        try:
            return await relay.send(envelope)
        finally:
            await relay.close()

    return asyncio.run(run())


def files(outbox: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted((outbox / "new").iterdir())]


@pytest.mark.parametrize(
    ("xverp", "return_paths"),
    [
        (
            True,
            [
                b"<bounces+ann=example.org@lists.example.com>",
                b"<bounces+bob+tag=example.com@lists.example.com>",
            ],
        ),
        (False, [f"<{SENDER}>".encode()] * 2),
    ],
)
def test_each_recipient_gets_one_file(
    tmp_path: Path, xverp: bool, return_paths: list[bytes]
) -> None:
    outbox = tmp_path / "data" / "outbox"
    replies = send(outbox, Envelope(SENDER, RECIPIENTS, maildir_form(MESSAGE), xverp=xverp))

    assert [reply.code for reply in replies] == [250, 250]
    assert all(reply.text.startswith("2.0.0 written to outbox/new/") for reply in replies)
    written = {
        data.split(b"\n")[1]: data
        for data in files(outbox)  # keyed by Delivered-To
    }
    assert sorted(written) == [b"Delivered-To: " + r.encode() for r in RECIPIENTS]
    lf_message = MESSAGE.replace(b"\r\n", b"\n")
    for recipient, return_path in zip(RECIPIENTS, return_paths, strict=True):
        data = written[b"Delivered-To: " + recipient.encode()]
        assert (
            data
            == (b"Return-Path: " + return_path + b"\nDelivered-To: " + recipient.encode() + b"\n")
            + lf_message
        )
        assert b"\r" not in data
    assert list((outbox / "cur").iterdir()) == []
    assert list((outbox / "tmp").iterdir()) == []


def test_the_outbox_reads_back_as_a_maildir(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    send(outbox, Envelope(SENDER, RECIPIENTS, maildir_form(MESSAGE), xverp=True))
    box = mailbox.Maildir(outbox, create=False)
    try:
        messages = [
            email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
            for key in box.keys()
        ]
    finally:
        box.close()
    assert sorted(m["Delivered-To"] for m in messages) == RECIPIENTS
    for message in messages:
        assert message["Subject"] == "[design] Dots"
        assert message["Message-ID"] == "<m1@example.com>"
        body = message.get_content()
        assert body == "first line\n.starts with a dot\n..two dots\n.\nlast line\n"


def test_a_second_send_adds_files(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    payload = maildir_form(MESSAGE)
    send(outbox, Envelope(SENDER, ["ann@example.org"], payload))
    send(outbox, Envelope(SENDER, ["ann@example.org"], payload))
    assert len(files(outbox)) == 2


def test_sending_before_start_is_a_bug(tmp_path: Path) -> None:
    relay = MaildirRelay(tmp_path / "outbox", DOMAIN)
    with pytest.raises(AssertionError):
        asyncio.run(relay.send(Envelope(SENDER, ["ann@example.org"], maildir_form(MESSAGE))))


@pytest.mark.parametrize(
    "message",
    [
        MESSAGE,
        MESSAGE.replace(b"\r\n", b"\n"),
        b".a first line with a dot\r\n\r\nbody",
        b"Subject: no final newline\r\n\r\nbody",
    ],
)
def test_the_payload_is_the_message_with_lf_line_ends_and_no_dot_stuffing(
    message: bytes,
) -> None:
    expected = message.replace(b"\r\n", b"\n")
    if not expected.endswith(b"\n"):
        expected += b"\n"
    assert maildir_form(message) == expected
