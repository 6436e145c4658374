"""Fixtures of the integration tests: the multi-node tests' shared database
(tests/integration/cluster.py has their parts), and the browser tests' Chromium and
watched page (tests/browser.py has theirs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import Watched
from tests.browser import launched_chromium
from tests.browser import watched_page
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


# Module, not session: Playwright's sync API holds an event loop in the main thread
# while it runs, and later tests call asyncio.run() there.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """The module's headless Chromium; skips its tests when there is none."""
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def origin() -> str:
    """The origin (http://127.0.0.1:port) of the site `browse` reads: a browser test
    module that uses `browse` overrides this with its served site's."""
    raise pytest.UsageError("a test module using `browse` defines an `origin` fixture")


@pytest.fixture
def browse(chromium: Any, origin: str) -> Iterator[Watched]:
    """A fresh page on the site, which may only reach the site's server: after the test,
    it made no request off the site, none got past the page's policy, and no script
    opened a dialog."""
    with watched_page(chromium, origin) as watched:
        yield watched
    assert watched.foreign_requests() == [], "the page made requests off the site"
    assert watched.blocked == [], "the page tried to leave the site"
    assert watched.dialogs == [], "a script opened a dialog"
