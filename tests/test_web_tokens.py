"""One-click tokens (gateway.web.tokens): sealed, refused when forged or cut, told apart
when expired; the key file made once, private, and shared by whoever reads it."""

from __future__ import annotations

import base64
import stat
import threading
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from gateway.web.tokens import KEY_FILE_NAME
from gateway.web.tokens import Stop
from gateway.web.tokens import TokenExpired
from gateway.web.tokens import TokenRefused
from gateway.web.tokens import Tokens
from gateway.web.tokens import Unsubscribe
from gateway.web.tokens import load_key

DAY = 24 * 3600
REQUEST = Unsubscribe(42, Stop.NOMAIL, (3, 7))


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    return Tokens(load_key(tmp_path), days=90)


def test_a_token_carries_its_request_and_nothing_readable(tokens: Tokens) -> None:
    token = tokens.issue(REQUEST)
    assert tokens.read(token) == REQUEST
    assert tokens.read(tokens.issue(Unsubscribe(5, Stop.MONTHLY))) == Unsubscribe(5, Stop.MONTHLY)
    # Encrypted: neither the person's id nor the stop shows, whether the token is read as
    # it is or base64-decoded (a random "42" in the ciphertext's base64 is no leak).
    opened = base64.urlsafe_b64decode(token)
    assert b'"p":42' not in opened and b"nomail" not in opened and "nomail" not in token
    assert tokens.issue(REQUEST) != token
    # Safe in a URL path as it is.
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


@pytest.mark.parametrize(
    "spoil",
    [
        lambda t: t[:-12],  # cut when copied
        lambda t: t[:40] + ("A" if t[40] != "A" else "B") + t[41:],  # one character changed
        lambda t: "",
        lambda t: "not-a-token",
        lambda t: t + "é",
    ],
    ids=["truncated", "forged", "empty", "garbage", "non-ascii"],
)
def test_a_spoilt_token_is_refused(tokens: Tokens, spoil: object) -> None:
    token = tokens.issue(REQUEST)
    with pytest.raises(TokenRefused):
        tokens.read(spoil(token))  # type: ignore[operator]


def test_a_token_of_another_key_is_refused(tokens: Tokens) -> None:
    other = Tokens(Fernet.generate_key(), days=90)
    with pytest.raises(TokenRefused):
        tokens.read(other.issue(REQUEST))


def test_a_sealed_payload_that_is_not_a_request_is_refused(tmp_path: Path) -> None:
    key = load_key(tmp_path)
    for payload in (b"[]", b'{"p": "42", "s": "nomail", "c": []}', b'{"p": 1, "s": "x", "c": []}'):
        with pytest.raises(TokenRefused):
            Tokens(key, days=90).read(Fernet(key).encrypt(payload).decode())


def test_an_old_token_is_expired_not_forged_and_still_says_what_it_asked(tokens: Tokens) -> None:
    now = time.time()
    old = tokens.issue(REQUEST, at=now - 91 * DAY)
    with pytest.raises(TokenExpired) as expired:
        tokens.read(old, now=now)
    assert expired.value.request == REQUEST
    assert tokens.read(tokens.issue(REQUEST, at=now - 89 * DAY), now=now) == REQUEST


def test_the_key_file_is_private_made_once_and_shared(tmp_path: Path) -> None:
    data = tmp_path / "data"
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(load_key(data))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    path = data / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in data.iterdir()] == [KEY_FILE_NAME]  # no temporary file left
    # A token issued by one process is read by another that loads the same file.
    assert Tokens(load_key(data), 90).read(Tokens(keys[0], 90).issue(REQUEST)) == REQUEST
