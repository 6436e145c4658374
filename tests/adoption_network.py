"""A small crafted network with known answers, for the adoption tests: who knows what,
who is in which community, and posts at known times (some of them questions).

`POSTS` is the list the tests compute their expected figures from, independently of
gateway.adoption; `build()` creates the network, and `send()` posts it either through
ingest (at the given times) or over SMTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.community.people import ProfileChanges
from gateway.community.people import set_profile
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import InboundMail
from gateway.store.db import transaction
from gateway.store.models import DeliveryMode
from gateway.store.models import Kind
from gateway.store.models import Origin
from gateway.store.models import Policy
from gateway.store.models import Role
from gateway.store.models import Visibility
from tests.factories import raw_post

DOMAIN = "lists.example.com"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)

COMMUNITIES = {
    # slug: (name, kind, visibility, description)
    "design": ("Design", Kind.PRACTICE, Visibility.PUBLIC, "Visual design and typography"),
    "security": ("Security", Kind.EXPERTISE, Visibility.PUBLIC, "Keys, certificates, audits"),
    "finance": ("Finance", Kind.FUNCTIONAL, Visibility.PRIVATE, "Budgets and forecasts"),
    "a11y": ("Accessibility", Kind.INTEREST, Visibility.PUBLIC, "Accessibility for everyone"),
    "it-team": ("IT", Kind.FUNCTIONAL, Visibility.PUBLIC, "The IT department"),
}

PROFILES = {
    "alice@example.com": ProfileChanges(
        name="Alice Martin", department="Design", expertise=["Accessibility", "Typography"]
    ),
    "bob@example.com": ProfileChanges(
        name="Bob Durand",
        department="IT",
        expertise=["Security", "Cryptography"],
        interests=["Typography"],
    ),  # fmt: skip
    "carol@example.com": ProfileChanges(
        name="Carol Petit", department="Sales", interests=["Accessibility"]
    ),
    "dave@example.com": ProfileChanges(),
    "erin@example.com": ProfileChanges(name="Erin Roux", department="IT", expertise=["Budget"]),
    "frank@example.com": ProfileChanges(name="Frank Blanc"),  # mail: none
}

MEMBERS = [
    # (slug, address, role, delivery, joined days ago)
    ("design", "alice@example.com", Role.OWNER, DeliveryMode.INSTANT, 300),
    ("design", "bob@example.com", Role.MEMBER, DeliveryMode.DAILY, 300),
    ("design", "carol@example.com", Role.MEMBER, DeliveryMode.WEEKLY, 30),
    ("design", "dave@example.com", Role.MEMBER, DeliveryMode.INSTANT, 40),
    ("security", "bob@example.com", Role.OWNER, DeliveryMode.INSTANT, 300),
    ("security", "alice@example.com", Role.MEMBER, DeliveryMode.DAILY, 300),
    ("finance", "erin@example.com", Role.OWNER, DeliveryMode.INSTANT, 300),
    ("finance", "dave@example.com", Role.MEMBER, DeliveryMode.NONE, 5),
    ("it-team", "bob@example.com", Role.OWNER, DeliveryMode.INSTANT, 300),
    ("a11y", "frank@example.com", Role.MEMBER, DeliveryMode.NONE, 300),
]


@dataclass(frozen=True)
class Post:
    key: str  # its Message-ID's local part
    slugs: tuple[str, ...]
    sender: str
    subject: str
    at: dt.datetime
    reply_to: str = ""  # the key of its parent
    body: str = "Some words.\n"
    origin: Origin = Origin.SMTP


POSTS = [
    Post("p1", ("design",), "alice@example.com", "Colour contrast for accessibility?",
         NOW - 20 * DAY, body="Which contrast ratio do we follow?\n"),
    Post("p2", ("design",), "bob@example.com", "Re: Colour contrast for accessibility?",
         NOW - 20 * DAY + 2 * HOUR, reply_to="p1"),
    Post("p3", ("design",), "carol@example.com", "Re: Colour contrast for accessibility?",
         NOW - 19 * DAY, reply_to="p2"),
    Post("p4", ("design",), "carol@example.com", "Which font for print",
         NOW - 8 * DAY, body="Any idea which typography works in print?\n"),
    Post("p5", ("security",), "bob@example.com", "TLS certificates renewal",
         NOW - 15 * DAY),
    Post("p6", ("security",), "alice@example.com", "Re: TLS certificates renewal",
         NOW - 14 * DAY, reply_to="p5"),
    Post("p7", ("security", "design"), "alice@example.com", "How do we rotate keys?",
         NOW - 5 * DAY),
    Post("p8", ("security", "design"), "bob@example.com", "Re: How do we rotate keys?",
         NOW - 5 * DAY + 3 * HOUR, reply_to="p7"),
    Post("p9", ("finance",), "erin@example.com", "Budget 2027 questions?",
         NOW - 8 * DAY),
    Post("i1", ("design",), "alice@example.com", "Old accessibility guide",
         NOW - 200 * DAY, origin=Origin.IMPORT),
    Post("i2", ("design",), "carol@example.com", "Re: Old accessibility guide",
         NOW - 3 * DAY, reply_to="i1"),
]  # fmt: skip


def build(app: App) -> None:
    with transaction(app.sessions) as session:
        communities = {}
        for slug, (name, kind, visibility, description) in COMMUNITIES.items():
            communities[slug] = create_community(
                session, slug, name, kind=kind, visibility=visibility,
                description=description, policy=Policy.MEMBERS,
            )  # fmt: skip
            communities[slug].created_at = NOW - 400 * DAY
        for address, changes in PROFILES.items():
            set_profile(session, address, changes)
        for slug, address, role, delivery, days in MEMBERS:
            [membership] = add_members(
                session, communities[slug], [address], role=role, delivery=delivery
            )
            membership.joined_at = NOW - days * DAY


def raw_mail(post: Post) -> bytes:
    parent = f"{post.reply_to}@example.com" if post.reply_to else ""
    return raw_post(
        post.subject,
        post.body,
        message_id=f"{post.key}@example.com",
        sender=post.sender,
        to=post.slugs,
        parent=parent,
    )


def send(deliver: Callable[[Post, bytes], None]) -> None:
    for post in sorted(POSTS, key=lambda p: p.at):
        deliver(post, raw_mail(post))


def ingest(app: App, post: Post, raw: bytes) -> None:
    """Through the ingest pipeline, received at the post's time."""
    recipients = tuple(f"{slug}@{DOMAIN}" for slug in post.slugs)
    [outcome] = ingest_now(
        app, [InboundMail(raw, post.sender, recipients, post.at, origin=post.origin)]
    )
    assert not isinstance(outcome, Exception), outcome
    assert outcome.disposition == "published", outcome
