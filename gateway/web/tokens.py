"""One-click unsubscribe tokens: what a link in a mail stops, sealed with Fernet.

A token is a Fernet token (cryptography: AES-CBC encrypted, HMAC-SHA256 signed,
timestamped) of a small JSON request: the person and what to stop. It carries no
readable or guessable id, a forged or truncated one is refused without a database
lookup, and an expired one is told apart from a forged one (its signature is good,
its timestamp too old: Fernet.extract_timestamp). The key lives in a file under
[gateway] data_dir, created on first use (mode 0600, atomically), so the nodes that
share the data folder share it.
"""

from __future__ import annotations

import enum
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken

from gateway.settings import Settings

KEY_FILE_NAME = "unsubscribe.key"
DAY_SECONDS = 24 * 3600


class Stop(enum.StrEnum):
    """What a link stops, each as the mail action it stands for does."""

    LEAVE = "leave"  # leave the community (SLUG-leave@), from a post's copy
    NOMAIL = "nomail"  # no more mail from the communities (SLUG-nomail@), from a digest
    MONTHLY = "monthly"  # no more monthly "your network" mail (its profile@ opt-out)


@dataclass(frozen=True)
class Unsubscribe:
    """A link's request: `person_id` stops `stop` for `community_ids` (none for MONTHLY)."""

    person_id: int
    stop: Stop
    community_ids: tuple[int, ...] = ()


class TokenRefused(Exception):
    """A token that is not ours: forged, truncated, or not a token at all."""


class TokenExpired(Exception):
    """A genuine token older than [web] unsubscribe_days; `request` is what it asked."""

    def __init__(self, request: Unsubscribe) -> None:
        super().__init__("the link has expired")
        self.request = request


class Tokens:
    """Issues and reads the tokens of one key; `days` is how long a token works."""

    def __init__(self, key: bytes, days: int) -> None:
        self._fernet = Fernet(key)
        self.days = days

    @classmethod
    def for_settings(cls, settings: Settings) -> Tokens:
        return cls(load_key(settings.gateway.data_dir), settings.web.unsubscribe_days)

    def issue(self, request: Unsubscribe, at: float | None = None) -> str:
        """The token for `request`, timestamped `at` (epoch seconds; now by default)."""
        data = json.dumps(
            {"p": request.person_id, "s": request.stop.value, "c": list(request.community_ids)},
            separators=(",", ":"),
        ).encode("ascii")
        at = time.time() if at is None else at
        return self._fernet.encrypt_at_time(data, int(at)).decode("ascii")

    def read(self, token: str, now: float | None = None) -> Unsubscribe:
        """The request a token carries; TokenRefused or TokenExpired when it cannot be used."""
        try:
            sealed = token.encode("ascii")
            data = self._fernet.decrypt(sealed)
            issued = self._fernet.extract_timestamp(sealed)
            request = _request(json.loads(data))
        except (InvalidToken, UnicodeError, ValueError, KeyError, TypeError):
            raise TokenRefused("not a valid link") from None
        now = time.time() if now is None else now
        if now - issued > self.days * DAY_SECONDS:
            raise TokenExpired(request)
        return request


def _request(data: dict[str, object]) -> Unsubscribe:
    person_id, stop, communities = data["p"], data["s"], data["c"]
    if not isinstance(person_id, int) or not isinstance(communities, list):
        raise ValueError("malformed request")
    if not all(isinstance(c, int) for c in communities):
        raise ValueError("malformed request")
    return Unsubscribe(person_id, Stop(str(stop)), tuple(communities))


def load_key(data_dir: Path) -> bytes:
    """The key in data_dir, made on first use. Made beside it and linked into place
    (link never replaces a file), so two processes or nodes starting at once end up
    with the same key: the one that linked first."""
    path = data_dir / KEY_FILE_NAME
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=data_dir, prefix=".unsubscribe-key-")
    try:  # mkstemp creates the file with mode 0600
        with os.fdopen(descriptor, "wb") as file:
            file.write(Fernet.generate_key() + b"\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        os.unlink(temporary)
    return path.read_bytes().strip()
