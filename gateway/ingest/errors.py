"""Every reason a mail is not published as it came, declared once.

A discard is accepted with 250, nothing published, logged. A hold is stored with
status held, its reasons kept per community (message_communities.hold_reasons) for
the moderators' and the sender's notices, which explain each reason (templates
mail/action_macros.*.txt: held_reason). Adding a reason touches this file, the
stage that decides it and, for a hold, that macro; nothing else.
"""

from __future__ import annotations

import enum


class DiscardReason(enum.StrEnum):
    """Why a mail is accepted (250) and not published; the value is the log's key."""

    LOOP = "loop"  # our own mail came back (List-Id or loop header)
    AUTO_REPLY = "auto-reply"
    OWN_ADDRESS = "own-address"  # From one of the gateway's own addresses: ours, or forged
    REPORT_IN_ARCHIVE = "report-in-archive"  # a delivery report in an imported archive
    # A reaction (RFC 9078, Gmail) to a message the gateway does not have, or to one not
    # published in the community it was sent to (gateway.ingest.stages.fold_reactions).
    REACTION_UNKNOWN_MESSAGE = "reaction-to-unknown-message"
    REACTION_ELSEWHERE = "reaction-to-another-community"
    # A reaction to a message also published in a community its sender may not post to.
    REACTION_NOT_ALLOWED = "reaction-sender-may-not-post"


class HoldReason(enum.StrEnum):
    """Why a post waits in one community for a moderator; the value is stored."""

    NOT_MEMBER = "not-member"
    MODERATED = "moderated"
    ANNOUNCE_ONLY = "announce-only"  # only owners and moderators post there
    DOMAIN_NOT_ALLOWED = "domain-not-allowed"
    COMMUNITY_CLOSED = "community-closed"  # it closed after the recipient was accepted
    LIST_MAIL = "list-mail"  # relayed by another list, and the community holds such mail


class Discard(Exception):
    """A disposition, not an error: stop the pipeline, publish nothing."""

    def __init__(self, reason: DiscardReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class Duplicate(Exception):
    """A disposition: this Message-ID is already stored; store nothing."""


class AnswerMarked(Exception):
    """A disposition: a "solved" reply made the message it answers its thread's answer
    (gateway.ingest.stages.mark_answers); nothing is posted or delivered."""


class Folded(Exception):
    """A disposition: the mail was recorded as reactions (these emoji) on the message it
    answers; nothing is posted, delivered or answered."""

    def __init__(self, emoji: tuple[str, ...]) -> None:
        super().__init__(" ".join(emoji))
        self.emoji = emoji


class Wait(Exception):
    """Not a disposition: the mail answers another mail of its batch, not yet stored; it
    goes through its stage again once the rest of the batch went further."""
