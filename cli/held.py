"""`gateway held`: the posts waiting for a moderator, approved or rejected from the shell."""

from __future__ import annotations

import click

from cli import numbers
from cli.output import emit_json
from cli.output import emit_table
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.community import held as held_posts
from gateway.store.models import utcnow


@click.group()
def held() -> None:
    """List, approve and reject held posts."""


@held.command("list")
@json_option
@pass_state
def list_(state: CliState, as_json: bool) -> None:
    """The held posts, oldest first."""
    with state.read_transaction() as session:
        rows = [held_posts.describe_held(session, m) for m in held_posts.held_messages(session)]
    if as_json:
        emit_json(rows)
        return
    emit_table(
        [{**row, "why": why(row["reasons"])} for row in rows],
        [
            ("ID", "id"),
            ("RECEIVED", "received_at"),
            ("FROM", "from"),
            ("COMMUNITIES (WHY)", "why"),
            ("SUBJECT", "subject"),
        ],
        "No post is held.",
    )


def why(reasons: dict[str, list[str]]) -> str:
    """design (not-member), ux (moderated): each community where the post waits, and why
    (a cross-post's communities that published it are in published_in)."""
    return ", ".join(
        f"{slug} ({', '.join(keys)})" if keys else slug for slug, keys in reasons.items()
    )


@held.command()
@click.argument("ids", nargs=-1, required=True, type=numbers.ID)
@pass_state
def approve(state: CliState, ids: tuple[int, ...]) -> None:
    """Publish held posts and deliver them as if they had just arrived; all or none."""
    now = utcnow()
    with state.transaction() as session:
        lines = []
        for message in held_posts.get_held(session, ids):
            queued = held_posts.approve(session, message, now)
            lines.append(f"Approved {message.id} ({message.subject!r}); copies queued: {queued}.")
    click.echo("\n".join(lines))


@held.command()
@click.argument("ids", nargs=-1, required=True, type=numbers.ID)
@click.option("--reason", default="", help="Told to the author.")
@pass_state
def reject(state: CliState, ids: tuple[int, ...], reason: str) -> None:
    """Reject held posts and tell their authors why; all or none."""
    now = utcnow()
    app = state.app
    with state.transaction() as session:
        lines = []
        for message in held_posts.get_held(session, ids):
            held_posts.reject(session, app.templates, app.settings, message, reason, now)
            lines.append(f"Rejected {message.id} ({message.subject!r}); its author is told.")
    click.echo("\n".join(lines))
