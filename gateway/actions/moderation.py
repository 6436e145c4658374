"""Moderation by mail: a post held in a community sends that community's owners and
moderators a notice with the post attached, naming the community and why the post
waits there; they approve by replying to it with an empty mail or a bare yes (its
Reply-To is their approve address, confirm+TOKEN@; any other words approve nothing:
gateway.actions.confirm_questions) or reject by writing to the reject address (one
pair per moderator).
The sender is told, for each community that holds the post, that it waits there and
why, and where it was published already. A cross-post held in two communities sends
two notices, each to its own community's moderators. Replies act through
gateway.community.held, in the community of their token only."""

from __future__ import annotations

from sqlalchemy import select

from gateway.actions import tokens
from gateway.actions.context import ActionContext
from gateway.actions.membership_changes import staff
from gateway.actions.text import own_text
from gateway.community import held as held_posts
from gateway.community.publishing import held_communities
from gateway.community.publishing import statuses
from gateway.errors import InvalidInput
from gateway.mail.headers import is_automatic
from gateway.outbound.mailto import mailto
from gateway.store.models import Confirmation
from gateway.store.models import Message
from gateway.store.models import MessageStatus
from gateway.store.models import PendingAction
from gateway.store.models import Visibility


def held(ctx: ActionContext) -> None:
    """A post was held in ctx.community (a row per community that holds a cross-post)."""
    community = ctx.community
    message = _message(ctx, ctx.row.message_id)
    places = held_posts.places(ctx.session, message) if message is not None else []
    # this community only: where the post waits, and why
    here = [
        p
        for p in places
        if community is not None
        and p.community.id == community.id
        and p.status is MessageStatus.HELD
    ]
    if community is None or message is None or not here:
        ctx.outcome = "gone"
        return
    raw = ctx.blobs.get(ctx.row.raw_sha256)
    values = {
        "community": ctx.community_values(),
        "held_in": [
            {"community": ctx.community_values(p.community), "reasons": p.reasons} for p in here
        ],
        # where it is published already; only public communities are named (as in the
        # copies' "also posted in": a moderator need not know a private one)
        "published_in": [
            p.community.name
            for p in places
            if p.status is MessageStatus.PUBLISHED and p.community.visibility is Visibility.PUBLIC
        ],
        "author": message.sender_address,
        "name": message.sender_name,
        "subject": message.subject,
        "days": ctx.settings.actions.token_days,
    }
    payload = {"message_id": message.message_id}
    for person in staff(ctx, community):
        approve_token, reject_token = (
            tokens.issue(
                ctx.session, ctx.settings, ctx.now, action, person.address, community.id, payload
            )
            for action in (PendingAction.APPROVE, PendingAction.REJECT)
        )
        approve_address = ctx.confirm_address(approve_token)
        reject_address = ctx.confirm_address(reject_token)
        ctx.notify(
            "action_held",
            person.address,
            {
                **values,
                "approve": approve_address,
                "reject": reject_address,
                "approve_link": mailto(approve_address, subject="approve"),
                "reject_link": mailto(reject_address, subject="reject"),
            },
            person_id=person.id,
            attached=raw,
            reply_to=approve_address,  # replying to the notice approves the post
        )
    ctx.outcome = "notified"
    if not is_automatic(
        ctx.mail.header_values,
        ctx.sender,
        ctx.domain,
        envelope_sender=ctx.row.envelope_sender,
        extra=ctx.settings.gateway.automatic_headers,
    ):
        ctx.answer("action_held_sender", values)


def approve(ctx: ActionContext, confirmation: Confirmation) -> None:
    """Publish the post in the token's community (not in others that hold it)."""
    message = _message(ctx, str(confirmation.payload.get("message_id", "")))
    where = _token_communities(confirmation)
    try:
        if message is None:
            raise InvalidInput("gone")
        held_posts.approve(ctx.session, message, ctx.now, where or None)
    except InvalidInput:  # decided already (or no longer stored)
        _already(ctx, message, where)
        return
    ctx.answer(
        "action_moderated",
        {"result": "approved", "subject": message.subject, **_named(ctx)},
    )


def reject(ctx: ActionContext, confirmation: Confirmation) -> None:
    """Reject the post in the token's community, and tell its author why."""
    message = _message(ctx, str(confirmation.payload.get("message_id", "")))
    where = _token_communities(confirmation)
    reason = own_text(ctx.mail.body_text)
    try:
        if message is None:
            raise InvalidInput("gone")
        held_posts.reject(
            ctx.session, ctx.templates, ctx.settings, message, reason, ctx.now, where or None
        )
    except InvalidInput:  # decided already (or no longer stored)
        _already(ctx, message, where)
        return
    ctx.answer(
        "action_moderated",
        {"result": "rejected", "subject": message.subject, "reason": reason, **_named(ctx)},
    )


def waits(ctx: ActionContext, confirmation: Confirmation) -> bool:
    """Whether the post of a moderator's token still waits in the token's community."""
    message = _message(ctx, str(confirmation.payload.get("message_id", "")))
    return message is not None and _waits_in(ctx, message, *_token_communities(confirmation))


def held_subject(ctx: ActionContext, confirmation: Confirmation) -> str:
    message = _message(ctx, str(confirmation.payload.get("message_id", "")))
    return message.subject if message is not None else ""


def reject_token(ctx: ActionContext, approving: Confirmation) -> str | None:
    """The unused reject token issued with a moderator's approve token (same notice)."""
    same_community = (
        Confirmation.community_id == approving.community_id
        if approving.community_id is not None
        else Confirmation.community_id.is_(None)
    )
    candidates = ctx.session.scalars(
        select(Confirmation).where(
            Confirmation.action == PendingAction.REJECT,
            Confirmation.address == approving.address,
            same_community,
            Confirmation.used_at.is_(None),
            Confirmation.expires_at > ctx.now,
        )
    )
    message_id = approving.payload.get("message_id")
    return next((c.token for c in candidates if c.payload.get("message_id") == message_id), None)


def _token_communities(confirmation: Confirmation) -> list[int]:
    """The community a moderator's token acts in (none for tokens issued before: all)."""
    return [confirmation.community_id] if confirmation.community_id is not None else []


def _waits_in(ctx: ActionContext, message: Message, *community_ids: int) -> bool:
    """Whether the post waits in one of these communities (none named: in any)."""
    waiting = held_communities(ctx.session, message)
    return any(i in waiting for i in community_ids) if community_ids else bool(waiting)


def _named(ctx: ActionContext) -> dict[str, str]:
    return {"community_name": ctx.community.name if ctx.community is not None else ""}


def _already(ctx: ActionContext, message: Message | None, where: list[int]) -> None:
    """Decided already in that community (by another moderator, or from the CLI)."""
    result = "gone"
    if message is not None:
        found = statuses(ctx.session, message.id)
        mine = [found[i] for i in sorted(found) if not where or i in where]
        result = mine[0].value if mine else message.status.value
    ctx.answer(
        "action_moderated",
        {
            "result": result,
            "subject": message.subject if message is not None else "",
            **_named(ctx),
        },
    )


def _message(ctx: ActionContext, message_id: str) -> Message | None:
    if not message_id:
        return None
    return ctx.session.scalar(select(Message).where(Message.message_id == message_id))
