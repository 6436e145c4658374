"""Fixtures of the multi-node tests (tests/integration/cluster.py has their parts)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.cluster import fresh_database
from tests.postgres import PostgresServer


@pytest.fixture
def nodes_database(
    request: pytest.FixtureRequest, postgres_server: PostgresServer
) -> Iterator[str]:
    """An empty database of its own on the tests' PostgreSQL, for nodes to share: its URL."""
    prefix = request.module.__name__.rpartition(".")[2].removeprefix("test_")
    with fresh_database(postgres_server, prefix) as url:
        yield url
