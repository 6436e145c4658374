"""The envelope recipients relays note in a message's header, taken out before anyone
else reads it: a Bcc'd private community's address is in them when its copy is stored.

Relays write them as `Received: ... for <board@DOMAIN>;` (one recipient per
transaction), `Delivered-To`, `X-Original-To` and `Envelope-To`. Only the gateway's
own addresses are taken out: the rest of the header stays as the author's and the
relays' record.
"""

from __future__ import annotations

import re

# Fields that hold nothing but an envelope recipient.
RECIPIENT_FIELDS = frozenset({b"delivered-to", b"x-original-to", b"envelope-to"})
_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)
_END_OF_HEADER = re.compile(rb"\r?\n\r?\n")


def for_clause(domain: str) -> re.Pattern[bytes]:
    """The "for <x@DOMAIN>" clause of a Received field, with the spaces before it."""
    return re.compile(
        rb"\s+for\s+<?[^\s;<>]*@" + re.escape(domain.encode()) + rb">?(?=[\s;]|$)",
        re.IGNORECASE,
    )


def without_recipient_traces(raw: bytes, domain: str) -> bytes:
    """The message with the gateway's addresses taken out of the envelope recipients its
    header records (see above); its body untouched."""
    end = _END_OF_HEADER.search(raw)
    head, rest = (raw[: end.start()], raw[end.start() :]) if end else (raw, b"")
    clause = for_clause(domain)
    ours = ("@" + domain).encode().lower()
    kept = []
    for field in _fields(head):
        match = _FIELD.match(field)
        name = match.group(1).lower() if match else b""
        if name in RECIPIENT_FIELDS and ours in field.lower():
            continue
        kept.append(clause.sub(b"", field) if name == b"received" else field)
    return b"".join(kept) + rest


def _fields(head: bytes) -> list[bytes]:
    """The header's fields, each with its continuation lines and line ends."""
    fields: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields
