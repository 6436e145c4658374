"""What the ingest stages share: the inbound mail, the session, and what each stage found."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy.orm import Session

from gateway.blobs import BlobWriter
from gateway.ingest.errors import Reason
from gateway.mail.parse import ParsedMessage
from gateway.mail.recipients import Recipient
from gateway.store.models import Community
from gateway.store.models import MessageStatus
from gateway.store.models import Origin
from gateway.store.models import Role


@dataclass(frozen=True)
class InboundMail:
    """One mail as the SMTP edge (or an import) hands it over."""

    raw: bytes
    mail_from: str
    recipients: tuple[str, ...]
    received_at: dt.datetime
    peer: str = ""
    origin: Origin = Origin.SMTP


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
    # authorize
    status: MessageStatus = MessageStatus.PUBLISHED
    reasons: list[Reason] = field(default_factory=list)
    # thread, store
    message: StoredMessage | None = None

    @property
    def sender(self) -> str:
        """Who wrote it: the From address, else the envelope sender."""
        if self.parsed is not None and self.parsed.from_address:
            return self.parsed.from_address
        return self.mail.mail_from.strip().strip("<>").lower()

    def hold(self, reason: Reason) -> None:
        self.status = MessageStatus.HELD
        if reason not in self.reasons:
            self.reasons.append(reason)


@dataclass(frozen=True)
class IngestResult:
    """What happened to one mail, for the SMTP reply and the log line."""

    disposition: str  # published, held, duplicate, discarded, action
    message_id: str
    communities: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # what parsing found wrong (e.g. "malformed")
