"""archive.mail_links: the reply, join, post and write-to links, read back as a mail
client reads them (urllib: the address, then each header field)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

import pytest

from archive.mail_links import community_actions
from archive.mail_links import reply_link
from archive.mail_links import write_to_link
from archive.snapshot import MessageEntry
from archive.snapshot import SiteCommunity
from archive.snapshot import SitePerson
from gateway.outbound.reply_links import reply_subject

DOMAIN = "lists.example.com"
AT = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
DESIGN = SiteCommunity(1, "design", "Design", "", "practice", "open", 3, False)
ATLAS = SiteCommunity(2, "atlas", "Atlas", "", "project", "members", 2, False)
PUBLIC = {1: DESIGN, 2: ATLAS}


def entry(id: int, message_id: str, communities: tuple[int, ...] = (1,)) -> MessageEntry:
    return MessageEntry(
        id, 1, None, 1, "Ann", "ann@example.com", AT, "0" * 64, communities, message_id
    )


def read(uri: str | None) -> tuple[str, dict[str, str]]:
    """The address and the fields of a mailto: link, as urllib reads them back."""
    assert uri is not None and uri.startswith("mailto:")
    parts = urlsplit(uri)
    fields = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert all(len(values) == 1 for values in parse_qs(parts.query).values())
    return unquote(parts.path), fields


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Colours", "Re: Colours"),
        ("Re: Colours", "Re: Colours"),
        ("RE : Re: AW: Colours", "Re: Colours"),
        ("[design] Colours", "Re: Colours"),
        ("Re: [atlas] Re: [design] Colours", "Re: Colours"),
        ("Tr: Fwd: Colours & type+size?", "Re: Colours & type+size?"),
        ("[RFC] Colours", "Re: [RFC] Colours"),  # no prefix of the gateway's: kept
    ],
)
def test_a_reply_subject_says_re_once_without_community_prefixes(
    subject: str, expected: str
) -> None:
    assert reply_subject(subject, ("[atlas]", "[design]")) == expected


def test_a_reply_goes_to_the_messages_community_in_reply_to_it() -> None:
    root = entry(1, "root@example.com")
    reply = entry(2, "reply+1@example.com")
    address, fields = read(
        reply_link(reply, root, "Re: [design] Colours", PUBLIC, DOMAIN, ("[design]",))
    )
    assert address == "design@lists.example.com"
    assert fields == {
        "subject": "Re: Colours",
        "In-Reply-To": "<reply+1@example.com>",
        "References": "<root@example.com> <reply+1@example.com>",
    }
    # The first message of a thread: one reference, itself.
    _, fields = read(reply_link(root, root, "Colours", PUBLIC, DOMAIN))
    assert fields["In-Reply-To"] == fields["References"] == "<root@example.com>"


def test_a_cross_post_is_answered_in_its_first_community_that_takes_posts() -> None:
    crossed = entry(3, "x@example.com", (1, 2))
    assert read(reply_link(crossed, crossed, "X", PUBLIC, DOMAIN))[0] == "design@lists.example.com"
    closed = {**PUBLIC, 1: dataclasses.replace(DESIGN, closed=True)}
    assert read(reply_link(crossed, crossed, "X", closed, DOMAIN))[0] == "atlas@lists.example.com"
    only_closed = entry(4, "y@example.com", (1,))
    assert reply_link(only_closed, only_closed, "Y", closed, DOMAIN) is None
    assert reply_link(entry(5, ""), entry(5, ""), "Z", PUBLIC, DOMAIN) is None  # no Message-ID


def test_no_reply_goes_to_an_announce_community_that_would_hold_it() -> None:
    announce = {**PUBLIC, 1: dataclasses.replace(DESIGN, policy="announce")}
    crossed = entry(3, "x@example.com", (1, 2))
    assert read(reply_link(crossed, crossed, "X", announce, DOMAIN))[0] == "atlas@lists.example.com"
    only_announce = entry(4, "y@example.com", (1,))
    assert reply_link(only_announce, only_announce, "Y", announce, DOMAIN) is None


def test_join_and_post_name_the_action_addresses_the_gateway_handles() -> None:
    actions = community_actions(DESIGN, DOMAIN, "join")
    assert read(actions["join"]) == ("design-join@lists.example.com", {"subject": "join"})
    assert read(actions["post"]) == ("design@lists.example.com", {})
    assert read(actions["owners"]) == ("design-owner@lists.example.com", {})
    # Only owners post in an announce community; a closed one takes no one and nothing.
    announce = community_actions(dataclasses.replace(DESIGN, policy="announce"), DOMAIN, "j")
    assert announce["post"] is None and announce["join"] is not None
    closed = community_actions(dataclasses.replace(DESIGN, closed=True), DOMAIN, "join")
    assert closed["join"] is None and closed["post"] is None
    assert read(closed["owners"])[0] == "design-owner@lists.example.com"


def test_write_to_names_the_person_unless_they_said_no() -> None:
    ann = SitePerson(1, "Ann", "ann+news@example.com", "", "", (), (), (1,))
    assert read(write_to_link(ann)) == ("ann+news@example.com", {})
    assert write_to_link(dataclasses.replace(ann, write_to=False)) is None
