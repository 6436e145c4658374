"""What the ingest stages share: the inbound mail, the session, and what each stage found."""

from __future__ import annotations

import datetime as dt
import enum
import functools
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy.orm import Session

from gateway.blobs import BlobWriter
from gateway.ingest.errors import HoldReason
from gateway.mail.parse import ParsedMessage
from gateway.mail.recipients import Recipient
from gateway.mail.trim import Trimmed
from gateway.mail.trim import trim_text
from gateway.store.models import Community
from gateway.store.models import MessageStatus
from gateway.store.models import Origin
from gateway.store.models import Role
from gateway.store.models import utcnow


@dataclass(frozen=True)
class InboundMail:
    """One mail as the SMTP edge (or an import) hands it over."""

    raw: bytes
    mail_from: str
    recipients: tuple[str, ...]
    received_at: dt.datetime
    peer: str = ""
    origin: Origin = Origin.SMTP
    # Written by the gateway itself (an import's announcement From help@), not received:
    # the only mail From one of our own addresses that may be published.
    own: bool = False
    # Rebuilt by the gateway from a reply to one of its own mails (a digest, a notice:
    # gateway.actions.replies): its In-Reply-To is the thread's newest message, which
    # the gateway chose, not the reader. Such a reply marks no answer.
    rebuilt_reply: bool = False


@dataclass(frozen=True)
class StoredMessage:
    """The row the write_messages stage wrote for a post: what the later stages need of it."""

    id: int
    sender_id: int | None


@dataclass
class BatchCache:
    """Lookups shared by the mails of one batch (one transaction): a batch of posts
    to the same community, or from the same people, asks the database once."""

    communities: dict[str, Community | None] = field(default_factory=dict)
    people: dict[str, int | None] = field(default_factory=dict)
    # (sender, community ids) -> the sender's role in each of them
    roles: dict[tuple[str, tuple[int, ...]], dict[int, Role]] = field(default_factory=dict)


@dataclass
class IngestContext:
    mail: InboundMail
    session: Session
    blobs: BlobWriter
    domain: str
    allowed_domains: tuple[str, ...] = ()
    automatic_headers: tuple[str, ...] = ()  # [gateway] automatic_headers
    cache: BatchCache = field(default_factory=BatchCache)
    # parse
    parsed: ParsedMessage | None = None
    raw_sha256: str = ""
    message_id: str = ""
    # screen
    is_report: bool = False
    # route
    communities: list[Community] = field(default_factory=list)
    actions: list[Recipient] = field(default_factory=list)
    # authorize: why the post waits, per community id (none: it is published)
    holds: dict[int, list[HoldReason]] = field(default_factory=dict)
    # fold_reactions: it waited once for the mail it answers, stored later in its batch
    waited: bool = False
    # thread, store
    message: StoredMessage | None = None

    @functools.cached_property
    def own_parts(self) -> Trimmed:
        """The plain body's parts, none kept whole (gateway.mail.trim): trimmed once for
        the stages that read what a reply says itself (mark_answers, fold_reactions)."""
        assert self.parsed is not None
        return trim_text(self.parsed.body_text, whole_if_empty=False)

    @property
    def sender(self) -> str:
        """Who wrote it: the From address, else the envelope sender."""
        if self.parsed is not None and self.parsed.from_address:
            return self.parsed.from_address
        return self.mail.mail_from.strip().strip("<>").lower()

    @property
    def status(self) -> MessageStatus:
        """The message's own status: published if it is published in any of its
        communities (each community's is on its link)."""
        return MessageStatus.PUBLISHED if self.published_in else MessageStatus.HELD

    @property
    def published_in(self) -> list[Community]:
        """The communities where the post is published at once: none holds it there."""
        return [community for community in self.communities if community.id not in self.holds]

    @property
    def held_in(self) -> list[Community]:
        """The communities where the post waits for a moderator."""
        return [community for community in self.communities if community.id in self.holds]

    @property
    def reasons(self) -> list[HoldReason]:
        """Every reason the post is held for, once, in the order they were found."""
        return list(dict.fromkeys(r for reasons in self.holds.values() for r in reasons))

    def hold(self, community: Community, reason: HoldReason) -> None:
        reasons = self.holds.setdefault(community.id, [])
        if reason not in reasons:
            reasons.append(reason)


class Disposition(enum.StrEnum):
    """What became of one mail, for the SMTP log and the importer's tally."""

    PUBLISHED = "published"
    HELD = "held"
    DUPLICATE = "duplicate"  # its Message-ID was already stored
    DISCARDED = "discarded"
    ACTION = "action"  # no community named: only action addresses (or a delivery report)
    ANSWER = "answer"  # a "solved" reply: it marked its thread's answer, and is not posted
    REACTION = "reaction"  # recorded as reactions on the message it answers, not posted


@dataclass(frozen=True)
class IngestResult:
    """What happened to one mail, for the SMTP reply and the log line."""

    disposition: Disposition
    message_id: str
    communities: tuple[str, ...] = ()
    # a discard's reason, a held post's reasons (HoldReason), the actions named, or
    # the emoji of a reaction
    reasons: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # what parsing found wrong (e.g. "malformed")


def received_at(ctx: IngestContext) -> dt.datetime:
    """When the mail reached its community: now, or for an imported archive the
    message's own Date (not one in the future), else its envelope's date."""
    parsed = ctx.parsed
    if ctx.mail.origin is Origin.IMPORT and parsed is not None and parsed.date is not None:
        if parsed.date <= utcnow() + dt.timedelta(days=1):
            return parsed.date
    return ctx.mail.received_at
