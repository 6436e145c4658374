"""Stage thread: the message row, once per Message-ID, in its thread under its parent.

A Message-ID already stored (an MTA that split the recipients, a retry) is not
stored again: its new communities are linked, and the pipeline stops there.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from gateway.ingest.context import IngestContext
from gateway.ingest.errors import Duplicate
from gateway.outbound.deliveries import enqueue_post
from gateway.store.models import MAX_MESSAGE_ID
from gateway.store.models import Message
from gateway.store.models import MessageStatus
from gateway.store.models import Origin
from gateway.store.models import Person
from gateway.store.models import utcnow
from gateway.threads import canonical_thread_index
from gateway.threads import conversation_key
from gateway.threads import decode_thread_index
from gateway.threads import thread_message


def _usable(reference: str) -> bool:
    """A reference worth threading on: an id-left@id-right of sane length (RFC 5322 3.6.4).

    git send-email leaves "<yes>" in References when its prompt was answered
    literally; as a ghost parent it would join unrelated patch series.
    """
    return "@" in reference and len(reference) <= MAX_MESSAGE_ID


def run(ctx: IngestContext) -> None:
    if not ctx.communities:
        return
    assert ctx.parsed is not None
    session = ctx.session
    existing = session.scalar(select(Message).where(Message.message_id == ctx.message_id))
    if existing is not None:
        if ctx.status is MessageStatus.PUBLISHED:
            _add_communities(ctx, existing)
        raise Duplicate(ctx.message_id)
    parsed = ctx.parsed
    references = [ref for ref in parsed.references if _usable(ref)]
    in_reply_to = [ref for ref in parsed.in_reply_to if _usable(ref)]
    index = decode_thread_index(parsed.thread_index)
    sender = ctx.sender[:254]
    if sender not in ctx.cache.people:
        ctx.cache.people[sender] = session.scalar(select(Person.id).where(Person.address == sender))
    message = Message(
        message_id=ctx.message_id,
        sender_id=ctx.cache.people[sender],
        sender_address=sender,
        sender_name=parsed.from_name[:200],
        subject=parsed.subject,
        date=parsed.date,
        received_at=received_at(ctx),
        in_reply_to=" ".join(in_reply_to),
        references=" ".join(references),
        thread_index=canonical_thread_index(index)[:255],
        conversation=conversation_key(index),
        body_text=parsed.body_text,
        body_html=parsed.body_html,
        raw_sha256=ctx.raw_sha256,
        raw_size=len(ctx.mail.raw),
        status=ctx.status,
        origin=ctx.mail.origin,
        flags=list(parsed.flags),
    )
    message.communities = list(ctx.communities)
    session.add(message)
    thread_message(
        session,
        message,
        references=references,
        in_reply_to=in_reply_to,
        community_ids=[community.id for community in ctx.communities],
        subject_prefixes=[community.subject_prefix for community in ctx.communities],
        now=received_at(ctx),
    )
    ctx.message = message


def _add_communities(ctx: IngestContext, existing: Message) -> None:
    """A copy of a stored post sent to more communities (an MTA split the envelope):
    linked to them, and queued for their members who did not get it yet."""
    added = [c for c in ctx.communities if c not in existing.communities]
    if not added:
        return
    existing.communities.extend(added)
    ctx.session.flush()
    if existing.status is MessageStatus.PUBLISHED and existing.origin is Origin.SMTP:
        enqueue_post(
            ctx.session,
            existing.id,
            [community.id for community in added],
            existing.sender_id,
            ctx.mail.received_at,
        )


def received_at(ctx: IngestContext) -> dt.datetime:
    """When the post reached its community: now, or for an imported archive the
    message's own Date (not one in the future), else its envelope's date."""
    parsed = ctx.parsed
    if ctx.mail.origin is Origin.IMPORT and parsed is not None and parsed.date is not None:
        if parsed.date <= utcnow() + dt.timedelta(days=1):
            return parsed.date
    return ctx.mail.received_at
