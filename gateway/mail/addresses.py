"""Addresses and slugs: validation, normalization and the reserved names of DESIGN.md.

Pure functions with no I/O, so that the CLI, the SMTP edge and the email actions
agree on what a valid address or community slug is.
"""

from __future__ import annotations

import re

# Digests come From digest@; a reply to one comes back there (gateway.actions.replies).
DIGEST_SENDER = "digest"
# Local parts that belong to the gateway itself (DESIGN.md, "Addresses").
RESERVED_LOCAL_PARTS = frozenset(
    {
        "profile",
        "help",
        DIGEST_SENDER,
        "confirm",
        "bounces",
        "mute",
        "unmute",
        "answer",
        "postmaster",
        "abuse",
        "mailer-daemon",
        "noreply",
    }
)
# SLUG-<suffix>@ are the email actions of a community.
ACTION_SUFFIXES = ("join", "leave", "owner", "instant", "daily", "weekly", "nomail", "help")

SLUG_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SLUG_MIN, SLUG_MAX = 2, 64

# RFC 5322 atext, as a dot-atom; quoted local parts are not accepted for members.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class AddressError(ValueError):
    """An address, domain or slug that cannot be used; the message says why."""


def normalize_domain(domain: str) -> str:
    """Lowercase a domain and check its labels; internationalized names become IDNA."""
    text = domain.strip().rstrip(".").lower()
    if not text:
        raise AddressError("the domain is empty")
    try:
        ascii_text = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise AddressError(f"{domain!r} is not a valid domain name") from None
    labels = ascii_text.split(".")
    if len(ascii_text) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise AddressError(f"{domain!r} is not a valid domain name")
    return ascii_text


def normalize_address(address: str) -> str:
    """The canonical form of an email address: trimmed, lowercased, IDNA domain.

    Addresses are compared case-insensitively throughout the gateway (issue 2), so
    the canonical form is what the store keeps and what lookups use.
    """
    text = address.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if not text:
        raise AddressError("the address is empty")
    if text.count("@") != 1:
        raise AddressError(f"{address!r} is not an email address (it needs exactly one @)")
    local, domain = text.rsplit("@", 1)
    if not local:
        raise AddressError(f"{address!r} is not an email address (nothing before the @)")
    if not domain:
        raise AddressError(f"{address!r} is not an email address (nothing after the @)")
    if len(local) > 64 or not _DOT_ATOM.fullmatch(local):
        raise AddressError(f"{address!r} is not an email address (invalid part before the @)")
    try:
        domain = normalize_domain(domain)
    except AddressError:
        raise AddressError(f"{address!r} is not an email address (invalid domain)") from None
    canonical = f"{local.lower()}@{domain}"
    if len(canonical) > 254:
        raise AddressError(f"{address!r} is too long for an email address")
    return canonical


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[1]


def domain_allowed(address: str, allowed_domains: tuple[str, ...]) -> bool:
    """Whether a canonical address is in one of the allowed domains or their subdomains.

    An empty list allows every domain.
    """
    if not allowed_domains:
        return True
    domain = domain_of(address)
    return any(domain == allowed or domain.endswith("." + allowed) for allowed in allowed_domains)


def validate_slug(slug: str) -> str:
    """Check a community slug: it becomes the local part of the community's addresses."""
    if not SLUG_MIN <= len(slug) <= SLUG_MAX:
        raise AddressError(f"slug {slug!r} must be {SLUG_MIN} to {SLUG_MAX} characters long")
    if not SLUG_PATTERN.fullmatch(slug):
        raise AddressError(
            f"slug {slug!r} may only hold lowercase letters, digits and single hyphens between them"
        )
    if slug in RESERVED_LOCAL_PARTS:
        raise AddressError(f"slug {slug!r} is reserved for the gateway's own address {slug}@")
    for suffix in ACTION_SUFFIXES:
        if slug.endswith("-" + suffix):
            raise AddressError(
                f"slug {slug!r} ends in -{suffix}, which is reserved for the "
                f"community action addresses"
            )
    return slug


def community_address(slug: str, domain: str, action: str = "") -> str:
    """A community's address: SLUG@ for posts, SLUG-ACTION@ for one of ACTION_SUFFIXES
    (join, owner...), the addresses the gateway routes (gateway.ingest.recipients)."""
    if action and action not in ACTION_SUFFIXES:
        raise ValueError(f"no community action address -{action}@ (ACTION_SUFFIXES)")
    return f"{slug}-{action}@{domain}" if action else f"{slug}@{domain}"
