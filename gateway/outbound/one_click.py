"""One-click unsubscribe in outgoing mail (RFC 8058): a person's URL, and a shared
copy of a post made their own.

The URL is [web] base_url + "u/" + a token (gateway.web.tokens) naming the person
and what to stop. RFC 8058 3.1 requires an HTTPS URI for List-Unsubscribe-Post, so
with an http base_url the URL is still listed (a person can open it) but the Post
field is left out; with [web] enabled = false nothing serves it and no URL is given.
"""

from __future__ import annotations

import re

from gateway.outbound.mime import CRLF
from gateway.outbound.mime import fold
from gateway.settings import Settings
from gateway.web.tokens import Tokens
from gateway.web.tokens import Unsubscribe

POST_FIELD = ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
# A rendered post's List-Unsubscribe field, folded lines and all (it has one: render.py).
_UNSUBSCRIBE = re.compile(rb"^List-Unsubscribe:(.*(?:\r\n[ \t].*)*)\r\n", re.MULTILINE)


class OneClick:
    """Makes the one-click URLs of one configuration (the key is read on first use)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.enabled = settings.web.enabled
        self.base_url = settings.web.base_url
        self._tokens: Tokens | None = None

    def url(self, request: Unsubscribe) -> str:
        """The URL that does `request` ("" when the web server is off)."""
        if not self.enabled:
            return ""
        if self._tokens is None:
            self._tokens = Tokens.for_settings(self.settings)
        return f"{self.base_url}u/{self._tokens.issue(request)}"

    def personal(self, rendered: bytes, request: Unsubscribe) -> bytes:
        """A shared rendering of a post with the person's URL put first in its
        List-Unsubscribe, and List-Unsubscribe-Post when the URL is https."""
        url = self.url(request)
        head_end = rendered.find(CRLF + CRLF)
        match = _UNSUBSCRIBE.search(rendered, 0, head_end + 2)
        if not url or match is None:
            return rendered
        mailtos = b" ".join(match[1].replace(CRLF, b"").split()).decode("ascii")
        fields = fold("List-Unsubscribe", f"<{url}>, {mailtos}")
        if has_post_field(url):
            fields += fold(*POST_FIELD)
        return rendered[: match.start()] + fields + rendered[match.end() :]


def has_post_field(url: str) -> bool:
    """Whether a one-click URL may be announced with List-Unsubscribe-Post (RFC 8058 3.1)."""
    return url.startswith("https://")
