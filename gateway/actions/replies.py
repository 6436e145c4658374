"""Replies to the gateway's own mail, never lost: a mail to help@ or digest@ that answers
a digest, a notice (help, welcome, profile answer, bounce notice, monthly mail...) or a
stored post is posted to the thread it answers when that can be told, else its sender is
told it was not posted and how to reply; never sent the help text.

Digests come From digest@, every other mail of the gateway From help@ (both land here,
as ActionKind.HELP: gateway.mail.recipients). How the thread is told, in this order:

1. the reply's In-Reply-To or References name a published post: its thread. The mail
   is posted as it came, to that post's communities where the sender is a member (all
   of them when none);
2. they name a digest (digest.CADENCE.PERIOD.PERSON@domain, gateway.mail.own_ids): the
   threads that digest showed (its window, from the digest ledger, in its reader's
   communities) are the candidates, and gateway.actions.reply_thread picks one from
   the reply's text. Only for the digest's reader: its id is easily guessed, and
   what it showed is theirs (anyone else is read as in 3). Only the sender's own
   words are posted (a digest quoted whole would publish its reader's personal
   links), as a new mail with the sender's From, Date and Message-ID, "Re: <thread
   subject>" and In-Reply-To the thread's newest message that digest showed;
3. they name another of the gateway's own Message-IDs (a notice): the threads whose
   archive links its quote holds (a welcome's or a monthly mail's) are the candidates,
   and only own words written below one of them (interleaved) answer it: a "Thanks!"
   above a welcome that lists threads answers none;
else it is not a reply: help@ answers with the help text.

A post made here goes through ingest like any post (gateway.ingest.batch, in the
action's transaction): the authorize stage decides whether the sender may post, and
holds it otherwise. The "not posted" answer (reply_not_posted) is an action answer:
rate-limited per hour, and automatic mail never reaches it (gateway.actions.runner).
"""

from __future__ import annotations

import email.message
import email.policy
import email.utils
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from gateway import links
from gateway.actions.context import ActionContext
from gateway.actions.reply_thread import Candidate
from gateway.actions.reply_thread import choose
from gateway.community.held import published_in
from gateway.community.members import communities_of
from gateway.digests.news import thread_heads
from gateway.ingest.batch import ingest_mails
from gateway.ingest.context import Disposition
from gateway.ingest.context import InboundMail
from gateway.mail.own_ids import DigestId
from gateway.mail.own_ids import digest_id
from gateway.mail.own_ids import is_own
from gateway.outbound.reply_links import reply_mailto
from gateway.outbound.reply_links import reply_subject
from gateway.store.models import Cadence
from gateway.store.models import Community
from gateway.store.models import DigestRun
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import MessageStatus
from gateway.store.models import Person
from gateway.store.models import Thread
from gateway.store.models import ThreadMute
from gateway.threads.rules import candidates

NOT_POSTED = "reply_not_posted"
MAX_LINKED = 20  # thread links of a notice looked at


@dataclass(frozen=True)
class Shown:
    """A thread a digest (or a notice's link) showed: what a reply to it needs, and the
    communities (the reader's, where it is published) the reply goes to."""

    thread_id: int
    subject: str
    latest_message_id: str  # the newest message shown: a reply answers it
    communities: list[Community]


def run(ctx: ActionContext) -> bool:
    """Act on a reply to the gateway's mail or to a post; False when the mail is no reply
    (the caller answers it with the help text)."""
    named = candidates(ctx.mail.references, ctx.mail.in_reply_to)
    post = _published_post(ctx, named)
    if post is not None:
        _repost(ctx, post)
        return True
    for message_id in named:
        digest = digest_id(message_id, ctx.domain)
        if digest is not None and _is_reader(ctx, digest):
            _digest_reply(ctx, digest)
            return True
    if any(is_own(message_id, ctx.domain) for message_id in named):
        _notice_reply(ctx)
        return True
    return False


def _published_post(ctx: ActionContext, named: list[str]) -> Message | None:
    if not named:
        return None
    found = {
        m.message_id: m
        for m in ctx.session.scalars(
            select(Message).where(
                Message.message_id.in_(named),
                Message.status == MessageStatus.PUBLISHED,
                Message.thread_id.is_not(None),
            )
        )
    }
    return next((found[m] for m in named if m in found), None)


def _repost(ctx: ActionContext, post: Message) -> None:
    """The mail as it came, to the communities where the post it answers is published
    (not where it is held or rejected)."""
    communities = published_in(ctx.session, post)
    mine = {c.id for c in communities_of(ctx.session, ctx.sender)}
    chosen = [c for c in communities if c.id in mine] or communities
    _ingest(ctx, ctx.blobs.get(ctx.row.raw_sha256), chosen)


def _digest_reply(ctx: ActionContext, digest: DigestId) -> None:
    shown = _shown(ctx, digest)
    offered = [Candidate(s.thread_id, _markers(ctx, s)) for s in shown]
    choice = choose(ctx.mail.body_text, offered)
    communities = list({c.id: c for s in shown for c in s.communities}.values())
    chosen = next((s for s in shown if s.thread_id == choice.thread), None)
    if chosen is None:
        threads = [
            {
                "subject": s.subject,
                "reply": reply_mailto(
                    ctx.address(s.communities[0].slug),
                    s.subject,
                    s.latest_message_id,
                ),
            }
            for s in shown
        ]
        _not_posted(ctx, choice.how if shown else "digest", threads, communities)
        return
    raw = _reply_mail(ctx, chosen, choice.text)
    _ingest(ctx, raw, chosen.communities, rebuilt=True)


def _notice_reply(ctx: ActionContext) -> None:
    shown = _linked(ctx, ctx.mail.body_text)
    base_url = ctx.settings.archive.base_url
    offered = [
        Candidate(s.thread_id, (links.thread_url(base_url, s.thread_id).lower(),)) for s in shown
    ]
    choice = choose(ctx.mail.body_text, offered, interleaved_only=True)
    chosen = next((s for s in shown if s.thread_id == choice.thread), None)
    if chosen is None:
        _not_posted(ctx, "notice", [], communities_of(ctx.session, ctx.sender))
        return
    _ingest(ctx, _reply_mail(ctx, chosen, choice.text), chosen.communities, rebuilt=True)


def _linked(ctx: ActionContext, body: str) -> list[Shown]:
    """The published threads whose archive links a mail holds, each with its newest
    published post (answered) and the communities where that post is published."""
    found = links.thread_ids_in(ctx.settings.archive.base_url, body)
    thread_ids = sorted(set(found))[:MAX_LINKED]
    rows = ctx.session.execute(
        select(Message, Thread.subject)
        .join(Thread, Thread.id == Message.thread_id)
        .where(Message.thread_id.in_(thread_ids), Message.status == MessageStatus.PUBLISHED)
        .order_by(Message.thread_id, Message.received_at.desc(), Message.id.desc())
    )
    latest: dict[int, tuple[Message, str]] = {}
    for message, subject in rows:
        if message.thread_id is not None:  # it is: the query names the thread
            latest.setdefault(message.thread_id, (message, subject or ""))
    shown = []
    for thread_id in thread_ids:
        if thread_id not in latest:
            continue
        message, subject = latest[thread_id]
        communities = published_in(ctx.session, message)
        if communities:
            shown.append(Shown(thread_id, subject, message.message_id, communities))
    return shown


def _is_reader(ctx: ActionContext, digest: DigestId) -> bool:
    """Whether the sender is the digest's reader: a digest's id is easily guessed, and
    what it showed (private communities' threads included) is theirs only. Anyone
    else's reply to it is read as a reply to a notice."""
    person = ctx.session.get(Person, digest.person_id)
    return person is not None and person.address == ctx.sender


def _shown(ctx: ActionContext, digest: DigestId) -> list[Shown]:
    """The threads of the digest's window in its reader's communities (today's ones),
    but those the reader muted, as gateway.digests.assemble picks them."""
    run = ctx.session.scalar(
        select(DigestRun).where(
            DigestRun.person_id == digest.person_id,
            DigestRun.cadence == Cadence(digest.cadence),
            DigestRun.period == digest.period,
        )
    )
    if run is None or run.window_start is None or run.window_end is None:
        return []
    communities = {
        c.id: c
        for c in ctx.session.scalars(
            select(Community)
            .join(Membership, Membership.community_id == Community.id)
            .where(Membership.person_id == digest.person_id)
            .order_by(Community.name)
        )
    }
    heads = thread_heads(ctx.session, list(communities), run.window_start, run.window_end)
    muted = set(
        ctx.session.scalars(
            select(ThreadMute.thread_id).where(ThreadMute.person_id == digest.person_id)
        )
    )
    shown: dict[int, Shown] = {}
    for community_id in communities:
        for head in heads.get(community_id, []):
            if head.thread_id not in shown and head.thread_id not in muted:
                ids = [i for i in head.community_ids if i in communities]
                shown[head.thread_id] = Shown(
                    head.thread_id,
                    head.subject,
                    head.latest_message_id,
                    [communities[i] for i in ids],
                )
    return list(shown.values())


def _markers(ctx: ActionContext, thread: Shown) -> tuple[str, ...]:
    """What in a quoted digest names this thread (see gateway.actions.reply_thread)."""
    latest = thread.latest_message_id
    return tuple(
        marker.lower()
        for marker in (
            latest,
            quote(latest, safe=""),
            f"mute+{thread.thread_id}@{ctx.domain}",
            links.thread_url(ctx.settings.archive.base_url, thread.thread_id),
            thread.subject,
        )
        if marker
    )


def _reply_mail(ctx: ActionContext, shown: Shown, text: str) -> bytes:
    """The sender's own words as a reply to the thread's newest message shown, with the
    files the sender attached (nothing accepted is lost); inline parts, such as the
    quoted digest's pictures, are left out."""
    mail = email.message.EmailMessage(policy=email.policy.SMTP)
    mail["From"] = email.utils.formataddr((ctx.mail.from_name, ctx.sender))
    mail["To"] = ", ".join(ctx.address(c.slug) for c in shown.communities)
    mail["Subject"] = reply_subject(shown.subject)
    mail["Date"] = email.utils.format_datetime(ctx.mail.date or ctx.now)
    mail["Message-ID"] = f"<{ctx.row.message_id}>"
    mail["In-Reply-To"] = f"<{shown.latest_message_id}>"
    mail["References"] = f"<{shown.latest_message_id}>"
    mail.set_content(text + "\n")
    for attached in ctx.mail.attachments:
        if attached.inline:
            continue
        maintype, _, subtype = attached.content_type.partition("/")
        if maintype == "message":  # an attached mail stays a mail (RFC 2046 5.2.1)
            inner = email.message_from_bytes(attached.payload, policy=email.policy.SMTP)
            mail.add_attachment(inner, filename=attached.filename)
        else:
            mail.add_attachment(
                attached.payload, maintype, subtype or "octet-stream", filename=attached.filename
            )
    return mail.as_bytes()


def _ingest(
    ctx: ActionContext, raw: bytes, communities: list[Community], rebuilt: bool = False
) -> None:
    """Post through ingest, in this transaction: screened and authorized like any post.
    `rebuilt`: a mail of _reply_mail, whose In-Reply-To the gateway chose (it marks no
    answer: InboundMail.rebuilt_reply)."""
    mail = InboundMail(
        raw,
        ctx.row.envelope_sender or ctx.sender,
        tuple(ctx.address(c.slug) for c in communities),
        ctx.now,
        peer=ctx.row.peer,
        rebuilt_reply=rebuilt,
    )
    [outcome] = ingest_mails(ctx.session, ctx.blobs, ctx.settings.gateway, [mail])
    if isinstance(outcome, Exception):
        raise outcome
    ctx.outcome = {
        Disposition.PUBLISHED: "posted",
        Disposition.HELD: "posted-held",
        Disposition.DUPLICATE: "already-posted",
        Disposition.ANSWER: "marked-answer",  # a "solved" reply (ingest stage mark_answers)
        Disposition.REACTION: "reacted",  # a "Thanks!" to a digest: a reaction, not a post
    }.get(outcome.disposition, "discarded")


def _not_posted(
    ctx: ActionContext, why: str, threads: list[dict[str, Any]], communities: list[Community]
) -> None:
    ctx.answer(
        NOT_POSTED,
        {
            "why": why,  # ambiguous, empty, digest (not found), notice
            "subject": ctx.mail.subject,
            "threads": threads,
            "communities": [ctx.community_values(c) for c in communities],
            "help_address": ctx.address("help"),
        },
    )
