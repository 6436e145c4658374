"""What an envelope recipient means to the gateway (DESIGN.md, "Addresses").

A pure function with no I/O: whether the community exists is the SMTP edge's
question; this only says which community and which action an address names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gateway.mail.addresses import ACTION_SUFFIXES
from gateway.mail.addresses import DIGEST_SENDER
from gateway.mail.addresses import SLUG_PATTERN
from gateway.store.models import ActionKind

# Gateway addresses that are not about one community.
GLOBAL_ACTIONS = frozenset(
    {ActionKind.PROFILE, ActionKind.HELP, ActionKind.POSTMASTER, ActionKind.ABUSE}
)
# digest@, where digests come from: what comes to it is read as help@ reads it (a reply
# to the gateway's own mail: gateway.actions.replies), so it needs no action of its own.
REPLY_ADDRESSES = {DIGEST_SENDER: ActionKind.HELP}
# Addresses that carry a token after a '+': confirm+TOKEN@, bounces+TOKEN@, and
# mute+THREAD@ / unmute+THREAD@ (the thread's number: one link shared by every copy),
# answer+TOKEN@ (a signed link in a thread author's own copy of a reply).
TOKEN_ACTIONS = frozenset(
    {
        ActionKind.CONFIRM,
        ActionKind.BOUNCES,
        ActionKind.MUTE,
        ActionKind.UNMUTE,
        ActionKind.ANSWER,
    }
)


class Kind(enum.Enum):
    POST = "post"  # SLUG@: a post to a community
    ACTION = "action"  # SLUG-join@, profile@, confirm+TOKEN@, ...
    FOREIGN = "foreign"  # another domain: we do not relay
    UNKNOWN = "unknown"  # our domain, but no such address


@dataclass(frozen=True)
class Recipient:
    address: str  # lowercased
    kind: Kind
    slug: str = ""  # the community named, if any
    action: ActionKind | None = None  # what an action address asks for
    token: str = ""


def parse_recipient(address: str, domain: str) -> Recipient:
    """Classify an envelope recipient of a message for `domain`."""
    text = address.strip().strip("<>").strip()
    local, at, host = text.rpartition("@")
    text = text.lower()
    if not at or not local:
        return Recipient(text, Kind.UNKNOWN)
    if host.lower().rstrip(".") != domain:
        return Recipient(text, Kind.FOREIGN)
    local = local.lower()
    base, plus, token = local.partition("+")
    if base in TOKEN_ACTIONS:
        return Recipient(text, Kind.ACTION, action=ActionKind(base), token=token)
    if plus:
        return Recipient(text, Kind.UNKNOWN)
    if local in GLOBAL_ACTIONS:
        return Recipient(text, Kind.ACTION, action=ActionKind(local))
    if local in REPLY_ADDRESSES:
        return Recipient(text, Kind.ACTION, action=REPLY_ADDRESSES[local])
    slug, dash, suffix = local.rpartition("-")
    if dash and suffix in ACTION_SUFFIXES and SLUG_PATTERN.fullmatch(slug):
        return Recipient(text, Kind.ACTION, slug=slug, action=ActionKind(suffix))
    if SLUG_PATTERN.fullmatch(local):
        return Recipient(text, Kind.POST, slug=local)
    return Recipient(text, Kind.UNKNOWN)
