"""answer+TOKEN@: a thread's first author accepts a reply as its answer, from the link in
their copy of that reply (gateway.engagement.answer_links).

The token is signed and names the thread, the reply and the person; a forged, expired,
someone else's or already used token changes nothing and is answered as a bad
confirmation token is (action_token). A token works once: the first time it changes
the answer it is spent (kept as a used confirmation under its own text, so that every
node sees it), and a replay is told it was used. As for a mute, the change is made at
once only when the sender is authenticated; otherwise their address confirms it first
(gateway.actions.on_behalf). Who may accept, and which reply can be the answer, is
gateway.engagement.answers' rule, asked again when the change is made.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from gateway import links
from gateway.actions.context import ActionContext
from gateway.actions.mute import public_thread
from gateway.actions.on_behalf import authenticated
from gateway.actions.on_behalf import confirm_first
from gateway.actions.tokens import TokenProblem
from gateway.community.people import find_person
from gateway.engagement.answer_links import LINK_DAYS
from gateway.engagement.answer_links import AnswerLinks
from gateway.engagement.answer_links import AnswerRequest
from gateway.engagement.answer_links import ExpiredToken
from gateway.engagement.answer_links import ForgedToken
from gateway.engagement.answers import AnswerRefused
from gateway.engagement.answers import accept_answer
from gateway.engagement.answers import check_answer
from gateway.engagement.answers import may_accept
from gateway.store.models import Confirmation
from gateway.store.models import Message
from gateway.store.models import PendingAction
from gateway.store.models import Person


def run(ctx: ActionContext) -> None:
    token = ctx.row.token
    try:
        request = AnswerLinks.for_data_dir(ctx.settings.gateway.data_dir).read(
            token, ctx.now.date()
        )
    except ForgedToken:
        _bad_token(ctx, TokenProblem.UNKNOWN)
        return
    except ExpiredToken:
        _bad_token(ctx, TokenProblem.EXPIRED)
        return
    person = _checked(ctx, request, token)
    if person is None:
        return
    if authenticated(ctx):
        _accept(ctx, request, person, token)
        return
    message = ctx.session.get(Message, request.message_id)
    assert message is not None  # _checked
    confirm_first(
        ctx,
        PendingAction.ANSWER,
        "action_answer_confirm",
        {"subject": message.subject, "author": _author(message)},
        payload={
            "thread_id": request.thread_id,
            "message_id": request.message_id,
            "token": token,
        },
    )


def confirmed(ctx: ActionContext, confirmation: Confirmation) -> None:
    """The person confirmed the answer their address was sent."""
    payload = confirmation.payload
    person = find_person(ctx.session, ctx.sender)
    if person is None:
        _bad_token(ctx, TokenProblem.UNKNOWN)
        return
    request = AnswerRequest(
        int(payload.get("thread_id", 0)), int(payload.get("message_id", 0)), person.id
    )
    token = str(payload.get("token", ""))
    if _checked(ctx, request, token) is not None:
        _accept(ctx, request, person, token)


def _checked(ctx: ActionContext, request: AnswerRequest, token: str) -> Person | None:
    """The sender, when the request is theirs, unused, and may still be done; else None,
    the sender answered."""
    person = find_person(ctx.session, ctx.sender)
    if person is None or person.id != request.person_id:
        _bad_token(ctx, TokenProblem.OTHER_PERSON)
        return None
    if token and _spent(ctx, token):
        _bad_token(ctx, TokenProblem.USED)
        return None
    try:
        thread, message = check_answer(ctx.session, request.thread_id, request.message_id)
    except AnswerRefused:
        _bad_token(ctx, TokenProblem.UNKNOWN)  # the reply or the thread is gone
        return None
    if not may_accept(ctx.session, thread, person):
        _answer(ctx, "refused", message)
        return None
    return person


def _accept(ctx: ActionContext, request: AnswerRequest, person: Person, token: str) -> None:
    message = ctx.session.get(Message, request.message_id)
    assert message is not None
    changed = accept_answer(ctx.session, request.thread_id, message.id, person.id, ctx.now)
    if changed and token:
        _spend(ctx, token, request)
    _answer(ctx, "accepted" if changed else "already", message)


def _answer(ctx: ActionContext, outcome: str, message: Message) -> None:
    ctx.answer(
        "action_answer",
        {
            "outcome": outcome,
            "subject": message.subject,
            "author": _author(message),
            "url": links.thread_url(ctx.settings.archive.base_url, message.thread_id)
            if message.thread_id is not None and public_thread(ctx, message.thread_id)
            else "",
        },
    )


def _bad_token(ctx: ActionContext, problem: TokenProblem) -> None:
    ctx.answer("action_token", {"problem": problem.value, "help": ctx.address("help")})


def _spent(ctx: ActionContext, token: str) -> bool:
    return (
        ctx.session.scalar(
            select(Confirmation.id).where(
                Confirmation.token == token, Confirmation.used_at.is_not(None)
            )
        )
        is not None
    )


def _spend(ctx: ActionContext, token: str, request: AnswerRequest) -> None:
    """Keep the token as a used confirmation: a replay finds it (see _spent)."""
    ctx.session.add(
        Confirmation(
            token=token,
            action=PendingAction.ANSWER,
            address=ctx.sender,
            payload={"thread_id": request.thread_id, "message_id": request.message_id},
            created_at=ctx.now,
            expires_at=ctx.now + dt.timedelta(days=LINK_DAYS),
            used_at=ctx.now,
        )
    )
    ctx.session.flush()


def _author(message: Message) -> str:
    return message.sender_name or message.sender_address
