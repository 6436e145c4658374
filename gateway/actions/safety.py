"""Which mail the email actions never answer (nor act on): automatic mail of any kind.

The screen stage already drops most of it before it is stored; this is checked
again on what reaches the actions, with the senders no person writes from.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.ingest.stages.screen import is_auto_reply
from gateway.ingest.stages.screen import is_loop

# Local parts of addresses that belong to software, not people (RFC 3834 section 2).
ROBOT_LOCAL_PARTS = frozenset(
    {
        "mailer-daemon",
        "postmaster",
        "noreply",
        "no-reply",
        "no_reply",
        "donotreply",
        "do-not-reply",
        "bounce",
        "bounces",
    }
)


def is_automatic(headers: Mapping[str, str], sender: str, domain: str) -> bool:
    """Auto-submitted, bulk or list mail, our own mail, or a robot's address."""
    if is_loop(headers, domain) or is_auto_reply(headers):
        return True
    local, _, host = sender.rpartition("@")
    if host == domain:
        return True
    base = local.partition("+")[0]
    return not local or base in ROBOT_LOCAL_PARTS or base.startswith(("noreply", "no-reply"))
