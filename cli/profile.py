"""`gateway profile`: people's profiles, so colleagues can find who knows what."""

from __future__ import annotations

from pathlib import Path

import click

from cli.member import print_report
from cli.output import emit_fields
from cli.output import emit_json
from cli.output import emit_table
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.community import people
from gateway.store.models import TagKind

SHOW_LABELS = [
    ("Email", "email"),
    ("Name", "name"),
    ("Department", "department"),
    ("Expertise", "expertise"),
    ("Interests", "interests"),
    ("Time zone", "timezone"),
    ("Bio", "bio"),
    ("Write to", "write_to"),
]


@click.group()
def profile() -> None:
    """Read, edit, import and search profiles."""


@profile.command("set")
@click.argument("email")
@click.option("--name")
@click.option("--expertise", help='What the person knows, comma-separated: "a, b".')
@click.option("--interests", help='What the person cares about, comma-separated: "c, d".')
@click.option("--department")
@click.option("--bio")
@click.option("--timezone", help="IANA time zone for digests, e.g. Europe/Paris.")
@click.option(
    "--write-to",
    type=click.Choice(["on", "off", "default"]),
    help='The "Write to" link on the person\'s archive page; default: [archive] show_write_to.',
)
@pass_state
def set_(
    state: CliState,
    email: str,
    name: str | None,
    expertise: str | None,
    interests: str | None,
    department: str | None,
    bio: str | None,
    timezone: str | None,
    write_to: str | None,
) -> None:
    """Create or update the profile of EMAIL; options not given are left as they are.

    A list option replaces the whole list; --expertise "" empties it.
    """
    changes = people.ProfileChanges(
        name=name,
        department=department,
        bio=bio,
        timezone=timezone,
        expertise=None if expertise is None else people.parse_tags(expertise),
        interests=None if interests is None else people.parse_tags(interests),
        write_to=write_to,
    )
    if changes == people.ProfileChanges():
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    with state.transaction() as session:
        person = people.set_profile(session, email, changes, state.settings.gateway.allowed_domains)
        address = person.address
    click.echo(f"Updated the profile of {address}.")


@profile.command()
@click.argument("email")
@json_option
@pass_state
def show(state: CliState, email: str, as_json: bool) -> None:
    """Show a profile and the person's communities."""
    with state.transaction() as session:
        details = people.describe_profile(people.get_person(session, email))
    if as_json:
        emit_json(details)
        return
    communities = [f"{c['slug']} ({c['role']}, {c['delivery']})" for c in details["communities"]]
    if details["write_to"] == "default":  # what the archive does for them now
        details["write_to"] = f"default ({'on' if state.settings.archive.show_write_to else 'off'})"
    emit_fields(details, SHOW_LABELS, extra=[("Communities", communities)])


@profile.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@pass_state
def import_(state: CliState, file: Path, as_json: bool) -> None:
    """Create or update profiles from a CSV export of the company directory.

    Columns (any order, header required): email, and any of name, department,
    expertise, interests, bio, timezone. Empty cells keep what is stored; other
    columns are ignored. If any row is bad, nothing is imported.
    """
    with state.transaction() as session:
        report = people.import_profiles(session, file, state.settings.gateway.allowed_domains)
    print_report(report, as_json, what="profiles")


@profile.command()
@click.argument("tag")
@click.option(
    "--kind",
    type=click.Choice([kind.value for kind in TagKind]),
    help="Search only expertise or only interests.",
)
@json_option
@pass_state
def find(state: CliState, tag: str, kind: str | None, as_json: bool) -> None:
    """Who lists TAG as an expertise or an interest (case and accents ignored)."""
    with state.transaction() as session:
        found = people.find_by_tag(session, tag, TagKind(kind) if kind else None)
        rows = [
            {
                **people.describe_profile(person, memberships=False),
                "matched": [matched.value for matched in kinds],
            }
            for person, kinds in found
        ]
    if as_json:
        emit_json(rows)
        return
    emit_table(
        rows,
        [
            ("EMAIL", "email"),
            ("NAME", "name"),
            ("DEPARTMENT", "department"),
            ("MATCHED", "matched"),
        ],
        empty=f"No one lists {tag!r} yet.",
    )
