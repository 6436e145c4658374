"""What the worker hands a relay: envelopes, VERP addresses, and the relay's answers.

VERP (variable envelope return path) puts the recipient into the envelope
sender, bounces+alice=example.com@lists.example.com, so a bounce names whom it
is about even when its report cannot be read. It is Postfix's XVERP encoding
(delimiters "+" and "="), so both ways of sending produce the same addresses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

BOUNCES = "bounces"


@dataclass(frozen=True)
class Reply:
    """A relay's answer for one recipient, in SMTP's terms (code and text; the lines of a
    multi-line reply joined with spaces), whatever the relay."""

    code: int
    text: str

    @property
    def permanent(self) -> bool:
        return 500 <= self.code < 600

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipients: Sequence[str]
    # What the relay's payload() made of the message; the envelopes of one message share it.
    payload: bytes
    # Ask the relay to write the VERP sender for each recipient itself (Postfix XVERP).
    xverp: bool = False


class Relay(Protocol):
    """A way out for mail: send() answers one Reply per recipient, never raises for a
    refusal or a lost connection (those are 4xx/5xx replies)."""

    @property
    def xverp(self) -> bool: ...

    async def start(self) -> None: ...

    def payload(self, message: bytes) -> bytes:
        """The bytes this relay sends for a message (the worker asks once per message
        and shares them among its envelopes)."""
        ...

    async def send(self, envelope: Envelope) -> list[Reply]: ...

    async def close(self) -> None: ...


def bounce_address(domain: str) -> str:
    return f"{BOUNCES}@{domain}"


def verp_address(recipient: str, domain: str) -> str:
    """bounces+alice=example.com@domain for alice@example.com."""
    local, _, host = recipient.rpartition("@")
    return f"{BOUNCES}+{local}={host}@{domain}"


def verp_recipient(token: str) -> str:
    """The recipient a bounces+TOKEN@ address names ("" when the token is not VERP)."""
    local, equals, host = token.rpartition("=")
    if not equals or not local or "." not in host:
        return ""
    return f"{local}@{host}".lower()
