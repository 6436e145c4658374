"""The mboxrd format, as messages are written into an mbox file: by `gateway export
mbox` and by the archive's downloads (archive.files). Kept apart from the exports so
that an archive update does not import the whole mail parser for it.
"""

from __future__ import annotations

import datetime as dt
import re


def mbox_entry(sender_address: str, received_at: dt.datetime, raw: bytes) -> bytes:
    """One message of an mboxrd file: its "From " line, then its bytes."""
    stamp = received_at.strftime("%a %b %d %H:%M:%S %Y")
    return f"From {sender_address or 'MAILER-DAEMON'} {stamp}\n".encode() + mboxrd_body(raw)


def mboxrd_body(raw: bytes) -> bytes:
    """The message with LF line ends, every ">*From " line quoted once more, and the
    blank line that ends it in an mbox."""
    body = raw.replace(b"\r\n", b"\n")
    # Most messages have no "From " at all (their header's is "From:"): looking for it
    # costs a tenth of the line-by-line scan.
    if b"From " in body:
        body = _FROM_LINE.sub(rb">\1", body)
    return body + (b"\n" if body.endswith(b"\n") else b"\n\n")


# A line that a reader would take for the start of the next message, quoted or not.
_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)
