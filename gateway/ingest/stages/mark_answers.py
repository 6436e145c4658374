"""Stage mark_answers: a reply that only says "solved" or "résolu" marks the message it
replies to as its thread's answer, and is not posted.

Only when its sender may choose that thread's answer (gateway.engagement.answers:
the thread's first author, or an owner or moderator of one of its communities), may
post where it was sent (authorize held it nowhere), and sent it to one of the
thread's communities; the message it replies to (In-Reply-To, else References) must
be a published reply of that thread. Otherwise it is a post like any other, so that
no one's "solved" is lost. Imported mail is history: never read here. Runs before
fold_reactions: "Résolu, merci" marks an answer, it is not a thank-you.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from gateway.community.people import find_person
from gateway.engagement.answers import AnswerRefused
from gateway.engagement.answers import accept_answer
from gateway.engagement.answers import may_accept
from gateway.engagement.answers import thread_communities
from gateway.engagement.solved import says_solved
from gateway.ingest.context import IngestContext
from gateway.ingest.errors import AnswerMarked
from gateway.mail.trim import trim_text
from gateway.store.models import Message
from gateway.store.models import Origin
from gateway.store.models import Thread
from gateway.threads.rules import candidates

log = logging.getLogger("gateway.ingest")


def run(ctx: IngestContext) -> None:
    parsed = ctx.parsed
    if parsed is None or ctx.mail.origin is not Origin.SMTP or not ctx.published_in:
        return
    if not parsed.in_reply_to and not parsed.references:
        return
    own = trim_text(parsed.body_text, whole_if_empty=False).new_text
    if not says_solved(own, parsed.from_name):
        return
    session = ctx.session
    if session.scalar(select(Message.id).where(Message.message_id == ctx.message_id)):
        return  # a copy of a stored post: write_messages says so
    answer = _replied_to(ctx, candidates(parsed.references, parsed.in_reply_to))
    if answer is None or answer.thread_id is None:
        return
    thread = session.get(Thread, answer.thread_id)
    person = find_person(session, ctx.sender)
    if thread is None or person is None:
        return
    sent_to = {c.id for c in ctx.published_in}
    if not sent_to & {c.id for c in thread_communities(session, thread.id)}:
        return
    if not may_accept(session, thread, person):
        return
    try:
        changed = accept_answer(session, thread.id, answer.id, person.id, ctx.mail.received_at)
    except AnswerRefused:
        return  # the question itself, or a held reply: a post like any other
    log.info(
        "message-id=<%s> from=%s: <%s> is the answer to thread %d%s",
        ctx.message_id,
        ctx.sender,
        answer.message_id,
        thread.id,
        "" if changed else " (already)",
    )
    raise AnswerMarked()


def _replied_to(ctx: IngestContext, message_ids: list[str]) -> Message | None:
    """The first stored message the reply names, best candidate first."""
    for message_id in message_ids[:20]:
        found = ctx.session.scalar(select(Message).where(Message.message_id == message_id))
        if found is not None:
            return found
    return None
