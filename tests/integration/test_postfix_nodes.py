"""A real Postfix in front of two `gateway serve` nodes, set up as the README's "Several
nodes" tells a company to: the list domain's transport is a list of next hops, one per
node. While the first node runs it takes the mail; once it is drained (SIGTERM) Postfix
hands the mail to the second node, and nothing is lost or taken twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from tests.conftest import wait_for
from tests.factories import as_bytes
from tests.factories import post
from tests.integration.cluster import DOMAIN
from tests.integration.cluster import Cluster
from tests.integration.cluster import Inbox
from tests.integration.cluster import Node
from tests.integration.cluster import design_with_members
from tests.integration.cluster import fresh_database
from tests.integration.cluster import node_config
from tests.integration.cluster import sink_on_loopback
from tests.integration.cluster import smtp_port
from tests.postfix import PostfixServer
from tests.postfix import PostfixUnavailable
from tests.postgres import PostgresServer

pytestmark = pytest.mark.postgresql

MEMBERS = 20
POSTS = 5
PROMPTLY = 60  # seconds: a bound for the waits, far above what the mail takes


@pytest.fixture
def mta_and_nodes(
    tmp_path: Path, postgres_server: PostgresServer, quiet_dns: str
) -> Iterator[tuple[PostfixServer, Cluster]]:
    with (
        fresh_database(postgres_server, "postfix_nodes") as database,
        sink_on_loopback(0) as (sink, sink_port),
    ):
        try:
            # Which node took each post is read from Postfix's log lines.
            mta = PostfixServer(sink_port, reuse_connections=False)
        except PostfixUnavailable as reason:
            pytest.skip(f"Postfix tests skipped: {reason}")
        configs = [
            node_config(tmp_path, name, database, sink_port, connections=2,
                        lease_seconds=30, tables=quiet_dns, web=False)
            for name in ("node-a", "node-b")
        ]  # fmt: skip
        design_with_members(tmp_path, configs[0], MEMBERS)
        nodes = [Node(c.stem, c, tmp_path / f"{c.stem}.log") for c in configs]
        engine = create_engine(database, pool_size=1)
        try:
            for node in nodes:
                node.start()
            mta.start(*(smtp_port(c) for c in configs))
            yield mta, Cluster(tmp_path, engine, sink, Inbox(sink), nodes)
        finally:
            try:
                mta.stop()
            finally:
                for node in nodes:
                    node.stop_or_kill()
                engine.dispose()


def send_posts(mta: PostfixServer, prefix: str) -> list[str]:
    ids = [f"{prefix}-{n}@example.com" for n in range(POSTS)]
    for message_id in ids:
        mail = post(f"About {message_id}", "Text.\n", message_id=message_id, to="design")
        mta.send(as_bytes(mail), [f"design@{DOMAIN}"])
    return ids


def delivered_once(cluster: Cluster, ids: list[str]) -> bool:
    copies = cluster.inbox.of(ids)
    assert max(copies.values(), default=1) == 1, "a member got a post twice"
    return len(copies) == len(ids) * MEMBERS


def handed_over(mta: PostfixServer) -> dict[str, set[int]]:
    """The gateway ports Postfix's log says each post (by Message-ID) was handed to.

    Read per post, not counted: Postfix logs a delivery after the gateway's 250, so the
    line may come after the post's copies; and a queue ID names the message its cleanup
    line last named (Postfix reuses them)."""
    named: dict[str, str] = {}
    ports: dict[str, set[int]] = {}
    for line in mta.log().splitlines():
        if found := re.search(r" ([0-9A-F]+): message-id=<([^>]+)>", line):
            named[found[1]] = found[2]
        elif found := re.search(r" ([0-9A-F]+): to=.*, relay=[^,]*:(\d+),.* status=sent ", line):
            if found[1] in named:
                ports.setdefault(named[found[1]], set()).add(int(found[2]))
    return ports


def handed_to(mta: PostfixServer, ids: list[str], timeout: float) -> dict[str, set[int]]:
    """The ports each of `ids` was handed to, once Postfix has logged every one."""
    wait_for(lambda: set(ids) <= set(handed_over(mta)), timeout, "Postfix's log of the posts")
    return {m: ports for m, ports in handed_over(mta).items() if m in ids}


def test_postfix_hands_the_mail_to_the_next_node_when_one_is_drained(
    mta_and_nodes: tuple[PostfixServer, Cluster],
) -> None:
    mta, cluster = mta_and_nodes
    first, second = cluster.nodes
    ports = smtp_port(first.config), smtp_port(second.config)

    before = send_posts(mta, "before")
    wait_for(lambda: delivered_once(cluster, before), PROMPTLY, "the first posts' copies")
    # Next hops are tried in order: the first node took the mail.
    assert handed_to(mta, before, PROMPTLY) == {m: {ports[0]} for m in before}, mta.log()

    assert first.stop() == 0  # drained, as `systemctl stop` does
    after = send_posts(mta, "after")
    wait_for(lambda: delivered_once(cluster, after), PROMPTLY, "the later posts' copies")
    assert handed_to(mta, after, PROMPTLY) == {m: {ports[1]} for m in after}, mta.log()
    assert "Connection refused" in mta.log()  # Postfix tried the drained node first

    stored = cluster.rows(
        "SELECT message_id, count(*) FROM messages WHERE message_id IN :ids GROUP BY message_id",
        ids=tuple(before + after),
    )
    assert sorted(stored) == sorted((m, 1) for m in before + after)
    wait_for(cluster.quiet, PROMPTLY, "the queues to empty")
