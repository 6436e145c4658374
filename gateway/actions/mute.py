"""mute+THREAD@ and unmute+THREAD@: no more instant copies nor digest entries of a thread
for the sender, and back. The thread's number is the token: the link is the same in
every copy of a post (copies are rendered once for all their readers), so the change
is made at once only when the sender is authenticated; otherwise their address
confirms it first (gateway.actions.on_behalf)."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy import select

from gateway import links
from gateway.actions.context import ActionContext
from gateway.actions.on_behalf import authenticated
from gateway.actions.on_behalf import confirm_first
from gateway.community.people import find_person
from gateway.store.models import ActionKind
from gateway.store.models import Community
from gateway.store.models import Confirmation
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import PendingAction
from gateway.store.models import Person
from gateway.store.models import Thread
from gateway.store.models import ThreadMute
from gateway.store.models import Visibility


def run(ctx: ActionContext) -> None:
    muting = ctx.row.action == ActionKind.MUTE
    thread = ctx.session.get(Thread, int(ctx.row.token)) if ctx.row.token.isdigit() else None
    person = find_person(ctx.session, ctx.sender)
    if thread is None or person is None:
        ctx.answer("action_token", {"problem": "unknown", "help": ctx.address("help")})
        return
    if _muted(ctx, person, thread) is muting or authenticated(ctx):
        _set(ctx, person, thread, muting)
        return
    confirm_first(
        ctx,
        PendingAction.MUTE,
        "action_mute_confirm",
        {"muted": muting, "subject": thread.subject},
        payload={"thread_id": thread.id, "muted": muting},
    )


def confirmed(ctx: ActionContext, confirmation: Confirmation) -> None:
    """The person confirmed the (un)muting their address was sent."""
    thread = ctx.session.get(Thread, int(confirmation.payload.get("thread_id", 0)))
    person = find_person(ctx.session, ctx.sender)
    if thread is None or person is None:
        ctx.answer("action_token", {"problem": "unknown", "help": ctx.address("help")})
        return
    _set(ctx, person, thread, bool(confirmation.payload.get("muted")))


def _muted(ctx: ActionContext, person: Person, thread: Thread) -> bool:
    return ctx.session.get(ThreadMute, (person.id, thread.id)) is not None


def _set(ctx: ActionContext, person: Person, thread: Thread, muting: bool) -> None:
    muted = _muted(ctx, person, thread)
    if muting and not muted:
        ctx.session.add(ThreadMute(person_id=person.id, thread_id=thread.id, created_at=ctx.now))
    elif not muting and muted:
        ctx.session.execute(
            delete(ThreadMute).where(
                ThreadMute.person_id == person.id, ThreadMute.thread_id == thread.id
            )
        )
    ctx.session.flush()
    ctx.answer(
        "action_mute",
        {
            "muted": muting,
            "subject": thread.subject,
            "url": links.thread_url(ctx.settings.archive.base_url, thread.id)
            if public_thread(ctx, thread.id)
            else "",
            "undo": ctx.address(f"{'unmute' if muting else 'mute'}+{thread.id}"),
        },
    )


def public_thread(ctx: ActionContext, thread_id: int) -> bool:
    """Whether the thread is in a public community, so that its archive page exists."""
    return (
        ctx.session.scalar(
            select(Message.id)
            .join(MessageCommunity, MessageCommunity.message_id == Message.id)
            .join(Community, Community.id == MessageCommunity.community_id)
            .where(Message.thread_id == thread_id, Community.visibility == Visibility.PUBLIC)
            .limit(1)
        )
        is not None
    )
