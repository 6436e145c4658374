"""`gateway held list|approve|reject`, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.store.db import transaction
from gateway.store.models import Delivery
from gateway.store.models import utcnow
from tests.conftest import GatewayCli
from tests.factories import ingest
from tests.factories import post

DOMAIN = "lists.example.com"
ZOE = "zoe@example.com"


def held_post(
    app: App, subject: str, sender: str = "zoe@example.com", slugs: tuple[str, ...] = ("board",)
) -> None:
    message_id = f"{subject.replace(' ', '-')}@example.com"
    mail = post(subject, "Some text.\n", message_id=message_id, sender=sender, to=slugs)
    assert ingest(app, mail, slugs, sender=sender, at=utcnow()).disposition == "held"


@pytest.fixture
def cli(gateway_cli: GatewayCli, app: App) -> GatewayCli:
    """board is moderated; alice is an instant member; two posts from zoe are held."""
    gateway_cli("community", "create", "board", "--name", "Board", "--policy", "moderated")
    gateway_cli("member", "add", "board", "alice@example.com")
    held_post(app, "First plan")
    held_post(app, "Second plan")
    return gateway_cli


def kinds(app: App) -> list[tuple[str, str]]:
    with transaction(app.read_sessions) as session:
        return sorted(
            (kind, recipient)
            for kind, recipient in session.execute(select(Delivery.kind, Delivery.recipient))
        )


def test_held_list(cli: GatewayCli) -> None:
    rows = cli.json("held", "list")
    assert [(r["subject"], r["from"], r["communities"]) for r in rows] == [
        ("First plan", "zoe@example.com", ["board"]),
        ("Second plan", "zoe@example.com", ["board"]),
    ]
    assert "First plan" in cli("held", "list").stdout


def test_held_list_says_why_in_each_community(cli: GatewayCli, app: App) -> None:
    cli("community", "create", "design", "--name", "Design", "--policy", "members")
    held_post(app, "Offsite", slugs=("design", "board"))
    [row] = [r for r in cli.json("held", "list") if r["subject"] == "Offsite"]
    assert row["communities"] == ["board", "design"]
    assert row["reasons"] == {"board": ["moderated"], "design": ["not-member"]}
    [line] = [line for line in cli("held", "list").stdout.splitlines() if "Offsite" in line]
    assert "board (moderated), design (not-member)" in line


def test_a_cross_post_is_listed_where_it_waits_and_approved_there(
    cli: GatewayCli, app: App
) -> None:
    """Open to zoe, ops publishes it at once; board holds it: listed for board alone.
    alice, in both, has her copy from ops: approving in board sends her no second one."""
    cli("community", "create", "ops", "--name", "Ops", "--policy", "open")
    cli("member", "add", "ops", "alice@example.com", "olaf@example.com")
    message_id = "Budget@example.com"
    mail = post("Budget", "Figures.\n", message_id=message_id, sender=ZOE, to=("board", "ops"))
    assert ingest(app, mail, ("board", "ops"), sender=ZOE).disposition == "published"
    [row] = [r for r in cli.json("held", "list") if r["subject"] == "Budget"]
    assert (row["communities"], row["reasons"], row["published_in"]) == (
        ["board"], {"board": ["moderated"]}, ["ops"]
    )  # fmt: skip
    assert kinds(app).count(("post", "alice@example.com")) == 1  # from ops, at once
    assert ("post", "olaf@example.com") in kinds(app)
    assert "copies queued: 0." in cli("held", "approve", str(row["id"])).stdout  # she had it
    assert [r["subject"] for r in cli.json("held", "list")] == ["First plan", "Second plan"]
    assert kinds(app).count(("post", "alice@example.com")) == 1


def test_approve_publishes_and_delivers(cli: GatewayCli, app: App) -> None:
    first, _ = (row["id"] for row in cli.json("held", "list"))
    out = cli("held", "approve", str(first)).stdout
    assert "copies queued: 1." in out
    assert [r["subject"] for r in cli.json("held", "list")] == ["Second plan"]
    assert ("post", "alice@example.com") in kinds(app)
    assert "is published, not held" in cli.error("held", "approve", str(first))


def test_reject_tells_the_author(cli: GatewayCli, app: App) -> None:
    ids = [str(row["id"]) for row in cli.json("held", "list")]
    cli("held", "reject", *ids, "--reason", "Off topic")
    assert cli.json("held", "list") == []
    rejected = [r for k, r in kinds(app) if k == "action_rejected"]
    assert rejected == ["zoe@example.com", "zoe@example.com"]
    with transaction(app.read_sessions) as session:
        contents = session.scalars(
            select(Delivery.content).where(Delivery.kind == "action_rejected")
        ).all()
    assert all(content is not None and b"Off topic" in content for content in contents)


def test_unknown_ids_change_nothing(cli: GatewayCli) -> None:
    first = str(cli.json("held", "list")[0]["id"])
    assert cli.error("held", "approve", first, "999") == "Error: no message with id 999"
    assert len(cli.json("held", "list")) == 2
    cli.error("held", "reject", "abc", expect=2)
