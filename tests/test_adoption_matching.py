"""gateway.adoption.experts and .suggest, and their commands: rankings and suggestions
on the crafted network of tests/adoption_network.py, whose answers are known."""

from __future__ import annotations

import pytest

from gateway.adoption.experts import find_experts
from gateway.adoption.suggest import suggest_for
from gateway.app import App
from gateway.store.db import transaction
from tests import adoption_network as net
from tests.conftest import GatewayCli


@pytest.fixture
def network(app: App) -> App:
    net.build(app)
    net.send(lambda post, raw: net.ingest(app, post, raw))
    return app


def ranking(app: App, query: str) -> list[tuple[str, float]]:
    with transaction(app.read_sessions) as session:
        return [(e.address.split("@")[0], e.score) for e in find_experts(session, query)]


def test_experts_rank_stated_tags_then_answers(network: App) -> None:
    # alice: stated expertise (10) and two threads started on it; carol: a stated
    # interest (4) and two answers in such threads; bob: one answer.
    assert ranking(network, "accessibility") == [("alice", 12), ("carol", 10), ("bob", 3)]
    # Design is about typography: its answers count a little, stated tags much more.
    assert ranking(network, "Typography") == [("alice", 10), ("bob", 5), ("carol", 1)]
    # No one states it: the one who answered ranks before the one who asked.
    assert ranking(network, "rotate keys") == [("bob", 6.5), ("alice", 2.5)]
    assert ranking(network, "gardening") == []


def test_experts_say_why(network: App, gateway_cli: GatewayCli) -> None:
    found = gateway_cli.json("experts", "accessibility")
    assert [e["email"] for e in found] == [
        "alice@example.com", "carol@example.com", "bob@example.com"
    ]  # fmt: skip
    assert found[0]["reasons"][0] == {"kind": "expertise", "label": "Accessibility"}
    assert {"kind": "answers", "count": 2, "community": "design", "community_name": "Design"} in (
        found[1]["reasons"]
    )
    text = gateway_cli("experts", "accessibility").stdout
    assert "stated expertise: Accessibility" in text
    assert "2 answers on it in Design" in text
    assert "empty" in gateway_cli.error("experts", "?!")


def suggested(app: App, address: str) -> list[tuple[str, list[str]]]:
    with transaction(app.read_sessions) as session:
        return [
            (s.slug, [f"{r.kind}:{r.label}" for r in s.reasons])
            for s in suggest_for(session, address)
        ]


def test_suggestions_follow_interests_expertise_and_department(network: App) -> None:
    assert suggested(network, "carol@example.com") == [("a11y", ["interest:Accessibility"])]
    assert suggested(network, "alice@example.com") == [("a11y", ["expertise:Accessibility"])]
    # erin's department names one community and has a colleague in two more; the
    # private finance community (which matches her expertise) is never suggested.
    assert suggested(network, "erin@example.com") == [
        ("it-team", ["department:IT"]),
        ("design", ["department:IT"]),
        ("security", ["department:IT"]),
    ]
    assert suggested(network, "dave@example.com") == []


def test_the_suggest_command(network: App, gateway_cli: GatewayCli) -> None:
    [a11y] = gateway_cli.json("suggest", "carol@example.com")
    assert a11y["join"] == f"a11y-join@{net.DOMAIN}"
    assert a11y["join_link"] == f"mailto:a11y-join@{net.DOMAIN}?subject=join"
    assert a11y["reasons"] == [{"kind": "interest", "label": "Accessibility"}]
    assert "your interest: Accessibility" in gateway_cli("suggest", "carol@example.com").stdout
    assert "fill in" in gateway_cli("suggest", "dave@example.com").stdout
    assert "no one" in gateway_cli.error("suggest", "zed@example.com")


def test_experts_match_stated_tags_by_words_and_folded_forms(
    app: App, gateway_cli: GatewayCli
) -> None:
    gateway_cli("profile", "set", "hana@example.com", "--expertise", "HDS certification")
    gateway_cli("profile", "set", "ines@example.com", "--expertise", "Sécurité, Party planning")
    gateway_cli("profile", "set", "jo@example.com", "--interests", "Penetration testing")
    assert ranking(app, "HDS") == [("hana", 10)]
    assert ranking(app, "securite") == [("ines", 10)]
    assert ranking(app, "testing") == [("jo", 4)]
    assert ranking(app, "web security: HDS certification audit") == [("hana", 10)]
    assert ranking(app, "art") == []  # "party" is not a hit for "art"
    [found] = gateway_cli.json("experts", "SÉCURITÉ")
    assert found["reasons"] == [{"kind": "expertise", "label": "Sécurité"}]
