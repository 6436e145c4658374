"""The one door to flufl.bounce (GNU Mailman's bounce detectors): which recipients a
bounce reports as failing, for good or for now. Never raises: bounces come from strangers.
"""

from __future__ import annotations

import email
import email.policy
import logging
from dataclasses import dataclass

from flufl.bounce import all_failures

log = logging.getLogger("gateway.bounces")


@dataclass(frozen=True)
class Failures:
    """The recipients a bounce names, lowercased: failing for now, and for good."""

    temporary: frozenset[str] = frozenset()
    permanent: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.temporary or self.permanent)


def scan_bounce(raw: bytes) -> Failures:
    """What flufl.bounce reads in `raw`; no failures when it reads nothing or trips."""
    try:
        # The default policy decodes every header to str: some detectors fail on the
        # Header objects compat32 makes of raw 8-bit fields.
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector tripped on hostile or broken input
        log.debug("flufl.bounce could not read a bounce", exc_info=True)
        return Failures()
    permanent_addresses = _addresses(permanent)
    return Failures(_addresses(temporary) - permanent_addresses, permanent_addresses)


def _addresses(found: frozenset[bytes]) -> frozenset[str]:
    return frozenset(
        address.decode("utf-8", "replace").strip().strip("<>").lower() for address in found
    )
