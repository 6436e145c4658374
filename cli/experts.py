"""`gateway experts`: who can help on a topic, and why."""

from __future__ import annotations

from typing import Any

import click

from cli import numbers
from cli.output import emit_json
from cli.output import emit_table
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.adoption.experts import LIMIT
from gateway.adoption.experts import describe_expert
from gateway.adoption.experts import find_experts


def why(reasons: list[dict[str, Any]]) -> str:
    """The reasons in words, for people (--json keeps them structured)."""
    parts = []
    for reason in reasons:
        kind = reason["kind"]
        where = reason.get("community_name", "")
        if kind == "accepted":
            parts.append(f"{_count(reason['count'], 'accepted answer')} on {reason['topic']}")
        elif kind in ("expertise", "interest"):
            parts.append(f"stated {kind}: {reason['label']}")
        elif kind == "answers":
            parts.append(f"{_count(reason['count'], 'answer')} on it in {where}")
        elif kind == "threads":
            parts.append(f"{_count(reason['count'], 'thread')} started on it in {where}")
        else:
            parts.append(f"{_count(reason['count'], 'answer')} in community {where}")
    return "; ".join(parts)


def _count(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@click.command()
@click.argument("query")
@click.option(
    "--limit", type=numbers.LIMIT, default=LIMIT, show_default=True, help="How many people to list."
)
@json_option
@pass_state
def experts(state: CliState, query: str, limit: int, as_json: bool) -> None:
    """Rank the people who can help on QUERY: those whose answers on it were accepted
    first, then stated expertise and interests, and what they wrote and answered about it."""
    with state.read_transaction() as session:
        found = [describe_expert(e) for e in find_experts(session, query, limit)]
    if as_json:
        emit_json(found)
        return
    rows = [{**e, "why": why(e["reasons"])} for e in found]
    emit_table(
        rows,
        [("EMAIL", "email"), ("NAME", "name"), ("SCORE", "score"), ("WHY", "why")],
        empty=f"Nobody is known to help on {query!r} yet.",
    )
