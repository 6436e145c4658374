"""DATA's bytes read in pieces, not a line at a time.

aiosmtpd reads DATA with one `readuntil(b"\\r\\n")` per line: a 5 KB mail is about a
hundred awaits, and that loop was a quarter of the SMTP process's CPU under load
(bench/ingest.py). Here each await takes everything up to the next ".\\r\\n", the
only place the end of the data can be; the rules are aiosmtpd's own (RFC 5321
4.5.2 and 4.5.3.1): the data ends at a line holding a lone dot, a line's leading
dot is taken off, lines are CRLF-terminated, and a message past the size limit or
with a line past the line limit is read to its end, then refused.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

END = b".\r\n"  # the line that ends the data
END_AFTER_LINE = b"\r\n" + END


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
    last = b""  # the last bytes read: the end line may come right after a line read before
    while True:
        try:
            piece = await reader.readuntil(END)
        except asyncio.LimitOverrunError as error:
            # No end line within the stream's limit: take the bytes that cannot hold one.
            piece = await reader.read(error.consumed)
        total += len(piece)
        last = (last + piece[-len(END_AFTER_LINE) :])[-len(END_AFTER_LINE) :]
        ended = last.endswith(END_AFTER_LINE) or total == len(END) and last == END
        if state is DataState.NOMINAL:
            pieces.append(piece)
            if size_limit and total - (len(END) if ended else 0) > size_limit:
                state, pieces = DataState.TOO_MUCH, []  # read on to the end, keeping nothing
        if ended:
            break
    if state is not DataState.NOMINAL:
        return Data(state)
    raw = b"".join(pieces)[: -len(END)]
    if len(raw) > line_limit and _longest_line(raw) > line_limit:
        return Data(DataState.TOO_LONG)
    return Data(state, _unstuffed(raw))


def _longest_line(raw: bytes) -> int:
    """The longest line's length, its CRLF included."""
    return max(len(line) for line in raw.split(b"\r\n")) + 2


def _unstuffed(raw: bytes) -> bytes:
    """Each line's leading dot taken off (RFC 5321 4.5.2, transparency)."""
    if raw.startswith(b"."):
        raw = raw[1:]
    return raw.replace(b"\r\n.", b"\r\n")
