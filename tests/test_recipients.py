"""parse_recipient: what each envelope recipient names, as a table."""

from __future__ import annotations

import pytest

from gateway.mail.addresses import ACTION_SUFFIXES
from gateway.mail.recipients import GLOBAL_ACTIONS
from gateway.mail.recipients import TOKEN_ACTIONS
from gateway.mail.recipients import Kind
from gateway.mail.recipients import Recipient
from gateway.mail.recipients import parse_recipient
from gateway.store.models import ActionKind

DOMAIN = "lists.example.com"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("design@lists.example.com", Recipient("design@lists.example.com", Kind.POST, "design")),
        ("Design@Lists.Example.COM", Recipient("design@lists.example.com", Kind.POST, "design")),
        ("<r-and-d@lists.example.com>",
         Recipient("r-and-d@lists.example.com", Kind.POST, "r-and-d")),
        ("design-join@lists.example.com",
         Recipient("design-join@lists.example.com", Kind.ACTION, "design", ActionKind.JOIN)),
        ("r-and-d-leave@lists.example.com",
         Recipient("r-and-d-leave@lists.example.com", Kind.ACTION, "r-and-d", ActionKind.LEAVE)),
        ("design-nomail@lists.example.com",
         Recipient("design-nomail@lists.example.com", Kind.ACTION, "design", ActionKind.NOMAIL)),
        ("design-owner@lists.example.com",
         Recipient("design-owner@lists.example.com", Kind.ACTION, "design", ActionKind.OWNER)),
        ("design-help@lists.example.com",
         Recipient("design-help@lists.example.com", Kind.ACTION, "design", ActionKind.HELP)),
        ("profile@lists.example.com",
         Recipient("profile@lists.example.com", Kind.ACTION, action=ActionKind.PROFILE)),
        ("help@lists.example.com",
         Recipient("help@lists.example.com", Kind.ACTION, action=ActionKind.HELP)),
        ("postmaster@lists.example.com",
         Recipient("postmaster@lists.example.com", Kind.ACTION, action=ActionKind.POSTMASTER)),
        ("confirm+AbC123@lists.example.com",
         Recipient("confirm+abc123@lists.example.com", Kind.ACTION, action=ActionKind.CONFIRM,
                   token="abc123")),
        ("bounces+tok-en@lists.example.com",
         Recipient("bounces+tok-en@lists.example.com", Kind.ACTION, action=ActionKind.BOUNCES,
                   token="tok-en")),
        ("mute+42@lists.example.com",
         Recipient("mute+42@lists.example.com", Kind.ACTION, action=ActionKind.MUTE, token="42")),
        ("unmute+42@lists.example.com",
         Recipient("unmute+42@lists.example.com", Kind.ACTION, action=ActionKind.UNMUTE,
                   token="42")),
        ("Answer+7-12-3-20412-abcdefghijklmnop@lists.example.com",
         Recipient("answer+7-12-3-20412-abcdefghijklmnop@lists.example.com", Kind.ACTION,
                   action=ActionKind.ANSWER, token="7-12-3-20412-abcdefghijklmnop")),
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


@pytest.mark.parametrize("suffix", ACTION_SUFFIXES)
def test_every_community_action_address_names_an_action_kind(suffix: str) -> None:
    recipient = parse_recipient(f"design-{suffix}@{DOMAIN}", DOMAIN)
    assert type(recipient.action) is ActionKind and recipient.action == suffix


@pytest.mark.parametrize("local", sorted(GLOBAL_ACTIONS | TOKEN_ACTIONS))
def test_every_gateway_action_address_names_an_action_kind(local: str) -> None:
    recipient = parse_recipient(f"{local}+1@{DOMAIN}", DOMAIN)
    if local not in TOKEN_ACTIONS:
        recipient = parse_recipient(f"{local}@{DOMAIN}", DOMAIN)
    assert recipient.kind is Kind.ACTION and recipient.action is ActionKind(local)
