"""The header-caching email policy (gateway.mail.policy): the same bytes as the stdlib's
SMTP policy, with each distinct header parsed once."""

from __future__ import annotations

import email.policy
import re

import pytest

from gateway.mail import policy
from gateway.outbound import body
from gateway.outbound.mime import entity
from gateway.outbound.mime import split_message
from gateway.outbound.mime import to_crlf
from tests.corpus import FIXTURES

FOOTER = body.Footer(text="-- \nDesign: design@lists.example.com\nDésabonnement", html="<p>é</p>")
BOUNDARY = re.compile(rb"=_gateway_[0-9a-f]+|===============\d+==")
MAILS = sorted(FIXTURES.rglob("*.eml"))


def rewritten(raw: bytes, monkeypatch: pytest.MonkeyPatch, with_policy: object) -> bytes:
    monkeypatch.setattr(body, "_POLICY", with_policy)
    fields, rest = split_message(to_crlf(raw))
    made = body.rewrite_body(entity(fields, rest), FOOTER, 1000, lambda *_: "a link")
    return BOUNDARY.sub(b"BOUNDARY", made)  # generated at random


@pytest.mark.parametrize("path", MAILS, ids=lambda p: p.name)
def test_a_body_rewritten_with_it_is_the_stdlibs_byte_for_byte(
    path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = path.read_bytes()  # type: ignore[attr-defined]
    assert rewritten(raw, monkeypatch, policy.SMTP) == rewritten(
        raw, monkeypatch, email.policy.SMTP
    )


def test_a_header_read_twice_is_parsed_once() -> None:
    value = 'text/plain; charset="utf-8"; format=flowed'
    first = policy.SMTP.header_fetch_parse("Content-Type", value)
    assert first.content_type == "text/plain" and first.params["format"] == "flowed"
    assert policy.SMTP.header_fetch_parse("Content-Type", value) is first
    long = "text/plain; name=" + "x" * policy.LONGEST_KEPT
    assert policy.SMTP.header_fetch_parse("Content-Type", long) is not (
        policy.SMTP.header_fetch_parse("Content-Type", long)
    )
