"""DATA read in pieces (gateway.smtp.data): the bytes a client sends after 354, fed to
a real asyncio StreamReader with aiosmtpd's limit, as the server's connection feeds it."""

from __future__ import annotations

import asyncio

import pytest

from gateway.smtp.data import Data
from gateway.smtp.data import DataState
from gateway.smtp.data import read_data

LINE_LIMIT = 64 * 1024  # GatewaySMTP.line_length_limit: the reader's limit too


def read(
    *pieces: bytes, size_limit: int | None = None, line_limit: int = LINE_LIMIT
) -> tuple[Data, bytes]:
    """What read_data makes of these pieces as they arrive, and what it leaves unread."""

    async def run() -> tuple[Data, bytes]:
        reader = asyncio.StreamReader(limit=line_limit)

        async def feed() -> None:
            for piece in pieces:
                reader.feed_data(piece)
                await asyncio.sleep(0)
            reader.feed_eof()

        feeding = asyncio.create_task(feed())
        data = await read_data(reader, size_limit, line_limit)
        await feeding
        return data, await reader.read()

    return asyncio.run(run())


def test_the_data_ends_at_a_lone_dot_and_what_follows_is_left_for_the_next_command() -> None:
    data, rest = read(b"Subject: hi\r\n\r\nHello.\r\nEnd of line.\r\n.\r\nQUIT\r\n")
    assert data == Data(DataState.NOMINAL, b"Subject: hi\r\n\r\nHello.\r\nEnd of line.\r\n")
    assert rest == b"QUIT\r\n"


def test_a_leading_dot_is_taken_off_every_line_the_first_too() -> None:
    sent = b"..first\r\nplain\r\n..\r\n...two\r\n.x.\r\n.\r\n"
    data, _ = read(sent)
    assert data.content == b".first\r\nplain\r\n.\r\n..two\r\nx.\r\n"


def line_by_line(stream: bytes) -> tuple[bytes, bytes]:
    """aiosmtpd's reading, for reference: a CRLF line at a time up to a lone dot."""
    lines, position = [], 0
    while True:
        end = stream.index(b"\r\n", position) + 2
        line, position = stream[position:end], end
        if line == b".\r\n":
            return b"".join(lines), stream[position:]
        lines.append(line[1:] if line.startswith(b".") else line)


@pytest.mark.parametrize(
    "data",
    [
        b".\r\n",  # no data at all
        b"\r\n.\r\n",  # one empty line
        b"one\r\n.\r\n",  # the end right after the first line
        b"\r\r\n.\r\n",
        b".\r\r\n.\r\n",
        b"..\r\n.\r\n",
        b"\r\n\r\n.\r\n",
        b"a\r\n.\r\r\n.\r\n",  # a line of a dot and a CR
        b"a\r\n.\r\n.\r\n",  # the first lone dot ends it: the second is the next command's
    ],
)
def test_the_end_is_where_a_line_at_a_time_finds_it_however_the_bytes_come(data: bytes) -> None:
    sent = data + b"QUIT\r\n"
    content, rest = line_by_line(sent)
    for cut in range(len(sent) + 1):
        assert read(sent[:cut], sent[cut:]) == (Data(DataState.NOMINAL, content), rest), cut


def test_the_end_line_is_found_however_the_bytes_are_cut() -> None:
    sent = b"a line.\r\n.dotted\r\nlast\r\n.\r\nMAIL FROM:<a@example.com>\r\n"
    for cut in range(1, len(sent)):
        data, rest = read(sent[:cut], sent[cut:])
        assert data.content == b"a line.\r\ndotted\r\nlast\r\n", cut
        assert rest == b"MAIL FROM:<a@example.com>\r\n", cut


def test_a_dot_that_ends_a_line_or_sits_within_one_does_not_end_the_data() -> None:
    sent = b"x.\r\n\n.\r\nstill data\r\n.\r\n"  # a bare LF is not a line end
    assert read(sent)[0].content == b"x.\r\n\n.\r\nstill data\r\n"


def test_data_larger_than_the_readers_limit_is_read_whole() -> None:
    body = b"".join(b".%06d " % n + b"x" * 90 + b"\r\n" for n in range(3000))  # 300 KB
    data, rest = read(body[:70_000], body[70_000:] + b".\r\nQUIT\r\n")
    assert data.content == body.replace(b"\r\n.", b"\r\n")[1:]
    assert rest == b"QUIT\r\n"


def test_data_past_the_size_limit_is_read_to_its_end_and_refused() -> None:
    data, rest = read(b"x" * 98 + b"\r\n", b"y" * 98 + b"\r\n.\r\nRSET\r\n", size_limit=150)
    assert data == Data(DataState.TOO_MUCH)
    assert rest == b"RSET\r\n"


def test_data_of_exactly_the_size_limit_is_taken() -> None:
    data, _ = read(b"x" * 98 + b"\r\n.\r\n", size_limit=100)
    assert data == Data(DataState.NOMINAL, b"x" * 98 + b"\r\n")


def test_a_line_past_the_line_limit_is_read_to_the_end_and_refused() -> None:
    data, rest = read(b"short\r\n" + b"z" * 2000 + b"\r\n.\r\nQUIT\r\n", line_limit=1000)
    assert data == Data(DataState.TOO_LONG)
    assert rest == b"QUIT\r\n"


def test_a_connection_closed_during_data_is_an_incomplete_read() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        read(b"Subject: cut\r\n\r\nhalf a mess")
