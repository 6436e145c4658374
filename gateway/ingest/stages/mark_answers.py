"""Stage mark_answers: a reply that only says "solved" or "résolu" marks the message it
replies to as its thread's answer, and is not posted.

Only when its sender may choose that thread's answer (gateway.engagement.answers:
the thread's first author, or an owner or moderator of one of its communities), may
post everywhere it was sent (authorize held it nowhere), and sent it only to the
thread's communities; the message it replies to (gateway.engagement.reactions'
answered_message: In-Reply-To, else References, published where it was sent) must be
a published reply of that thread. "Solved, thanks Bob" names the answered author,
as thanks do. Otherwise it is a post like any other, so that no one's "solved" is
lost. Not read here: imported mail (history), and a reply the gateway rebuilt from a
reply to a digest or a notice (InboundMail.rebuilt_reply: the message it replies to
was the gateway's pick, not the reader's). Runs before fold_reactions: "Résolu,
merci" marks an answer, it is not a thank-you.
"""

from __future__ import annotations

import logging

from gateway.community.people import find_person
from gateway.engagement.answers import AnswerRefused
from gateway.engagement.answers import check_answer
from gateway.engagement.answers import choose
from gateway.engagement.answers import may_accept
from gateway.engagement.answers import thread_communities
from gateway.engagement.reactions import Lookup
from gateway.engagement.reactions import answered_message
from gateway.engagement.reactions import message_known
from gateway.engagement.solved import says_solved
from gateway.ingest.context import IngestContext
from gateway.ingest.errors import AnswerMarked
from gateway.store.models import Message
from gateway.store.models import Origin

log = logging.getLogger("gateway.ingest")


def run(ctx: IngestContext) -> None:
    parsed = ctx.parsed
    if parsed is None or ctx.mail.origin is not Origin.SMTP or ctx.mail.rebuilt_reply:
        return
    if not ctx.communities or ctx.holds:
        return
    if not parsed.in_reply_to and not parsed.references:
        return
    own = ctx.own_parts.new_text
    # The answered author's name is only known once the message is looked up: worth a
    # look only if the words would do with any name beside them.
    if not says_solved(own, [parsed.from_name, own]):
        return
    session = ctx.session
    if message_known(session, ctx.message_id):
        return  # a copy of a stored post: write_messages says so
    sent_to = {c.id for c in ctx.communities}
    answered = answered_message(session, parsed.in_reply_to, parsed.references, sent_to)
    if answered.lookup is not Lookup.FOUND or answered.message_id is None:
        return
    if not says_solved(own, [parsed.from_name, answered.sender_name]):
        return
    message = session.get(Message, answered.message_id)
    person = find_person(session, ctx.sender)
    if message is None or message.thread_id is None or person is None:
        return
    try:
        candidate = check_answer(session, message.thread_id, message.id)
    except AnswerRefused:
        return  # the question itself, or a held reply: a post like any other
    if not sent_to <= {c.id for c in thread_communities(session, message.thread_id)}:
        return
    if not may_accept(session, candidate, person):
        return
    changed = choose(session, candidate, person.id, ctx.mail.received_at)
    log.info(
        "message-id=<%s> from=%s: <%s> is the answer to thread %d%s",
        ctx.message_id,
        ctx.sender,
        message.message_id,
        message.thread_id,
        "" if changed else " (already)",
    )
    raise AnswerMarked()
