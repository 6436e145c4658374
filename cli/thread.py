"""`gateway thread`: the threads of a community, one thread as a tree, and its answer."""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli import numbers
from cli.output import emit_json
from cli.output import emit_table
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.community.communities import get_community
from gateway.engagement import answers
from gateway.errors import NotFound
from gateway.mail.parse import extract_message_ids
from gateway.store.models import Message
from gateway.store.models import Person
from gateway.store.models import Thread
from gateway.store.models import ThreadAnswer
from gateway.store.models import utcnow
from gateway.threads import tree as thread_tree


@click.group()
def thread() -> None:
    """Read the threads of a community; choose a thread's answer."""


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
        details["answer"] = _describe_answer(session, thread_id)
    if as_json:
        emit_json(details)
        return
    click.echo(f"Thread {details['id']}: {details['subject']}")
    click.echo(f"Communities: {', '.join(details['communities'])}")
    answer = details["answer"]
    if answer is not None:
        by = f", chosen by {answer['chosen_by']}" if answer["chosen_by"] else ""
        click.echo(f"Answer: <{answer['message_id']}> from {answer['from']}{by}")
    stack: list[tuple[int, dict[str, Any]]] = [(0, node) for node in reversed(details["tree"])]
    while stack:
        depth, node = stack.pop()
        marker = "" if node["status"] == "published" else f" [{node['status']}]"
        if answer is not None and node["message_id"] == answer["message_id"]:
            marker += " [answer]"
        click.echo(f"{'  ' * depth}- {node['from']}  {node['date'] or node['received_at']}"
                   f"  <{node['message_id']}>{marker}")  # fmt: skip
        for attachment in node["attachments"]:
            click.echo(f"{'  ' * depth}    attachment: {attachment['filename']} "
                       f"({attachment['content_type']}, {attachment['size']} bytes)")  # fmt: skip
        stack.extend((depth + 1, child) for child in reversed(node["replies"]))


@thread.command()
@click.argument("thread_id", metavar="ID", type=numbers.ID)
@click.argument("message_id", metavar="MESSAGE_ID", required=False)
@click.option("--clear", is_flag=True, help="Take the thread's answer away.")
@pass_state
def answer(state: CliState, thread_id: int, message_id: str | None, clear: bool) -> None:
    """Accept the reply MESSAGE_ID (its Message-ID, as `thread show` prints it) as the
    answer to thread ID, in place of any earlier one; or --clear it."""
    if clear == (message_id is not None):
        raise click.UsageError("give either MESSAGE_ID or --clear")
    with state.transaction() as session:
        if clear:
            cleared = answers.clear_answer(session, thread_id)
            click.echo(
                f"Thread {thread_id} has no answer now."
                if cleared
                else f"Thread {thread_id} had no answer: nothing changed."
            )
            return
        assert message_id is not None
        # As ingest reads a Message-ID header: "<id>", "id", with or without spaces.
        normalized = next(iter(extract_message_ids(message_id)), message_id.strip())
        found = session.scalar(select(Message).where(Message.message_id == normalized))
        if session.get(Thread, thread_id) is None:
            raise NotFound(f"no thread {thread_id} (see `gateway thread list SLUG`)")
        if found is None:
            raise NotFound(f"no message <{normalized}> (see `gateway thread show {thread_id}`)")
        changed = answers.accept_answer(session, thread_id, found.id, None, utcnow())
    click.echo(
        f"<{normalized}> is now the answer to thread {thread_id}."
        if changed
        else f"<{normalized}> was already the answer to thread {thread_id}: nothing changed."
    )


def _describe_answer(session: Session, thread_id: int) -> dict[str, Any] | None:
    chosen = session.get(ThreadAnswer, thread_id)
    if chosen is None:
        return None
    message = session.get(Message, chosen.message_id)
    by = session.get(Person, chosen.answered_by_id) if chosen.answered_by_id else None
    return {
        "message_id": message.message_id if message is not None else None,
        "from": message.sender_address if message is not None else None,
        "chosen_by": by.address if by is not None else None,
        "chosen_at": chosen.answered_at.isoformat(),
    }
