"""gateway.engagement.standing and the engagement figures of `gateway stats`: accepted
answers and thanks received on the crafted network, with reactions and answers put in
as rows (tests/engagement_network.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from gateway.adoption import topics
from gateway.adoption.stats import compute_stats
from gateway.adoption.stats import describe_stats
from gateway.app import App
from gateway.engagement.standing import Standing
from gateway.engagement.standing import accepted_answers
from gateway.engagement.standing import standings
from gateway.engagement.standing import thanks_received
from gateway.store.db import transaction
from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import Person
from gateway.store.models import Thread
from gateway.store.models import Visibility
from tests import adoption_network as net
from tests import engagement_network as engagement
from tests.conftest import GatewayCli

SINCE = net.NOW - dt.timedelta(days=90)


@pytest.fixture
def network(app: App) -> App:
    net.build(app)
    net.send(lambda post, raw: net.ingest(app, post, raw))
    engagement.seed(app)
    return app


def by_name(app: App, found: dict[int, object]) -> dict[str, object]:
    with transaction(app.read_sessions) as session:
        names = dict(session.execute(select(Person.id, Person.address)).all())
    return {names[person_id].split("@")[0]: value for person_id, value in found.items()}


def community_ids(app: App, *slugs: str, public: bool = False) -> list[int]:
    with transaction(app.read_sessions) as session:
        query = select(Community.id)
        if public:
            query = query.where(Community.visibility == Visibility.PUBLIC)
        else:
            query = query.where(Community.slug.in_(slugs))
        return list(session.scalars(query))


def test_standings_over_the_store_the_public_communities_and_one(network: App) -> None:
    with transaction(network.read_sessions) as session:
        everywhere = standings(session)
        public = standings(session, community_ids(network, public=True))
        design = standings(session, community_ids(network, "design"))
        security = standings(session, community_ids(network, "security"))
    # bob: two answers accepted by alice, thanked by carol and alice (his own 👍 not
    # counted); carol: one answer; alice accepted her own: thanks only; erin's thanks
    # are in the private community.
    assert by_name(network, everywhere) == {
        "bob": Standing(2, 3),
        "carol": Standing(1, 0),
        "alice": Standing(0, 1),
        "erin": Standing(0, 1),
    }
    assert by_name(network, public) == {
        "bob": Standing(2, 3),
        "carol": Standing(1, 0),
        "alice": Standing(0, 1),
    }
    assert by_name(network, design) == {"bob": Standing(2, 3), "carol": Standing(1, 0)}
    assert by_name(network, security) == {"bob": Standing(1, 1), "alice": Standing(0, 1)}


def test_accepted_answers_on_a_topic(network: App) -> None:
    with transaction(network.read_sessions) as session:
        keys = accepted_answers(session, topic=topics.words("Rotate KEYS"))
        a11y = accepted_answers(session, topic=topics.words("accessibility"))
        nothing = accepted_answers(session, topic=topics.words("gardening"))
    assert by_name(network, keys) == {"bob": 1}
    assert by_name(network, a11y) == {"bob": 1, "carol": 1}
    assert nothing == {}


def test_a_topic_matches_whole_folded_words_of_the_subject(network: App) -> None:
    """Accents folded ("sécurité" counts "Sécurité réseau"), whole words only ("ai" is
    not in "Email", "key" not in "keys")."""
    with transaction(network.sessions) as session:
        ids = engagement.message_ids(network)
        session.get(
            Thread, session.get(Message, ids["p7"]).thread_id
        ).subject = "Sécurité réseau : Email keys"
    with transaction(network.read_sessions) as session:
        found = {
            query: by_name(network, accepted_answers(session, topic=topics.words(query)))
            for query in ("securite", "Sécurité réseau", "SECURITE", "ai", "key", "email")
        }
    assert found == {
        "securite": {"bob": 1},
        "Sécurité réseau": {"bob": 1},
        "SECURITE": {"bob": 1},
        "ai": {},
        "key": {},
        "email": {"bob": 1},
    }


def test_stats_and_standing_count_thanks_received_alike(network: App) -> None:
    """A thanks is a reaction by someone else than the author, by address: erin's 👍 on
    her own p9 is none, even once p9 is stored as by no person (sender_id NULL, as an
    imported post of someone who was not a person yet)."""
    with transaction(network.read_sessions) as session:
        before = describe_stats(compute_stats(session, SINCE, now=net.NOW))["overall"]
        assert before["thanks_received"] == sum(thanks_received(session).values()) == 5
    with transaction(network.sessions) as session:
        session.get(Message, engagement.message_ids(network)["p9"]).sender_id = None
    with transaction(network.read_sessions) as session:
        overall = describe_stats(compute_stats(session, SINCE, now=net.NOW))["overall"]
        standing = by_name(network, thanks_received(session))
    assert (overall["reactions"], overall["thanks_received"]) == (7, 5)  # dave's, not erin's
    assert standing == {"bob": 3, "alice": 1}  # erin's thanks from dave: no one's here


ENGAGEMENT = (
    "accepted_answers",
    "questions",
    "questions_accepted",
    "accepted_share",
    "reactions",
    "thanks_received",
    "top_answerers",
)


def answerers(*counts: tuple[str, str, int]) -> list[dict[str, object]]:
    return [{"email": f"{who}@example.com", "name": name, "accepted_answers": n}
            for who, name, n in counts]  # fmt: skip


BOB = ("bob", "Bob Durand", 2)
CAROL = ("carol", "Carol Petit", 1)


def test_stats_count_accepted_answers_solved_questions_reactions_and_thanks(
    network: App,
) -> None:
    with transaction(network.read_sessions) as session:
        data = describe_stats(compute_stats(session, SINCE, now=net.NOW))
        recent = describe_stats(compute_stats(session, net.NOW - 10 * net.DAY, now=net.NOW))
    shown = {c["slug"]: {k: c[k] for k in ENGAGEMENT} for c in data["communities"]}
    # The four accepted answers (alice's own among them); questions p1, p4, p7, p9 of
    # which p1 and p7 have one; seven reactions, two of them on the author's own post.
    assert {k: data["overall"][k] for k in ENGAGEMENT} == {
        "accepted_answers": 4, "questions": 4, "questions_accepted": 2, "accepted_share": 0.5,
        "reactions": 7, "thanks_received": 5, "top_answerers": answerers(BOB, CAROL),
    }  # fmt: skip
    # p8 is cross-posted: it counts in both communities, once overall.
    assert shown["design"] == {
        "accepted_answers": 3, "questions": 3, "questions_accepted": 2, "accepted_share": 0.667,
        "reactions": 4, "thanks_received": 3, "top_answerers": answerers(BOB, CAROL),
    }  # fmt: skip
    assert shown["security"] == {
        "accepted_answers": 2, "questions": 1, "questions_accepted": 1, "accepted_share": 1.0,
        "reactions": 3, "thanks_received": 2, "top_answerers": answerers(("bob", "Bob Durand", 1)),
    }  # fmt: skip
    assert shown["finance"]["reactions"] == 2 and shown["finance"]["thanks_received"] == 1
    assert shown["a11y"] == {
        "accepted_answers": 0, "questions": 0, "questions_accepted": 0, "accepted_share": None,
        "reactions": 0, "thanks_received": 0, "top_answerers": [],
    }  # fmt: skip
    # The last ten days: the answers accepted 4 and 2 days ago, the reactions of 7 and 3.
    last = recent["overall"]
    assert (last["accepted_answers"], last["reactions"], last["thanks_received"]) == (2, 4, 2)
    assert last["top_answerers"] == answerers(("bob", "Bob Durand", 1), CAROL)


def test_the_stats_command_shows_them(network: App, gateway_cli: GatewayCli) -> None:
    data = gateway_cli.json("stats", "--since", "2020-01-01")
    assert data["overall"]["accepted_answers"] == 4
    assert data["overall"]["top_answerers"][0]["email"] == "bob@example.com"
    table = gateway_cli("stats", "--since", "2020-01-01").stdout
    header, *rows = (line.split() for line in table.splitlines()[1:8])
    design = dict(zip(header, next(row for row in rows if row[0] == "design"), strict=True))
    shown = [design[column] for column in ("ACCEPTED", "SOLVED", "REACTIONS", "THANKS")]
    assert shown == ["3", "2/3", "4", "3"]
    assert "Top answerers (accepted answers): Bob Durand (2), Carol Petit (1)" in table
    legend = " ".join(table.split())
    assert "ACCEPTED: answers accepted" in legend and "SOLVED: questions solved" in legend
    assert "THANKS: thanks received, the reactions by someone else" in legend
    one = gateway_cli("stats", "--community", "security", "--since", "2020-01-01").stdout
    assert "Top answerers (accepted answers): Bob Durand (1)\n" in one
    empty = gateway_cli("stats", "--community", "a11y", "--since", "2020-01-01").stdout
    assert "Top answerers (accepted answers): -" in empty
    assert "nope" in gateway_cli.error("stats", "--community", "nope")
