"""answer+TOKEN@: a thread's first author accepts a reply as its answer, from the link in
their copy of that reply (gateway.engagement.answer_links).

The token is signed and names the thread, the reply and the person; a forged, expired
or someone else's token changes nothing and is answered as a bad confirmation token is
(action_token). A link may be used again: the asker may go back to an earlier choice
with that reply's link, and the link of the reply that is already the answer is told
so ("already"), nothing changed. As for a mute, the change is made at once only when
the sender is authenticated; otherwise their address confirms it first
(gateway.actions.on_behalf), unless nothing would change. Who may accept, and which
reply can be the answer, is gateway.engagement.answers' rule, asked again when a
confirmed change is made.
"""

from __future__ import annotations

from gateway import links
from gateway.actions.context import ActionContext
from gateway.actions.mute import public_thread
from gateway.actions.on_behalf import authenticated
from gateway.actions.on_behalf import confirm_first
from gateway.actions.tokens import TokenProblem
from gateway.community.people import find_person
from gateway.engagement.answer_links import AnswerLinks
from gateway.engagement.answer_links import AnswerRequest
from gateway.engagement.answer_links import ExpiredToken
from gateway.engagement.answer_links import ForgedToken
from gateway.engagement.answers import AnswerRefused
from gateway.engagement.answers import Candidate
from gateway.engagement.answers import check_answer
from gateway.engagement.answers import choose
from gateway.engagement.answers import may_accept
from gateway.store.models import Confirmation
from gateway.store.models import Message
from gateway.store.models import PendingAction
from gateway.store.models import Person
from gateway.store.models import ThreadAnswer


def run(ctx: ActionContext) -> None:
    try:
        request = AnswerLinks.for_data_dir(ctx.settings.gateway.data_dir).read(
            ctx.row.token, ctx.now.date()
        )
    except ForgedToken:
        _bad_token(ctx, TokenProblem.UNKNOWN)
        return
    except ExpiredToken:
        _bad_token(ctx, TokenProblem.EXPIRED)
        return
    checked = _checked(ctx, request)
    if checked is None:
        return
    person, candidate = checked
    if _is_the_answer(ctx, candidate) or authenticated(ctx):
        _accept(ctx, candidate, person)
        return
    message = candidate.message
    confirm_first(
        ctx,
        PendingAction.ANSWER,
        "action_answer_confirm",
        {"subject": message.subject, "author": _author(message)},
        payload={"thread_id": request.thread_id, "message_id": request.message_id},
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
    checked = _checked(ctx, request)
    if checked is not None:
        _accept(ctx, checked[1], checked[0])


def _checked(ctx: ActionContext, request: AnswerRequest) -> tuple[Person, Candidate] | None:
    """The sender and the reply, when the request is theirs and may be done now; else
    None, the sender answered."""
    person = find_person(ctx.session, ctx.sender)
    if person is None or person.id != request.person_id:
        _bad_token(ctx, TokenProblem.OTHER_PERSON)
        return None
    try:
        candidate = check_answer(ctx.session, request.thread_id, request.message_id)
    except AnswerRefused:
        _bad_token(ctx, TokenProblem.UNKNOWN)  # the reply or the thread is gone
        return None
    if not may_accept(ctx.session, candidate, person):
        _answer(ctx, "refused", candidate.message)
        return None
    return person, candidate


def _is_the_answer(ctx: ActionContext, candidate: Candidate) -> bool:
    current = ctx.session.get(ThreadAnswer, candidate.thread.id)
    return current is not None and current.message_id == candidate.message.id


def _accept(ctx: ActionContext, candidate: Candidate, person: Person) -> None:
    changed = choose(ctx.session, candidate, person.id, ctx.now)
    _answer(ctx, "accepted" if changed else "already", candidate.message)


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


def _author(message: Message) -> str:
    return message.sender_name or message.sender_address
