"""The envelope recipients relays note in a header: the gateway's addresses are taken
out, everything else is kept byte for byte."""

from __future__ import annotations

from gateway.mail.traces import without_recipient_traces

DOMAIN = "lists.example.com"


def test_the_gateway_addresses_relays_noted_are_taken_out_and_nothing_else() -> None:
    raw = (
        b"Received: from mx.example.com by mta.example.com with ESMTP id 4Bc\r\n"
        b"\tfor <board@lists.example.com>; Sat, 05 Dec 2026 09:00:00 +0000\r\n"
        b"Received: from a.example.org by mx.example.com for <ann@example.org>; today\r\n"
        b"Delivered-To: board@LISTS.example.com\r\n"
        b"X-Original-To:\r\n board@lists.example.com\r\n"
        b"Envelope-To: ann@example.org\r\n"
        b"Subject: Desk for board@lists.example.com\r\n"
        b"\r\n"
        b"Delivered-To: board@lists.example.com stays in the body\r\n"
    )
    assert without_recipient_traces(raw, DOMAIN) == (
        b"Received: from mx.example.com by mta.example.com with ESMTP id 4Bc;"
        b" Sat, 05 Dec 2026 09:00:00 +0000\r\n"
        b"Received: from a.example.org by mx.example.com for <ann@example.org>; today\r\n"
        b"Envelope-To: ann@example.org\r\n"
        b"Subject: Desk for board@lists.example.com\r\n"
        b"\r\n"
        b"Delivered-To: board@lists.example.com stays in the body\r\n"
    )


def test_a_message_without_traces_is_unchanged() -> None:
    raw = b"From: a@example.org\nSubject: Hi\n\nBody\n"
    assert without_recipient_traces(raw, DOMAIN) == raw
    assert without_recipient_traces(b"Subject: no body", DOMAIN) == b"Subject: no body"
