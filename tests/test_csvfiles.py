"""CSV files from other tools: separators, headers, line numbers, and the errors they name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.community import csvfiles
from gateway.community.csvfiles import MAX_REPORTED_ERRORS
from gateway.community.csvfiles import CsvTable
from gateway.community.csvfiles import ImportReport
from gateway.community.csvfiles import read_csv
from gateway.errors import InvalidInput

COLUMNS = {
    "email": ("email", "e-mail", "mail"),
    "name": ("name", "full name"),
    "role": ("role",),
}

WriteFile = Callable[[str, str | bytes], Path]


def read(path: Path) -> CsvTable:
    return read_csv(path, COLUMNS, required="email")


def rows_of(table: CsvTable) -> list[tuple[int, dict[str, str]]]:
    return [(row.line, row.values) for row in table.rows]


# --- what is read


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            "email,name\nalice@example.com,Alice\nbob@example.com,Bob\n",
            [
                (2, {"email": "alice@example.com", "name": "Alice"}),
                (3, {"email": "bob@example.com", "name": "Bob"}),
            ],
            id="comma",
        ),
        pytest.param(
            "email;name\nalice@example.com;Smith, Alice\n",
            [(2, {"email": "alice@example.com", "name": "Smith, Alice"})],
            id="semicolon-keeps-commas-in-cells",
        ),
        pytest.param(
            'email,name\nalice@example.com,"Smith; Alice"\n',
            [(2, {"email": "alice@example.com", "name": "Smith; Alice"})],
            id="comma-keeps-quoted-semicolons",
        ),
        pytest.param(
            "\ufeffemail,name\nalice@example.com,Alice\n",
            [(2, {"email": "alice@example.com", "name": "Alice"})],
            id="utf8-bom",
        ),
        pytest.param(
            " E-Mail ; FULL NAME \nalice@example.com;Alice\n",
            [(2, {"email": "alice@example.com", "name": "Alice"})],
            id="header-case-spacing-alias",
        ),
        pytest.param(
            "Name,Role,Mail\nAlice,owner,alice@example.com\n",
            [(2, {"name": "Alice", "role": "owner", "email": "alice@example.com"})],
            id="any-column-order",
        ),
        pytest.param(
            "email,name\n  alice@example.com  , Alice \n",
            [(2, {"email": "alice@example.com", "name": "Alice"})],
            id="cells-trimmed",
        ),
        pytest.param(
            "email,name,role\nalice@example.com\n",
            [(2, {"email": "alice@example.com"})],
            id="short-row",
        ),
        pytest.param(
            "email,name\r\nalice@example.com,Alice\r\nbob@example.com,Bob\r\n",
            [
                (2, {"email": "alice@example.com", "name": "Alice"}),
                (3, {"email": "bob@example.com", "name": "Bob"}),
            ],
            id="crlf",
        ),
        pytest.param(
            "email\nalice@example.com",
            [(2, {"email": "alice@example.com"})],
            id="no-final-newline",
        ),
        pytest.param("email,name\n", [], id="header-only"),
    ],
)
def test_rows(
    write_file: WriteFile, content: str, expected: list[tuple[int, dict[str, str]]]
) -> None:
    assert rows_of(read(write_file("people.csv", content))) == expected


def test_unknown_columns_are_ignored_and_reported(write_file: WriteFile) -> None:
    path = write_file("people.csv", "department,email,phone\nDesign,alice@example.com,555\n")

    table = read(path)

    assert table.ignored_columns == ["department", "phone"]
    assert rows_of(table) == [(2, {"email": "alice@example.com"})]


def test_no_ignored_columns(write_file: WriteFile) -> None:
    assert read(write_file("people.csv", "email\nalice@example.com\n")).ignored_columns == []


def test_blank_lines_are_skipped_and_counted(write_file: WriteFile) -> None:
    content = "email,name\n\nalice@example.com,Alice\n   \n,\n , \nbob@example.com,Bob\n\n"

    table = read(write_file("people.csv", content))

    assert [(row.line, row.values["email"]) for row in table.rows] == [
        (3, "alice@example.com"),
        (7, "bob@example.com"),
    ]


def test_rows_after_a_multiline_cell_keep_their_physical_line(write_file: WriteFile) -> None:
    content = 'email,name\n"alice@example.com","Alice\nSmith"\nbob@example.com,Bob\n'

    table = read(write_file("people.csv", content))

    assert table.rows[0].values == {"email": "alice@example.com", "name": "Alice\nSmith"}
    assert [row.line for row in table.rows] == [2, 4]  # a row is named by its first line


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x0b", "\x0c", "\x85", "\x1e"])
def test_only_real_line_ends_split_rows(write_file: WriteFile, separator: str) -> None:
    content = f"email,name\nalice@example.com,Ali{separator}ce\r\nbob@example.com,Bob\n"

    table = read(write_file("people.csv", content))

    assert rows_of(table) == [
        (2, {"email": "alice@example.com", "name": f"Ali{separator}ce"}),
        (3, {"email": "bob@example.com", "name": "Bob"}),
    ]


def test_bad_row_after_a_multiline_cell_names_its_physical_line(write_file: WriteFile) -> None:
    content = 'email,name\nalice@example.com,"Alice\nSmith"\nbob@example.com,Bob,extra\n'
    path = write_file("people.csv", content)

    with pytest.raises(InvalidInput) as caught:
        read(path)

    assert str(caught.value) == f"{path} line 4: 3 fields, but the header has 2"


# --- refusals


NOT_UTF8 = "not UTF-8 text (save the file as 'CSV UTF-8')"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("", ": the file is empty (expected a header line with 'email')", id="empty"),
        pytest.param("\n \n\r\n", ": the file is empty", id="blank-lines"),
        pytest.param("\ufeff", ": the file is empty", id="bom-only"),
        pytest.param(
            "name,role\nAlice,owner\n",
            " line 1: no 'email' column in the header (found: name, role)",
            id="no-email-column",
        ),
        pytest.param(
            "Name;Adresse\n",
            " line 1: no 'email' column in the header (found: name, adresse)",
            id="no-email-column-semicolon",
        ),
        pytest.param(
            "email,mail\na@example.com,b@example.com\n",
            " line 1: the column 'email' appears twice",
            id="duplicated-alias",
        ),
        pytest.param(
            "email,name,Full Name\n", " line 1: the column 'name' appears twice", id="duplicated"
        ),
        pytest.param(
            "email,name\nalice@example.com,Alice\nbob@example.com,Bob,x\n",
            " line 3: 3 fields, but the header has 2",
            id="too-many-fields",
        ),
        pytest.param(
            'email,name\nalice@example.com,"Alice\n',
            " line 2: malformed CSV",
            id="unclosed-quote",
        ),
        pytest.param(
            'email,name\nalice@example.com,"Al"ice"\nbob@example.com,Bob\n',
            " line 2: malformed CSV",
            id="stray-quote",
        ),
        pytest.param(
            b"email,name\nalice@example.com,Alice\nbob@example.com,Jos\xe9\n",
            f" line 3: {NOT_UTF8}",
            id="latin-1",
        ),
        pytest.param(
            b"\xff\xfee\x00m\x00a\x00i\x00l\x00\n\x00", f" line 1: {NOT_UTF8}", id="utf-16"
        ),
    ],
)
def test_bad_file_names_file_and_line(
    write_file: WriteFile, content: str | bytes, expected: str
) -> None:
    path = write_file("people.csv", content)

    with pytest.raises(InvalidInput) as caught:
        read(path)

    assert str(caught.value).startswith(f"{path}{expected}")
    assert "\n" not in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"

    with pytest.raises(InvalidInput) as caught:
        read(path)

    assert str(caught.value) == f"{path}: no such file"


def test_a_file_too_large_or_endless_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(csvfiles, "MAX_CSV_BYTES", 1000)
        path = tmp_path / "big.csv"
        path.write_text("email\n" + "someone@example.com\n" * 60)
        with pytest.raises(InvalidInput, match="larger than"):
            read_csv(path, COLUMNS, "email")

    with pytest.raises(InvalidInput) as caught:
        read_csv(Path("/dev/zero"), COLUMNS, "email")
    assert str(caught.value) == "/dev/zero: larger than 50 MB, split it into smaller files"


def test_a_huge_cell_is_one_error_naming_its_line(write_file: WriteFile) -> None:
    path = write_file("cell.csv", "email,name\na@example.com," + "x" * 200_000 + "\n")
    with pytest.raises(InvalidInput) as caught:
        read_csv(path, COLUMNS, "email")
    assert str(caught.value).startswith(f"{path} line 2: malformed CSV (field larger than")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        read(tmp_path)

    assert str(caught.value) == f"{tmp_path}: is a folder, not a CSV file"


# --- ImportReport


def report_with_errors(path: Path, count: int) -> ImportReport:
    report = ImportReport(path)
    for number in range(count):
        with report.row(number + 2):
            raise InvalidInput(f"bad address {number}")
    return report


def test_report_without_errors_does_not_raise(tmp_path: Path) -> None:
    report = ImportReport(tmp_path / "people.csv")
    with report.row(2):
        pass

    report.raise_if_errors()

    assert report.errors == []


def test_report_row_records_the_refusal_and_goes_on(tmp_path: Path) -> None:
    report = ImportReport(tmp_path / "people.csv")
    checked = []
    for line in (2, 3, 4):
        with report.row(line):
            if line == 3:
                raise InvalidInput("'bob' is not an email address")
            checked.append(line)

    assert checked == [2, 4]
    assert report.errors == ["line 3: 'bob' is not an email address"]


def test_report_row_lets_bugs_through(tmp_path: Path) -> None:
    report = ImportReport(tmp_path / "people.csv")

    with pytest.raises(ZeroDivisionError), report.row(2):
        raise ZeroDivisionError

    assert report.errors == []


def test_one_error_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"

    with pytest.raises(InvalidInput) as caught:
        report_with_errors(path, 1).raise_if_errors()

    assert str(caught.value) == f"{path} line 2: bad address 0 (nothing was imported)"


def test_several_errors_get_a_line_each(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"

    with pytest.raises(InvalidInput) as caught:
        report_with_errors(path, 3).raise_if_errors()

    assert str(caught.value).splitlines() == [
        f"{path} line 2: bad address 0",
        f"{path} line 3: bad address 1",
        f"{path} line 4: bad address 2",
        f"{path}: nothing was imported; fix the rows above and run it again",
    ]


@pytest.mark.parametrize(
    ("count", "more_line"),
    [
        (MAX_REPORTED_ERRORS, None),
        (MAX_REPORTED_ERRORS + 1, "1 more bad rows"),
        (25, "5 more bad rows"),
    ],
)
def test_many_errors_are_capped(tmp_path: Path, count: int, more_line: str | None) -> None:
    path = tmp_path / "people.csv"

    with pytest.raises(InvalidInput) as caught:
        report_with_errors(path, count).raise_if_errors()

    lines = str(caught.value).splitlines()
    shown = [f"{path} line {n + 2}: bad address {n}" for n in range(MAX_REPORTED_ERRORS)]
    tail = [f"{path}: {more_line}"] if more_line else []
    assert lines == [
        *shown,
        *tail,
        f"{path}: nothing was imported; fix the rows above and run it again",
    ]


def test_report_counts_and_as_dict(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    report = ImportReport(path, ignored_columns=["phone"])
    report.count(added=True, changed=True)
    report.count(added=True, changed=False)
    report.count(added=False, changed=True)
    report.count(added=False, changed=False)
    report.count(added=False, changed=False)

    assert report.as_dict() == {
        "file": str(path),
        "added": 2,
        "updated": 1,
        "unchanged": 2,
        "ignored_columns": ["phone"],
    }


def test_empty_report_as_dict(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"

    assert ImportReport(path).as_dict() == {
        "file": str(path),
        "added": 0,
        "updated": 0,
        "unchanged": 0,
        "ignored_columns": [],
    }
