"""Every reason a mail is not published as it came, declared once with its reply.

A reason is either a discard (accepted with 250, nothing published, logged) or a
hold (stored with status held for moderators). Adding a reason touches this file
and the stage that decides it, nothing else.
"""

from __future__ import annotations

import enum


class Reason(enum.Enum):
    # discards: accepted (250) and not published
    LOOP = "our own mail came back (List-Id or loop header)"
    AUTO_REPLY = "automatic reply"
    REPORT_IN_ARCHIVE = "a delivery report in an imported archive is not a post"
    # holds: stored with status held, for a moderator to approve or reject
    NOT_MEMBER = "the sender is not a member"
    MODERATED = "the community is moderated"
    ANNOUNCE_ONLY = "only owners and moderators post in this community"
    DOMAIN_NOT_ALLOWED = "the sender's domain is not an allowed domain"
    COMMUNITY_CLOSED = "the community closed after the recipient was accepted"

    @property
    def key(self) -> str:
        """Stable name for logs and for the reply templates of later notices."""
        return self.name.lower().replace("_", "-")


class Discard(Exception):
    """A disposition, not an error: stop the pipeline, publish nothing."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class Duplicate(Exception):
    """A disposition: this Message-ID is already stored; store nothing."""
