"""A real Chromium for the archive's end-to-end tests, the site served to it on loopback,
and the gateway folder the site is built from.

Playwright drives the Chromium that the system installed (Debian's `chromium`
package); it never downloads a browser of its own. The tests are skipped, with the
reason, when no Chromium is installed, as the PostgreSQL tests are when no server
binaries are (tests/postgres.py). Chromium runs with its background services off, so
the only requests it makes are the ones a page asks for. A site's gateway is a folder
of its own (a copy of the migrated SQLite template, one config per language) that mail
reaches over SMTP through a real `serve` (tests/conftest.py `running`).
"""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from email.message import EmailMessage
from http.server import SimpleHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import Settings
from gateway.settings import settings_from_dict
from tests.conftest import GatewayCli
from tests.conftest import running

DOMAIN = "lists.example.com"
CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
# How long a page or an expectation waits for what it needs (loading Pagefind's index,
# say) before failing: generous, since CI machines are slow and nothing here is timed.
WAIT_MS = 30_000
# Headless, as root (no sandbox), and quiet: without the background-networking flags
# Chromium calls Google hosts (component updates, safe browsing, sync) on its own.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class BrowserUnavailable(Exception):
    """No Chromium here, or no Playwright: the browser tests are skipped with this reason."""


def find_chromium() -> str:
    """The installed Chromium: Debian's /usr/bin/chromium, else one on PATH."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserUnavailable(
        "no Chromium found at /usr/bin/chromium or on PATH; install Debian's 'chromium' "
        "package (Playwright's own browser download is not used)"
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


class SiteServer:
    """A static web server for one folder, on a free loopback port, in a daemon thread."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="test-site", daemon=True
        )

    def start(self) -> SiteServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(30)

    def url(self, path: str = "") -> str:
        """The absolute URL of a site path ("t/1/", "search/?q=x")."""
        return f"{self.origin}/{path.lstrip('/')}"


@contextmanager
def serving(folder: Path) -> Iterator[SiteServer]:
    server = SiteServer(folder).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """A headless Chromium (a Playwright Browser); skips the test when there is none.

    Meant for a session- or module-scoped fixture: starting Chromium takes a second.
    """
    try:
        executable = find_chromium()
        from playwright.sync_api import expect
        from playwright.sync_api import sync_playwright
    except (BrowserUnavailable, ImportError) as reason:
        pytest.skip(f"browser tests skipped: {reason}")
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    """A page whose requests and dialogs are recorded, and kept on one origin.

    `requests` holds every URL the page asked for; `refused` the ones the page's own
    Content-Security-Policy stopped inside the browser (Chromium still reports them
    as requests, failed with "csp"); `blocked` the ones that got past it to the
    network and were not on `origin` (aborted here before they left the machine);
    `dialogs` each alert, confirm or prompt a script tried to open.
    """

    page: Any
    origin: str
    requests: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        """Requests for another origin that the page's policy did not stop."""
        refused = list(self.refused)
        foreign = []
        for url in self.requests:
            if url in refused:
                refused.remove(url)
            elif not self.local(url):
                foreign.append(url)
        return foreign

    def local(self, url: str) -> bool:
        return url == self.origin or url.startswith(f"{self.origin}/")


@contextmanager
def watched_page(browser: Any, origin: str) -> Iterator[Watched]:
    """A fresh page (in its own context) that may only reach `origin`."""
    context = browser.new_context(accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    watched = Watched(page, origin)

    def on_dialog(dialog: Any) -> None:
        watched.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_route(route: Any) -> None:
        if watched.local(route.request.url):
            route.continue_()
        else:
            watched.blocked.append(route.request.url)
            route.abort()

    def on_failure(request: Any) -> None:
        if request.failure == "csp":
            watched.refused.append(request.url)

    page.on("request", lambda request: watched.requests.append(request.url))
    page.on("requestfailed", on_failure)
    page.on("dialog", on_dialog)
    context.route("**/*", on_route)
    try:
        yield watched
    finally:
        context.close()


@dataclass
class GatewayFolder:
    """A gateway's folder: data/gateway.sqlite3, and gateway-<language>.toml for each
    language the site is built in, all on the same store."""

    root: Path
    settings: Settings  # in the first language
    clis: dict[str, GatewayCli]  # language -> `gateway --config gateway-<language>.toml`

    @property
    def cli(self) -> GatewayCli:
        """The command line in the first language."""
        return next(iter(self.clis.values()))


def gateway_folder(
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    name: str,
    languages: Iterable[str] = ("en",),
) -> GatewayFolder:
    """A fresh gateway folder named after `name`, its store a copy of the migrated template."""
    root = tmp_path_factory.mktemp(name)
    (root / "data").mkdir()
    database = root / "data" / "gateway.sqlite3"
    database.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{database}"
    clis = {}
    for language in languages:
        config = root / f"gateway-{language}.toml"
        config.write_text(
            f'[gateway]\ndata_dir = "data"\ndatabase_url = "{url}"\ndomain = "{DOMAIN}"\n'
            f'language = "{language}"\n',
            encoding="utf-8",
        )
        clis[language] = GatewayCli(config)
    first = next(iter(clis))
    gateway = {"data_dir": "data", "database_url": url, "domain": DOMAIN, "language": first}
    return GatewayFolder(root, settings_from_dict({"gateway": gateway}, base_dir=root), clis)


def addressed_to(message: EmailMessage) -> list[str]:
    """The envelope of a mail sent as its To header says."""
    return [str(message["To"])]


def send_all(
    settings: Settings,
    mails: Iterable[EmailMessage],
    envelope: Callable[[EmailMessage], list[str]] = addressed_to,
) -> None:
    """Send each mail over SMTP to a running gateway, from its From address; each is accepted."""
    with running(settings) as gateway:
        for message in mails:
            sender = message["From"].addresses[0].addr_spec
            reply = gateway.send(message.as_bytes(), envelope(message), sender=sender)
            assert reply.startswith("250"), f"{message['Message-ID']}: {reply}"
