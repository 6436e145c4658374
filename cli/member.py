"""`gateway member`: add, remove, change and list the members of a community."""

from __future__ import annotations

from pathlib import Path

import click

from cli.output import emit_json
from cli.output import emit_table
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.community import members
from gateway.community.communities import get_community
from gateway.community.csvfiles import ImportReport
from gateway.store.models import DeliveryMode
from gateway.store.models import Role

ROLE = click.Choice([role.value for role in Role])
DELIVERY = click.Choice([mode.value for mode in DeliveryMode])


@click.group()
def member() -> None:
    """Manage the members of a community."""


@member.command()
@click.argument("slug")
@click.argument("emails", nargs=-1, required=True)
@click.option("--role", type=ROLE, default=Role.MEMBER.value, show_default=True)
@click.option("--delivery", type=DELIVERY, help="[default: the community's default delivery]")
@pass_state
def add(
    state: CliState, slug: str, emails: tuple[str, ...], role: str, delivery: str | None
) -> None:
    """Add people to a community; if one cannot be added, none is."""
    with state.transaction() as session:
        community = get_community(session, slug)
        added = members.add_members(
            session,
            community,
            list(emails),
            role=Role(role),
            delivery=DeliveryMode(delivery) if delivery else None,
            allowed_domains=state.settings.gateway.allowed_domains,
        )
        lines = [
            f"Added {m.person.address} to {slug} ({m.role.value}, {m.delivery.value})."
            for m in added
        ]
    click.echo("\n".join(lines))


@member.command()
@click.argument("slug")
@click.argument("emails", nargs=-1, required=True)
@pass_state
def remove(state: CliState, slug: str, emails: tuple[str, ...]) -> None:
    """Remove people from a community (their posts stay); all or none."""
    with state.transaction() as session:
        community = get_community(session, slug)
        removed = members.remove_members(session, community, list(emails))
    click.echo("\n".join(f"Removed {address} from {slug}." for address in removed))


@member.command("set")
@click.argument("slug")
@click.argument("email")
@click.option("--role", type=ROLE)
@click.option("--delivery", type=DELIVERY)
@click.option("--own-posts/--no-own-posts", default=None, help="Also receive one's own posts.")
@click.option("--enable", is_flag=True, help="Start mail again after bounces stopped it.")
@pass_state
def set_(
    state: CliState,
    slug: str,
    email: str,
    role: str | None,
    delivery: str | None,
    own_posts: bool | None,
    enable: bool,
) -> None:
    """Change a member's role or delivery, or start their mail again."""
    changes = members.MemberChanges(
        role=Role(role) if role else None,
        delivery=DeliveryMode(delivery) if delivery else None,
        own_posts=own_posts,
        enable=enable,
    )
    if changes == members.MemberChanges():
        raise click.UsageError(
            "nothing to change: give --role, --delivery, --own-posts or --enable"
        )
    with state.transaction() as session:
        community = get_community(session, slug)
        changed = members.set_member(session, community, email, changes)
        line = (
            f"{changed.person.address} in {slug}: {changed.role.value}, {changed.delivery.value}."
        )
    click.echo(line)


@member.command("list")
@click.argument("slug")
@click.option("--role", type=ROLE, help="Only members with this role.")
@click.option("--delivery", type=DELIVERY, help="Only members with this delivery.")
@json_option
@pass_state
def list_(
    state: CliState, slug: str, role: str | None, delivery: str | None, as_json: bool
) -> None:
    """List the members of a community."""
    with state.transaction() as session:
        community = get_community(session, slug)
        rows = [
            members.describe_membership(m)
            for m in members.list_members(
                session,
                community,
                role=Role(role) if role else None,
                delivery=DeliveryMode(delivery) if delivery else None,
            )
        ]
    if as_json:
        emit_json(rows)
        return
    emit_table(
        rows,
        [
            ("EMAIL", "email"),
            ("NAME", "name"),
            ("ROLE", "role"),
            ("DELIVERY", "delivery"),
            ("BOUNCES", "bounce_score"),
            ("STATE", "state"),
            ("JOINED", "joined_at"),
        ],
        empty=f"No members in {slug}" + (" with these filters." if role or delivery else "."),
    )


@member.command("import")
@click.argument("slug")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@json_option
@pass_state
def import_(state: CliState, slug: str, file: Path, as_json: bool) -> None:
    """Add or update members from a CSV file with columns email, name, role, delivery.

    Only email is required. Re-running the same file changes nothing. If any row
    is bad, every bad row is listed with its line number and nothing is imported.
    """
    with state.transaction() as session:
        community = get_community(session, slug)
        report = members.import_members(
            session, community, file, state.settings.gateway.allowed_domains
        )
    print_report(report, as_json, what="members")


def print_report(report: ImportReport, as_json: bool, what: str) -> None:
    if as_json:
        emit_json(report.as_dict())
        return
    click.echo(
        f"{report.path}: {report.added} {what} added, {report.updated} updated, "
        f"{report.unchanged} unchanged."
    )
    if report.ignored_columns:
        click.echo(f"Ignored columns: {', '.join(report.ignored_columns)}.")
