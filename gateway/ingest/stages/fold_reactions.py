"""Stage fold_reactions: a reaction sent to a community is recorded on the message it
answers instead of being posted (issue 22, point 1).

A reaction is an RFC 9078 or Gmail reaction mail (gateway.mail.reactions), or, where
every community it was sent to folds thanks (communities.fold_thanks), a reply whose
own text is only a thank-you or a "+1" with nothing else to show: no attachment or
picture, no more than a signature under it, no words written inside the quoted
history between the answered message's lines (inline answers). Only a mail the
authorize stage left unheld is folded: a sender who may not post there gets what any
post of theirs gets.
A folded mail stops here (its raw bytes kept by the keep stage): no message row, no
delivery, no answer to the sender; the inbox processor logs disposition=reaction.

A reaction mail to a message the gateway does not have, or to one not published in the
community it was sent to, or to one also published in a community the sender may not
post to (a cross-post: a private community's member must not show on a public page),
is discarded with its reason; a thank-you reply in that case stays a post (nothing is
lost). A reaction mail taken in again changes nothing
(a duplicate). Imported archives keep their reaction mails as reactions (source
import); their thank-you replies stay posts, as history was. A batch stage: a
reaction to a mail of the same batch waits until that mail is stored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.community.people import ensure_people
from gateway.community.people import keep_display_name
from gateway.engagement.reactions import Answered
from gateway.engagement.reactions import Lookup
from gateway.engagement.reactions import answered_message
from gateway.engagement.reactions import may_react_everywhere
from gateway.engagement.reactions import message_known
from gateway.engagement.reactions import reaction_mail_known
from gateway.engagement.reactions import record_mail_reaction
from gateway.ingest.context import IngestContext
from gateway.ingest.context import received_at
from gateway.ingest.errors import Discard
from gateway.ingest.errors import DiscardReason
from gateway.ingest.errors import Duplicate
from gateway.ingest.errors import Folded
from gateway.ingest.errors import Wait
from gateway.mail.addresses import AddressError
from gateway.mail.addresses import normalize_address
from gateway.mail.parse import REACTION_RFC9078
from gateway.mail.reactions import MAX_THANKS_TEXT
from gateway.mail.reactions import reaction_of
from gateway.mail.reactions import thanks_or_plus_one
from gateway.mail.trim import Kind
from gateway.mail.trim import whole_if_nothing_new
from gateway.store.models import Message
from gateway.store.models import Origin
from gateway.store.models import ReactionSource

Outcome = Discard | Duplicate | Folded | Wait | None

# A signature longer than this under a thank-you holds more (a P.S.): the reply is a post.
MAX_SIGNATURE_LINES = 6


@dataclass(frozen=True)
class _Candidate:
    """What a mail would be folded into."""

    emoji: tuple[str, ...]
    source: ReactionSource
    whole_set: bool  # an RFC 9078 reaction: the person's whole set on that message
    strict: bool  # a reaction mail: not posted even when it answers nothing here
    text: str = ""  # a reply's own text (a thank-you, classified once more with names)
    history: str = ""  # a reply's quoted history, to be found in the answered message


def run_batch(ctxs: Sequence[IngestContext]) -> list[Outcome]:
    candidates = [_candidate(ctx) for ctx in ctxs]
    # The posts of this batch, stored by the next stage: a reaction to one of them waits.
    in_batch = {ctx.message_id for ctx, c in zip(ctxs, candidates, strict=True) if c is None}
    return [
        None if candidate is None else _fold(ctx, candidate, in_batch)
        for ctx, candidate in zip(ctxs, candidates, strict=True)
    ]


def _candidate(ctx: IngestContext) -> _Candidate | None:
    """The reaction the mail would be, before its message is looked up."""
    parsed = ctx.parsed
    if parsed is None or not ctx.communities or ctx.holds or ctx.is_report:
        return None
    imported = ctx.mail.origin is Origin.IMPORT
    reaction = reaction_of(parsed)
    if reaction is not None:
        source = ReactionSource.IMPORT if imported else ReactionSource(reaction.kind)
        whole = reaction.kind == REACTION_RFC9078
        return _Candidate(reaction.emoji, source, whole_set=whole, strict=True)
    if imported or not all(c.fold_thanks for c in ctx.communities):
        return None
    if not (parsed.in_reply_to or parsed.references):
        return None
    if parsed.attachments or "<img" in parsed.body_html.lower():
        return None  # a file or a picture with the thanks: something to show, a post
    trimmed = whole_if_nothing_new(ctx.own_parts, parsed.body_text.replace("\r\n", "\n"))
    text = trimmed.new_text
    if len(text.strip()) > MAX_THANKS_TEXT or not text.strip():
        return None
    signature = [
        line
        for part in trimmed.parts
        if part.kind is Kind.SIGNATURE
        for line in part.text.split("\n")
        if line.strip()
    ]
    if len(signature) > MAX_SIGNATURE_LINES:
        return None  # more than a signature under the thanks (a P.S.): a post
    history = "\n".join(part.text for part in trimmed.parts if part.kind is Kind.QUOTED)
    emoji = thanks_or_plus_one(text, [parsed.from_name])
    # The answered author's name is only known once the message is looked up ("Thanks
    # Alice!"): worth a look only if the words would do with any name beside them.
    if emoji is None and thanks_or_plus_one(text, [text]) is None:
        return None
    return _Candidate(
        (emoji,) if emoji else (),
        ReactionSource.REPLY,
        whole_set=False,
        strict=False,
        text=text,
        history=history,
    )


def _fold(ctx: IngestContext, candidate: _Candidate, in_batch: set[str]) -> Outcome:
    assert ctx.parsed is not None
    session = ctx.session
    if reaction_mail_known(session, ctx.message_id):
        return Duplicate(ctx.message_id)
    if message_known(session, ctx.message_id):
        return None  # stored as a post before: write_messages finds it a duplicate
    answered = answered_message(
        session,
        ctx.parsed.in_reply_to,
        ctx.parsed.references,
        [community.id for community in ctx.communities],
    )
    if answered.lookup is Lookup.UNKNOWN and not ctx.waited:
        named = {*ctx.parsed.in_reply_to, *ctx.parsed.references}
        if named & in_batch:
            ctx.waited = True
            return Wait()
    emoji = candidate.emoji or _thanks_to(ctx, candidate, answered)
    if not emoji:
        return None
    if answered.lookup is not Lookup.FOUND or answered.message_id is None:
        if not candidate.strict:
            return None
        if answered.lookup is Lookup.UNKNOWN:
            return Discard(DiscardReason.REACTION_UNKNOWN_MESSAGE)
        return Discard(DiscardReason.REACTION_ELSEWHERE)
    if not _allowed_everywhere(ctx, answered):
        if not candidate.strict:
            return None
        return Discard(DiscardReason.REACTION_NOT_ALLOWED)
    if not candidate.strict and _written_in_history(ctx, candidate, answered.message_id):
        return None  # answers written inside the quoted history (Outlook): a post
    person_id = _person(ctx)
    if person_id is None:
        return None  # no usable sender address: an ordinary post, as before
    record_mail_reaction(
        session,
        answered.message_id,
        person_id,
        emoji,
        candidate.source,
        whole_set=candidate.whole_set,
        at=received_at(ctx),
        mail_message_id=ctx.message_id,
        raw_sha256=ctx.raw_sha256,
    )
    return Folded(emoji)


def _thanks_to(ctx: IngestContext, candidate: _Candidate, answered: Answered) -> tuple[str, ...]:
    """A reply's thank-you, read again with the answered author's name beside it."""
    assert ctx.parsed is not None
    if candidate.strict or not answered.sender_name:
        return ()
    emoji = thanks_or_plus_one(candidate.text, [ctx.parsed.from_name, answered.sender_name])
    return (emoji,) if emoji else ()


def _allowed_everywhere(ctx: IngestContext, answered: Answered) -> bool:
    """Whether the sender may post in every community the answered message is published
    in (a cross-post shows the reaction in each). Imports were published where they
    came from, as the authorize stage lets them be."""
    if ctx.mail.origin is Origin.IMPORT:
        return True
    sent_to = {community.id for community in ctx.communities}  # authorize let them post
    others = [i for i in answered.published_in if i not in sent_to]
    if not others:
        return True
    try:
        address = normalize_address(ctx.sender)
    except AddressError:
        return False
    return may_react_everywhere(ctx.session, address, others, ctx.allowed_domains)


def _written_in_history(ctx: IngestContext, candidate: _Candidate, message_id: int) -> bool:
    """Whether the reply's quoted history has lines of the sender's between lines of the
    answered message: answers written inline, inside the history (Outlook's habit).
    A line is the answered message's when all its words are among that message's;
    what comes before its first line (the reply header, the attribution) or after its
    last (the gateway's footer) is not counted."""
    if not candidate.history.strip():
        return False
    message = ctx.session.get(Message, message_id)
    if message is None:
        return False
    known = set(_words(f"{message.subject}\n{message.body_text}\n{message.sender_name}"))
    lines = [_words(line) for line in candidate.history.split("\n")]
    lines = [words for words in lines if words]
    original = [all(word in known for word in words) for words in lines]
    if True not in original:
        return False
    first = original.index(True)
    last = len(original) - 1 - original[::-1].index(True)
    return not all(original[first : last + 1])


_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _person(ctx: IngestContext) -> int | None:
    """The reacting person's id, added to the people (with their From name) if new."""
    assert ctx.parsed is not None
    try:
        address = normalize_address(ctx.sender)
    except AddressError:
        return None
    people, new = ensure_people(ctx.session, [address])
    person = people[address]
    if address in new:
        keep_display_name(person, ctx.parsed.from_name)
    return person.id
