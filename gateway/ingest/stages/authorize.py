"""Stage authorize: may the sender post to each community? If not, the post is held.

Policies: open (any sender of an allowed domain), members (members only),
moderated (every post held), announce (owners and moderators only). A community
that closed after the SMTP edge accepted the recipient holds the post too. The
reasons are kept per community (ctx.holds); a post cross-posted to several
communities is held if any of them holds it. A community may also hold mail
relayed from another list (hold_list_mail). Imported history was already
published where it came from: an admin's import is published, unless the
community closed meanwhile.
"""

from __future__ import annotations

from sqlalchemy import select

from gateway.ingest.context import IngestContext
from gateway.ingest.errors import HoldReason
from gateway.mail.addresses import domain_allowed
from gateway.mail.headers import is_list_mail
from gateway.store.models import Membership
from gateway.store.models import Origin
from gateway.store.models import Person
from gateway.store.models import Policy
from gateway.store.models import Role


def run(ctx: IngestContext) -> None:
    for community in ctx.communities:
        if community.closed_at is not None:
            ctx.hold(community, HoldReason.COMMUNITY_CLOSED)
    if not ctx.communities or ctx.mail.origin is Origin.IMPORT:
        return
    sender = ctx.sender
    community_ids = tuple(sorted(c.id for c in ctx.communities))
    key = (sender, community_ids)
    if key not in ctx.cache.roles:
        ctx.cache.roles[key] = dict(
            ctx.session.execute(
                select(Membership.community_id, Membership.role)
                .join(Person, Person.id == Membership.person_id)
                .where(Person.address == sender, Membership.community_id.in_(community_ids))
            ).all()
        )
    roles = ctx.cache.roles[key]
    list_mail = ctx.parsed is not None and is_list_mail(ctx.parsed.headers)
    for community in ctx.communities:
        if list_mail and community.hold_list_mail:
            ctx.hold(community, HoldReason.LIST_MAIL)
        role = roles.get(community.id)
        if community.policy is Policy.OPEN:
            if role is None and not _has_domain(sender, ctx.allowed_domains):
                ctx.hold(community, HoldReason.DOMAIN_NOT_ALLOWED)
        elif community.policy is Policy.MEMBERS:
            if role is None:
                ctx.hold(community, HoldReason.NOT_MEMBER)
        elif community.policy is Policy.MODERATED:
            ctx.hold(community, HoldReason.MODERATED)
        elif community.policy is Policy.ANNOUNCE:
            if role not in (Role.OWNER, Role.MODERATOR):
                ctx.hold(community, HoldReason.ANNOUNCE_ONLY)


def _has_domain(sender: str, allowed_domains: tuple[str, ...]) -> bool:
    return "@" in sender and domain_allowed(sender, allowed_domains)
