"""parse_recipient: what each envelope recipient names, as a table."""

from __future__ import annotations

import pytest

from gateway.mail.recipients import Kind
from gateway.mail.recipients import Recipient
from gateway.mail.recipients import parse_recipient

DOMAIN = "lists.example.com"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("design@lists.example.com", Recipient("design@lists.example.com", Kind.POST, "design")),
        ("Design@Lists.Example.COM", Recipient("design@lists.example.com", Kind.POST, "design")),
        ("<r-and-d@lists.example.com>",
         Recipient("r-and-d@lists.example.com", Kind.POST, "r-and-d")),
        ("design-join@lists.example.com",
         Recipient("design-join@lists.example.com", Kind.ACTION, "design", "join")),
        ("r-and-d-leave@lists.example.com",
         Recipient("r-and-d-leave@lists.example.com", Kind.ACTION, "r-and-d", "leave")),
        ("design-nomail@lists.example.com",
         Recipient("design-nomail@lists.example.com", Kind.ACTION, "design", "nomail")),
        ("design-owner@lists.example.com",
         Recipient("design-owner@lists.example.com", Kind.ACTION, "design", "owner")),
        ("design-help@lists.example.com",
         Recipient("design-help@lists.example.com", Kind.ACTION, "design", "help")),
        ("profile@lists.example.com",
         Recipient("profile@lists.example.com", Kind.ACTION, action="profile")),
        ("help@lists.example.com", Recipient("help@lists.example.com", Kind.ACTION, action="help")),
        ("postmaster@lists.example.com",
         Recipient("postmaster@lists.example.com", Kind.ACTION, action="postmaster")),
        ("confirm+AbC123@lists.example.com",
         Recipient("confirm+abc123@lists.example.com", Kind.ACTION, action="confirm",
                   token="abc123")),
        ("bounces+tok-en@lists.example.com",
         Recipient("bounces+tok-en@lists.example.com", Kind.ACTION, action="bounces",
                   token="tok-en")),
        ("mute+42@lists.example.com",
         Recipient("mute+42@lists.example.com", Kind.ACTION, action="mute", token="42")),
        ("unmute+42@lists.example.com",
         Recipient("unmute+42@lists.example.com", Kind.ACTION, action="unmute", token="42")),
        ("design@example.org", Recipient("design@example.org", Kind.FOREIGN)),
        ("design@sub.lists.example.com", Recipient("design@sub.lists.example.com", Kind.FOREIGN)),
        ("design+x@lists.example.com", Recipient("design+x@lists.example.com", Kind.UNKNOWN)),
        ("Design_Team@lists.example.com",
         Recipient("design_team@lists.example.com", Kind.UNKNOWN)),
        ("@lists.example.com", Recipient("@lists.example.com", Kind.UNKNOWN)),
        ("nobody", Recipient("nobody", Kind.UNKNOWN)),
        ("-design@lists.example.com", Recipient("-design@lists.example.com", Kind.UNKNOWN)),
    ],
)  # fmt: skip
def test_parse_recipient(address: str, expected: Recipient) -> None:
    assert parse_recipient(address, DOMAIN) == expected
