"""`gateway suggest`: communities a person is not in that match their profile."""

from __future__ import annotations

from typing import Any

import click

from cli import numbers
from cli.output import emit_json
from cli.output import emit_table
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.adoption.suggest import LIMIT
from gateway.adoption.suggest import describe_suggestion
from gateway.adoption.suggest import suggest_for


def why(reasons: list[dict[str, Any]]) -> str:
    parts = []
    for reason in reasons:
        if reason["kind"] == "department":
            count = reason["count"]
            colleagues = f"{count} colleague{'' if count == 1 else 's'}"
            parts.append(f"department {reason['label']} ({colleagues} in it)")
        else:
            parts.append(f"your {reason['kind']}: {reason['label']}")
    return "; ".join(parts)


@click.command()
@click.argument("email")
@click.option(
    "--limit", type=numbers.LIMIT, default=LIMIT, show_default=True, help="How many communities."
)
@json_option
@pass_state
def suggest(state: CliState, email: str, limit: int, as_json: bool) -> None:
    """Communities EMAIL is not in that match their interests, expertise and department."""
    domain = state.settings.gateway.domain
    with state.read_transaction() as session:
        found = [describe_suggestion(s, domain) for s in suggest_for(session, email, limit)]
    if as_json:
        emit_json(found)
        return
    emit_table(
        [{**s, "why": why(s["reasons"])} for s in found],
        [("COMMUNITY", "slug"), ("NAME", "name"), ("JOIN", "join"), ("WHY", "why")],
        empty="No community to suggest: fill in the profile's interests and expertise.",
    )
