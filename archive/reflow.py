"""The sender's plain text as blocks a page can lay out: paragraphs whose hard-wrapped
lines are joined again, and preformatted blocks (code, tables) kept line for line.

Mail clients that do not send format=flowed (gateway.mail.flowed) wrap at a column
between 60 and 80, which on a page of another width leaves ragged lines. Lines are
joined only where they look wrapped: the line is near the message's wrap column, the
next line's first word would not have fitted on it, and the sentence goes on (the
next line starts in lowercase, the line does not end a sentence, or the whole
paragraph is wrapped). Nothing is joined in lists, quotes, signatures, short lines,
indented or patch lines, header fields, code or tables; those keep their line
breaks. Code (indented by four spaces or a tab after a blank line, or fenced with ```)
and tables stay in a monospace block. A table is two lines or more showing it: cells
between bars, a rule with column breaks, or gaps (three spaces or more, or a tab) that
begin or end at the same column; one double space typed in a sentence is not one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WRAP_COLUMNS = range(60, 81)  # where mail clients hard-wrap
NEAR_WRAP = 0.75  # a wrapped line is at least this share of the wrap column
FENCE = re.compile(r"^\s*(```|~~~)")
INDENTED = re.compile(r"^(\t| {4})")
LIST_ITEM = re.compile(r"^\s*([-*+•–]|\d{1,3}[.)]|[a-zA-Z][)])\s+")
QUOTE = re.compile(r"^\s*[A-Za-z]{0,4}>")  # "> " and the initials style, "DC> "
SIGNATURE = re.compile(r"^-- ?$")
# Lines laid out by their sender: indented, a rule of one repeated mark, a header field
# ("X-Mailer: ..."), a line of a patch ("-old", "+new", "@@ ... @@"), one long token
# (a PGP signature's base64, a URL).
LAID_OUT = re.compile(
    r"^\s|^([-=*_#~+])\1{2,}\s*$|^[A-Z][A-Za-z0-9]*(-[A-Za-z0-9]+)+: |^[-+](?![\s\d])|^@@ "
    r"|^\S{40,}$"
)
SENTENCE_END = re.compile(r"[.!?:]['\"”»)]?$")
# Code: a line ending a block or a statement, or starting with a keyword in the shape
# code gives it ("let me know", "return the book", "public transport" are prose).
CODE_LINE = re.compile(
    r"([{};]|\);)\s*$"
    r"|^\s*((def|function)\s+\w+\s*\(|class\s+\w+\s*[:({]|(var|let|const)\s+\w+\s*=|"
    r"import\s+[\w.]+(\s+as\s+\w+)?\s*$|from\s+[\w.]+\s+import\s|#include\b|"
    r"(public|private)\s+[\w<>\[\], ]+\(|return\s*$|(if|for|while)\s*\()"
    r"|=>|==|!=|&&|\|\||::"
)
# Tables: cells between bars, a rule of dashes broken into columns, gaps between cells.
TABLE_BARS = re.compile(r"\|.*\|")
TABLE_RULE = re.compile(r"^\s*[-=+|:]{3,}[-=+|: ]*[-=+|:]$")
MIN_GAP = 3  # blanks between two cells; two can be a sentence typed with two spaces
COLUMN_GAP = re.compile(rf"(?<=\S) {{{MIN_GAP},}}(?=\S)")
TAB_STOP = 8


@dataclass(frozen=True)
class Block:
    """Lines shown as they are (`preformatted`: code and tables) or as one paragraph
    whose remaining line breaks are the sender's own."""

    lines: tuple[str, ...]
    preformatted: bool = False


def blocks(text: str, column: int | None) -> list[Block]:
    """The text's blocks in order, its lines joined where they were wrapped at `column`
    (wrap_column of the whole message; None: join nothing, as for flowed text)."""
    lines = text.split("\n")
    found: list[Block] = []
    paragraph: list[str] = []

    def end_paragraph() -> None:
        if paragraph:
            found.append(_paragraph(paragraph, column))
            paragraph.clear()

    index = 0
    while index < len(lines):
        line = lines[index]
        starts_block = not paragraph
        if FENCE.match(line):
            end_paragraph()
            end = next((i for i in range(index + 1, len(lines)) if FENCE.match(lines[i])), None)
            end = len(lines) - 1 if end is None else end
            found.append(Block(tuple(lines[index : end + 1]), preformatted=True))
            index = end + 1
        elif starts_block and line.strip() and INDENTED.match(line):
            end = index
            while end + 1 < len(lines) and (
                INDENTED.match(lines[end + 1]) or not lines[end + 1].strip()
            ):
                end += 1
            while not lines[end].strip():
                end -= 1
            found.append(Block(tuple(lines[index : end + 1]), preformatted=True))
            index = end + 1
        elif not line.strip():
            end_paragraph()
            index += 1
        else:
            paragraph.append(line)
            index += 1
    end_paragraph()
    return found


def wrap_column(text: str) -> int | None:
    """The column the sender's client wrapped at: the second longest line of those
    that could be wrapped (one long line is no evidence), or None if nothing is.
    Quoted lines are someone else's wrapping."""
    lengths = sorted(
        (
            len(line.rstrip())
            for line in text.split("\n")
            if len(line.rstrip()) in WRAP_COLUMNS and not QUOTE.match(line)
        ),
        reverse=True,
    )
    if not lengths:
        return None
    return lengths[1] if len(lengths) > 1 else lengths[0]


def _paragraph(lines: list[str], column: int | None) -> Block:
    if _is_code(lines) or _is_table(lines):
        return Block(tuple(lines), preformatted=True)
    if column is None:
        return Block(tuple(lines))
    wrapped = len(lines) >= 3 and all(_near(line, column) for line in lines[:-1])
    # Each joined line as its pieces, put together once: adding to a growing string
    # would copy the paragraph for each of its lines.
    joined = [[lines[0]]]
    fixed = [_fixed(line) for line in lines]  # once a line, not once a side of each pair
    for index in range(1, len(lines)):
        previous, line = lines[index - 1], lines[index]
        if not (fixed[index - 1] or fixed[index]) and _continues(previous, line, column, wrapped):
            pieces = joined[-1]
            pieces[-1] = pieces[-1].rstrip()
            pieces.append(line.strip())
        else:
            joined.append([line])
    return Block(tuple(" ".join(pieces) for pieces in joined))


def _continues(previous: str, line: str, column: int, wrapped: bool) -> bool:
    """Whether `line` is the rest of `previous`, cut by the sender's client (neither
    being a line whose break is the sender's: _fixed)."""
    first_word = line.split(maxsplit=1)[0]
    fits = len(previous.rstrip()) + 1 + len(first_word) <= column
    if fits or not _near(previous, column):
        return False
    goes_on = line.lstrip()[0].islower() or not SENTENCE_END.search(previous.rstrip())
    return goes_on or wrapped


def _near(line: str, column: int) -> bool:
    return NEAR_WRAP * column <= len(line.rstrip()) <= max(WRAP_COLUMNS)


def _fixed(line: str) -> bool:
    """A line whose break is the sender's: a list item, a quote, a signature mark, a
    line laid out (LAID_OUT)."""
    return bool(
        LIST_ITEM.match(line) or QUOTE.match(line) or SIGNATURE.match(line) or LAID_OUT.match(line)
    )


def _is_table(lines: list[str]) -> bool:
    """Two lines or more with cells between bars, a rule with column breaks and a line
    beside it, or two lines whose column gaps begin or end at the same place."""
    if sum(bool(TABLE_BARS.search(line)) for line in lines) >= 2:
        return True
    if len(lines) >= 2 and any(
        TABLE_RULE.match(line) and re.search(r"\S[ +|]+\S", line.strip()) for line in lines
    ):
        return True
    seen: set[tuple[str, int]] = set()
    for line in lines:
        edges = _gap_edges(line)
        if edges & seen:
            return True
        seen |= edges
    return False


def _gap_edges(line: str) -> set[tuple[str, int]]:
    """Where the line's column gaps begin (the "end" of a cell) and end (the "start" of
    the next), in columns with tabs expanded. A gap is a run of blanks between two
    cells at least three columns wide or holding a tab."""
    if "\t" not in line:  # most lines: columns are indices, a regular expression finds them
        return {
            edge
            for match in COLUMN_GAP.finditer(line)
            for edge in (("end", match.start()), ("start", match.end()))
        }
    edges: set[tuple[str, int]] = set()
    column = 0
    gap_start: int | None = None  # where the current run of blanks began, after a cell
    tabbed = False
    in_line = False  # past the indentation: blanks from here on are between cells
    for character in line:
        if character in " \t":
            if gap_start is None and in_line:
                gap_start, tabbed = column, False
            tabbed = tabbed or character == "\t"
            column = (column // TAB_STOP + 1) * TAB_STOP if character == "\t" else column + 1
            continue
        if gap_start is not None and (tabbed or column - gap_start >= MIN_GAP):
            edges.update((("end", gap_start), ("start", column)))
        gap_start, in_line = None, True
        column += 1
    return edges


def _is_code(lines: list[str]) -> bool:
    return sum(bool(CODE_LINE.search(line)) for line in lines) * 2 >= len(lines) + (len(lines) == 1)
