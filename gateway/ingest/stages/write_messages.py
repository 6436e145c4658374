"""Stage write_messages: each post threaded under its parents and written as a message row,
once per Message-ID.

It takes a batch's posts together (the pipeline gives it distinct Message-IDs):
what the store holds for them is fetched in a few queries, they are threaded in
order on a gateway.threads.batch.ThreadBatch, and their rows are written together.
A Message-ID already stored (an MTA that split the recipients, a retry) is not
stored again: its new communities are linked (gateway.ingest.copies), and the
pipeline stops there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.ingest.context import IngestContext
from gateway.ingest.context import StoredMessage
from gateway.ingest.context import received_at
from gateway.ingest.copies import add_communities
from gateway.ingest.copies import stored_copies
from gateway.ingest.errors import Duplicate
from gateway.store.models import MAX_MESSAGE_ID
from gateway.store.models import Person
from gateway.store.sql import Turns
from gateway.store.sql import chunks
from gateway.store.sql import take_turns
from gateway.threads.audience import audience
from gateway.threads.batch import Node
from gateway.threads.batch import ThreadBatch
from gateway.threads.rules import candidates
from gateway.threads.rules import canonical_thread_index
from gateway.threads.rules import conversation_key
from gateway.threads.rules import decode_thread_index
from gateway.threads.rules import normalize_subject
from gateway.threads.rules import thread_message


def _usable(reference: str) -> bool:
    """A reference worth threading on: an id-left@id-right of sane length (RFC 5322 3.6.4).

    git send-email leaves "<yes>" in References when its prompt was answered
    literally; as a ghost parent it would join unrelated patch series.
    """
    return "@" in reference and len(reference) <= MAX_MESSAGE_ID


def run_batch(ctxs: Sequence[IngestContext]) -> list[Duplicate | None]:
    """Thread and write the posts among `ctxs`, in order; a Duplicate for each copy of a
    stored message. Their Message-IDs must differ (see gateway.ingest.pipeline)."""
    posts = [ctx for ctx in ctxs if ctx.communities]
    if not posts:
        return [None] * len(ctxs)
    session = posts[0].session
    headers = {id(ctx): _headers(ctx) for ctx in posts}
    # Before anything is read: what a batch that held one of these keys wrote is seen.
    take_turns(session, lambda: _turns(posts, headers))
    batch = ThreadBatch(session)
    message_ids = {ctx.message_id for ctx in posts}
    named = _named(headers)
    batch.prefetch(message_ids=message_ids | named)
    stored = {m for m in named if batch.find(m) is not None}
    # Who names one of the batch (an early reply) or an id not stored (a ghost parent).
    batch.prefetch(referenced=message_ids | (named - stored), conversations=_conversations(posts))
    _look_up_senders(session, posts)
    copies = stored_copies(session, [n.id for ctx in posts if (n := batch.find(ctx.message_id))])
    stopped: dict[int, Duplicate] = {}
    placed: list[tuple[IngestContext, Node]] = []
    for ctx in posts:
        copy = copies.get(ctx.message_id)
        if copy is not None:
            add_communities(ctx, copy)
            stopped[id(ctx)] = Duplicate(ctx.message_id)
            continue
        references, in_reply_to = headers[id(ctx)]
        node = batch.new_message(
            _row(ctx, references, in_reply_to),
            references,
            in_reply_to,
            [community.id for community in ctx.communities],
            audience((c.id, c.visibility) for c in ctx.communities),
        )
        thread_message(
            batch,
            node,
            subject=ctx.parsed.subject if ctx.parsed else "",
            community_ids=[community.id for community in ctx.communities],
            subject_prefixes=[community.subject_prefix for community in ctx.communities],
            now=received_at(ctx),
        )
        placed.append((ctx, node))
    batch.flush()
    for ctx, node in placed:
        assert node.id is not None
        ctx.message = StoredMessage(node.id, ctx.cache.people[ctx.sender[:254]])
    return [stopped.get(id(ctx)) for ctx in ctxs]


def _turns(
    posts: Sequence[IngestContext], headers: dict[int, tuple[list[str], list[str]]]
) -> Turns:
    """What threading the posts may read that another node's batch may be writing at the
    same moment, as advisory lock keys (gateway.store.sql.take_turns): (exclusive, shared).

    Two batches meet on a Message-ID (a post and its reply, early or late; the same post
    twice; replies to one ghost parent), on an Outlook conversation, or on a subject in a
    community: a reply without References looks for a thread that a post with its subject
    may be starting (exclusive), while posts that may start one need not wait for each
    other (shared). The threads the batch writes to are locked as rows when it writes
    them (gateway.threads.batch): a batch that adds to a thread meets one that adds to it
    too or merges it away. Batches that meet on none of these run side by side."""
    message_ids = _named(headers) | {ctx.message_id for ctx in posts}
    exclusive = {f"message {message_id}" for message_id in message_ids}
    exclusive |= {f"conversation {key}" for key in _conversations(posts)}
    shared: set[str] = set()
    for ctx in posts:
        assert ctx.parsed is not None
        prefixes = [community.subject_prefix for community in ctx.communities]
        normalized, had_prefix = normalize_subject(ctx.parsed.subject, prefixes)
        if not normalized:
            continue
        looks_up = had_prefix and not any(headers[id(ctx)])
        keys = {f"subject {community.id} {normalized.lower()}" for community in ctx.communities}
        (exclusive if looks_up else shared).update(keys)
    return exclusive, shared - exclusive


def _named(headers: dict[int, tuple[list[str], list[str]]]) -> set[str]:
    """The ids the posts name as parents."""
    return {c for refs, replies in headers.values() for c in candidates(refs, replies)}


def _conversations(posts: Sequence[IngestContext]) -> set[str]:
    return {
        conversation_key(decode_thread_index(ctx.parsed.thread_index))
        for ctx in posts
        if ctx.parsed is not None and ctx.parsed.thread_index
    }


def _headers(ctx: IngestContext) -> tuple[list[str], list[str]]:
    assert ctx.parsed is not None
    return (
        [ref for ref in ctx.parsed.references if _usable(ref)],
        [ref for ref in ctx.parsed.in_reply_to if _usable(ref)],
    )


def _row(ctx: IngestContext, references: list[str], in_reply_to: list[str]) -> dict[str, Any]:
    """The new message's columns, but for its thread and parent."""
    parsed = ctx.parsed
    assert parsed is not None
    index = decode_thread_index(parsed.thread_index)
    sender = ctx.sender[:254]
    return {
        "message_id": ctx.message_id,
        "sender_id": ctx.cache.people[sender],
        "sender_address": sender,
        "sender_name": parsed.from_name[:200],
        "subject": parsed.subject,
        "date": parsed.date,
        "received_at": received_at(ctx),
        "in_reply_to": " ".join(in_reply_to),
        "references": " ".join(references),
        "thread_index": canonical_thread_index(index)[:255],
        "conversation": conversation_key(index),
        "body_text": parsed.body_text,
        "body_html": parsed.body_html,
        "raw_sha256": ctx.raw_sha256,
        "raw_size": len(ctx.mail.raw),
        "status": ctx.status,
        "origin": ctx.mail.origin,
        # What parsing found wrong, then how the text is laid out (gateway.mail.flowed).
        "flags": [*parsed.flags, *parsed.text_format],
    }


def _look_up_senders(session: Session, posts: Sequence[IngestContext]) -> None:
    """The person behind each sender address, for the batch's senders not yet known."""
    wanted = sorted({ctx.sender[:254] for ctx in posts if ctx.sender[:254] not in ctx.cache.people})
    found: dict[str, int] = {}
    for chunk in chunks(wanted):
        rows = session.execute(select(Person.address, Person.id).where(Person.address.in_(chunk)))
        found.update((address, person_id) for address, person_id in rows)
    for ctx in posts:
        sender = ctx.sender[:254]
        if sender not in ctx.cache.people:
            ctx.cache.people[sender] = found.get(sender)
