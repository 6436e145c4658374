"""`gateway stats`: participation figures per community and overall, for the sponsors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from cli.output import emit_json
from cli.output import emit_table
from cli.output import json_option
from cli.state import CliState
from cli.state import pass_state
from gateway.adoption.stats import compute_stats
from gateway.adoption.stats import describe_stats
from gateway.community.communities import get_community

# The engagement columns, told apart (an admin reads ACCEPTED and SOLVED side by side).
LEGEND = (
    "ANSWERED: questions with a reply / questions. ACCEPTED: answers accepted (replies\n"
    "chosen as their thread's answer). SOLVED: questions solved (with an accepted answer)\n"
    "/ questions. REACTIONS: reactions on the posts. THANKS: thanks received, the reactions\n"
    "by someone else than the post's author."
)


def parse_since(value: str | None) -> dt.datetime | None:
    """A date (midnight UTC) or an ISO time with its offset."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date such as 2026-09-01", param_hint="'--since'"
        ) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


@click.command()
@click.option("--community", "slug", metavar="SLUG", help="Only this community.")
@click.option("--since", metavar="DATE", help="Start of the window [default: 90 days ago].")
@json_option
@pass_state
def stats(state: CliState, slug: str | None, since: str | None, as_json: bool) -> None:
    """Members, posters, posts, replies, questions, accepted answers, reactions,
    departments, delivery and profiles: per community and overall, for the window
    from --since to now."""
    start = parse_since(since)
    with state.read_transaction() as session:
        if slug is not None:
            slug = get_community(session, slug).slug
        figures = compute_stats(session, start, slugs=None if slug is None else [slug])
    data = describe_stats(figures)
    if as_json:
        emit_json(data)
        return
    click.echo(f"From {data['since'][:10]} to {data['until'][:10]}")
    rows = [_row(c["slug"], c) for c in data["communities"]]
    if slug is None:
        rows.append(_row("(all)", data["overall"]))
    emit_table(
        rows,
        [
            ("COMMUNITY", "slug"),
            ("MEMBERS", "members"),
            ("NEW", "new_members"),
            ("POSTERS", "posters"),
            ("READERS", "readers_only"),
            ("POSTS", "posts"),
            ("THREADS", "threads"),
            ("REPLIED", "reply_rate"),
            ("1ST REPLY", "median"),
            ("ANSWERED", "answered"),
            ("ACCEPTED", "accepted_answers"),
            ("SOLVED", "solved"),
            ("REACTIONS", "reactions"),
            ("THANKS", "thanks_received"),
            ("IMPORTED", "imported_posts"),
            ("PROFILES", "profiles"),
            ("BOUNCES", "bounces"),
        ],
        empty="No community yet.",
    )
    click.echo(LEGEND)
    if slug is not None:
        figures_shown = data["communities"][0]
        top = ", ".join(
            f"{c['name'] or c['email']} ({c['posts']})" for c in figures_shown["top_contributors"]
        )
        click.echo(f"Top contributors: {top or '-'}")
        departments = ", ".join(
            f"{name or '?'} ({count})"
            for name, count in figures_shown["posts_by_department"].items()
        )
        click.echo(f"Posts by department: {departments or '-'}")
        modes = ", ".join(f"{mode} {count}" for mode, count in figures_shown["delivery"].items())
        click.echo(f"Delivery: {modes}")
    shown = data["overall"] if slug is None else data["communities"][0]
    answerers = ", ".join(
        f"{a['name'] or a['email']} ({a['accepted_answers']})" for a in shown["top_answerers"]
    )
    click.echo(f"Top answerers (accepted answers): {answerers or '-'}")


def _row(slug: str, figures: dict[str, Any]) -> dict[str, Any]:
    median = figures["median_first_reply_hours"]
    return {
        **figures,
        "slug": slug,
        "reply_rate": _percent(figures["reply_rate"]),
        "median": "-" if median is None else f"{median:g} h",
        "answered": f"{figures['questions_answered']}/{figures['questions']}",
        "solved": f"{figures['questions_accepted']}/{figures['questions']}",
        "profiles": _percent(figures["profiles_share"]),
        "bounces": _percent(figures["bounce_rate"]),
    }
