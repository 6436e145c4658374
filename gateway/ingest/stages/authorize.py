"""Stage authorize: may the sender post to each community? If not, the post is held.

Policies: open (any sender of an allowed domain), members (members only),
moderated (every post held), announce (owners and moderators only). A community
that closed after the SMTP edge accepted the recipient holds the post too. The
reasons are kept per community (ctx.holds); a post cross-posted to several
communities is held if any of them holds it. A community may also hold mail
relayed from another list (hold_list_mail). Imported history was already
published where it came from: an admin's import is published, unless the
community closed meanwhile. In a batch, the senders' roles are asked of the
store in one query for all its mails.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from gateway.store.sql import chunks


def run_batch(ctxs: Sequence[IngestContext]) -> list[None]:
    """Every mail of a batch, after one query for the roles of all their senders (one
    round trip to the store for the batch, not one per mail)."""
    _fetch_roles([ctx for ctx in ctxs if ctx.communities and ctx.mail.origin is not Origin.IMPORT])
    for ctx in ctxs:
        _authorize(ctx)
    return [None] * len(ctxs)


def _fetch_roles(ctxs: Sequence[IngestContext]) -> None:
    """Fill the batch's cache of roles for these mails' senders in their communities."""
    missing = [(ctx, key) for ctx in ctxs if (key := _roles_key(ctx)) not in ctx.cache.roles]
    if not missing:
        return
    senders = sorted({sender for _, (sender, _) in missing})
    community_ids = sorted({i for _, (_, ids) in missing for i in ids})
    session = missing[0][0].session
    found: dict[str, dict[int, Role]] = {}
    for chunk in chunks(senders):
        for address, community_id, role in session.execute(
            select(Person.address, Membership.community_id, Membership.role)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.address.in_(chunk), Membership.community_id.in_(community_ids))
        ):
            found.setdefault(address, {})[community_id] = role
    for ctx, (sender, ids) in missing:
        roles = found.get(sender, {})
        ctx.cache.roles[sender, ids] = {i: roles[i] for i in ids if i in roles}


def _roles_key(ctx: IngestContext) -> tuple[str, tuple[int, ...]]:
    return ctx.sender, tuple(sorted(c.id for c in ctx.communities))


def _authorize(ctx: IngestContext) -> None:
    for community in ctx.communities:
        if community.closed_at is not None:
            ctx.hold(community, HoldReason.COMMUNITY_CLOSED)
    if not ctx.communities or ctx.mail.origin is Origin.IMPORT:
        return
    sender = ctx.sender
    roles = ctx.cache.roles[_roles_key(ctx)]  # asked by run_batch for the whole batch
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
