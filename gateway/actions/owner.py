"""SLUG-owner@: the mail goes to the community's owners and moderators, attached as it came,
with Reply-To the sender so that their answer reaches the person who wrote."""

from __future__ import annotations

from gateway.actions.context import ActionContext
from gateway.actions.membership_changes import staff


def run(ctx: ActionContext) -> None:
    community = ctx.known_community()
    if community is None:
        return
    raw = ctx.blobs.get(ctx.row.raw_sha256)
    values = {
        "community": ctx.community_values(),
        "sender": ctx.sender,
        "name": ctx.mail.from_name,
        "subject": ctx.mail.subject,
    }
    for person in staff(ctx, community):
        ctx.notify(
            "action_owner_forward",
            person.address,
            values,
            person_id=person.id,
            reply_to=ctx.sender,
            attached=raw,
        )
    ctx.outcome = "forwarded"
