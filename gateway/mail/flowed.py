"""RFC 3676 format=flowed: the Content-Type parameters that declare it (FLOWED and
DELSP) and the decoding that turns the sender's soft line breaks back into the
paragraphs they typed.

Each text part that declares it is decoded at parse, before the parts are joined into
the body (gateway.mail.parse): flowed is a property of one part, and a body may join
a flowed note to a table that is not. The body stored is then plain paragraphs for
every reader (pages, digests, search, exports, commands), and its flags hold
FLOWED_DECODED when every plain part was flowed: the lines are the sender's
paragraphs, not to be joined again. Messages stored before that kept the body as
sent, with FLOWED (and DELSP) in their flags: those are decoded when shown.

A flowed line ends with a space and continues on the next line of the same quote
depth; a line without one ends its paragraph. Leading spaces are stuffing (section
4.4), the signature separator "-- " is never flowed (section 4.3), and with delsp=yes
the trailing space is the sender's wrap, not a space between words (section 4.2).
"""

from __future__ import annotations

from collections.abc import Iterable

FLOWED = "format=flowed"
DELSP = "delsp=yes"
FLOWED_DECODED = "flowed-decoded"  # a message flag: every plain part was flowed, decoded
# The flags that describe how the text is laid out, not something that went wrong.
LAYOUT_FLAGS = frozenset({FLOWED, DELSP, FLOWED_DECODED})
SIGNATURE_SEPARATOR = "-- "


def text_flags(content_type_params: Iterable[tuple[str, str]]) -> set[str]:
    """FLOWED and DELSP for a text/plain part with these Content-Type parameters."""
    params = {name.lower(): value.strip().strip('"').lower() for name, value in content_type_params}
    if params.get("format") != "flowed":
        return set()
    return {FLOWED, DELSP} if params.get("delsp") == "yes" else {FLOWED}


def unflowed(text: str, delsp: bool = False) -> str:
    """The text with its flowed lines joined: each line of the result is one paragraph
    (or a fixed line), with its quote marks written once as "> "."""
    lines: list[str] = []
    depth, paragraph = -1, ""
    open_paragraph = False
    for line in text.split("\n"):
        quotes = len(line) - len(line.lstrip(">"))
        content = line[quotes:]
        if content.startswith(" "):  # stuffed, or the space after the quote marks
            content = content[1:]
        flowed = content.endswith(" ") and content != SIGNATURE_SEPARATOR
        if flowed and delsp:
            content = content[:-1]
        if open_paragraph and quotes == depth:
            paragraph += content
        else:
            if open_paragraph:  # a flowed line then a change of depth: ends there
                lines.append(_quoted(depth, paragraph))
            depth, paragraph = quotes, content
        open_paragraph = flowed
        if not flowed:
            lines.append(_quoted(depth, paragraph))
    if open_paragraph:
        lines.append(_quoted(depth, paragraph))
    return "\n".join(lines)


def _quoted(depth: int, text: str) -> str:
    return f"{'>' * depth} {text}" if depth else text
