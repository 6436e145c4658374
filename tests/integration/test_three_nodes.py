"""Three `gateway serve` nodes on one PostgreSQL and one data folder share the work, as
issue 21 promises (its item 5): mail sent to any node is taken in once, each member
gets each post once, help@ is answered once and a bounce counted once even when an
MTA hands the same mail to two nodes, one node builds each digest, and a node that
restarts (SIGTERM) or dies (SIGKILL) costs no copy and doubles at most the window of
docs/sending.md ("In flight").

The nodes are real subprocesses (started together, so their start-up digest checks
race), each with its own configuration file differing only in node_id and port; they
send to one loopback sink. The tests share the cluster and run in order: the mixed
traffic first, then a clean restart, then a kill.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from gateway.app import build_app
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.digests.periods import latest_due
from gateway.settings import load_settings
from gateway.store.db import transaction
from gateway.store.models import Cadence
from gateway.store.models import DeliveryMode
from gateway.store.models import Policy
from gateway.store.models import utcnow
from tests.conftest import wait_for
from tests.factories import as_bytes
from tests.factories import ingest
from tests.factories import post
from tests.integration.cluster import DOMAIN
from tests.integration.cluster import Cluster
from tests.integration.cluster import Inbox
from tests.integration.cluster import Node
from tests.integration.cluster import fresh_database
from tests.integration.cluster import node_config
from tests.integration.cluster import resend_window
from tests.integration.cluster import sink_on_loopback
from tests.integration.test_gateway_command import gateway
from tests.postgres import PostgresServer

pytestmark = pytest.mark.postgresql

NODES = ("node-1", "node-2", "node-3")
CONNECTIONS = 4
LEASE_SECONDS = 30  # the least [delivery] lease_seconds allows
TAKE_OVER_MARGIN = 20  # seconds past the lease for a survivor's round to finish the rows
PEOPLE = 240
# Who is in which community (member<n>@example.com): 50 people in both design and ops;
# everyone in `all`, the community of the fan-outs; daily readers only in `notes`.
COMMUNITIES = {"design": range(0, 150), "ops": range(100, 240), "all": range(PEOPLE)}
READERS = [f"reader{n}@example.com" for n in range(20)]
RESTART_DELAY = 0.15  # seconds the sink takes per copy in the restart: a fan-out of ~9 s
KILL_DELAY = 0.2  # and during the kill, as in test_two_nodes
BOUNCE = Path(__file__).parent.parent / "fixtures" / "bounces" / "postfix-user-unknown.eml"
BOUNCE_POINTS = 2  # 5.1.1: a permanent failure


def member(n: int) -> str:
    return f"member{n}@example.com"


def instant_readers(*slugs: str) -> set[str]:
    """Who gets a post to `slugs` as it arrives: their members, each once."""
    return {member(n) for slug in slugs for n in COMMUNITIES[slug]}


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, quiet_dns: str
) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("three-nodes")
    # The daily digest came due three hours ago, in UTC: it does not come due again
    # while the test runs, and a post received before it is in it.
    daily = (utcnow() - dt.timedelta(hours=3)).strftime("%H:%M")
    # The archive publisher runs on every node (without the search index, and looking
    # for new posts every 10 s rather than 5: it costs CPU the nodes share).
    tables = (
        f'{quiet_dns}[digests]\ndaily = "{daily}"\ntimezone = "UTC"\n'
        "[archive]\nsearch = false\nrebuild_delay = 10\n"
    )
    with (
        fresh_database(postgres_server, "three_nodes") as database,
        sink_on_loopback(0) as (sink, sink_port),
    ):
        configs = [
            node_config(folder, name, database, sink_port, connections=CONNECTIONS,
                        lease_seconds=LEASE_SECONDS, tables=tables, web=False)
            for name in NODES
        ]  # fmt: skip
        seed(folder, configs[0])
        nodes = [
            Node(name, config, folder / f"{name}.log")
            for name, config in zip(NODES, configs, strict=True)
        ]
        engine = create_engine(database, pool_size=2)
        try:
            with ThreadPoolExecutor(len(nodes)) as pool:  # together: their digest checks race
                list(pool.map(Node.start, nodes))
            yield Cluster(folder, engine, sink, Inbox(sink), nodes)
        finally:
            for node in nodes:
                node.stop_or_kill()
            engine.dispose()


def seed(folder: Path, config: Path) -> None:
    """The database (`gateway init`, as an admin starts), then the communities and people,
    and a post received before the daily digest came due (with the store: it is quicker,
    and no SMTP client sends mail in the past)."""
    gateway("--config", str(config), "init", cwd=folder)
    settings = load_settings(config)
    app = build_app(settings)
    try:
        with transaction(app.sessions) as session:
            for slug, numbers in COMMUNITIES.items():
                community = create_community(session, slug, slug.capitalize(), policy=Policy.OPEN)
                add_members(session, community, [member(n) for n in numbers])
            notes = create_community(session, "notes", "Notes", policy=Policy.OPEN)
            add_members(session, notes, READERS, delivery=DeliveryMode.DAILY)
        due = latest_due(Cadence.DAILY, utcnow(), "", settings.digests)
        minutes = post(
            "Minutes", "What we decided.\n", message_id="notes-1@example.com", to="notes"
        )
        ingest(app, minutes, ("notes",), at=due.at - dt.timedelta(hours=1))
    finally:
        app.close()


# --- the mail of the first phase


@dataclass(frozen=True)
class Sent:
    """A mail for the nodes of these indexes (several: an MTA that retried on another)."""

    nodes: tuple[int, ...]
    sender: str
    recipients: tuple[str, ...]
    raw: bytes


def post_mail(message_id: str, *slugs: str, parent: str = "") -> Sent:
    mail = post(f"About {message_id}", f"Text of {message_id}.\n", message_id=message_id,
                sender="Alice <alice@example.com>", to=slugs, parent=parent)  # fmt: skip
    return Sent((), "alice@example.com", tuple(f"{s}@{DOMAIN}" for s in slugs), as_bytes(mail))


def help_mail(n: int) -> Sent:
    mail = EmailMessage()
    mail["From"] = f"asker{n}@example.com"
    mail["To"] = f"help@{DOMAIN}"
    mail["Subject"] = "help"
    mail["Message-ID"] = f"<help-{n}@example.com>"
    mail.set_content("How does this work?\n")
    return Sent((), f"asker{n}@example.com", (f"help@{DOMAIN}",), as_bytes(mail))


def bounce_mail(name: str, address: str) -> Sent:
    """A Postfix delivery report (5.1.1) about `address`, sent to its VERP address."""
    token = address.replace("@", "=")
    raw = (
        BOUNCE.read_bytes()
        .replace(b"bob=example.net", token.encode())
        .replace(b"bob@example.net", address.encode())
        .replace(b"20261203091207.4F2A91C0042@mx1.example.net", name.encode())
    )
    return Sent((), "", (f"bounces+{token}@{DOMAIN}",), raw)


def on(nodes: tuple[int, ...], sent: Sent) -> Sent:
    return Sent(nodes, sent.sender, sent.recipients, sent.raw)


# Replies go first, each to another node than its parent, which follows later.
REPLIES = {
    "reply-1@example.com": "parent-1@example.com",
    "reply-2@example.com": "parent-2@example.com",
}
POSTS = {  # Message-ID: communities
    "reply-1@example.com": ("design",),
    "reply-2@example.com": ("ops",),
    "parent-1@example.com": ("design",),
    "parent-2@example.com": ("design", "ops"),
    **{f"plain-{n}@example.com": (("design", "ops")[n % 2],) for n in range(6)},
    **{f"cross-{n}@example.com": ("design", "ops") for n in range(3)},
}
HELP_MAILS = 60  # distinct mails to help@, each from its own asker
RETRIED = range(20)  # of which these reach two nodes at once (an MTA retrying on another)
ASKERS = [f"asker{n}@example.com" for n in range(HELP_MAILS)]
# Delivery reports counted per person; member120's and member50's reach two nodes at once.
BOUNCED = {member(3): 2, member(120): 1, member(200): 1, member(50): 1}


def first_phase() -> tuple[list[Sent], list[Sent]]:
    """(the replies, then the rest) spread over the nodes; what two nodes get comes
    first, so that they take the same bytes in at the same time."""
    posts = {
        mid: post_mail(mid, *slugs, parent=REPLIES.get(mid, "")) for mid, slugs in POSTS.items()
    }
    replies = [on((n,), posts.pop(mid)) for n, mid in enumerate(REPLIES)]
    rest = [
        *(on((n % 3, (n + 1) % 3), help_mail(n)) for n in RETRIED),
        on((1, 2), bounce_mail("bounce-c@mx.example.net", member(120))),
        on((2, 0), bounce_mail("bounce-e@mx.example.net", member(50))),
        *(on((n % 3,), sent) for n, sent in enumerate(posts.values(), start=2)),
        *(on((n % 3,), help_mail(n)) for n in range(len(RETRIED), HELP_MAILS)),
        on((0,), bounce_mail("bounce-a@mx.example.net", member(3))),
        on((1,), bounce_mail("bounce-b@mx.example.net", member(3))),
        on((2,), bounce_mail("bounce-d@mx.example.net", member(200))),
    ]
    return replies, rest


def send_at_once(cluster: Cluster, mails: list[Sent]) -> None:
    """Each node's share in order over a connection of its own, all nodes at once."""
    start = threading.Barrier(len(cluster.nodes))

    def send(index: int) -> None:
        start.wait()
        with cluster.nodes[index].connect() as smtp:
            for sent in mails:
                if index in sent.nodes:
                    smtp.sendmail(sent.sender, list(sent.recipients), sent.raw)

    with ThreadPoolExecutor(len(cluster.nodes)) as pool:
        list(pool.map(send, range(len(cluster.nodes))))


def stored(cluster: Cluster, message_ids: Iterable[str]) -> int:
    return cluster.count(
        "SELECT count(*) FROM messages WHERE message_id IN :ids", ids=tuple(message_ids)
    )


@pytest.fixture(scope="module")
def traffic(cluster: Cluster) -> Cluster:
    """The first phase sent, and everything it caused done."""
    replies, rest = first_phase()
    send_at_once(cluster, replies)
    wait_for(lambda: stored(cluster, REPLIES) == len(REPLIES), timeout=60, what="the replies")
    send_at_once(cluster, rest)
    wait_for(lambda: stored(cluster, POSTS) == len(POSTS), timeout=60, what="the posts")
    for _ in range(2):  # quiet twice, a few seconds apart: late duplicates show up too
        wait_for(cluster.quiet, timeout=120, what="the nodes to finish the first phase")
        time.sleep(3)
    return cluster


# --- the first phase: posts, cross-posts, replies before parents, help@, bounces


def test_each_post_is_stored_once_with_its_communities_and_thread(traffic: Cluster) -> None:
    rows = traffic.rows(
        "SELECT m.message_id, m.id, m.thread_id, m.parent_id, c.slug FROM messages m"
        " JOIN message_communities mc ON mc.message_id = m.id"
        " JOIN communities c ON c.id = mc.community_id"
    )
    communities: dict[str, set[str]] = {}
    for message_id, *_, slug in rows:
        communities.setdefault(message_id, set()).add(slug)
    assert communities == {
        **{message_id: set(slugs) for message_id, slugs in POSTS.items()},
        "notes-1@example.com": {"notes"},
    }
    assert traffic.count("SELECT count(*) FROM messages") == len(POSTS) + 1
    by_id = {message_id: (number, thread, parent) for message_id, number, thread, parent, _ in rows}
    for reply, parent in REPLIES.items():
        # A reply taken in before its parent (on another node) is moved under it.
        assert by_id[reply][1:] == (by_id[parent][1], by_id[parent][0]), reply


def test_every_member_gets_each_post_once(traffic: Cluster) -> None:
    expected = {(rcpt, mid) for mid, slugs in POSTS.items() for rcpt in instant_readers(*slugs)}
    received = traffic.inbox.of(POSTS)
    missing = expected - set(received)
    twice = sorted(copy for copy, count in received.items() if count > 1)
    assert not missing and not twice, f"{len(missing)} missing, {len(twice)} twice: {twice[:5]}"
    assert set(received) == expected  # a cross-post reaches a person of both communities once


def test_help_is_answered_once_per_mail(traffic: Cluster) -> None:
    # The mails of RETRIED reached two nodes at once: one answer still.
    assert traffic.inbox.to(ASKERS) == Counter(dict.fromkeys(ASKERS, 1))


def test_each_bounce_is_counted_once(traffic: Cluster) -> None:
    scores = traffic.rows(
        "SELECT p.address, c.slug, ms.bounce_score FROM memberships ms"
        " JOIN people p ON p.id = ms.person_id JOIN communities c ON c.id = ms.community_id"
    )
    wrong = [
        (address, slug, score)
        for address, slug, score in scores
        if score != BOUNCED.get(address, 0) * BOUNCE_POINTS
    ]
    # Reports that reached two nodes count once, in each of the person's memberships.
    assert wrong == []
    assert {address for address, _, score in scores if score} == set(BOUNCED)


def test_one_digest_per_reader_built_by_one_node(traffic: Cluster) -> None:
    digests = Counter(rcpt for rcpt, mid in traffic.inbox.update() if mid.startswith("digest."))
    assert digests == Counter(dict.fromkeys(READERS, 1))
    # The nodes started together and each checked the digests at start-up: one built them.
    builders = digest_builders(traffic)
    assert len(builders) == 1, builders


def digest_builders(cluster: Cluster) -> list[str]:
    """The nodes that ran a daily digest run with readers due (it logs one line)."""
    return [
        node.name for node in cluster.nodes if "gateway.digests INFO digests daily" in node.logged()
    ]


def test_the_node_that_built_the_digests_held_the_scheduler_singleton(traffic: Cluster) -> None:
    [(holder,)] = traffic.rows("SELECT node_id FROM singletons WHERE name = 'scheduler'")
    assert holder in NODES
    # The singleton's lease is [delivery] lease_seconds, 30 s here, shorter than the
    # scheduler's minute: it may have gone to another node since. Its holder said so.
    [builder] = [node for node in traffic.nodes if node.name in digest_builders(traffic)]
    assert f"node {builder.name} holds the scheduler" in builder.logged()


def test_the_three_nodes_are_registered(traffic: Cluster) -> None:
    states = dict(traffic.rows("SELECT node_id, state FROM nodes"))
    assert states == dict.fromkeys(NODES, "running")


# --- a clean restart and a kill, each while all three nodes send a fan-out


def start_fanouts(cluster: Cluster, prefix: str) -> list[str]:
    """A post to `all` sent to each node in turn, the next once the last is being sent
    (a round claims every due row: so each node takes one); their Message-IDs."""
    message_ids = []
    for n, node in enumerate(cluster.nodes):
        message_id = f"{prefix}-{n}@example.com"
        message_ids.append(message_id)
        mail = post(f"Fan-out {message_id}", "For everyone.\n", message_id=message_id,
                    sender="alice@example.com", to="all")  # fmt: skip
        node.send("alice@example.com", [f"all@{DOMAIN}"], as_bytes(mail))
        wait_for(partial(claimed, cluster, message_id), timeout=30, what=f"{message_id} claimed")
    wait_for(lambda: claimers(cluster, message_ids) == set(NODES), timeout=30,
             what="each node to send a fan-out")  # fmt: skip
    return message_ids


def claimed(cluster: Cluster, message_id: str) -> bool:
    """The post's deliveries are queued and a round took them all."""
    statuses = {status for _, status, _, _ in cluster.deliveries_of([message_id])}
    return bool(statuses) and "pending" not in statuses


def claimers(cluster: Cluster, message_ids: list[str]) -> set[str]:
    return {
        node for _, status, node, _ in cluster.deliveries_of(message_ids) if status == "sending"
    }


def all_sent(cluster: Cluster, message_ids: list[str]) -> bool:
    statuses = [status for _, status, _, _ in cluster.deliveries_of(message_ids)]
    return statuses == ["sent"] * PEOPLE * len(message_ids)


def test_a_node_restarted_mid_fanout_costs_no_copy(traffic: Cluster) -> None:
    cluster = traffic
    cluster.sink.data_delay = RESTART_DELAY
    try:
        message_ids = start_fanouts(cluster, "restart")
        node = cluster.nodes[1]
        assert node.stop() == 0, node.logged()[-3000:]
        node.start()
        wait_for(lambda: all_sent(cluster, message_ids), timeout=120, what="the fan-outs")
    finally:
        cluster.sink.data_delay = 0
    expected = {(rcpt, mid) for mid in message_ids for rcpt in instant_readers("all")}
    received = cluster.inbox.of(message_ids)
    assert set(received) == expected
    assert [copy for copy, count in received.items() if count > 1] == []
    assert claimers(cluster, message_ids) == set()


def test_a_killed_node_s_fanout_is_taken_over_within_its_lease(traffic: Cluster) -> None:
    cluster = traffic
    cluster.sink.data_delay = KILL_DELAY
    victim = cluster.nodes[2]
    try:
        message_ids = start_fanouts(cluster, "kill")
        [its_post] = {
            mid
            for _, status, node, mid in cluster.deliveries_of(message_ids)
            if node == victim.name
        }

        def its_sent() -> int:
            return sum(status == "sent" for _, status, _, _ in cluster.deliveries_of([its_post]))

        wait_for(lambda: its_sent() >= 20, timeout=30, what=f"{victim.name} to send")
        victim.kill()
        killed_at = time.monotonic()
        rows = cluster.deliveries_of(message_ids)
        cluster.sink.data_delay = 0  # the window is the killed node's: sent at KILL_DELAY
        sent_before = {(rcpt, mid) for rcpt, status, _, mid in rows if status == "sent"}
        assert its_sent() < PEOPLE, "the killed node had finished"
        wait_for(lambda: all_sent(cluster, message_ids), timeout=LEASE_SECONDS + 60,
                 what="the survivors to take the killed node's deliveries over")  # fmt: skip
        took = time.monotonic() - killed_at
    finally:
        cluster.sink.data_delay = 0
    assert took <= LEASE_SECONDS + TAKE_OVER_MARGIN
    expected = {(rcpt, mid) for mid in message_ids for rcpt in instant_readers("all")}
    received = cluster.inbox.of(message_ids)
    assert set(received) == expected
    assert {copy: received[copy] for copy in sent_before} == dict.fromkeys(sent_before, 1)
    twice = sorted(copy for copy, count in received.items() if count > 1)
    assert max(received.values()) <= 2
    assert len(twice) <= resend_window(CONNECTIONS, KILL_DELAY), twice
    assert claimers(cluster, message_ids) == set()


# --- over the whole run


def test_one_archive_build_at_a_time(traffic: Cluster) -> None:
    builds = sorted(
        (start, end, node.name) for node in traffic.nodes for start, end in archive_builds(node)
    )
    assert builds, "no archive build was logged"
    overlapping = [
        (one, other)
        for one, other in itertools.combinations(builds, 2)
        if one[2] != other[2] and other[0] < one[1] - 0.05  # `other` started before `one` ended
    ]
    assert overlapping == []
    assert (traffic.folder / "site" / "index.html").is_file()
    holders = traffic.rows("SELECT node_id FROM singletons WHERE name = 'archive'")
    assert {holder for (holder,) in holders} <= set(NODES)


LOG_TIME = "%Y-%m-%d %H:%M:%S,%f"
ARCHIVE_BUILD = re.compile(
    r"^(\S+ \S+) gateway\.archive INFO archive: .* \((\d+\.\d+) s\)$", re.MULTILINE
)


def archive_builds(node: Node) -> list[tuple[float, float]]:
    """(start, end) in seconds since the epoch of each build the node logged."""
    builds = []
    for stamp, seconds in ARCHIVE_BUILD.findall(node.logged()):
        end = dt.datetime.strptime(stamp, LOG_TIME).timestamp()
        builds.append((end - float(seconds), end))
    return builds


def test_no_node_logged_a_traceback(traffic: Cluster) -> None:
    for node in traffic.nodes:
        logged = node.logged()
        for sign in ("Traceback", "UniqueViolation"):
            first = logged.find(sign)
            assert first == -1, f"{node.name}: {logged.count(sign)} {sign}\n{logged[first:][:3000]}"
