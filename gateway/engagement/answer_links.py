"""The answer+TOKEN@ link in a thread author's copy of each reply: its token, signed.

A post's copies are rendered once for all their readers, so the mute link carries the
thread's number alone; this link goes to one person (the thread's first author) and
says "this reply is the answer", so its token names the thread, the reply, that
person and the day it was written, and is signed with an HMAC (SHA-256, 80 bits kept)
keyed from the data folder's key (gateway.web.tokens.load_key: every node sharing the
folder reads the same). Nothing is stored when a link is written: a forged or cut
token fails its signature without a lookup, an old one is told apart by its day.

Tokens are lowercase (digits, dashes, base32): the SMTP edge lowercases addresses,
and the whole local part stays within RFC 5321's 64 characters for ids up to 9 digits.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

from gateway.outbound.mailto import mailto
from gateway.store.models import ActionKind
from gateway.web.tokens import load_key

# A link works this long after its copy was written; a reply saying "solved" always does.
LINK_DAYS = 90
_MAC_BYTES = 10  # 80 bits: 16 base32 characters
_KEY_PURPOSE = b"gateway answer+TOKEN@ links, v1"
_EPOCH = dt.date(1970, 1, 1)
_TOKEN = re.compile(
    r"([1-9][0-9]{0,11})-([1-9][0-9]{0,11})-([1-9][0-9]{0,11})-([0-9]{1,6})-([a-z2-7]{16})"
)


class ForgedToken(Exception):
    """Not a token we wrote: mistyped, cut, or made up."""


class ExpiredToken(Exception):
    """A genuine token older than LINK_DAYS."""


@dataclass(frozen=True)
class AnswerRequest:
    """What a link asks: `person_id` accepts `message_id` as the answer to `thread_id`."""

    thread_id: int
    message_id: int
    person_id: int


class AnswerLinks:
    """Writes and reads the answer tokens of one key."""

    def __init__(self, key: bytes, days: int = LINK_DAYS) -> None:
        self._key = hmac.new(key, _KEY_PURPOSE, hashlib.sha256).digest()
        self.days = days

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> AnswerLinks:
        return cls(load_key(data_dir))

    def token(self, request: AnswerRequest, today: dt.date) -> str:
        body = (
            f"{request.thread_id}-{request.message_id}-{request.person_id}-{(today - _EPOCH).days}"
        )
        return f"{body}-{self._mac(body)}"

    def address(self, request: AnswerRequest, today: dt.date, domain: str) -> str:
        return f"{ActionKind.ANSWER.value}+{self.token(request, today)}@{domain}"

    def link(self, request: AnswerRequest, today: dt.date, domain: str) -> str:
        """The mailto: link of a thread author's copy of a reply."""
        return mailto(self.address(request, today, domain), subject="answer")

    def read(self, token: str, today: dt.date) -> AnswerRequest:
        """The request a token carries; ForgedToken or ExpiredToken when it cannot be used."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise ForgedToken(token)
        body = token.rpartition("-")[0]
        if not hmac.compare_digest(self._mac(body), match[5]):
            raise ForgedToken(token)
        written = int(match[4])
        age = (today - _EPOCH).days - written
        if age < -1:  # a day ahead at most (clocks of several nodes)
            raise ForgedToken(token)
        if age > self.days:
            raise ExpiredToken(token)
        return AnswerRequest(int(match[1]), int(match[2]), int(match[3]))

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()
        return base64.b32encode(digest[:_MAC_BYTES]).decode("ascii").lower()
