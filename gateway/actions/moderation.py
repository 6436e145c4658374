"""Moderation by mail: a held post sends each owner and moderator a notice with the post
attached and two reply addresses (approve, reject: confirm+TOKEN@, one pair per
moderator); the sender is told the post waits. Both notices say, for each community,
why the post waits there, as the ingest stages stored it. Replies act through
gateway.community.held."""

from __future__ import annotations

from sqlalchemy import select

from gateway.actions import tokens
from gateway.actions.context import ActionContext
from gateway.actions.membership_changes import staff
from gateway.actions.text import own_text
from gateway.community import held as held_posts
from gateway.mail.headers import is_automatic
from gateway.store.models import ActionKind
from gateway.store.models import ActionMail
from gateway.store.models import Confirmation
from gateway.store.models import Message
from gateway.store.models import MessageStatus
from gateway.store.models import PendingAction


def held(ctx: ActionContext) -> None:
    """A post was held in ctx.community (a row per community of a cross-post)."""
    community = ctx.community
    message = _message(ctx, ctx.row.message_id)
    if community is None or message is None or message.status is not MessageStatus.HELD:
        ctx.outcome = "gone"
        return
    raw = ctx.blobs.get(ctx.row.raw_sha256)
    values = {
        "community": ctx.community_values(),
        "communities": [c.name for c in message.communities],
        "held_in": [
            {"community": ctx.community_values(place.community), "reasons": place.reasons}
            for place in held_posts.held_in(ctx.session, message)
            if place.reasons
        ],
        "author": message.sender_address,
        "name": message.sender_name,
        "subject": message.subject,
        "id": message.id,
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
        ctx.notify(
            "action_held",
            person.address,
            {
                **values,
                "approve": ctx.confirm_address(approve_token),
                "reject": ctx.confirm_address(reject_token),
            },
            person_id=person.id,
            attached=raw,
        )
    ctx.outcome = "notified"
    if _first_row(ctx) and not is_automatic(
        ctx.mail.header_values,
        ctx.sender,
        ctx.domain,
        envelope_sender=ctx.row.envelope_sender,
        extra=ctx.settings.gateway.automatic_headers,
    ):
        ctx.answer("action_held_sender", values)


def approve(ctx: ActionContext, confirmation: Confirmation) -> None:
    message = _message(ctx, str(confirmation.payload.get("message_id", "")))
    if message is None or message.status is not MessageStatus.HELD:
        _already(ctx, message)
        return
    held_posts.approve(ctx.session, message, ctx.now)
    ctx.answer("action_moderated", {"result": "approved", "subject": message.subject})


def reject(ctx: ActionContext, confirmation: Confirmation) -> None:
    message = _message(ctx, str(confirmation.payload.get("message_id", "")))
    if message is None or message.status is not MessageStatus.HELD:
        _already(ctx, message)
        return
    reason = own_text(ctx.mail.body_text)
    held_posts.reject(ctx.session, ctx.templates, ctx.settings, message, reason, ctx.now)
    ctx.answer(
        "action_moderated", {"result": "rejected", "subject": message.subject, "reason": reason}
    )


def _already(ctx: ActionContext, message: Message | None) -> None:
    ctx.answer(
        "action_moderated",
        {
            "result": message.status.value if message is not None else "gone",
            "subject": message.subject if message is not None else "",
        },
    )


def _message(ctx: ActionContext, message_id: str) -> Message | None:
    if not message_id:
        return None
    return ctx.session.scalar(select(Message).where(Message.message_id == message_id))


def _first_row(ctx: ActionContext) -> bool:
    """The sender is told once for a post held in several communities."""
    first = ctx.session.scalar(
        select(ActionMail.id)
        .where(ActionMail.action == ActionKind.HELD, ActionMail.message_id == ctx.row.message_id)
        .order_by(ActionMail.id)
        .limit(1)
    )
    return first == ctx.row.id
