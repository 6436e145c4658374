"""A reply to confirm+TOKEN@ that asks something instead of confirming: never lost.

A member's own requests (join, leave, delivery, profile, mute) are confirmed by a bare
reply. When the words the sender wrote (gateway.actions.text.own_text: quoted text and
signature left out) are not empty and do not start with a word that says yes (YES, in
English, French and German), the reply is a question: the request is NOT confirmed (its
token still works), the mail goes to the community's owners and moderators as a mail
to SLUG-owner@ would (Reply-To the sender), and the sender is told both, and how to
confirm. A request with no community (profile, mute of a thread) has no owners: the
sender is told how to reach those of their communities.

A reply that starts with a yes confirms as before; what follows the yes, if anything,
goes to the owners too. The staff's own tokens (approve, reject, admit) are commands
whatever is written: "write to this address to approve", and a rejection's text is its
reason (gateway.actions.moderation).
"""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway.actions.context import ActionContext
from gateway.actions.membership_changes import staff
from gateway.actions.text import own_text
from gateway.store.models import Community
from gateway.store.models import Confirmation
from gateway.store.models import Membership
from gateway.store.models import PendingAction
from gateway.store.models import Person

MEMBER_REQUESTS = frozenset(
    {
        PendingAction.JOIN,
        PendingAction.LEAVE,
        PendingAction.DELIVERY,
        PendingAction.PROFILE,
        PendingAction.MUTE,
    }
)
# The words that say yes at the start of a reply, in English, French and German.
YES = re.compile(
    r"^\s*(?:yes|yep|yeah|y|ok|okay|sure|agreed|confirm(?:ed)?|oui|d['’]accord|je confirme"
    r"|confirm[ée]|volontiers|ja|bestätigt|\+1|👍)(?![\w'’])",
    re.IGNORECASE,
)


def says_yes(text: str) -> bool:
    """Whether written words start with a yes ("Yes, please", "OK.", "Oui !")."""
    return YES.match(text) is not None


def after_yes(text: str) -> str:
    """What follows the first line of a reply that says yes ("" for "Yes, thanks")."""
    return text.partition("\n")[2].strip()


def handle(ctx: ActionContext) -> bool:
    """Act on a reply that asks instead of confirming; False when it confirms (the caller
    goes on), having sent on what followed its yes."""
    confirmation = _usable(ctx)
    if confirmation is None:
        return False
    text = own_text(ctx.mail.body_text)
    if not text:
        return False
    community = (
        ctx.session.get(Community, confirmation.community_id) if confirmation.community_id else None
    )
    if says_yes(text):
        if after_yes(text) and community is not None:
            _forward(ctx, community)
        return False
    forwarded = community is not None and _forward(ctx, community)
    ctx.answer(
        "action_confirm_question",
        {
            "community": ctx.community_values(community) if community is not None else None,
            "forwarded": forwarded,
            "confirm": ctx.confirm_address(confirmation.token),
            "owners": [c.slug + "-owner@" + ctx.domain for c in _communities_of(ctx)],
            "help": ctx.address("help"),
        },
    )
    return True


def _usable(ctx: ActionContext) -> Confirmation | None:
    """The sender's own pending request this token is for (others are redeem's to refuse)."""
    if not ctx.row.token:
        return None
    confirmation = ctx.session.scalar(
        select(Confirmation).where(Confirmation.token == ctx.row.token)
    )
    if (
        confirmation is None
        or confirmation.action not in MEMBER_REQUESTS
        or confirmation.address != ctx.sender
        or confirmation.used_at is not None
        or confirmation.expires_at <= ctx.now
    ):
        return None
    return confirmation


def _forward(ctx: ActionContext, community: Community) -> bool:
    """The mail to the community's owners and moderators, as SLUG-owner@ sends it."""
    people = staff(ctx, community)
    raw = ctx.blobs.get(ctx.row.raw_sha256)
    for person in people:
        ctx.notify(
            "action_owner_forward",
            person.address,
            {
                "community": ctx.community_values(community),
                "sender": ctx.sender,
                "name": ctx.mail.from_name,
                "subject": ctx.mail.subject,
            },
            person_id=person.id,
            reply_to=ctx.sender,
            attached=raw,
        )
    return bool(people)


def _communities_of(ctx: ActionContext) -> list[Community]:
    return list(
        ctx.session.scalars(
            select(Community)
            .join(Membership, Membership.community_id == Community.id)
            .join(Person, Person.id == Membership.person_id)
            .where(Person.address == ctx.sender, Community.closed_at.is_(None))
            .order_by(Community.name)
        )
    )
