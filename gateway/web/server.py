"""The HTTP server of `gateway serve` (aiohttp): one-click unsubscribe, and the archive.

aiohttp is maintained and asyncio-native: it runs in the event loop of the SMTP
edge, in the parent process, with no thread or process of its own; the database
work of a request runs in the loop's executor, so an SMTP session never waits on it.

    GET  /u/TOKEN   a small page naming what the link stops, with one button; it never
                    changes anything (link scanners open every link of a mail)
    POST /u/TOKEN   with the body List-Unsubscribe=One-Click (RFC 8058): done at once,
                    no confirmation, no cookie; a second POST answers 200 too
    GET  /...       with [web] serve_archive, the files of [archive] out_dir

A forged, truncated or malformed token is answered 400, an expired one 410, each with
a page saying how to leave by mail.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from typing import TypeVar

from aiohttp import web

from gateway.app import App
from gateway.errors import CannotListen
from gateway.store.db import transaction
from gateway.web.tokens import TokenExpired
from gateway.web.tokens import TokenRefused
from gateway.web.tokens import Tokens
from gateway.web.tokens import Unsubscribe
from gateway.web.unsubscribe import Described
from gateway.web.unsubscribe import describe
from gateway.web.unsubscribe import unsubscribe

log = logging.getLogger("gateway.web")

# RFC 8058 3.1: the body of the one-click POST.
ONE_CLICK_KEY = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"
# A token is a few hundred characters; anything far longer is not one of ours.
MAX_TOKEN = 1000
# Our pages load nothing, post only to themselves, and keep the token out of Referer.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
}

# The archive's files get the headers docs/archive.md asks of any web server: types are
# never guessed, pages load only the site's own assets (its search), attachments
# (files/) are downloads.
ARCHIVE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
}
DOWNLOADS = "files"

T = TypeVar("T")


class WebServer:
    """start() after the SMTP listener, close() on stop."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.settings = app.settings.web
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        runner = web.AppRunner(make_application(self.app), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise CannotListen(
                f"cannot listen on {self.settings.host}:{self.settings.port} ([web]): {reason}"
            ) from None
        self._runner = runner
        log.info("serving HTTP on %s:%d", self.settings.host, self.settings.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def make_application(app: App) -> web.Application:
    pages = Pages(app)
    application = web.Application()
    application.router.add_get("/u/{token}", pages.confirm_page)
    application.router.add_post("/u/{token}", pages.one_click)
    if app.settings.web.serve_archive:
        application.router.add_get("/{path:.*}", ArchiveFiles(app.settings.archive.out_dir).get)
    return application


class Pages:
    """The one-click handlers and their pages (templates/web/<page>.<language>.html)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.domain = app.settings.gateway.domain
        self.language = app.settings.gateway.language
        self._tokens: Tokens | None = None

    @property
    def tokens(self) -> Tokens:
        if self._tokens is None:  # reads (or makes) the key file on the first request
            self._tokens = Tokens.for_settings(self.app.settings)
        return self._tokens

    async def confirm_page(self, request: web.Request) -> web.Response:
        """GET: what the link stops, and the button that does it. Changes nothing."""
        unsubscribe_request = await self._read(request)
        if isinstance(unsubscribe_request, web.Response):
            return unsubscribe_request
        described = await self._describe(unsubscribe_request)
        return self._page("confirm", described)

    async def one_click(self, request: web.Request) -> web.Response:
        """POST with List-Unsubscribe=One-Click: unsubscribe at once (RFC 8058 3.2)."""
        unsubscribe_request = await self._read(request)
        if isinstance(unsubscribe_request, web.Response):
            return unsubscribe_request
        form = await request.post()
        if form.get(ONE_CLICK_KEY) != ONE_CLICK_VALUE:
            return self._page("refused", None, status=400, reason="not_one_click")
        described = await self._in_session(
            lambda s: unsubscribe(s, unsubscribe_request), write=True
        )
        return self._page("done", described)

    async def _read(self, request: web.Request) -> Unsubscribe | web.Response:
        """The token's request, or the page that refuses it: an expired link's page names
        the addresses that do the same by mail."""
        token = request.match_info["token"]
        try:
            if len(token) > MAX_TOKEN:
                raise TokenRefused("too long")
            return self.tokens.read(token)
        except TokenRefused:
            return self._page("refused", None, status=400, reason="invalid")
        except TokenExpired as expired:
            described = await self._describe(expired.request)
            return self._page("refused", described, status=410, reason="expired")

    async def _describe(self, request: Unsubscribe) -> Described:
        return await self._in_session(lambda session: describe(session, request), write=False)

    async def _in_session(self, work: Callable[[Any], T], write: bool) -> T:
        sessions = self.app.sessions if write else self.app.read_sessions

        def run() -> T:
            with transaction(sessions) as session:
                return work(session)

        return await asyncio.get_running_loop().run_in_executor(None, run)

    def _page(
        self, page: str, described: Described | None, status: int = 200, reason: str = ""
    ) -> web.Response:
        template = self.app.templates.get_template(f"web/{page}.{self.language}.html")
        values = {
            "domain": self.domain,
            "language": self.language,
            "reason": reason,
            "stop": described.stop.value if described is not None else "",
            "communities": [
                {"name": name, "slug": slug, "leave": f"{slug}-leave@{self.domain}"}
                for slug, name in (described.communities if described is not None else [])
            ],
            "help": f"help@{self.domain}",
            "profile": f"profile@{self.domain}",
        }
        return web.Response(
            text=template.render(values),
            status=status,
            content_type="text/html",
            charset="utf-8",
            headers=PAGE_HEADERS,
        )


class ArchiveFiles:
    """The archive folder's files: a folder's URL ends in "/" and serves its index.html;
    no path leaves the folder (resolved, symbolic links too, then checked). The site
    is public to whoever reaches the server: put the company's sign-on in front."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    async def get(self, request: web.Request) -> web.StreamResponse:
        # The file system is asked in a thread: this loop also answers SMTP sessions.
        target = await asyncio.get_running_loop().run_in_executor(
            None, self._find, request.match_info["path"], request.rel_url.raw_path
        )
        headers = dict(ARCHIVE_HEADERS)
        if target.relative_to(self.root).parts[0] == DOWNLOADS:
            headers["Content-Disposition"] = "attachment"
        return web.FileResponse(target, headers=headers)

    def _find(self, path: str, raw_path: str) -> Path:
        """The file a request names, or the HTTP answer that says why not."""
        try:
            target = (self.root / path).resolve()
        except (ValueError, OSError):  # a NUL byte, a loop of links
            raise web.HTTPNotFound() from None
        if not target.is_relative_to(self.root):
            raise web.HTTPNotFound()
        if target.is_dir():
            if not raw_path.endswith("/"):
                raise web.HTTPMovedPermanently(raw_path + "/")
            target = target / "index.html"
        if not target.is_file():
            raise web.HTTPNotFound()
        return target
