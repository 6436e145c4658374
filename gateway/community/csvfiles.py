"""Reading CSV files exported by other tools (HR directories, member lists).

Rows come back with their line numbers so that every complaint can point at the
line to fix; the header decides the columns, in any order and any case.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from gateway.errors import InvalidInput

# A directory export of 100,000 people is about 20 MB; a larger file is a mistake (or
# /dev/zero), refused before it fills the memory.
MAX_CSV_BYTES = 50 * 1000 * 1000
# A file with many bad rows (wrong column order, say) lists the first ones only.
MAX_REPORTED_ERRORS = 20


@dataclass(frozen=True)
class CsvRow:
    line: int
    values: dict[str, str]


@dataclass(frozen=True)
class CsvTable:
    rows: list[CsvRow]
    ignored_columns: list[str]


def read_csv(path: Path, columns: Mapping[str, tuple[str, ...]], required: str) -> CsvTable:
    """Read a CSV file whose header names some of `columns`.

    `columns` maps each column we use to the header names accepted for it (the
    first is the canonical one). Comma and semicolon separators are both
    recognised; a UTF-8 byte order mark is allowed. Other columns are ignored
    and reported. Raises InvalidInput naming the file (and line) on any problem.
    """
    try:
        with path.open("rb") as file:  # read bounded: it may be a device or a pipe
            data = file.read(MAX_CSV_BYTES + 1)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: is a folder, not a CSV file") from None
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput(
            f"{path}: larger than {MAX_CSV_BYTES // 1000 // 1000} MB, split it into smaller files"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = _line_of(data, error.start)
        raise InvalidInput(
            f"{path} line {line}: not UTF-8 text (save the file as 'CSV UTF-8')"
        ) from None
    if not text.strip():
        raise InvalidInput(f"{path}: the file is empty (expected a header line with '{required}')")
    # Records end at \n, \r\n or \r only: csv must see the raw text, not str.splitlines(),
    # which also breaks on characters a cell may hold (\x0b from Excel, U+2028).
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_delimiter(text.split("\n", 1)[0]), strict=True
    )
    start = 1
    try:
        header = [name.strip().lower() for name in next(reader)]
        aliases = {alias: canonical for canonical, names in columns.items() for alias in names}
        mapped = [aliases.get(name) for name in header]
        if required not in mapped:
            raise InvalidInput(
                f"{path} line 1: no '{required}' column in the header "
                f"(found: {', '.join(header) or 'nothing'})"
            )
        duplicated = {name for name in mapped if name and mapped.count(name) > 1}
        if duplicated:
            raise InvalidInput(f"{path} line 1: the column '{duplicated.pop()}' appears twice")
        rows = []
        while True:
            # A quoted cell may span lines: a row is reported at the line it starts on.
            start = reader.line_num + 1
            record = next(reader, None)
            if record is None:
                break
            if not any(cell.strip() for cell in record):
                continue
            if len(record) > len(header):
                raise InvalidInput(
                    f"{path} line {start}: {len(record)} fields, but the header has {len(header)}"
                )
            values = {
                column: cell.strip()
                for column, cell in zip(mapped, record, strict=False)
                if column is not None
            }
            rows.append(CsvRow(start, values))
    except csv.Error as error:
        raise InvalidInput(f"{path} line {start}: malformed CSV ({error})") from None
    ignored = [name for name, column in zip(header, mapped, strict=True) if column is None]
    return CsvTable(rows, ignored)


def _delimiter(header_line: str) -> str:
    # Spreadsheets in French locales write ';'; the header alone tells which.
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


@dataclass
class ImportReport:
    """What an import did, or every row it refused (then it did nothing)."""

    path: Path
    ignored_columns: list[str] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

    @contextmanager
    def row(self, line: int) -> Iterator[None]:
        """Check one row: a refusal is recorded with its line number, and checking goes on."""
        try:
            yield
        except InvalidInput as error:
            self.errors.append(f"line {line}: {error}")

    def raise_if_errors(self) -> None:
        if not self.errors:
            return
        if len(self.errors) == 1:
            raise InvalidInput(f"{self.path} {self.errors[0]} (nothing was imported)")
        shown = self.errors[:MAX_REPORTED_ERRORS]
        more = len(self.errors) - len(shown)
        lines = [f"{self.path} {error}" for error in shown]
        if more:
            lines.append(f"{self.path}: {more} more bad rows")
        lines.append(f"{self.path}: nothing was imported; fix the rows above and run it again")
        raise InvalidInput("\n".join(lines))

    def count(self, added: bool, changed: bool) -> None:
        if added:
            self.added += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "ignored_columns": self.ignored_columns,
        }
