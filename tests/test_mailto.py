"""gateway.outbound.mailto: the one mailto: builder (RFC 6068)."""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

from gateway.outbound.mailto import mailto


def test_an_address_alone_and_with_fields() -> None:
    assert mailto("design@example.org") == "mailto:design@example.org"
    assert mailto("design-help@example.org", subject="help") == (
        "mailto:design-help@example.org?subject=help"
    )
    assert mailto("a@x", subject="", body="") == "mailto:a@x"  # empty fields left out


def test_every_value_is_encoded_whole_and_reads_back() -> None:
    uri = mailto(
        "approve+abc@example.org",
        subject="Re: a+b & c",
        **{"In-Reply-To": "<m1@example.com>"},
    )
    assert uri == (
        "mailto:approve+abc@example.org?subject=Re%3A%20a%2Bb%20%26%20c"
        "&In-Reply-To=%3Cm1%40example.com%3E"
    )
    parts = urlsplit(uri)
    assert unquote(parts.path) == "approve+abc@example.org"
    assert parse_qs(parts.query) == {
        "subject": ["Re: a+b & c"],
        "In-Reply-To": ["<m1@example.com>"],
    }
