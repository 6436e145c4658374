"""Addresses, domains and community slugs: what is accepted, in which form, and why not."""

from __future__ import annotations

import pytest

from gateway.mail.addresses import AddressError
from gateway.mail.addresses import community_address
from gateway.mail.addresses import domain_allowed
from gateway.mail.addresses import normalize_address
from gateway.mail.addresses import normalize_domain
from gateway.mail.addresses import validate_slug

LOCAL_64 = "a" * 64
# Four 63-character labels: a 255-character domain is one too many.
LONG_DOMAIN = ".".join(["b" * 63] * 4)
# 64 + 1 + 194: a valid local part and a valid domain, 259 characters together.
TOO_LONG_ADDRESS = f"{LOCAL_64}@{'.'.join(['c' * 63] * 3)}.cc"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("alice@example.com", "alice@example.com"),
        ("Alice@Example.COM", "alice@example.com"),
        ("  bob@example.com\n", "bob@example.com"),
        ("<carol@example.com>", "carol@example.com"),
        (" < Dave@Example.com > ", "dave@example.com"),
        ("first.last+tag@example.com", "first.last+tag@example.com"),
        ("o'brien@example.com", "o'brien@example.com"),
        ("user@bücher.example", "user@xn--bcher-kva.example"),
        ("user@BÜCHER.example", "user@xn--bcher-kva.example"),
        ("user@example.com.", "user@example.com"),
        (f"{LOCAL_64}@example.com", f"{LOCAL_64}@example.com"),
    ],
)
def test_normalize_address(given: str, expected: str) -> None:
    assert normalize_address(given) == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "the address is empty"),
        ("   ", "the address is empty"),
        ("<>", "the address is empty"),
        ("alice.example.com", "exactly one @"),
        ("alice@bob@example.com", "exactly one @"),
        ("@example.com", "nothing before the @"),
        ("alice@", "nothing after the @"),
        ("alice smith@example.com", "invalid part before the @"),
        ("alice@example .com", "invalid domain"),
        ("alice..smith@example.com", "invalid part before the @"),
        (".alice@example.com", "invalid part before the @"),
        ("alice.@example.com", "invalid part before the @"),
        ('"alice"@example.com', "invalid part before the @"),
        (f"{LOCAL_64}a@example.com", "invalid part before the @"),
        ("alice@-example.com", "invalid domain"),
        ("alice@example-.com", "invalid domain"),
        ("alice@exa_mple.com", "invalid domain"),
        ("alice@example..com", "invalid domain"),
        (f"alice@{'d' * 64}.com", "invalid domain"),
        (f"alice@{LONG_DOMAIN}", "invalid domain"),
        (TOO_LONG_ADDRESS, "too long"),
    ],
)
def test_normalize_address_refuses(given: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        normalize_address(given)


def test_address_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalize_address("nobody")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("example.com", "example.com"),
        ("Example.COM", "example.com"),
        (" example.com. ", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("localhost", "localhost"),
        ("a-b.example", "a-b.example"),
        (f"{'d' * 63}.com", f"{'d' * 63}.com"),
    ],
)
def test_normalize_domain(given: str, expected: str) -> None:
    assert normalize_domain(given) == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "the domain is empty"),
        (" . ", "the domain is empty"),
        ("exa mple.com", "not a valid domain name"),
        ("-example.com", "not a valid domain name"),
        ("example-.com", "not a valid domain name"),
        ("example..com", "not a valid domain name"),
        ("exa_mple.com", "not a valid domain name"),
        ("example.com/x", "not a valid domain name"),
        (f"{'d' * 64}.com", "not a valid domain name"),
        (LONG_DOMAIN, "not a valid domain name"),
    ],
)
def test_normalize_domain_refuses(given: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        normalize_domain(given)


@pytest.mark.parametrize(
    ("address", "allowed", "expected"),
    [
        ("alice@anything.org", (), True),
        ("alice@example.com", ("example.com",), True),
        ("alice@eu.example.com", ("example.com",), True),
        ("alice@a.b.example.com", ("example.com",), True),
        ("alice@example.org", ("example.com",), False),
        ("alice@notexample.com", ("example.com",), False),
        ("alice@example.com.evil.org", ("example.com",), False),
        ("alice@example.com", ("eu.example.com",), False),
        ("alice@example.org", ("example.com", "example.org"), True),
    ],
)
def test_domain_allowed(address: str, allowed: tuple[str, ...], expected: bool) -> None:
    assert domain_allowed(address, allowed) is expected


@pytest.mark.parametrize(
    "slug",
    ["design", "r-and-d", "team42", "42", "ab", "a" * 64, "helpdesk", "join-us", "design-joining"],
)
def test_valid_slugs(slug: str) -> None:
    assert validate_slug(slug) == slug


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("", "2 to 64 characters"),
        ("a", "2 to 64 characters"),
        ("a" * 65, "2 to 64 characters"),
        ("Design", "lowercase letters, digits and single hyphens"),
        ("design team", "lowercase letters, digits and single hyphens"),
        ("design_team", "lowercase letters, digits and single hyphens"),
        ("design.team", "lowercase letters, digits and single hyphens"),
        ("café", "lowercase letters, digits and single hyphens"),
        ("-design", "lowercase letters, digits and single hyphens"),
        ("design-", "lowercase letters, digits and single hyphens"),
        ("r--d", "lowercase letters, digits and single hyphens"),
        ("help", "reserved for the gateway's own address help@"),
        ("postmaster", "reserved for the gateway's own address"),
        ("mailer-daemon", "reserved for the gateway's own address"),
        ("noreply", "reserved for the gateway's own address"),
        ("mute", "reserved for the gateway's own address mute@"),
        ("answer", "reserved for the gateway's own address answer@"),
        ("design-join", "ends in -join"),
        ("x-nomail", "ends in -nomail"),
        ("a-owner", "ends in -owner"),
        ("team-help", "ends in -help"),
        ("team-weekly", "ends in -weekly"),
    ],
)
def test_invalid_slugs(slug: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        validate_slug(slug)


def test_a_community_address_is_its_slug_or_one_of_its_action_addresses() -> None:
    assert community_address("design", "lists.example.com") == "design@lists.example.com"
    assert community_address("design", "x.org", "join") == "design-join@x.org"
    with pytest.raises(ValueError, match="-subscribe@"):
        community_address("design", "x.org", "subscribe")  # the gateway routes no such address
