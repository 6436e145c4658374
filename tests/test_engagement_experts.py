"""`gateway experts` with accepted answers: people whose replies were accepted on a
topic rank above those who only state it, and the answer says why (crafted network
of tests/adoption_network.py with tests/engagement_network.py's rows)."""

from __future__ import annotations

import pytest

from gateway.adoption.experts import find_experts
from gateway.app import App
from gateway.community.people import ProfileChanges
from gateway.community.people import set_profile
from gateway.store.db import transaction
from tests import adoption_network as net
from tests import engagement_network as engagement
from tests.conftest import GatewayCli


@pytest.fixture
def network(app: App) -> App:
    net.build(app)
    net.send(lambda post, raw: net.ingest(app, post, raw))
    engagement.seed(app)
    return app


def ranking(app: App, query: str) -> list[tuple[str, float]]:
    with transaction(app.read_sessions) as session:
        return [(e.address.split("@")[0], e.score) for e in find_experts(session, query)]


def test_accepted_answers_rank_first(network: App) -> None:
    # carol: a stated interest (4), two answers (6) and one accepted (12); bob: one
    # answer (3) accepted (12); alice states it as her expertise and started two threads.
    assert ranking(network, "accessibility") == [("carol", 22), ("bob", 15), ("alice", 12)]
    assert ranking(network, "rotate keys") == [("bob", 18.5), ("alice", 2.5)]
    # alice accepted her own answer on TLS: it counts as a reply (3, and half a point
    # in Security, a community about certificates), not as an accepted answer.
    assert ranking(network, "TLS certificates") == [("alice", 3.5), ("bob", 1.5)]
    # Nobody answered on typography: as before.
    assert ranking(network, "Typography") == [("alice", 10), ("bob", 5), ("carol", 1)]


def test_one_accepted_answer_outranks_any_stated_expertise(network: App) -> None:
    with transaction(network.sessions) as session:
        set_profile(
            session,
            "dave@example.com",
            ProfileChanges(expertise=["Contrast", "Colour contrast"], interests=["Contrast"]),
        )
    # dave states it three times (24) but bob's answer on "Colour contrast for
    # accessibility?" was accepted (12 + 3).
    assert ranking(network, "contrast") == [("bob", 15), ("dave", 24), ("carol", 3), ("alice", 1)]


def test_the_command_says_why(network: App, gateway_cli: GatewayCli) -> None:
    found = gateway_cli.json("experts", "accessibility")
    assert [e["email"] for e in found] == [
        "carol@example.com", "bob@example.com", "alice@example.com"
    ]  # fmt: skip
    assert found[0]["reasons"][0] == {"kind": "accepted", "count": 1, "topic": "accessibility"}
    assert found[2]["reasons"][0] == {"kind": "expertise", "label": "Accessibility"}
    text = gateway_cli("experts", "accessibility").stdout
    carol = next(line for line in text.splitlines() if line.startswith("carol@"))
    assert carol.endswith(
        "1 accepted answer on accessibility; stated interest: Accessibility; "
        "2 answers on it in Design"
    )
    assert "3 accepted answers" not in text
    assert "empty" in gateway_cli.error("experts", "?!")
