"""DATA's bytes read in pieces, not a line at a time.

aiosmtpd reads DATA with one `readuntil(b"\\r\\n")` per line: a 5 KB mail is about a
hundred awaits, and that loop was a quarter of the SMTP process's CPU under load
(bench/ingest.py). Here one await takes everything up to the end of the data, CRLF
dot CRLF. The rules are aiosmtpd's own (RFC 5321 4.5.2 and 4.5.3.1): the data ends at
a line holding a lone dot, a line's leading dot is taken off, lines end with CRLF,
and a message past the size limit or with a line past the line limit is read to its
end, then refused.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

END = b".\r\n"  # the line that ends the data
END_AFTER_LINE = b"\r\n" + END  # what readuntil() looks for
# The DATA command's own CRLF comes just before the data: its first line may be the end.
AT_START = 2


class DataState(enum.Enum):
    NOMINAL = "nominal"
    TOO_MUCH = "too much"  # past the size limit: 552
    TOO_LONG = "too long"  # a line past the line limit: 500


@dataclass(frozen=True)
class Data:
    state: DataState
    content: bytes = b""  # dots unstuffed; empty unless NOMINAL


async def read_data(reader: asyncio.StreamReader, size_limit: int | None, line_limit: int) -> Data:
    """The data of one DATA command, read up to and with its end line: what follows
    (a pipelined command) is left in `reader`."""
    pieces: list[bytes] = []
    total = 0  # bytes read, the end line's included
    state = DataState.NOMINAL
    # How much of END_AFTER_LINE the bytes read so far end with. While some, the end
    # may be completing: bytes are read one at a time (the stream no longer holds the
    # start of it, so readuntil() would miss it and wait for more).
    matched = AT_START
    while matched < len(END_AFTER_LINE):
        if matched:
            piece = await reader.readexactly(1)
            matched = _matched_after(END_AFTER_LINE[:matched] + piece)
        else:
            try:
                piece = await reader.readuntil(END_AFTER_LINE)
                matched = len(END_AFTER_LINE)
            except asyncio.LimitOverrunError as error:
                # No end within the stream's limit: take the bytes that cannot hold one.
                piece = await reader.read(error.consumed)
        total += len(piece)
        if state is DataState.NOMINAL:
            pieces.append(piece)
            ended = matched == len(END_AFTER_LINE)
            if size_limit and total - (len(END) if ended else 0) > size_limit:
                state, pieces = DataState.TOO_MUCH, []  # read on to the end, keeping nothing
    if state is not DataState.NOMINAL:
        return Data(state)
    raw = b"".join(pieces)[: -len(END)]
    if len(raw) > line_limit and _longest_line(raw) > line_limit:
        return Data(DataState.TOO_LONG)
    return Data(state, _unstuffed(raw))


def _matched_after(text: bytes) -> int:
    """The longest end of `text` that starts END_AFTER_LINE."""
    for length in range(min(len(text), len(END_AFTER_LINE)), 0, -1):
        if text.endswith(END_AFTER_LINE[:length]):
            return length
    return 0


def _longest_line(raw: bytes) -> int:
    """The longest line's length, its CRLF included."""
    return max(len(line) for line in raw.split(b"\r\n")) + 2


def _unstuffed(raw: bytes) -> bytes:
    """Each line's leading dot taken off (RFC 5321 4.5.2, transparency)."""
    if raw.startswith(b"."):
        raw = raw[1:]
    return raw.replace(b"\r\n.", b"\r\n")
