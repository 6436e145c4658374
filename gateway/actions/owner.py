"""SLUG-owner@: the mail goes to the community's owners and moderators, attached as it came,
with Reply-To the sender so that their answer reaches the person who wrote.

forward_to_staff is also how a reply to a confirmation that asks something reaches them
(gateway.actions.confirm_questions).
"""

from __future__ import annotations

from gateway.actions.context import ActionContext
from gateway.actions.membership_changes import staff
from gateway.store.models import Community


def run(ctx: ActionContext) -> None:
    community = ctx.known_community()
    if community is None:
        return
    forward_to_staff(ctx, community)
    ctx.outcome = "forwarded"


def forward_to_staff(ctx: ActionContext, community: Community, leaving_out: str = "") -> bool:
    """The mail, attached, to the community's owners and moderators (but `leaving_out`,
    a moderator whose own reply this is); whether anyone got it."""
    people = [p for p in staff(ctx, community) if p.address != leaving_out]
    raw = ctx.blobs.get(ctx.row.raw_sha256)
    values = {
        "community": ctx.community_values(community),
        "sender": ctx.sender,
        "name": ctx.mail.from_name,
        "subject": ctx.mail.subject,
    }
    for person in people:
        ctx.notify(
            "action_owner_forward",
            person.address,
            values,
            person_id=person.id,
            reply_to=ctx.sender,
            attached=raw,
        )
    return bool(people)
