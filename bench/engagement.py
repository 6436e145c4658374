"""Benchmark of engagement: the deliveries saved by folding thanks, "+1" and reactions.

A generated network (SQLite, as shipped; built through the gateway's API, mail taken
in by its own ingest, gateway.ingest.batch.ingest_now, as bench/archive.py does): M
members in C communities of heavy-tailed sizes, T threads over a month with as many
replies as the corpus's list threads have, and among the replies a share of short
ones that only say "+1", "Thanks!" or "Merci !", or are RFC 9078 or Gmail reactions.
The ingest's stages decide what becomes of each (the folding stage after authorize,
where Community.fold_thanks allows it). No worker sends anything: the queued copies
are the deliveries.

The same mails are taken in twice, each time into a fresh store: with folding on (the
default, Community.fold_thanks = true) and with it off, the reference. For each run it
prints the mails taken in, the posts published, the reactions recorded (and the mails
folded into them), the instant copies queued and the digest entries (a post counted
once in the digest of each daily or weekly reader but its author), the ingest's
mails/s (and per CPU second of this process, which the load of a shared machine
leaves alone), and the deliveries NOT made because mails were folded: a count and a
share of all the deliveries there would otherwise have been. Those are counted from the
members of the folded mails' communities, with the same rule as the queue (every
instant member but the sender); a line starting "!!" says so if that rule and the
queue disagree on the published posts. A last line gives the measured difference between the
two runs: what folding thank-you and "+1" replies alone saves (reactions are folded
in both runs).

The default share of short replies, SHORT_SHARE, is 1 of 476 replies (0.21%): what
--sweep counts in the real list traffic of the corpus (GATEWAY_CORPUS, else
../shared/corpus) with the gateway's own rule, the one its ingest folds by
(gateway.mail.reactions.thanks_or_plus_one on the reply's new text,
gateway.mail.trim.new_text): one "Thank you Allan"; lkml's "Acked-by:" trailers and
"Looks good to me" are not thanks nor "+1" for the gateway, and are posted. Developer
lists ask their members not to send thanks or "+1", so a company network likely has
more: --short-share sets that assumption (0.05 for one reply in twenty), and every run
prints the share it used and where it comes from.

    python bench/engagement.py [--members 10000] [--threads 2000] [--communities 200]
                               [--short-share 0.0021] [--sweep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import email.utils
import json
import mailbox
import math
import os
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from gateway.app import App
from gateway.app import build_app
from gateway.app import init_store
from gateway.community.communities import create_community
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import InboundMail
from gateway.ingest.context import IngestResult
from gateway.mail.parse import extract_message_ids
from gateway.mail.reactions import FOLDED_HANDS
from gateway.mail.reactions import thanks_or_plus_one
from gateway.mail.trim import new_text
from gateway.settings import settings_from_dict
from gateway.store.db import transaction
from gateway.store.models import Community
from gateway.store.models import Delivery
from gateway.store.models import DeliveryMode
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Origin
from gateway.store.models import Person
from gateway.store.models import Policy
from gateway.store.models import Reaction
from gateway.store.sql import chunks

DOMAIN = "lists.example.com"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
SPAN = dt.timedelta(days=30)
WORDS = (
    "budget", "pricing", "design", "release", "accessibility", "hiring", "security",
    "roadmap", "customer", "migration", "api", "onboarding", "metrics", "training",
)  # fmt: skip

# Replies per thread: geometric, with the corpus's mean. The fedora-devel month of
# ../shared/corpus has 292 messages in 60 threads (corpus INDEX.md): 3.87 replies each.
REPLIES_PER_THREAD = 292 / 60 - 1
# The share of replies that only thank or "+1" by the gateway's rule: `--sweep` finds 1
# of the 476 replies of the corpus's real list traffic (fedora-devel, the ImageMagick
# list, notmuch and lkml), 0.21%. Developer lists ask their members not to send these,
# so this is likely a lower bound for an enterprise network (--short-share).
SHORT_SHARE = 1 / 476
# How the short replies are written. Not measured: the corpus (2000-2011) predates
# mail clients' reactions (Gmail's came in 2023), and the total above is what the
# deliveries saved depend on; the split only decides which run folds what (RFC 9078
# and Gmail reactions are recorded as reactions whether or not fold_thanks is set).
SHORT_KINDS = {"plus-one": 0.40, "thanks": 0.25, "merci": 0.15, "rfc9078": 0.10, "gmail": 0.10}
REACTION_EMOJI = ("👍", "👍", "👍", "❤️", "🎉", "🙏")
# Delivery modes of the memberships (the gateway's default is instant): an assumption
# of this bench, not a measurement.
MODES = {
    DeliveryMode.INSTANT: 0.75,
    DeliveryMode.DAILY: 0.15,
    DeliveryMode.WEEKLY: 0.05,
    DeliveryMode.NONE: 0.05,
}
DIGEST_MODES = (DeliveryMode.DAILY, DeliveryMode.WEEKLY)


@dataclass(frozen=True)
class Planned:
    """One mail of the run, and what it is."""

    mail: InboundMail
    message_id: str  # normalized, as the store keeps it
    community: int
    sender: int
    kind: str  # "post" (a thread's start or a reply with something to say) or a SHORT_KINDS key


@dataclass(frozen=True)
class Network:
    """The communities' members: (person, delivery mode) per community, by index."""

    members: int
    communities: list[list[tuple[int, DeliveryMode]]]

    def copies(self, community: int, sender: int) -> tuple[int, int]:
        """The instant copies and digest entries a post of `sender` there makes: every
        member but the sender (the queue's rule: no own copy unless asked)."""
        instant = digest = 0
        for person, mode in self.communities[community]:
            if person == sender:
                continue
            instant += mode is DeliveryMode.INSTANT
            digest += mode in DIGEST_MODES
        return instant, digest


@dataclass(frozen=True)
class Figures:
    """What one run did."""

    seconds: float
    cpu_seconds: float  # this process's: the shared machine's load leaves it alone
    outcomes: Counter[str]
    published: int
    reactions: Counter[str]  # by source
    folded: Counter[str]  # mails recorded as a reaction and not published, by kind
    instant: int  # copies queued
    digest: int  # digest entries
    saved_instant: int  # copies the folded mails would have made
    saved_digest: int
    expected_instant: int  # the network's rule applied to the published posts


def plan_network(rng: random.Random, members: int, communities: int) -> Network:
    """Community sizes on a Zipf law (the k-th largest has 1/k of the largest's members,
    the largest a quarter of everyone, none under 8), as the sizes of lists and groups
    are heavy-tailed; everyone is in at least one community."""
    top = max(8, members // 4)
    sizes = [min(members, max(8, round(top / k))) for k in range(1, communities + 1)]
    chosen = [set(rng.sample(range(members), size)) for size in sizes]
    somewhere = set().union(*chosen)
    for person in range(members):
        if person not in somewhere:
            chosen[rng.choices(range(communities), weights=sizes)[0]].add(person)
    modes, weights = list(MODES), list(MODES.values())
    return Network(
        members,
        [[(p, rng.choices(modes, weights)[0]) for p in sorted(people)] for people in chosen],
    )


def plan_mails(
    rng: random.Random, network: Network, threads: int, short_share: float
) -> list[Planned]:
    """T threads over SPAN, each in a community drawn by the square root of its size
    (a big community has more threads, not proportionally more), with geometric
    replies; each mail from a member of its community. A short reply answers a post
    (the last one most often) by someone else, once per person and post."""
    sizes = [len(people) for people in network.communities]
    weights = [math.sqrt(size) for size in sizes]
    kinds, kind_weights = list(SHORT_KINDS), list(SHORT_KINDS.values())
    stop = 1 / (1 + REPLIES_PER_THREAD)
    drafts: list[tuple[dt.datetime, int, str, int, str, str]] = []
    for thread in range(threads):
        community = rng.choices(range(len(sizes)), weights)[0]
        people = [person for person, _ in network.communities[community]]
        subject = f"About {rng.choice(WORDS)} {thread}" + ("?" if rng.random() < 0.3 else "")
        at = NOW - SPAN + rng.random() * SPAN * 0.9
        posts = [(len(drafts), rng.choice(people))]
        drafts.append((at, community, subject, posts[0][1], "post", ""))
        thanked: set[tuple[int, int]] = set()
        while rng.random() > stop:
            at += dt.timedelta(hours=rng.expovariate(1 / 6))
            kind = rng.choices(kinds, kind_weights)[0] if rng.random() < short_share else "post"
            parent, author = posts[-1] if rng.random() < 0.6 else rng.choice(posts)
            sender = rng.choice(people)
            if kind != "post":
                if all(p == author or (parent, p) in thanked for p in people):
                    continue  # everyone else thanked this post already
                while sender == author or (parent, sender) in thanked:
                    sender = rng.choice(people)
                thanked.add((parent, sender))
            drafts.append((at, community, subject, sender, kind, f"e{parent}@example.com"))
            if kind == "post":
                posts.append((len(drafts) - 1, sender))
    planned = []
    for number, (at, community, subject, sender, kind, parent) in enumerate(drafts):
        message_id = f"e{number}@example.com"
        raw = write_mail(rng, message_id, at, community, subject, sender, kind, parent)
        mail = InboundMail(raw, f"p{sender}@example.com", (f"c{community}@{DOMAIN}",), at)
        normalized = extract_message_ids(f"<{message_id}>")[0]
        planned.append(Planned(mail, normalized, community, sender, kind))
    planned.sort(key=lambda p: p.mail.received_at)
    return planned


def write_mail(
    rng: random.Random,
    message_id: str,
    at: dt.datetime,
    community: int,
    subject: str,
    sender: int,
    kind: str,
    parent: str,
) -> bytes:
    """The bytes of one mail, as clients write them: a reply quotes what it answers
    under an attribution line (in French for a French reply)."""
    head = (
        f"From: Person {sender} <p{sender}@example.com>\r\nTo: c{community}@{DOMAIN}\r\n"
        f"Date: {email.utils.format_datetime(at)}\r\nMessage-ID: <{message_id}>\r\n"
        "MIME-Version: 1.0\r\n"
    )
    if parent:
        head += f"Subject: Re: {subject}\r\nIn-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"
    else:
        head += f"Subject: {subject}\r\n"
    quote = (
        f"On {at:%a, %b %d, %Y}, someone wrote:\r\n> A post about {rng.choice(WORDS)}.\r\n"
        "> With a second line.\r\n"
    )
    plain = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
    if kind == "post":
        text = "".join(
            f"A thought about {rng.choice(WORDS)} and {rng.choice(WORDS)}, line {n}.\r\n"
            for n in range(rng.randint(3, 10))
        )
        return (head + plain + "\r\n" + text + ("\r\n" + quote if parent else "")).encode()
    if kind == "plus-one":
        return (head + plain + "\r\n+1\r\n\r\n" + quote).encode()
    if kind == "thanks":
        signed = f"\r\nThanks!\r\n\r\n-- \r\nPerson {sender}\r\n\r\n"
        return (head + plain + signed + quote).encode()
    if kind == "merci":
        french = f"Le {at:%d/%m/%Y à %H:%M}, quelqu’un a écrit :\r\n> Un message sur le budget.\r\n"
        return (head + plain + "\r\nMerci !\r\n\r\n" + french).encode()
    emoji = rng.choice(REACTION_EMOJI)
    if kind == "rfc9078":
        # RFC 9078 section 2: the reaction is the body part with Content-Disposition
        # reaction (here the whole body), its text the emoji.
        return (head + plain + "Content-Disposition: reaction\r\n\r\n" + emoji + "\r\n").encode()
    # Gmail: the reaction as a text/vnd.google.email-reaction+json alternative, with a
    # text and an HTML fallback for other clients.
    data = json.dumps({"emoji": emoji, "version": 1}, ensure_ascii=False)
    body = (
        'Content-Type: multipart/alternative; boundary="r"\r\n\r\n'
        f"--r\r\n{plain}\r\nPerson {sender} reacted via Gmail {emoji}\r\n"
        "--r\r\nContent-Type: text/vnd.google.email-reaction+json; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\n{data}\r\n"
        "--r\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"<p>Person {sender} reacted via Gmail {emoji}</p>\r\n--r--\r\n"
    )
    return (head + body).encode()


def build_store(root: Path, network: Network, fold: bool) -> App:
    """A fresh store with the network's people and communities (members only may
    post), every community's fold_thanks set to `fold`."""
    settings = settings_from_dict(
        {"gateway": {"domain": DOMAIN, "data_dir": "data"}}, base_dir=root
    )
    init_store(settings)
    app = build_app(settings)
    with transaction(app.sessions) as session:
        ids = [
            create_community(session, f"c{n}", f"Community {n}", policy=Policy.MEMBERS).id
            for n in range(len(network.communities))
        ]
        session.execute(update(Community).values(fold_thanks=fold))
        session.execute(
            insert(Person),
            [
                {"address": f"p{n}@example.com", "name": f"Person {n}", "bio": "",
                 "department": f"Dept {n % 12}", "timezone": "", "created_at": NOW - SPAN,
                 "updated_at": NOW - SPAN}
                for n in range(network.members)
            ],
        )  # fmt: skip
        person_ids = list(session.scalars(select(Person.id).order_by(Person.id)))
        rows = [
            {"person_id": person_ids[person], "community_id": ids[community], "role": "member",
             "delivery": mode.value, "own_posts": False, "bounce_score": 0,
             "joined_at": NOW - SPAN - dt.timedelta(days=1)}
            for community, people in enumerate(network.communities)
            for person, mode in people
        ]  # fmt: skip
        for batch in chunks(rows, 5000):
            session.execute(insert(Membership), batch)
    return app


def run(root: Path, network: Network, planned: list[Planned], fold: bool) -> Figures:
    """Take the mails in (500 a transaction, as bench/archive.py does), then count."""
    app = build_store(root, network, fold)
    outcomes: Counter[str] = Counter()
    began, cpu = time.perf_counter(), time.process_time()
    for batch in chunks(planned, 500):
        for outcome in ingest_now(app, [p.mail for p in batch]):
            if isinstance(outcome, IngestResult):
                outcomes[outcome.disposition.value] += 1
            else:
                outcomes[f"failed ({type(outcome).__name__})"] += 1
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    try:
        return count(app, network, planned, (seconds, cpu), outcomes)
    finally:
        app.close()


def count(
    app: App,
    network: Network,
    planned: list[Planned],
    times: tuple[float, float],
    outcomes: Counter[str],
) -> Figures:
    """What the store holds after the run, and the network's rule applied to it."""
    with transaction(app.read_sessions) as session:
        published = set(
            session.scalars(
                select(Message.message_id).where(
                    Message.status == MessageStatus.PUBLISHED, Message.origin == Origin.SMTP
                )
            )
        )
        reactions = Counter(
            {
                str(source): number
                for source, number in session.execute(
                    select(Reaction.source, func.count()).group_by(Reaction.source)
                )
            }
        )
        reaction_mails = set(session.scalars(select(Reaction.mail_message_id)))
        instant = session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.kind == "post")
        )
        # One community per post: a (post, reader) pair is one row of this join.
        digest = session.scalar(
            select(func.count())
            .select_from(MessageCommunity)
            .join(Message, Message.id == MessageCommunity.message_id)
            .join(Membership, Membership.community_id == MessageCommunity.community_id)
            .where(
                MessageCommunity.status == MessageStatus.PUBLISHED,
                Message.origin == Origin.SMTP,
                Membership.delivery.in_(DIGEST_MODES),
                Membership.disabled_at.is_(None),
                or_(Message.sender_id.is_(None), Membership.person_id != Message.sender_id),
            )
        )
    folded: Counter[str] = Counter()
    saved_instant = saved_digest = expected_instant = 0
    for mail in planned:
        copies, entries = network.copies(mail.community, mail.sender)
        if mail.message_id in published:
            expected_instant += copies
        elif mail.message_id in reaction_mails:
            folded[mail.kind] += 1
            saved_instant += copies
            saved_digest += entries
    return Figures(
        *times, outcomes, len(published), reactions, folded, instant or 0, digest or 0,
        saved_instant, saved_digest, expected_instant,
    )  # fmt: skip


def share(part: int, whole: int) -> str:
    return f"{part / whole * 100:.2f}%" if whole else "-"


def report(label: str, mails: int, figures: Figures) -> None:
    outcomes = ", ".join(f"{n:,} {what}" for what, n in figures.outcomes.most_common())
    reactions = ", ".join(f"{source} {n:,}" for source, n in sorted(figures.reactions.items()))
    folded = ", ".join(f"{kind} {n:,}" for kind, n in sorted(figures.folded.items()))
    print(
        f"{label}: {mails:,} mails taken in, {figures.seconds:.1f} s,"
        f" {mails / figures.seconds:,.0f} mails/s, {mails / figures.cpu_seconds:,.0f} per CPU"
        f" second ({outcomes})\n"
        f"  {figures.published:,} posts published; {sum(figures.reactions.values()):,}"
        f" reactions recorded ({reactions or 'none'}),"
        f" {sum(figures.folded.values()):,} mails folded into them ({folded or 'none'})\n"
        f"  deliveries made: {figures.instant:,} instant copies queued,"
        f" {figures.digest:,} digest entries\n"
        f"  not made because folded: {figures.saved_instant:,} instant copies"
        f" ({share(figures.saved_instant, figures.instant + figures.saved_instant)} of the"
        f" {figures.instant + figures.saved_instant:,} there would have been),"
        f" {figures.saved_digest:,} digest entries"
        f" ({share(figures.saved_digest, figures.digest + figures.saved_digest)} of"
        f" {figures.digest + figures.saved_digest:,})",
        flush=True,
    )
    if figures.expected_instant != figures.instant:
        print(
            f"  !! the queue holds {figures.instant:,} copies of the published posts, the"
            f" members' rule gives {figures.expected_instant:,}: the saved counts are off"
        )


def describe(network: Network, planned: list[Planned]) -> None:
    sizes = sorted((len(people) for people in network.communities), reverse=True)
    modes = Counter(mode.value for people in network.communities for _, mode in people)
    kinds = Counter(p.kind for p in planned)
    threads = sum(1 for p in planned if b"\r\nIn-Reply-To:" not in p.mail.raw)
    print(
        f"network: {network.members:,} members in {len(sizes)} communities (sizes"
        f" {sizes[0]:,} to {sizes[-1]:,}, median {sizes[len(sizes) // 2]:,});"
        f" {sum(modes.values()):,} memberships ("
        + ", ".join(f"{mode} {n:,}" for mode, n in modes.most_common())
        + ")\n"
        f"mails: {len(planned):,} in {threads:,} threads over {SPAN.days} days;"
        f" {len(planned) - kinds['post']:,} short replies ("
        + ", ".join(f"{kind} {kinds[kind]:,}" for kind in SHORT_KINDS)
        + f"), {(len(planned) - kinds['post']) / max(1, len(planned) - threads) * 100:.1f}%"
        " of the replies",
        flush=True,
    )


def short_kind(text: str, names: list[str]) -> str | None:
    """The kind of a short reply ("thanks" or "plus-one") by the gateway's own rule, as
    the ingest's folding stage reads it (gateway.ingest.stages.fold_reactions): its new
    text (gateway.mail.trim.new_text) is only a thank-you or a "+1"
    (gateway.mail.reactions.thanks_or_plus_one), `names` (the sender's and the answered
    author's) allowed beside it; else None."""
    emoji = thanks_or_plus_one(new_text(text), names)
    if emoji is None:
        return None
    return "thanks" if emoji == FOLDED_HANDS else "plus-one"


def corpus_messages(corpus: Path) -> Iterator[tuple[str, email.message.EmailMessage]]:
    """Each message of the corpus's list traffic (its mbox and notmuch folders; the MIME
    fixtures are parser tests, not traffic) once by Message-ID, with where it is."""
    seen: set[str] = set()
    policy = email.policy.default

    def factory(file: object) -> email.message.EmailMessage:
        return email.message_from_binary_file(file, policy=policy)

    def everything() -> Iterator[tuple[str, email.message.EmailMessage]]:
        for path in sorted((corpus / "mbox").glob("*.mbox")):
            box = mailbox.mbox(path, factory=factory, create=False)
            try:
                for message in box:
                    yield path.name, message
            finally:
                box.close()
        for path in sorted((corpus / "notmuch").rglob("*.eml")):
            raw = path.read_bytes()
            yield str(path.relative_to(corpus)), email.message_from_bytes(raw, policy=policy)

    for where, message in everything():
        key = str(message.get("Message-ID", "")).strip()
        if key and key in seen:
            continue
        seen.add(key)
        yield where, message


def _from_name(message: email.message.EmailMessage) -> str:
    try:
        return email.utils.parseaddr(str(message.get("From", "")))[0]
    except (TypeError, ValueError):  # a broken header: no name
        return ""


def sweep(corpus: Path) -> None:
    messages = list(corpus_messages(corpus))
    names = {str(m.get("Message-ID", "")).strip(): _from_name(m) for _, m in messages}
    replies = 0
    found: list[tuple[str, str, str]] = []
    for where, message in messages:
        parent = str(message.get("In-Reply-To") or "").strip()
        if not parent and not message.get("References"):
            continue
        replies += 1
        try:
            part = message.get_body(("plain",))
            text = part.get_content() if part is not None else ""
        except (LookupError, ValueError):  # an unknown charset, a broken part
            continue
        # The answered author's name, when the corpus has their message; when it does
        # not (a partial archive), any name may stand beside the thanks, as the stage's
        # first look allows before it finds the answered message in the store.
        answered = names[parent] if parent in names else new_text(text)
        kind = short_kind(text, [_from_name(message), answered])
        if kind:
            found.append((kind, where, " | ".join(new_text(text).split("\n"))[:70]))
    for kind, where, text in found:
        print(f"  {kind:<8} {where}: {text}")
    kinds = Counter(kind for kind, _, _ in found)
    print(
        f"corpus {corpus}: {len(found)} of {replies} replies only thank or +1 by the"
        f" gateway's rule ({share(len(found), replies)}): {kinds['thanks']} thank-you,"
        f" {kinds['plus-one']} +1"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=2_000)
    parser.add_argument("--communities", type=int, default=200)
    parser.add_argument("--short-share", type=float, default=SHORT_SHARE,
                        help="the share of replies that only thank, +1 or react (default:"
                             " the corpus's, --sweep)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--sweep", action="store_true",
                        help="count the short replies of the corpus instead")  # fmt: skip
    options = parser.parse_args()
    if options.sweep:
        default = Path(__file__).resolve().parents[2] / "shared" / "corpus"
        sweep(Path(os.environ.get("GATEWAY_CORPUS", default)))
        return
    rng = random.Random(options.seed)
    network = plan_network(rng, options.members, options.communities)
    planned = plan_mails(rng, network, options.threads, options.short_share)
    source = (
        "the corpus's, by the gateway's rule (--sweep)"
        if options.short_share == SHORT_SHARE
        else "assumed (--short-share)"
    )
    print(f"short replies: a share of {options.short_share:.2%} of the replies, {source}")
    describe(network, planned)
    measured = {}
    with tempfile.TemporaryDirectory(prefix="engagement-") as folder:
        for fold in (True, False):
            root = Path(folder) / ("fold-on" if fold else "fold-off")
            root.mkdir()
            measured[fold] = run(root, network, planned, fold)
            report(f"folding {'on' if fold else 'off'}", len(planned), measured[fold])
            shutil.rmtree(root)  # a store is some hundreds of MB: one at a time
    on, off = measured[True], measured[False]
    print(
        f"folding on against off: {off.instant - on.instant:,} fewer instant copies"
        f" ({share(off.instant - on.instant, off.instant)}),"
        f" {off.digest - on.digest:,} fewer digest entries"
        f" ({share(off.digest - on.digest, off.digest)}),"
        f" {off.published - on.published:,} fewer posts"
    )


if __name__ == "__main__":
    main()
