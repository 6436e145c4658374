"""The README and docs/ against the code: the configuration table, the command
reference, the paths and links they name, and the quick start's sample CSV."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest

from cli.main import COMMANDS
from cli.main import GatewayGroup
from cli.main import main
from gateway.community.members import MEMBER_COLUMNS
from gateway.community.people import PROFILE_COLUMNS
from gateway.settings import SECTIONS
from tests.conftest import GatewayCli

PROJECT = Path(__file__).resolve().parent.parent
README = PROJECT / "README.md"
PAGES = [README, *sorted((PROJECT / "docs").glob("*.md"))]
SAMPLE_CSV = PROJECT / "docs" / "examples" / "team.csv"
TOP_FOLDERS = ("gateway/", "archive/", "cli/", "templates/", "tests/", "bench/", "docs/")


def prose(page: Path) -> str:
    """A page without its code blocks, whose backticks would pair with the text's."""
    return re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)


def section(text: str, heading: str) -> str:
    """The text under a `## heading`, up to the next heading of that level."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def table_rows(text: str) -> list[list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


def code_spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def documented_defaults() -> dict[tuple[str, str], Any]:
    """(section, key) -> default, as the README's configuration table gives them."""
    defaults: dict[tuple[str, str], Any] = {}
    for key_cell, default_cell, _meaning in table_rows(section(prose(README), "Configuration")):
        first, *others = code_spans(key_cell)
        match = re.fullmatch(r"\[(\w+)\] (\w+)", first)
        assert match, key_cell
        keys = [match[2], *others]
        values = code_spans(default_cell)
        assert len(values) == len(keys), key_cell
        for key, value in zip(keys, values, strict=True):
            defaults[(match[1], key)] = tomllib.loads(f"value = {value}")["value"]
    return defaults


def as_toml(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def test_the_configuration_table_has_every_key_with_its_default() -> None:
    in_code = {
        (name, item.name): as_toml(getattr(section_class(), item.name))
        for name, section_class in SECTIONS.items()
        for item in dataclasses.fields(section_class)
    }
    assert documented_defaults() == in_code


def every_command() -> list[tuple[str, click.Command]]:
    """("community create", command) for every command the `gateway` group runs."""
    group = main
    assert isinstance(group, GatewayGroup)
    commands: list[tuple[str, click.Command]] = []
    context = click.Context(group)
    for name in COMMANDS:
        command = group.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            commands += [(f"{name} {sub}", command.commands[sub]) for sub in command.commands]
        else:
            commands.append((name, command))
    return commands


def test_the_command_reference_names_every_command_and_option() -> None:
    reference = section(prose(README), "Command reference")
    rows = [cells[0] for cells in table_rows(reference)]
    for name, command in every_command():
        noun, _, verb = name.partition(" ")
        described = " ".join(
            row
            for row in rows
            if row.startswith(f"`gateway {noun}") and (not verb or re.search(rf"\b{verb}\b", row))
        )
        assert described, f"`gateway {name}` is missing from the command reference"
        for option in command.params:
            if not isinstance(option, click.Option) or option.name == "help":
                continue
            names = [*option.opts, *option.secondary_opts]
            assert any(flag in described for flag in names), f"gateway {name} {names[0]}"


def test_the_command_reference_names_every_csv_header_the_importers_accept() -> None:
    spans = set(code_spans(section(prose(README), "Command reference")))
    for columns in (MEMBER_COLUMNS, PROFILE_COLUMNS):
        for names in columns.values():
            assert set(names) <= spans, names


def relative_links(page: Path) -> list[str]:
    text = prose(page)
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    return [link for link in links if not re.match(r"[a-z]+:", link)]


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings."""
    text = prose(page)
    headings = re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    for link in relative_links(page):
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.name}: {link}"
        if anchor:
            assert anchor in anchors(path), f"{page.name}: {link}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_path_named_in_the_text_exists(page: Path) -> None:
    for span in code_spans(prose(page)):
        path = span.replace("<lang>", "en")
        if not path.startswith(TOP_FOLDERS) or re.search(r"[<>*\s]", path):
            continue
        assert (PROJECT / path).exists(), f"{page.name}: `{span}`"


def test_the_docs_pages_are_all_linked_from_the_readme() -> None:
    linked = {link.split("#")[0] for link in relative_links(README)}
    for page in PAGES[1:]:
        assert f"docs/{page.name}" in linked, page.name


def test_the_quick_start_imports_the_sample_csv_as_it_is(gateway_cli: GatewayCli) -> None:
    gateway_cli("community", "create", "design", "--name", "Design")
    report = gateway_cli.json("member", "import", "design", str(SAMPLE_CSV))
    assert (report["added"], report["ignored_columns"]) == (3, [])
    members = gateway_cli.json("member", "list", "design")
    assert {(m["email"], m["role"], m["delivery"]) for m in members} == {
        ("carol@example.com", "moderator", "instant"),
        ("dan@example.com", "member", "daily"),
        ("erin@example.com", "member", "weekly"),
    }
    assert "docs/examples/team.csv" in section(README.read_text(), "Quick start")
