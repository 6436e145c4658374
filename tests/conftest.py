"""Fixtures shared by the tests: real databases (SQLite and PostgreSQL), settings, the CLI.

Every test that takes `database_url` (directly or through `settings`, `app`,
`session` or `gateway_cli`) runs twice: on SQLite and on a PostgreSQL server
started from the installed binaries. Each run gets a fresh database copied from
a migrated template, so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import re
import shutil
import smtplib
import threading
import time
import tomllib
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from click.testing import Result
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli.main import main
from gateway.app import App
from gateway.app import build_app
from gateway.outbound.dkim_keys import KeyPair
from gateway.outbound.dkim_keys import generate
from gateway.runtime.serve import serve
from gateway.settings import Settings
from gateway.settings import settings_from_dict
from gateway.store import migrate
from gateway.store.db import make_engine
from gateway.store.models import InboxMail
from tests.dns import DnsServer
from tests.dns import DnsUnavailable
from tests.postgres import PostgresServer
from tests.postgres import PostgresUnavailable
from tests.postgres import find_bindir
from tests.postgres import free_port
from tests.signing_keys import Published
from tests.signing_keys import published
from tests.sink import RecordingController
from tests.sink import Sink

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer(find_bindir())
    except PostgresUnavailable as reason:
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "gateway.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    postgres_server.execute("CREATE DATABASE gateway_template")
    engine = make_engine(postgres_server.url("gateway_template"))
    migrate.upgrade(engine)
    engine.dispose()
    return "gateway_template"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on each backend."""
    if request.param == "sqlite":
        target = tmp_path / "data" / "gateway.sqlite3"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template = request.getfixturevalue("postgres_template")
    name = f"test_{next(_database_numbers)}"
    server.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield server.url(name)
    server.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def quiet_dns() -> Iterator[str]:
    """Configuration tables that keep the tests' DMARC lookups off this machine's resolver
    (CI may have none, or a slow one): a dnsmasq on loopback that knows no name, so every
    author domain publishes no policy and posts keep their From. Without dnsmasq, the
    lookups are turned off instead (dmarc_mitigation = "none"): the same outcome."""
    try:
        server = DnsServer({})
        server.start()
    except DnsUnavailable:
        yield '[delivery]\ndmarc_mitigation = "none"\n'
        return
    try:
        yield f'[dns]\nnameservers = ["{server.address}"]\n'
    finally:
        server.stop()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, quiet_dns: str) -> Settings:
    return settings_from_dict(
        {"gateway": {"data_dir": "data", "database_url": database_url}, **tomllib.loads(quiet_dns)},
        base_dir=tmp_path,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    built = build_app(settings)
    yield built
    built.close()


@pytest.fixture
def session(app: App) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    with app.engine.connect() as connection:
        outer = connection.begin()
        with Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as test_session:
            yield test_session
        outer.rollback()


@pytest.fixture
def config_file(tmp_path: Path, database_url: str, quiet_dns: str) -> Path:
    """The tests' configuration; [gateway] comes last, so that lines appended go there."""
    path = tmp_path / "gateway.toml"
    path.write_text(
        f'{quiet_dns}[gateway]\ndata_dir = "data"\ndatabase_url = "{database_url}"\n'
        'domain = "lists.example.com"\n',
        encoding="utf-8",
    )
    return path


class GatewayCli:
    """Runs `gateway --config <test config> ...` in-process through click's runner."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.runner = CliRunner()

    def __call__(self, *args: str, expect: int = 0, input: str | None = None) -> Result:
        result = self.runner.invoke(
            main, ["--config", str(self.config), *args], input=input, prog_name="gateway"
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a bug, not a handled error: show its traceback
        assert result.exit_code == expect, (
            f"gateway {' '.join(args)} exited {result.exit_code}, expected {expect}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def error(self, *args: str, expect: int = 1) -> str:
        """Run a command that must fail; return its error message, which must be one line.

        Usage errors (exit 2) may come after click's "Usage:" and "Try ..." lines.
        """
        result = self(*args, expect=expect)
        lines = [
            line
            for line in result.stderr.strip().splitlines()
            if line.strip() and not line.startswith(("Usage: ", "Try '"))
        ]
        assert len(lines) == 1, f"expected one line on stderr, got: {result.stderr!r}"
        return lines[0]


@pytest.fixture
def gateway_cli(config_file: Path) -> GatewayCli:
    return GatewayCli(config_file)


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a text (or bytes) file under tmp_path and return its path."""

    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write


def crlf(raw: bytes) -> bytes:
    """Mail as it travels over SMTP: every line ends in CRLF."""
    return re.sub(rb"\r?\n", b"\r\n", raw)


class RunningGateway:
    """A real `serve()` on a free loopback port, in a thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        # Free ports for SMTP and for the web server: tests never collide on 8025 or 8080.
        self.settings = dataclasses.replace(
            settings,
            smtp=dataclasses.replace(settings.smtp, port=free_port()),
            web=dataclasses.replace(settings.web, port=free_port()),
        )
        self.host = self.settings.smtp.host
        self.port = self.settings.smtp.port
        self.web_origin = f"http://{self.settings.web.host}:{self.settings.web.port}"
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="test-gateway", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(serve(self.settings, self._stop, self._ready.set))
        except BaseException as error:  # reported by start() or stop()
            self._error = error
            self._ready.set()
        finally:
            self._loop.close()

    def start(self) -> RunningGateway:
        self._thread.start()
        assert self._ready.wait(30), "the gateway did not start"
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(60)
        if self._error is not None:
            raise self._error

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP(self.host, self.port, timeout=60)

    def send(self, raw: bytes, to: list[str], sender: str = "alice@example.com") -> str:
        """Send one message with CRLF line ends, as an MTA does; return the final reply.

        Returns once the pipeline has run on it too (see settle()).
        """
        raw = crlf(raw)
        with self.client() as smtp:
            smtp.ehlo()
            smtp.mail(sender)
            for address in to:
                code, text = smtp.rcpt(address)
                if code >= 400:
                    return f"{code} {text.decode(errors='replace')}"
            code, text = smtp.data(raw)
        self.settle()
        return f"{code} {text.decode(errors='replace')}"

    def settle(self, timeout: float = 60) -> None:
        """Wait until the inbox processor has taken every spooled mail (or failed on it)."""
        engine = make_engine(self.settings.spool_url)
        try:
            deadline = time.monotonic() + timeout
            while True:
                with engine.connect() as connection:
                    waiting = connection.scalar(
                        select(func.count()).select_from(InboxMail).where(InboxMail.attempts == 0)
                    )
                if not waiting:
                    return
                assert time.monotonic() < deadline, f"{waiting} mails still in the inbox"
                time.sleep(0.02)
        finally:
            engine.dispose()


@contextmanager
def running(settings: Settings) -> Iterator[RunningGateway]:
    """A gateway with settings of its own, for the tests that change them."""
    server = RunningGateway(settings).start()
    try:
        yield server
    finally:
        server.stop()


def wait_for(check: Callable[[], bool], timeout: float = 30, what: str = "it") -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def gateway_server(settings: Settings) -> Iterator[RunningGateway]:
    server = RunningGateway(settings).start()
    yield server
    server.stop()


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    """An SMTP sink on a free loopback port, as a company MTA: (what it got, its port)."""
    handler = Sink(xverp=False)
    port = free_port()
    controller = RecordingController(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


# DKIM: one RSA key per test module, its public key published by a real DNS server.


@pytest.fixture(scope="module")
def key_pair() -> KeyPair:
    return generate(2048)


@pytest.fixture(scope="module")
def dkim_dns(key_pair: KeyPair) -> Iterator[Published]:
    with published(key_pair) as server:
        yield Published(key_pair, server)
