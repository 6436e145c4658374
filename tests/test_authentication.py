"""Authentication-Results (RFC 8601) as trusted relays write it: what counts as the From
domain authenticated (gateway.mail.authentication)."""

from __future__ import annotations

import pytest

from gateway.mail.authentication import aligned
from gateway.mail.authentication import authenticates
from gateway.mail.authentication import results

GMAIL = (
    "mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=s1 header.b=abc;\r\n"
    "       spf=pass (google.com: domain of bob@example.com designates 1.2.3.4 as permitted"
    " sender) smtp.mailfrom=bob@example.com;\r\n"
    "       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com"
)
EXCHANGE = (
    "spf=pass (sender IP is 1.2.3.4) smtp.mailfrom=example.com; dkim=pass (signature was"
    " verified) header.d=example.com;dmarc=pass action=none header.from=example.com;"
    "compauth=pass reason=100"
)


def test_results_are_read_without_comments() -> None:
    found = results(GMAIL)
    assert [(method, result) for method, result, _ in found] == [
        ("dkim", "pass"),
        ("spf", "pass"),
        ("dmarc", "pass"),
    ]
    assert found[2][2] == {"header.from": "example.com"}
    assert results("mx.example.com; none") == []


@pytest.mark.parametrize(
    ("values", "sender", "verdict"),
    [
        ([GMAIL], "bob@example.com", True),
        ([EXCHANGE], "bob@example.com", True),
        (["mx; dmarc=pass header.from=example.com"], "bob@EXAMPLE.com", True),
        (["mx; dkim=pass header.d=example.com"], "bob@eu.example.com", True),  # relaxed
        (["mx; dkim=pass header.d=eu.example.com"], "bob@example.com", False),
        (["mx; dkim=pass header.d=evil.org; dmarc=fail header.from=example.com"],
         "bob@example.com", False),
        (["mx; dkim=pass header.d=com"], "bob@example.com", False),  # a top-level domain
        (["mx; dmarc=pass header.from=evil.org"], "bob@example.com", False),
        (["mx; dmarc=pass"], "bob@example.com", False),  # for which domain?
        (["mx; dmarc=fail header.from=example.com"], "bob@example.com", False),
        (["mx; spf=pass smtp.mailfrom=example.com"], "bob@example.com", False),
        (["mx; dkim=pass (header.d=example.com) header.d=evil.org"], "bob@example.com", False),
        # Only the first header is the relay's; a lower one the sender could have written.
        (["mx; dmarc=fail header.from=example.com", GMAIL], "bob@example.com", False),
        ([], "bob@example.com", False),
        ([GMAIL], "", False),
    ],
)  # fmt: skip
def test_the_first_header_authenticates_the_from_domain(
    values: list[str], sender: str, verdict: bool
) -> None:
    assert authenticates(values, sender.lower()) is verdict


def test_alignment_is_relaxed_but_never_to_a_top_level_domain() -> None:
    assert aligned("example.com", "example.com")
    assert aligned("mail.example.com", "example.com.")
    assert not aligned("example.com", "mail.example.com")
    assert not aligned("example.com", "com")
    assert not aligned("badexample.com", "example.com")
    assert not aligned("example.com", "")
