"""`gateway member add|remove|set|list|import`, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GatewayCli

HEADER = "email,name,role,delivery\n"


@pytest.fixture
def cli(gateway_cli: GatewayCli) -> GatewayCli:
    """The CLI with the community `design` (default delivery: instant) created."""
    gateway_cli("community", "create", "design", "--name", "Design")
    return gateway_cli


def members(cli: GatewayCli, *options: str, slug: str = "design") -> dict[str, dict[str, Any]]:
    """`member list --json`, keyed by address."""
    return {row["email"]: row for row in cli.json("member", "list", slug, *options)}


def summary(member: dict[str, Any]) -> tuple[str, str]:
    return member["role"], member["delivery"]


def import_json(cli: GatewayCli, path: Path, slug: str = "design") -> dict[str, Any]:
    result: dict[str, Any] = cli.json("member", "import", slug, str(path))
    return result


# --- add


def test_add_stores_addresses_lowercased_with_the_defaults(cli: GatewayCli) -> None:
    result = cli("member", "add", "design", "Alice@Example.COM", "bob@example.com")
    assert result.stdout.splitlines() == [
        "Added alice@example.com to design (member, instant).",
        "Added bob@example.com to design (member, instant).",
    ]
    found = members(cli)
    assert sorted(found) == ["alice@example.com", "bob@example.com"]
    assert all(summary(m) == ("member", "instant") for m in found.values())


def test_add_uses_the_community_default_delivery(gateway_cli: GatewayCli) -> None:
    gateway_cli(
        "community", "create", "newsletter", "--name", "Newsletter", "--default-delivery", "daily"
    )
    gateway_cli("member", "add", "newsletter", "alice@example.com")
    gateway_cli("member", "add", "newsletter", "bob@example.com", "--delivery", "weekly")
    found = members(gateway_cli, slug="newsletter")
    assert summary(found["alice@example.com"]) == ("member", "daily")
    assert summary(found["bob@example.com"]) == ("member", "weekly")


def test_add_respects_role_and_delivery(cli: GatewayCli) -> None:
    cli("member", "add", "design", "a@example.com", "b@example.com", "--role", "moderator")
    cli("member", "add", "design", "c@example.com", "--role", "owner", "--delivery", "none")
    found = members(cli)
    assert summary(found["a@example.com"]) == ("moderator", "instant")
    assert summary(found["b@example.com"]) == ("moderator", "instant")
    assert summary(found["c@example.com"]) == ("owner", "none")


def test_add_the_same_address_twice_in_one_command_adds_it_once(cli: GatewayCli) -> None:
    cli("member", "add", "design", "alice@example.com", "ALICE@example.com")
    assert list(members(cli)) == ["alice@example.com"]


def test_add_is_all_or_nothing_on_a_bad_address(cli: GatewayCli) -> None:
    error = cli.error("member", "add", "design", "ok@example.com", "bad@")
    assert "'bad@'" in error
    assert members(cli) == {}


def test_add_refuses_an_existing_member_and_adds_no_one(cli: GatewayCli) -> None:
    cli("member", "add", "design", "alice@example.com", "--role", "owner")
    error = cli.error("member", "add", "design", "new@example.com", "Alice@Example.com")
    assert "alice@example.com" in error
    assert "gateway member set" in error
    found = members(cli)
    assert list(found) == ["alice@example.com"]
    assert summary(found["alice@example.com"]) == ("owner", "instant")


def test_allowed_domains_limit_who_can_be_added(cli: GatewayCli, config_file: Path) -> None:
    with config_file.open("a", encoding="utf-8") as config:
        config.write('allowed_domains = ["example.com"]\n')
    error = cli.error("member", "add", "design", "ann@example.com", "x@other.org")
    assert "x@other.org" in error
    assert "allowed domain" in error
    assert "example.com" in error
    assert members(cli) == {}
    cli("member", "add", "design", "ann@example.com", "bo@eu.example.com")
    assert sorted(members(cli)) == ["ann@example.com", "bo@eu.example.com"]


def test_allowed_domains_do_not_accept_a_lookalike_domain(
    cli: GatewayCli, config_file: Path
) -> None:
    with config_file.open("a", encoding="utf-8") as config:
        config.write('allowed_domains = ["example.com"]\n')
    error = cli.error("member", "add", "design", "x@badexample.com")
    assert "x@badexample.com" in error
    assert members(cli) == {}


def test_allowed_domains_apply_to_imports(
    cli: GatewayCli, config_file: Path, write_file: Callable[..., Path]
) -> None:
    with config_file.open("a", encoding="utf-8") as config:
        config.write('allowed_domains = ["example.com"]\n')
    path = write_file("members.csv", "email\nann@eu.example.com\nx@other.org\n")
    error = cli.error("member", "import", "design", str(path))
    assert "line 3" in error
    assert "x@other.org" in error
    assert members(cli) == {}


# --- list


def test_list_json_has_the_documented_shape(cli: GatewayCli) -> None:
    cli("member", "add", "design", "alice@example.com")
    [row] = cli.json("member", "list", "design")
    assert set(row) == {
        "email",
        "name",
        "role",
        "delivery",
        "own_posts",
        "bounce_score",
        "state",
        "bounced_at",
        "joined_at",
    }
    assert row["email"] == "alice@example.com"
    assert row["name"] == ""
    assert summary(row) == ("member", "instant")
    assert row["own_posts"] is False
    assert row["bounce_score"] == 0
    assert row["state"] == "active" and row["bounced_at"] is None
    assert dt.datetime.fromisoformat(row["joined_at"]).tzinfo is not None


def test_list_text_has_a_header_and_one_row_per_member(cli: GatewayCli) -> None:
    cli("member", "add", "design", "bob@example.com", "alice@example.com")
    lines = cli("member", "list", "design").stdout.splitlines()
    assert lines[0].split() == ["EMAIL", "NAME", "ROLE", "DELIVERY", "BOUNCES", "STATE", "JOINED"]
    assert [line.split()[0] for line in lines[1:]] == ["alice@example.com", "bob@example.com"]
    assert all(line.split()[1:6] == ["-", "member", "instant", "0", "active"] for line in lines[1:])


def test_list_of_an_empty_community_says_so(cli: GatewayCli) -> None:
    assert cli("member", "list", "design").stdout.strip() == "No members in design."
    assert cli.json("member", "list", "design") == []


def test_list_filters_by_role_and_delivery(cli: GatewayCli) -> None:
    cli("member", "add", "design", "owner@example.com", "--role", "owner")
    cli("member", "add", "design", "daily@example.com", "--delivery", "daily")
    cli("member", "add", "design", "both@example.com", "--role", "owner", "--delivery", "daily")
    assert sorted(members(cli, "--role", "owner")) == ["both@example.com", "owner@example.com"]
    assert sorted(members(cli, "--delivery", "daily")) == ["both@example.com", "daily@example.com"]
    assert list(members(cli, "--role", "owner", "--delivery", "daily")) == ["both@example.com"]
    assert members(cli, "--role", "moderator") == {}
    text = cli("member", "list", "design", "--role", "moderator").stdout.strip()
    assert text == "No members in design with these filters."


# --- remove


def test_remove_ends_the_membership_but_keeps_the_person(cli: GatewayCli) -> None:
    cli("member", "add", "design", "alice@example.com", "bob@example.com")
    result = cli("member", "remove", "design", "ALICE@example.com")
    assert result.stdout.strip() == "Removed alice@example.com from design."
    assert list(members(cli)) == ["bob@example.com"]
    profile = cli.json("profile", "show", "alice@example.com")
    assert profile["email"] == "alice@example.com"
    assert profile["communities"] == []


def test_remove_the_same_address_twice_in_one_command_removes_it_once(cli: GatewayCli) -> None:
    cli("member", "add", "design", "alice@example.com")
    result = cli("member", "remove", "design", "alice@example.com", "ALICE@example.com")
    assert result.stdout.strip() == "Removed alice@example.com from design."
    assert members(cli) == {}


def test_remove_of_a_non_member_removes_no_one(cli: GatewayCli) -> None:
    cli("member", "add", "design", "alice@example.com", "bob@example.com")
    error = cli.error("member", "remove", "design", "alice@example.com", "carol@example.com")
    assert "carol@example.com" in error
    assert sorted(members(cli)) == ["alice@example.com", "bob@example.com"]


# --- set


def test_set_changes_role_delivery_and_own_posts(cli: GatewayCli) -> None:
    cli("member", "add", "design", "alice@example.com", "bob@example.com")
    result = cli("member", "set", "design", "Alice@example.com", "--role", "moderator")
    assert result.stdout.strip() == "alice@example.com in design: moderator, instant."
    cli("member", "set", "design", "alice@example.com", "--delivery", "weekly", "--own-posts")
    alice = members(cli)["alice@example.com"]
    assert summary(alice) == ("moderator", "weekly")
    assert alice["own_posts"] is True
    cli("member", "set", "design", "alice@example.com", "--no-own-posts")
    found = members(cli)
    assert found["alice@example.com"]["own_posts"] is False
    assert summary(found["alice@example.com"]) == ("moderator", "weekly")
    assert summary(found["bob@example.com"]) == ("member", "instant")


def test_set_without_an_option_is_a_usage_error(cli: GatewayCli) -> None:
    cli("member", "add", "design", "alice@example.com")
    result = cli("member", "set", "design", "alice@example.com", expect=2)
    assert "nothing to change" in result.stderr


def test_set_of_a_non_member_fails(cli: GatewayCli) -> None:
    error = cli.error("member", "set", "design", "carol@example.com", "--role", "owner")
    assert "carol@example.com" in error
    assert "design" in error


# --- errors shared by the subcommands


@pytest.mark.parametrize(
    "args",
    [
        ["add", "nope", "a@example.com"],
        ["remove", "nope", "a@example.com"],
        ["set", "nope", "a@example.com", "--role", "owner"],
        ["list", "nope"],
        ["import", "nope", "members.csv"],
    ],
    ids=["add", "remove", "set", "list", "import"],
)
def test_an_unknown_community_is_named(
    cli: GatewayCli, write_file: Callable[..., Path], args: list[str]
) -> None:
    path = write_file("members.csv", HEADER + "a@example.com,,,\n")
    args = [str(path) if arg == "members.csv" else arg for arg in args]
    error = cli.error("member", *args)
    assert "'nope'" in error
    assert members(cli) == {}


@pytest.mark.parametrize(
    "args",
    [
        ["add", "design", "a@example.com", "--role", "boss"],
        ["add", "design", "a@example.com", "--delivery", "hourly"],
        ["set", "design", "a@example.com", "--role", "boss"],
        ["set", "design", "a@example.com", "--delivery", "hourly"],
        ["list", "design", "--role", "boss"],
        ["list", "design", "--delivery", "hourly"],
    ],
)
def test_an_invalid_role_or_delivery_is_a_usage_error(cli: GatewayCli, args: list[str]) -> None:
    cli("member", "add", "design", "a@example.com")
    result = cli("member", *args, expect=2)
    assert "Invalid value" in result.stderr
    assert args[-1] in result.stderr
    assert summary(members(cli)["a@example.com"]) == ("member", "instant")


# --- import


def test_import_of_an_endless_file_is_one_error(cli: GatewayCli) -> None:
    message = cli.error("member", "import", "design", "/dev/zero")
    assert message == "Error: /dev/zero: larger than 50 MB, split it into smaller files"


def test_import_adds_members_with_their_names(
    cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    path = write_file(
        "members.csv",
        HEADER
        + "Alice@Example.com,Alice Martin,moderator,daily\n"
        + "bob@example.com,Bob Stone,,\n"
        + "carol@example.com,,Owner,WEEKLY\n",
    )
    result = cli("member", "import", "design", str(path))
    assert result.stdout.strip() == f"{path}: 3 members added, 0 updated, 0 unchanged."
    found = members(cli)
    assert sorted(found) == ["alice@example.com", "bob@example.com", "carol@example.com"]
    assert found["alice@example.com"]["name"] == "Alice Martin"
    assert summary(found["alice@example.com"]) == ("moderator", "daily")
    assert found["bob@example.com"]["name"] == "Bob Stone"
    assert summary(found["bob@example.com"]) == ("member", "instant")
    assert found["carol@example.com"]["name"] == ""
    assert summary(found["carol@example.com"]) == ("owner", "weekly")


def test_import_reads_semicolon_separated_files(
    cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    path = write_file(
        "members.csv",
        "Email;Name;Role;Delivery\nalice@example.com;Martin, Alice;owner;none\n",
    )
    assert import_json(cli, path)["added"] == 1
    alice = members(cli)["alice@example.com"]
    assert alice["name"] == "Martin, Alice"
    assert summary(alice) == ("owner", "none")


def test_import_uses_the_community_default_delivery(
    gateway_cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    gateway_cli(
        "community", "create", "newsletter", "--name", "Newsletter", "--default-delivery", "daily"
    )
    path = write_file("members.csv", "email\nalice@example.com\n")
    import_json(gateway_cli, path, slug="newsletter")
    found = members(gateway_cli, slug="newsletter")
    assert summary(found["alice@example.com"]) == ("member", "daily")


def test_import_json_summary_has_the_documented_shape(
    cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    path = write_file(
        "members.csv", "email,name,Phone,role\nalice@example.com,Alice,+33 1 23 45 67 89,\n"
    )
    assert import_json(cli, path) == {
        "file": str(path),
        "added": 1,
        "updated": 0,
        "unchanged": 0,
        "ignored_columns": ["phone"],
    }


def test_import_reports_ignored_columns_in_text(
    cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    path = write_file("members.csv", "email,phone\nalice@example.com,123\n")
    lines = cli("member", "import", "design", str(path)).stdout.splitlines()
    assert lines[-1] == "Ignored columns: phone."


def test_import_twice_changes_nothing(cli: GatewayCli, write_file: Callable[..., Path]) -> None:
    path = write_file(
        "members.csv",
        HEADER + "alice@example.com,Alice,moderator,daily\nbob@example.com,Bob,,\n",
    )
    import_json(cli, path)
    before = members(cli)
    result = cli("member", "import", "design", str(path))
    assert result.stdout.strip() == f"{path}: 0 members added, 0 updated, 2 unchanged."
    assert members(cli) == before


def test_import_counts_a_changed_row_as_updated(
    cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    first = write_file("first.csv", HEADER + "alice@example.com,Alice,,\nbob@example.com,Bob,,\n")
    import_json(cli, first)
    second = write_file(
        "second.csv",
        HEADER + "alice@example.com,Alice,owner,\nbob@example.com,Bob,,\ncarol@example.com,,,\n",
    )
    report = import_json(cli, second)
    assert (report["added"], report["updated"], report["unchanged"]) == (1, 1, 1)
    found = members(cli)
    assert summary(found["alice@example.com"]) == ("owner", "instant")
    assert summary(found["bob@example.com"]) == ("member", "instant")


def test_import_empty_role_and_delivery_cells_keep_the_current_values(
    cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    cli("member", "add", "design", "alice@example.com", "--role", "owner", "--delivery", "weekly")
    path = write_file("members.csv", HEADER + "alice@example.com,,,\n")
    report = import_json(cli, path)
    assert (report["added"], report["updated"], report["unchanged"]) == (0, 0, 1)
    assert summary(members(cli)["alice@example.com"]) == ("owner", "weekly")


def test_import_with_bad_rows_lists_each_and_imports_nothing(
    cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    path = write_file(
        "members.csv",
        HEADER
        + "ok@example.com,Ok,,\n"  # line 2
        + "bad@,Bad,,\n"  # line 3
        + "dup@example.com,,,\n"  # line 4
        + "x@example.com,,boss,\n"  # line 5
        + "DUP@example.com,,,\n",  # line 6
    )
    result = cli("member", "import", "design", str(path), expect=1)
    errors = result.stderr
    assert f"{path} line 3:" in errors and "'bad@'" in errors
    assert f"{path} line 5:" in errors and "'boss'" in errors
    assert f"{path} line 6:" in errors and "line 4" in errors
    assert f"{path} line 2" not in errors
    assert f"{path} line 4:" not in errors
    assert "nothing was imported" in errors
    assert members(cli) == {}
    assert "ok@example.com" in cli.error("profile", "show", "ok@example.com")


def test_import_with_one_bad_row_leaves_existing_members_alone(
    cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    cli("member", "add", "design", "alice@example.com")
    path = write_file(
        "members.csv", HEADER + "alice@example.com,,owner,\nbob@example.com,,,hourly\n"
    )
    error = cli.error("member", "import", "design", str(path))
    assert "line 3" in error
    assert "'hourly'" in error
    assert "nothing was imported" in error
    found = members(cli)
    assert list(found) == ["alice@example.com"]
    assert summary(found["alice@example.com"]) == ("member", "instant")


def test_import_of_a_missing_file_fails(cli: GatewayCli, tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    error = cli.error("member", "import", "design", str(missing))
    assert str(missing) in error
    assert "no such file" in error


def test_import_of_a_file_without_an_email_column_fails(
    cli: GatewayCli, write_file: Callable[..., Path]
) -> None:
    path = write_file("members.csv", "name,role\nAlice,owner\n")
    error = cli.error("member", "import", "design", str(path))
    assert str(path) in error
    assert "'email'" in error
    assert members(cli) == {}
