"""`gateway profile set|show|import|find`, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GatewayCli

HR_HEADER = "E-mail;Display Name;Department;Expertise;Interests;Phone\n"


def show(cli: GatewayCli, email: str) -> dict[str, Any]:
    profile: dict[str, Any] = cli.json("profile", "show", email)
    return profile


def find(cli: GatewayCli, tag: str, *options: str) -> dict[str, list[str]]:
    """`profile find --json`: address -> what matched."""
    return {row["email"]: row["matched"] for row in cli.json("profile", "find", tag, *options)}


def import_json(cli: GatewayCli, path: Path) -> dict[str, Any]:
    report: dict[str, Any] = cli.json("profile", "import", str(path))
    return report


def counts(report: dict[str, Any]) -> tuple[int, int, int]:
    return report["added"], report["updated"], report["unchanged"]


def set_ann(cli: GatewayCli) -> None:
    cli(
        "profile",
        "set",
        "Ann@Example.com",
        "--name",
        "Ann Lee",
        "--department",
        "Design",
        "--bio",
        "Draws things.",
        "--timezone",
        "Europe/Paris",
        "--expertise",
        "UX, research",
        "--interests",
        "typography",
    )


ANN = {
    "email": "ann@example.com",
    "name": "Ann Lee",
    "department": "Design",
    "bio": "Draws things.",
    "timezone": "Europe/Paris",
    "expertise": ["UX", "research"],
    "interests": ["typography"],
    "write_to": "default",  # the archive's "Write to" link follows [archive] show_write_to
    "communities": [],
}


# --- set


def test_set_creates_a_profile_for_a_new_address(gateway_cli: GatewayCli) -> None:
    result = gateway_cli("profile", "set", "Ann@Example.com", "--name", "Ann Lee")
    assert result.stdout.strip() == "Updated the profile of ann@example.com."
    set_ann(gateway_cli)
    assert show(gateway_cli, "ann@example.com") == ANN


def test_set_leaves_the_options_not_given_unchanged(gateway_cli: GatewayCli) -> None:
    set_ann(gateway_cli)
    gateway_cli("profile", "set", "ann@example.com", "--department", "  Research  ")
    gateway_cli("profile", "set", "ann@example.com", "--interests", "Fonts; colour")
    assert show(gateway_cli, "ann@example.com") == {
        **ANN,
        "department": "Research",
        "interests": ["Fonts", "colour"],
    }


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("a, b; c", ["a", "b", "c"]),
        ("  UX ;ux, Research , RESEARCH,, ;", ["UX", "Research"]),
        ("user   research, Sécurité, securite", ["user research", "Sécurité"]),
    ],
)
def test_set_expertise_is_split_trimmed_and_deduplicated(
    gateway_cli: GatewayCli, given: str, stored: list[str]
) -> None:
    gateway_cli("profile", "set", "ann@example.com", "--expertise", given)
    assert show(gateway_cli, "ann@example.com")["expertise"] == stored


def test_set_an_empty_expertise_empties_the_list(gateway_cli: GatewayCli) -> None:
    set_ann(gateway_cli)
    gateway_cli("profile", "set", "ann@example.com", "--expertise", "")
    assert show(gateway_cli, "ann@example.com") == {**ANN, "expertise": []}
    assert find(gateway_cli, "ux") == {}


def test_set_replaces_the_whole_list(gateway_cli: GatewayCli) -> None:
    set_ann(gateway_cli)
    gateway_cli("profile", "set", "ann@example.com", "--expertise", "Research, accessibility")
    assert show(gateway_cli, "ann@example.com")["expertise"] == ["Research", "accessibility"]
    assert find(gateway_cli, "ux") == {}


def test_set_refuses_an_unknown_time_zone(gateway_cli: GatewayCli) -> None:
    error = gateway_cli.error("profile", "set", "ann@example.com", "--timezone", "Mars/Olympus")
    assert "'Mars/Olympus'" in error
    assert "ann@example.com" in gateway_cli.error("profile", "show", "ann@example.com")


def test_set_keeps_the_profile_when_the_time_zone_is_refused(gateway_cli: GatewayCli) -> None:
    set_ann(gateway_cli)
    gateway_cli.error(
        "profile", "set", "ann@example.com", "--name", "Other", "--timezone", "Europe/Nowhere"
    )
    assert show(gateway_cli, "ann@example.com") == ANN


def test_set_without_an_option_is_a_usage_error(gateway_cli: GatewayCli) -> None:
    result = gateway_cli("profile", "set", "ann@example.com", expect=2)
    assert "nothing to change" in result.stderr


def test_set_refuses_a_bad_address(gateway_cli: GatewayCli) -> None:
    error = gateway_cli.error("profile", "set", "ann@", "--name", "Ann")
    assert "'ann@'" in error


def test_set_respects_the_allowed_domains(gateway_cli: GatewayCli, config_file: Path) -> None:
    with config_file.open("a", encoding="utf-8") as config:
        config.write('allowed_domains = ["example.com"]\n')
    error = gateway_cli.error("profile", "set", "x@other.org", "--name", "X")
    assert "x@other.org" in error
    assert "allowed domain" in error
    gateway_cli("profile", "set", "ann@eu.example.com", "--name", "Ann")
    assert show(gateway_cli, "ann@eu.example.com")["name"] == "Ann"


# --- show


def test_show_lists_the_communities_of_the_person(gateway_cli: GatewayCli) -> None:
    gateway_cli("community", "create", "design", "--name", "Design")
    gateway_cli("community", "create", "alpha", "--name", "Alpha team")
    gateway_cli("member", "add", "design", "ann@example.com", "--role", "moderator")
    gateway_cli("member", "add", "alpha", "ann@example.com", "--delivery", "daily")
    profile = show(gateway_cli, "ann@example.com")
    assert set(profile) == {
        "email",
        "name",
        "department",
        "bio",
        "timezone",
        "expertise",
        "interests",
        "write_to",
        "communities",
    }
    assert profile["communities"] == [
        {"slug": "alpha", "name": "Alpha team", "role": "member", "delivery": "daily"},
        {"slug": "design", "name": "Design", "role": "moderator", "delivery": "instant"},
    ]


def test_show_finds_the_address_whatever_its_case(gateway_cli: GatewayCli) -> None:
    set_ann(gateway_cli)
    assert show(gateway_cli, "  ANN@example.COM ") == ANN


def test_show_prints_the_fields_as_text(gateway_cli: GatewayCli) -> None:
    set_ann(gateway_cli)
    gateway_cli("community", "create", "design", "--name", "Design")
    gateway_cli("member", "add", "design", "ann@example.com")
    text = gateway_cli("profile", "show", "ann@example.com").stdout
    fields = dict(line.split(":", 1) for line in text.splitlines())
    fields = {label: value.strip() for label, value in fields.items()}
    assert fields["Email"] == "ann@example.com"
    assert fields["Expertise"] == "UX, research"
    assert fields["Time zone"] == "Europe/Paris"
    assert fields["Communities"] == "design (member, instant)"


def test_show_of_an_unknown_address_fails(gateway_cli: GatewayCli) -> None:
    set_ann(gateway_cli)
    error = gateway_cli.error("profile", "show", "bob@example.com")
    assert "bob@example.com" in error


# --- find


@pytest.fixture
def tagged(gateway_cli: GatewayCli) -> GatewayCli:
    """Ann knows Sécurité and UX; Bob is interested in ux; Cy knows and likes UX."""
    gateway_cli("profile", "set", "ann@example.com", "--name", "Ann", "--expertise", "Sécurité, UX")
    gateway_cli("profile", "set", "bob@example.com", "--interests", "ux")
    gateway_cli("profile", "set", "cy@example.com", "--expertise", "ux", "--interests", "UX")
    return gateway_cli


def test_find_ignores_case_and_accents(tagged: GatewayCli) -> None:
    assert find(tagged, "securite") == {"ann@example.com": ["expertise"]}
    assert find(tagged, "SÉCURITÉ") == {"ann@example.com": ["expertise"]}
    assert find(tagged, "UX") == {
        "ann@example.com": ["expertise"],
        "bob@example.com": ["interest"],
        "cy@example.com": ["expertise", "interest"],
    }


def test_find_filters_by_kind(tagged: GatewayCli) -> None:
    assert find(tagged, "ux", "--kind", "expertise") == {
        "ann@example.com": ["expertise"],
        "cy@example.com": ["expertise"],
    }
    assert find(tagged, "ux", "--kind", "interest") == {
        "bob@example.com": ["interest"],
        "cy@example.com": ["interest"],
    }
    assert find(tagged, "securite", "--kind", "interest") == {}


def test_find_json_rows_are_profiles_with_what_matched(tagged: GatewayCli) -> None:
    [row] = tagged.json("profile", "find", "sécurité")
    assert row == {
        "email": "ann@example.com",
        "name": "Ann",
        "department": "",
        "bio": "",
        "timezone": "",
        "expertise": ["Sécurité", "UX"],
        "interests": [],
        "write_to": "default",
        "matched": ["expertise"],
    }


def test_find_prints_a_table(tagged: GatewayCli) -> None:
    lines = tagged("profile", "find", "ux").stdout.splitlines()
    assert lines[0].split() == ["EMAIL", "NAME", "DEPARTMENT", "MATCHED"]
    assert [line.split()[0] for line in lines[1:]] == [
        "ann@example.com",
        "bob@example.com",
        "cy@example.com",
    ]
    assert lines[-1].endswith("expertise, interest")


def test_find_with_no_match_says_so(tagged: GatewayCli) -> None:
    result = tagged("profile", "find", "Rust")
    assert result.stdout.strip() == "No one lists 'Rust' yet."
    assert tagged.json("profile", "find", "Rust") == []


def test_find_an_empty_tag_fails(tagged: GatewayCli) -> None:
    assert "empty" in tagged.error("profile", "find", "  ")


def test_find_an_invalid_kind_is_a_usage_error(tagged: GatewayCli) -> None:
    result = tagged("profile", "find", "ux", "--kind", "hobby", expect=2)
    assert "'hobby'" in result.stderr


# --- import


def write_hr_export(write_file: Callable[..., Path], name: str = "hr.csv") -> Path:
    return write_file(
        name,
        HR_HEADER
        + "Ann@Example.com;Ann Lee;Design;UX, Research;Typography;+33 1 23 45 67 89\n"
        + 'bob@example.com;"Stone; Bob";Security;Sécurité;;+33 1 98 76 54 32\n',
    )


def test_import_creates_profiles_from_an_hr_export(
    gateway_cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    path = write_hr_export(write_file)
    assert import_json(gateway_cli, path) == {
        "file": str(path),
        "added": 2,
        "updated": 0,
        "unchanged": 0,
        "ignored_columns": ["phone"],
    }
    ann = show(gateway_cli, "ann@example.com")
    assert (ann["name"], ann["department"]) == ("Ann Lee", "Design")
    assert (ann["expertise"], ann["interests"]) == (["UX", "Research"], ["Typography"])
    bob = show(gateway_cli, "bob@example.com")
    assert (bob["name"], bob["department"]) == ("Stone; Bob", "Security")
    assert (bob["expertise"], bob["interests"]) == (["Sécurité"], [])
    assert find(gateway_cli, "securite") == {"bob@example.com": ["expertise"]}


def test_import_prints_a_summary_with_the_ignored_columns(
    gateway_cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    path = write_hr_export(write_file)
    assert gateway_cli("profile", "import", str(path)).stdout.splitlines() == [
        f"{path}: 2 profiles added, 0 updated, 0 unchanged.",
        "Ignored columns: phone.",
    ]


def test_import_twice_changes_nothing(
    gateway_cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    path = write_hr_export(write_file)
    import_json(gateway_cli, path)
    before = [show(gateway_cli, email) for email in ("ann@example.com", "bob@example.com")]
    assert counts(import_json(gateway_cli, path)) == (0, 0, 2)
    after = [show(gateway_cli, email) for email in ("ann@example.com", "bob@example.com")]
    assert after == before


def test_import_updates_existing_profiles(
    gateway_cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    set_ann(gateway_cli)
    path = write_file(
        "hr.csv",
        "email,name,timezone,interests\n"
        "ann@example.com,Ann Lee,America/New_York,\n"
        "cy@example.com,Cy,,Music\n",
    )
    assert counts(import_json(gateway_cli, path)) == (1, 1, 0)
    assert show(gateway_cli, "ann@example.com") == {**ANN, "timezone": "America/New_York"}
    assert show(gateway_cli, "cy@example.com")["interests"] == ["Music"]


def test_import_empty_cells_keep_the_stored_values(
    gateway_cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    set_ann(gateway_cli)
    empty_cells = write_file("empty.csv", HR_HEADER + "ann@example.com;;;;;\n")
    assert counts(import_json(gateway_cli, empty_cells)) == (0, 0, 1)
    assert show(gateway_cli, "ann@example.com") == ANN
    department_only = write_file("department.csv", "email,department\nann@example.com,Research\n")
    assert counts(import_json(gateway_cli, department_only)) == (0, 1, 0)
    assert show(gateway_cli, "ann@example.com") == {**ANN, "department": "Research"}


@pytest.mark.parametrize(
    ("bad_row", "named"),
    [
        ("bob@example.com,Bob,Mars/Olympus", "'Mars/Olympus'"),
        ("bob@,Bob,Europe/Paris", "'bob@'"),
    ],
    ids=["timezone", "email"],
)
def test_import_with_a_bad_row_names_its_line_and_imports_nothing(
    gateway_cli: GatewayCli, write_file: Callable[..., Path], bad_row: str, named: str
) -> None:
    set_ann(gateway_cli)
    path = write_file(
        "hr.csv",
        "email,name,timezone\n"
        "ann@example.com,Ann Changed,UTC\n"
        "cy@example.com,Cy,Europe/Berlin\n"
        f"{bad_row}\n",
    )
    error = gateway_cli.error("profile", "import", str(path))
    assert f"{path} line 4:" in error
    assert named in error
    assert "nothing was imported" in error
    assert show(gateway_cli, "ann@example.com") == ANN
    assert "cy@example.com" in gateway_cli.error("profile", "show", "cy@example.com")


def test_import_with_several_bad_rows_lists_them_all(
    gateway_cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    path = write_file(
        "hr.csv",
        "email,timezone\n"
        "ann@example.com,UTC\n"
        "bob@,UTC\n"
        "cy@example.com,Mars/Olympus\n"
        "ANN@example.com,\n",
    )
    result = gateway_cli("profile", "import", str(path), expect=1)
    assert f"{path} line 3:" in result.stderr
    assert f"{path} line 4:" in result.stderr
    assert f"{path} line 5:" in result.stderr and "line 2" in result.stderr
    assert "nothing was imported" in result.stderr
    assert "ann@example.com" in gateway_cli.error("profile", "show", "ann@example.com")


def test_import_of_a_file_that_is_not_utf8_fails(
    gateway_cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    path = write_file("hr.csv", "email,name\nrenee@example.com,Renée\n".encode("latin-1"))
    error = gateway_cli.error("profile", "import", str(path))
    assert str(path) in error
    assert "UTF-8" in error
    assert "renee@example.com" in gateway_cli.error("profile", "show", "renee@example.com")


def test_import_accepts_a_utf8_byte_order_mark(
    gateway_cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    path = write_file("hr.csv", "\ufeffemail;name\nrenee@example.com;Renée\n".encode())
    assert counts(import_json(gateway_cli, path)) == (1, 0, 0)
    assert show(gateway_cli, "renee@example.com")["name"] == "Renée"


def test_import_of_a_missing_file_fails(gateway_cli: GatewayCli, tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    error = gateway_cli.error("profile", "import", str(missing))
    assert str(missing) in error
    assert "no such file" in error


def test_import_of_a_file_without_an_email_column_fails(
    gateway_cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    path = write_file("hr.csv", "Display Name;Department\nAnn;Design\n")
    error = gateway_cli.error("profile", "import", str(path))
    assert "'email'" in error


# --- the archive's "Write to" link


def test_write_to_is_set_shown_and_back_to_the_default(
    gateway_cli: GatewayCli, config_file: Path
) -> None:
    set_ann(gateway_cli)
    gateway_cli("profile", "set", "ann@example.com", "--write-to", "off")
    assert show(gateway_cli, "ann@example.com")["write_to"] == "off"
    assert "Write to" in gateway_cli("profile", "show", "ann@example.com").stdout
    gateway_cli("profile", "set", "ann@example.com", "--write-to", "on")
    assert show(gateway_cli, "ann@example.com") == {**ANN, "write_to": "on"}
    gateway_cli("profile", "set", "ann@example.com", "--write-to", "default")
    assert show(gateway_cli, "ann@example.com") == ANN
    # What "default" means now, from [archive] show_write_to.
    text = gateway_cli("profile", "show", "ann@example.com").stdout
    assert re.search(r"Write to:?\s+default \(on\)", text), text
    config_file.write_text(
        config_file.read_text().replace("[gateway]", "[archive]\nshow_write_to = false\n[gateway]")
    )
    text = gateway_cli("profile", "show", "ann@example.com").stdout
    assert re.search(r"Write to:?\s+default \(off\)", text), text


def test_write_to_takes_only_on_off_or_default(gateway_cli: GatewayCli) -> None:
    set_ann(gateway_cli)
    error = gateway_cli.error("profile", "set", "ann@example.com", "--write-to", "maybe", expect=2)
    assert "maybe" in error
    assert show(gateway_cli, "ann@example.com")["write_to"] == "default"
