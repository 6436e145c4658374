"""The store's tables as SQLAlchemy 2 models (DESIGN.md, "Storage").

Every change here goes with an Alembic revision in gateway/store/migrations/versions;
tests/test_migrations.py fails when the two disagree.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import Dialect
from sqlalchemy import Enum
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import LargeBinary
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import TypeDecorator
from sqlalchemy import UniqueConstraint
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

# Named constraints, so that migrations can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# RFC 5322's line length: no real Message-ID is longer.
MAX_MESSAGE_ID = 998


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: Any) -> dt.datetime:
    """A timestamp UTCDateTime did not convert (an aggregate's min or max, or a column
    read untyped) as an aware datetime: SQLite hands back naive values or strings."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no time zones; without this, values written aware come back naive.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Kind(enum.StrEnum):
    """What a community is about: the ways an enterprise network organises people."""

    FUNCTIONAL = "functional"
    PROJECT = "project"
    SECTOR = "sector"
    PRACTICE = "practice"
    EXPERTISE = "expertise"
    INTEREST = "interest"


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class Policy(enum.StrEnum):
    """Who may post: anyone allowed, members only, held for moderators, or owners only."""

    OPEN = "open"
    MEMBERS = "members"
    MODERATED = "moderated"
    ANNOUNCE = "announce"


class Role(enum.StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"
    OWNER = "owner"


class DeliveryMode(enum.StrEnum):
    INSTANT = "instant"
    DAILY = "daily"
    WEEKLY = "weekly"
    NONE = "none"


class MessageStatus(enum.StrEnum):
    PUBLISHED = "published"
    HELD = "held"
    REJECTED = "rejected"


class Origin(enum.StrEnum):
    """How a message came in: posted by mail, or migrated from an existing archive."""

    SMTP = "smtp"
    IMPORT = "import"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    # Shown, not stored: a pending row a node has claimed (gateway.outbound.deliveries).
    # Rows were stored "sending" until migration 0018.
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Cadence(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class TagKind(enum.StrEnum):
    EXPERTISE = "expertise"
    INTEREST = "interest"


class ActionKind(enum.StrEnum):
    """What an action mail asks for: the action address it came to (gateway.mail.recipients),
    or a post the pipeline held, whose moderators and sender are to be told."""

    # SLUG-<suffix>@ (gateway.mail.addresses.ACTION_SUFFIXES)
    JOIN = "join"
    LEAVE = "leave"
    OWNER = "owner"
    INSTANT = "instant"
    DAILY = "daily"
    WEEKLY = "weekly"
    NOMAIL = "nomail"
    HELP = "help"  # also help@
    # the gateway's own addresses
    PROFILE = "profile"
    POSTMASTER = "postmaster"
    ABUSE = "abuse"
    # with a token after a '+'
    CONFIRM = "confirm"
    BOUNCES = "bounces"
    MUTE = "mute"
    UNMUTE = "unmute"
    ANSWER = "answer"  # answer+TOKEN@: the thread's author accepts a reply as its answer
    # written by the ingest pipeline, not by a person
    HELD = "held"


class NodeState(enum.StrEnum):
    """Where a `gateway serve` node is in its life (gateway.runtime.nodes)."""

    RUNNING = "running"
    DRAINING = "draining"  # SIGTERM came: it takes no new work and finishes its own
    STOPPED = "stopped"  # it exited cleanly, holding nothing


class PendingAction(enum.StrEnum):
    """What a confirmation token was issued for; a reply to confirm+TOKEN@ does it."""

    JOIN = "join"
    ADMIT = "admit"  # an owner lets someone into a private community
    LEAVE = "leave"
    APPROVE = "approve"  # a moderator publishes a held post
    REJECT = "reject"
    # Changes on the sender's behalf, confirmed when the sender was not authenticated
    # (gateway.actions.authenticated); the payload says what will change.
    PROFILE = "profile"  # {"changes": ProfileChanges fields, "monthly": bool | None}
    DELIVERY = "delivery"  # {"mode": "daily"}, with the community
    MUTE = "mute"  # {"thread_id": 12, "muted": true}
    ANSWER = "answer"  # {"thread_id": 12, "message_id": 345}: accept a reply as the answer


def _enum(kind: type[enum.StrEnum], length: int = 16) -> Enum:
    # Stored as plain strings with a CHECK constraint: readable in SQL, portable.
    return Enum(
        kind,
        name=kind.__name__.lower(),
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Community(Base):
    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[Kind] = mapped_column(_enum(Kind), default=Kind.PROJECT)
    visibility: Mapped[Visibility] = mapped_column(_enum(Visibility), default=Visibility.PUBLIC)
    policy: Mapped[Policy] = mapped_column(_enum(Policy), default=Policy.MEMBERS)
    subject_prefix: Mapped[str] = mapped_column(String(80), default="")
    # Where replies go: "community" (the default), "sender", or an address.
    reply_to: Mapped[str] = mapped_column(String(254), default="community")
    default_delivery: Mapped[DeliveryMode] = mapped_column(
        _enum(DeliveryMode), default=DeliveryMode.INSTANT
    )
    # Hold mail relayed from another list (its List-Id, Precedence list or bulk).
    hold_list_mail: Mapped[bool] = mapped_column(Boolean, default=False)
    # Record a reply that only says thanks or "+1" as a reaction instead of sending it on.
    fold_thanks: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="community", cascade="all, delete-orphan"
    )


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Canonical form (gateway.mail.addresses.normalize_address): lowercase, IDNA domain.
    address: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    department: Mapped[str] = mapped_column(String(200), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    # IANA zone for digests at the person's local time; empty: the gateway's.
    timezone: Mapped[str] = mapped_column(String(64), default="")
    # Whether the person gets the monthly "your network" mail (gateway.adoption.monthly).
    monthly_mail: Mapped[bool] = mapped_column(Boolean, default=True)
    # Whether the archive's person page shows "Write to" (a mailto link to the person);
    # None: as [archive] show_write_to says (archive.snapshot).
    show_write_to: Mapped[bool | None] = mapped_column(Boolean, nullable=True, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="person")
    tags: Mapped[list[PersonTag]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="PersonTag.position"
    )


class PersonTag(Base):
    """One expertise or interest of a person; `tag` is the folded form used for search."""

    __tablename__ = "person_tags"
    __table_args__ = (UniqueConstraint("person_id", "kind", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    kind: Mapped[TagKind] = mapped_column(_enum(TagKind))
    tag: Mapped[str] = mapped_column(String(100), index=True)
    label: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)

    person: Mapped[Person] = relationship(back_populates="tags")


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("person_id", "community_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(_enum(Role), default=Role.MEMBER)
    delivery: Mapped[DeliveryMode] = mapped_column(
        _enum(DeliveryMode), default=DeliveryMode.INSTANT
    )
    # Whether the member also receives their own posts (off by default).
    own_posts: Mapped[bool] = mapped_column(Boolean, default=False)
    bounce_score: Mapped[int] = mapped_column(Integer, default=0)
    # The last bounce counted; an old one no longer adds up (gateway.outbound.bounces).
    bounced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Set when bounces passed the threshold: no mail is sent until an admin clears it.
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship(back_populates="memberships")
    community: Mapped[Community] = relationship(back_populates="memberships")


class Thread(Base):
    __tablename__ = "threads"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_activity_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    message_count: Mapped[int] = mapped_column(Integer, default=0)


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Normalized Message-ID without angle brackets; generated when the mail had none.
    message_id: Mapped[str] = mapped_column(String(MAX_MESSAGE_ID), unique=True)
    thread_id: Mapped[int | None] = mapped_column(
        ForeignKey("threads.id", ondelete="SET NULL"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    sender_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    sender_address: Mapped[str] = mapped_column(String(254), default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    # The Date header, when it had a usable one.
    date: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    in_reply_to: Mapped[str] = mapped_column(Text, default="")
    references: Mapped[str] = mapped_column(Text, default="")
    # Outlook's Thread-Index (base64) and its first 22 bytes in hex, which name the
    # conversation: corporate clients often send only this (see gateway.threads.rules).
    thread_index: Mapped[str] = mapped_column(String(255), default="")
    conversation: Mapped[str] = mapped_column(String(64), default="", index=True)
    body_text: Mapped[str] = mapped_column(Text, default="")
    # Sanitized once at ingest (gateway.mail.sanitize); never sanitized again.
    body_html: Mapped[str] = mapped_column(Text, default="")
    raw_sha256: Mapped[str] = mapped_column(String(64))
    raw_size: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[MessageStatus] = mapped_column(
        _enum(MessageStatus), default=MessageStatus.PUBLISHED
    )
    origin: Mapped[Origin] = mapped_column(_enum(Origin), default=Origin.SMTP)
    # Problems found while parsing (e.g. "malformed"); the raw blob is kept regardless.
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)

    communities: Mapped[list[Community]] = relationship(
        secondary="message_communities", order_by="Community.slug"
    )
    thread: Mapped[Thread | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="Attachment.position"
    )


class MessageCommunity(Base):
    """A message cross-posted to several communities is stored once, linked to each."""

    __tablename__ = "message_communities"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # Why a held post waits in this community (gateway.ingest.errors.HoldReason values,
    # set by the authorize stage); empty where the post is published. Kept once
    # the post is approved: the record of why it waited.
    hold_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Where the post stands in this community: a cross-post is published where its
    # sender may post and held only where a policy holds it (issue 18). The message's
    # own status sums its links up: published if published in any community.
    status: Mapped[MessageStatus] = mapped_column(
        _enum(MessageStatus), default=MessageStatus.PUBLISHED
    )


class MessageReference(Base):
    """One Message-ID a message names in References or In-Reply-To.

    Indexed by the referenced id, so that a parent arriving after its replies
    finds them (gateway.threads.rules relinks them).
    """

    __tablename__ = "message_references"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    referenced_id: Mapped[str] = mapped_column(String(998), index=True)
    # True for the In-Reply-To id, which names the direct parent.
    in_reply_to: Mapped[bool] = mapped_column(Boolean, default=False)


class InboxMail(Base):
    """Mail accepted over SMTP and not yet through the ingest pipeline: the spool.

    The SMTP 250 is sent once this row is committed (the raw bytes are then in the
    synced database); the inbox processor runs the pipeline and deletes the row in
    the same transaction that stores the message, so each mail is ingested once,
    also across a crash (DESIGN.md, principles 1 and 2).
    """

    __tablename__ = "inbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Small mail is kept here; large mail goes to the blob store and is named here.
    raw: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    raw_sha256: Mapped[str] = mapped_column(String(64), default="")
    mail_from: Mapped[str] = mapped_column(Text, default="")
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    peer: Mapped[str] = mapped_column(String(64), default="")
    # Failed ingest attempts (a bug, logged); after MAX_ATTEMPTS the mail waits for an admin.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # The node whose inbox processor took the mail, and until when it holds it
    # (gateway.ingest.spool_claims); None while the mail waits for a processor.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class DiscardedMail(Base):
    """A mail accepted (250) and not published nor acted on: what it was and why, so that
    no mail disappears without a trace (`gateway inbox discarded`). The raw bytes are not
    kept: discards are automatic mail (our own coming back, auto-replies, reports)."""

    __tablename__ = "discarded_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str] = mapped_column(String(254), default="")
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    message_id: Mapped[str] = mapped_column(String(998), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    discarded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ActionMail(Base):
    """Mail to an action address (join, leave, profile, confirm, bounces...), a
    delivery report, or a post just held (HELD: its moderators are to be told):
    kept, with its raw blob, for the code that acts on it (gateway.actions).

    One row per Message-ID and recipient: a mail that reaches the gateway twice (an
    MTA's retry, on the same node or another) is acted on, and answered, once."""

    __tablename__ = "action_mail"
    __table_args__ = (UniqueConstraint("message_id", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    action: Mapped[ActionKind] = mapped_column(_enum(ActionKind, 32), index=True)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    token: Mapped[str] = mapped_column(String(128), default="")
    sender: Mapped[str] = mapped_column(String(254), default="")
    message_id: Mapped[str] = mapped_column(String(998), default="")
    raw_sha256: Mapped[str] = mapped_column(String(64))
    raw_size: Mapped[int] = mapped_column(BigInteger, default=0)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    # The SMTP peer it came from and the envelope sender it gave: a trusted relay
    # vouches for the sender when the envelope and From name the same address.
    peer: Mapped[str] = mapped_column(String(64), default="")
    envelope_sender: Mapped[str] = mapped_column(String(254), default="")
    # What the email actions did: "answered" (counted by the hourly limit), "ignored", ...
    outcome: Mapped[str] = mapped_column(String(32), default="")


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Sanitized: no directories, no control characters (see gateway.ingest).
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # For inline images referenced as cid: from the HTML part.
    content_id: Mapped[str] = mapped_column(String(998), default="")
    inline: Mapped[bool] = mapped_column(Boolean, default=False)

    message: Mapped[Message] = relationship(back_populates="attachments")


class Delivery(Base):
    """One outgoing mail to one recipient: the unit of the delivery queue.

    A post's copy names its message and the community whose headers and footer it
    carries (one copy per person, even for a cross-post). Mail the gateway writes
    itself (notices, replies, digests) carries its bytes in `content`, dropped once
    sent: thousands of digests a minute are rows, not files.

    No foreign keys: every copy writes its row three times (queued, claimed, sent), and
    PostgreSQL checked each key on every insert, which was 60% of queueing a post
    (migration 0017). The gateway never deletes a message, a community or a person; a
    row keeps its recipient's address, and a copy whose message or community is gone
    fails with that reason.

    A claim writes only columns no index reads (the lease, the attempts): the row stays
    "pending", and PostgreSQL rewrites it within its page without touching an index (a
    HOT update), for which each page is filled half by inserts (fillfactor 50), leaving
    room for a new version of each row. The due index holds pending rows only: sent
    ones leave it (migration 0018).
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("message_id", "person_id"),
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(Integer)
    community_id: Mapped[int | None] = mapped_column(Integer)
    person_id: Mapped[int | None] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(String(254))
    # What kind of mail: "post", or the template key of a generated mail.
    kind: Mapped[str] = mapped_column(String(32), default="post")
    # A generated mail's bytes until it is sent; None for a post (rendered from its message).
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # While "sending": the node that claimed it and until when its claim holds unless
    # renewed (gateway.outbound.deliveries); None otherwise. No index reads them: a
    # claim is then a HOT update.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class DigestRun(Base):
    """A digest for one person, cadence and period: sent exactly once (unique key)."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("person_id", "cadence", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    cadence: Mapped[Cadence] = mapped_column(_enum(Cadence))
    # "2026-11-26" for a daily digest, "2026-W48" for a weekly one.
    period: Mapped[str] = mapped_column(String(16))
    # "queued" (its mail is in the delivery queue) or "empty" (nothing new: no mail)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    # The posts it covers were received in [window_start, window_end); the next
    # digest starts where this one ended, so downtime skips nothing.
    window_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class MonthlyRun(Base):
    """A monthly mail for one person and month, sent exactly once (unique key): a
    member's "your network" mail (community_id 0), or an owner's report on one
    community (gateway.adoption.monthly)."""

    __tablename__ = "monthly_runs"
    __table_args__ = (UniqueConstraint("person_id", "kind", "community_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "network" or "report"
    # No foreign key: 0 (no community) must be part of the unique key.
    community_id: Mapped[int] = mapped_column(Integer, default=0)
    period: Mapped[str] = mapped_column(String(16))  # "2026-12"
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued, empty
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Confirmation(Base):
    """A pending action awaiting a reply to confirm+TOKEN@ (join, leave, moderation)."""

    __tablename__ = "confirmations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    action: Mapped[PendingAction] = mapped_column(_enum(PendingAction, 32))
    address: Mapped[str] = mapped_column(String(254))
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE")
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ThreadMute(Base):
    """A person who asked for no more mail about a thread: no instant copy, no digest entry."""

    __tablename__ = "thread_mutes"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReactionSource(enum.StrEnum):
    """What a reaction was made from."""

    RFC9078 = "rfc9078"  # Content-Disposition: reaction (RFC 9078)
    GMAIL = "gmail"  # a text/vnd.google.email-reaction+json part
    REPLY = "reply"  # a reply whose new text was only thanks or "+1"
    IMPORT = "import"  # an export or archive that carried it
    CLI = "cli"


class Reaction(Base):
    """One person's emoji on one message: counted on the page and in digests, never mailed."""

    __tablename__ = "reactions"
    __table_args__ = (UniqueConstraint("message_id", "person_id", "emoji"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    emoji: Mapped[str] = mapped_column(String(32))
    source: Mapped[ReactionSource] = mapped_column(_enum(ReactionSource))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The mail it came in (normalized Message-ID, raw blob): a replay changes nothing,
    # and an export gives the mail back as it was. Empty for the CLI.
    mail_message_id: Mapped[str] = mapped_column(String(MAX_MESSAGE_ID), default="", index=True)
    raw_sha256: Mapped[str] = mapped_column(String(64), default="")


class ThreadAnswer(Base):
    """The reply a thread's first author (or a community owner or moderator) accepted as
    the answer to its question: at most one per thread, a later choice replaces it."""

    __tablename__ = "thread_answers"

    thread_id: Mapped[int] = mapped_column(
        ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Node(Base):
    """A `gateway serve` process on one database ([gateway] node_id): registered at its
    start, its heartbeat (seen_at) written every few seconds, for `gateway status`."""

    __tablename__ = "nodes"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[NodeState] = mapped_column(_enum(NodeState), default=NodeState.RUNNING)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Singleton(Base):
    """Work that one node at a time does (the digest scheduler, the archive builder):
    the node holding it and until when its lease lasts unless renewed
    (gateway.store.singletons). lease_until None: released, free to take."""

    __tablename__ = "singletons"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # No foreign key to nodes: `gateway archive build` holds one without being a node.
    node_id: Mapped[str] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Since when this holder has held it (kept across renewals).
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
