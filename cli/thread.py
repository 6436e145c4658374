"""`gateway thread`: the threads of a community, and one thread as a tree."""

from __future__ import annotations

from typing import Any

import click

from cli import numbers
from cli.output import emit_json
from cli.output import emit_table
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.community.communities import get_community
from gateway.errors import NotFound
from gateway.store.models import Thread
from gateway.threads import tree as thread_tree


@click.group()
def thread() -> None:
    """Read the threads of a community."""


@thread.command("list")
@click.argument("slug")
@click.option("--limit", type=numbers.LIMIT, help="Only the N most recently active.")
@json_option
@pass_state
def list_(state: CliState, slug: str, limit: int | None, as_json: bool) -> None:
    """The threads of a community, most recently active first."""
    with state.read_transaction() as session:
        community = get_community(session, slug)
        found = thread_tree.community_threads(session, community.id, limit)
        roots = thread_tree.root_ids(session, [t.id for t in found])
        rows = [thread_tree.describe_thread_summary(t, roots.get(t.id)) for t in found]
    if as_json:
        emit_json(rows)
        return
    emit_table(
        rows,
        [
            ("ID", "id"),
            ("MESSAGES", "messages"),
            ("LAST ACTIVITY", "last_activity_at"),
            ("SUBJECT", "subject"),
        ],  # fmt: skip
        empty=f"No threads in {slug} yet.",
    )


@thread.command()
@click.argument("thread_id", metavar="ID", type=numbers.ID)
@json_option
@pass_state
def show(state: CliState, thread_id: int, as_json: bool) -> None:
    """One thread: its messages as a tree, with their attachments."""
    with state.read_transaction() as session:
        found = session.get(Thread, thread_id)
        if found is None:
            raise NotFound(f"no thread {thread_id} (see `gateway thread list SLUG`)")
        details = thread_tree.describe_thread(session, found)
    if as_json:
        emit_json(details)
        return
    click.echo(f"Thread {details['id']}: {details['subject']}")
    click.echo(f"Communities: {', '.join(details['communities'])}")
    stack: list[tuple[int, dict[str, Any]]] = [(0, node) for node in reversed(details["tree"])]
    while stack:
        depth, node = stack.pop()
        marker = "" if node["status"] == "published" else f" [{node['status']}]"
        click.echo(f"{'  ' * depth}- {node['from']}  {node['date'] or node['received_at']}"
                   f"  <{node['message_id']}>{marker}")  # fmt: skip
        for attachment in node["attachments"]:
            click.echo(f"{'  ' * depth}    attachment: {attachment['filename']} "
                       f"({attachment['content_type']}, {attachment['size']} bytes)")  # fmt: skip
        stack.extend((depth + 1, child) for child in reversed(node["replies"]))
