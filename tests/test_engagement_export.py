"""`gateway export json` carries reactions and accepted answers, and `gateway import
json` restores them: idempotent, an older export still imports, and entries it cannot
place are counted and kept for a second run (crafted network of
tests/adoption_network.py with tests/engagement_network.py's rows; SQLite and
PostgreSQL, and a move to a second gateway through export mbox)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select

from gateway.app import App
from gateway.store.db import transaction
from gateway.store.models import Person
from gateway.store.models import Reaction
from gateway.store.models import ThreadAnswer
from tests import adoption_network as net
from tests import engagement_network as engagement
from tests.conftest import GatewayCli


@pytest.fixture
def network(app: App) -> App:
    net.build(app)
    net.send(lambda post, raw: net.ingest(app, post, raw))
    engagement.seed(app)
    return app


def export(cli: GatewayCli, slug: str = "design") -> dict[str, Any]:
    document: dict[str, Any] = json.loads(cli("export", "json", slug).stdout)
    return document


def written(tmp_path: Path, document: dict[str, Any], name: str = "export.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def forget(app: App) -> None:
    with transaction(app.sessions) as session:
        session.execute(delete(Reaction))
        session.execute(delete(ThreadAnswer))


def counts(app: App) -> tuple[int, int]:
    with transaction(app.read_sessions) as session:
        reactions = session.scalar(select(func.count()).select_from(Reaction))
        answers = session.scalar(select(func.count()).select_from(ThreadAnswer))
    return reactions or 0, answers or 0


def at(days: int) -> str:
    return (net.NOW - days * net.DAY).isoformat()


def test_the_export_names_reactions_and_answers_by_message_id_and_address(
    network: App, gateway_cli: GatewayCli
) -> None:
    document = export(gateway_cli)
    assert set(document) >= {"messages", "reactions", "answers"}
    assert document["reactions"] == [
        {"message_id": "p2@example.com", "email": "carol@example.com", "emoji": "👍",
         "source": "rfc9078", "created_at": at(18)},
        {"message_id": "p2@example.com", "email": "alice@example.com", "emoji": "🎉",
         "source": "gmail", "created_at": at(18)},
        {"message_id": "p8@example.com", "email": "alice@example.com", "emoji": "👍",
         "source": "reply", "created_at": at(3)},
        {"message_id": "p8@example.com", "email": "bob@example.com", "emoji": "👍",
         "source": "cli", "created_at": at(3)},
    ]  # fmt: skip
    # design's threads only: p5's answer is in security.
    assert sorted(document["answers"], key=lambda a: a["answered_at"]) == [
        {"thread_message_id": "p1@example.com", "message_id": "p2@example.com",
         "answered_by": "alice@example.com", "answered_at": at(19)},
        {"thread_message_id": "p7@example.com", "message_id": "p8@example.com",
         "answered_by": "alice@example.com", "answered_at": at(4)},
        {"thread_message_id": "i1@example.com", "message_id": "i2@example.com",
         "answered_by": "alice@example.com", "answered_at": at(2)},
    ]  # fmt: skip


def test_importing_the_export_restores_them_once(
    network: App, gateway_cli: GatewayCli, tmp_path: Path
) -> None:
    first = export(gateway_cli)
    path = written(tmp_path, first)
    forget(network)
    report = gateway_cli.json("import", "json", "design", path)
    assert report == {
        "reactions": {"restored": 4, "unchanged": 0, "missing": 0, "invalid": 0},
        "answers": {"restored": 3, "unchanged": 0, "missing": 0, "invalid": 0},
    }
    assert export(gateway_cli) == first
    again = gateway_cli.json("import", "json", "design", path)
    assert again["reactions"]["unchanged"] == 4 and again["answers"]["unchanged"] == 3
    assert again["reactions"]["restored"] == again["answers"]["restored"] == 0
    assert export(gateway_cli) == first
    table = gateway_cli("import", "json", "design", path).stdout
    assert table.splitlines()[0].split() == ["KIND", "RESTORED", "UNCHANGED", "MISSING", "INVALID"]


def test_an_older_export_without_them_still_imports(
    network: App, gateway_cli: GatewayCli, tmp_path: Path
) -> None:
    older = {k: v for k, v in export(gateway_cli).items() if k not in ("reactions", "answers")}
    result = gateway_cli("import", "json", "design", written(tmp_path, older), "--json")
    assert json.loads(result.stdout)["reactions"] == {
        "restored": 0, "unchanged": 0, "missing": 0, "invalid": 0
    }  # fmt: skip
    assert "no reactions or answers" in result.stderr
    assert counts(network) == (7, 4)


def test_a_later_reaction_or_answer_replaces_the_one_there(
    network: App, gateway_cli: GatewayCli, tmp_path: Path
) -> None:
    document = export(gateway_cli)
    document["reactions"][0]["created_at"] = at(1)
    p1 = next(a for a in document["answers"] if a["thread_message_id"] == "p1@example.com")
    p1.update(message_id="p3@example.com", answered_at=at(1))  # carol's reply instead
    p7 = next(a for a in document["answers"] if a["thread_message_id"] == "p7@example.com")
    p7.update(answered_at=at(30))  # older: stays as it is
    report = gateway_cli.json("import", "json", "design", written(tmp_path, document))
    assert report["reactions"]["restored"] == 1 and report["answers"]["restored"] == 1
    after = export(gateway_cli)
    times = {(r["message_id"], r["email"], r["emoji"]): r["created_at"] for r in after["reactions"]}
    assert times[("p2@example.com", "carol@example.com", "👍")] == at(1)
    answers = {a["thread_message_id"]: a["message_id"] for a in after["answers"]}
    assert answers["p1@example.com"] == "p3@example.com"
    assert answers["p7@example.com"] == "p8@example.com"


def test_entries_it_cannot_place_are_counted_and_the_others_restored(
    network: App, gateway_cli: GatewayCli, tmp_path: Path
) -> None:
    document = export(gateway_cli)
    forget(network)
    document["reactions"][0]["emoji"] = "x" * 33
    document["reactions"][1]["created_at"] = "yesterday"
    document["reactions"][2]["email"] = "not an address"
    document["reactions"][3]["source"] = "carrier pigeon"  # unknown here: restored as imported
    document["reactions"].append({**document["reactions"][3], "message_id": "gone@example.com"})
    document["answers"][0]["thread_message_id"] = "p4@example.com"  # another thread
    path = written(tmp_path, document)
    message = gateway_cli.error("import", "json", "design", path)
    assert message == (
        "Error: 1 entry names a message design does not have: import its mbox first "
        "(`gateway import mbox`), then this file again; 4 entries are not as "
        "`gateway export json` writes them (the others are restored)"
    )
    assert counts(network) == (1, 2)
    assert [r["source"] for r in export(gateway_cli)["reactions"]] == ["import"]
    # Another community has none of these messages: all missing, nothing changed.
    report = gateway_cli("import", "json", "a11y", path, "--json", expect=1)
    assert json.loads(report.stdout)["answers"]["missing"] == 3
    assert counts(network) == (1, 2)


def test_hostile_entries_are_invalid_and_add_no_one(
    network: App, gateway_cli: GatewayCli, tmp_path: Path
) -> None:
    """Emoji that are not exactly one emoji sequence, times in the future, a thread's
    first message as its answer: each counted invalid, no person added for them."""
    document = export(gateway_cli)
    forget(network)
    good = document["reactions"][0]
    future = (dt.datetime.now(dt.UTC) + 2 * net.DAY).isoformat()
    hostile = [
        {**good, "email": f"mallory{n}@example.net", **change}
        for n, change in enumerate(
            [
                {"emoji": "\U0001f44d\U0001f44d"},  # two emoji
                {"emoji": "ok"},
                {"emoji": "<script>"},
                {"emoji": "\u200d"},  # a lone joiner
                {"emoji": ""},
                {"emoji": ["\U0001f44d"]},
                {"created_at": future},
                {"created_at": "9999-12-31T23:59:59+00:00"},
            ]
        )
    ]
    document["reactions"] = [good, *hostile]
    p7 = next(a for a in document["answers"] if a["thread_message_id"] == "p7@example.com")
    first = {**p7, "message_id": "p7@example.com", "answered_by": "mallory@example.net"}
    late = {**p7, "answered_at": future, "answered_by": "mallory-late@example.net"}
    document["answers"] = [first, late]
    before = people(network)

    report = gateway_cli("import", "json", "design", written(tmp_path, document), "--json",
                         expect=1)  # fmt: skip

    assert json.loads(report.stdout) == {
        "reactions": {"restored": 1, "unchanged": 0, "missing": 0, "invalid": 8},
        "answers": {"restored": 0, "unchanged": 0, "missing": 0, "invalid": 2},
    }
    assert counts(network) == (1, 0)
    assert people(network) == before  # no mallory


def people(app: App) -> int:
    with transaction(app.read_sessions) as session:
        return session.scalar(select(func.count()).select_from(Person)) or 0


def test_a_file_that_is_not_an_export_is_refused_whole(
    network: App, gateway_cli: GatewayCli, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\xff{ not json")
    assert "not a JSON file" in gateway_cli.error("import", "json", "design", str(garbage))
    listed = written(tmp_path, [1, 2], "list.json")  # type: ignore[arg-type]
    assert "not a file written by" in gateway_cli.error("import", "json", "design", listed)
    bad = written(tmp_path, {"reactions": {"p2": "👍"}}, "bad.json")
    assert '"reactions" is not a list' in gateway_cli.error("import", "json", "design", bad)
    assert "nope" in gateway_cli.error("import", "json", "nope", bad)
    assert counts(network) == (7, 4)


def test_a_community_moves_to_another_gateway_with_its_reactions_and_answers(
    network: App, gateway_cli: GatewayCli, tmp_path: Path
) -> None:
    mbox = tmp_path / "design.mbox"
    gateway_cli("export", "mbox", "design", "--out", str(mbox))
    first = export(gateway_cli)
    path = written(tmp_path, first)
    config = tmp_path / "second" / "gateway.toml"
    config.parent.mkdir()
    config.write_text(
        '[gateway]\ndata_dir = "data"\ndomain = "lists.example.com"\n', encoding="utf-8"
    )
    second = GatewayCli(config)
    second("db", "upgrade")
    second("community", "create", "design", "--name", "Design")
    # Before its messages are there: nothing to place, and it says what to do.
    assert "import its mbox first" in second.error("import", "json", "design", path)
    second.json("import", "mbox", "design", str(mbox), "--quiet")
    report = second.json("import", "json", "design", path)
    assert (report["reactions"]["restored"], report["answers"]["restored"]) == (4, 3)
    copy = export(second)
    assert (copy["reactions"], copy["answers"]) == (first["reactions"], first["answers"])
    stats = second.json("stats", "--since", "2020-01-01")["overall"]
    assert (stats["accepted_answers"], stats["reactions"], stats["thanks_received"]) == (3, 4, 3)
