"""email.policy.SMTP that parses each distinct header field once.

The stdlib's modern API parses a header every time it is read or set: rendering
one post parsed its Content-Type fifteen times (get_content_type, get_body,
get_content, set_content...), and that was most of a copy's cost. A parsed header
is an immutable str, so the same one can be handed out again.
"""

from __future__ import annotations

import email.policy
import functools
from typing import Any

# Fields longer than this are parsed each time: rare, and not worth keeping.
LONGEST_KEPT = 1000


class CachingPolicy(email.policy.EmailPolicy):
    def header_fetch_parse(self, name: str, value: Any) -> Any:
        if hasattr(value, "name") or len(value) > LONGEST_KEPT:
            return super().header_fetch_parse(name, value)
        return _fetched(self, name, value)

    def header_store_parse(self, name: str, value: Any) -> Any:
        if type(value) is not str or len(value) > LONGEST_KEPT:
            return super().header_store_parse(name, value)
        return _stored(self, name, value)


@functools.lru_cache(maxsize=512)
def _fetched(policy: email.policy.EmailPolicy, name: str, value: str) -> Any:
    return email.policy.EmailPolicy.header_fetch_parse(policy, name, value)


@functools.lru_cache(maxsize=512)
def _stored(policy: email.policy.EmailPolicy, name: str, value: str) -> Any:
    return email.policy.EmailPolicy.header_store_parse(policy, name, value)


SMTP = CachingPolicy(linesep="\r\n")
