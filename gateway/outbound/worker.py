"""The delivery worker: sends due deliveries over a relay.

Each round claims a batch of due rows, renders each distinct content once, packs
recipients into envelopes (shared transactions, XVERP, or one VERP transaction
each) and sends them over the relay's connections in parallel, recording each
transaction's outcome before its connection starts the next one. Its claims are
leased to this node ([gateway] node_id) and renewed while a round goes on, so that
no other node takes them over. gateway.runtime.outgoing runs its rounds inside
`gateway serve`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field

from gateway.app import App
from gateway.blobs import BlobNotFound
from gateway.engagement.answer_links import AnswerLinks
from gateway.engagement.answer_links import AnswerRequest
from gateway.engagement.answers import askers_of_replies
from gateway.outbound.bounces import count_refusals
from gateway.outbound.deliveries import Claimed
from gateway.outbound.deliveries import DeliveryResult
from gateway.outbound.deliveries import Outcome
from gateway.outbound.deliveries import claim_due
from gateway.outbound.deliveries import generated_content
from gateway.outbound.deliveries import record_outcomes
from gateway.outbound.deliveries import renew_leases
from gateway.outbound.deliveries import resume_in_flight
from gateway.outbound.from_rewriting import FromRewriting
from gateway.outbound.one_click import OneClick
from gateway.outbound.render import Destination
from gateway.outbound.render import Renderer
from gateway.outbound.signing import make_signer
from gateway.outbound.stored_posts import StoredCommunity
from gateway.outbound.stored_posts import StoredPost
from gateway.outbound.stored_posts import read_communities
from gateway.outbound.stored_posts import read_posts
from gateway.relay.envelope import Envelope
from gateway.relay.envelope import Relay
from gateway.relay.envelope import bounce_address
from gateway.relay.envelope import verp_address
from gateway.store.db import transaction
from gateway.store.leases import Lease
from gateway.store.models import utcnow
from gateway.store.sql import chunks
from gateway.web.tokens import Stop
from gateway.web.tokens import Unsubscribe

log = logging.getLogger("gateway.relay")

BATCH = 5000  # deliveries claimed per round
# Seconds between two records of the outcomes of copies sent one per transaction.
RECORD_EVERY = 0.25
# Renewals of a round's claims per lease: one missed renewal does not lose them.
LEASE_RENEWALS = 3
# Posts read from the store in one transaction (gateway.outbound.stored_posts), and
# rendered before their envelopes are sent.
POSTS_READ_AT_ONCE = 100
# Bytes of distinct contents rendered before they are sent (digests are each their own).
SLICE_BYTES = 32 * 1024 * 1024

ContentKey = tuple[int, int, int]


class DeliveryWorker:
    """start() once, deliver_round() whenever there may be work, close() at the end."""

    def __init__(
        self,
        app: App,
        relay: Relay,
        batch: int = BATCH,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.app = app
        self.relay = relay
        self.settings = app.settings
        self.renderer = Renderer(app.settings, app.templates)
        self.from_rewriting = FromRewriting(app.settings)
        self.signer = make_signer(app.settings)
        self.one_click = OneClick(app.settings)
        self._answer_links: AnswerLinks | None = None  # its key is read on first use
        self.personal_copies = app.settings.delivery.personal_copies and self.one_click.enabled
        self.batch = batch
        self.clock = clock
        # Transactions in flight at once: one per relay connection.
        self.connections = max(1, app.settings.relay.connections)
        self.lease = Lease(app.settings.node_id, app.settings.delivery.lease_seconds)
        # The next round's claim, taken while a full round sends (see deliver_round),
        # where writers run side by side. SQLite's take turns on the whole database: a
        # claim beside the records only delays them (bench/fanout.py: a tenth slower).
        self.claims_ahead = app.engine.dialect.name == "postgresql"
        self._ahead: asyncio.Task[list[Claimed]] | None = None

    async def start(self) -> None:
        """Open the relay, and queue again what this node's previous run left in flight
        (and what a dead node's expired lease left)."""
        await self.relay.start()
        with transaction(self.app.sessions) as session:
            resumed = resume_in_flight(session, self.lease)
        if resumed:
            log.info("resuming %d deliveries that were in flight", resumed)

    async def close(self) -> None:
        """Close the relay. Rows claimed ahead stay this node's: `gateway serve` gives
        them back as it stops (gateway.runtime.nodes), or its next start resumes them."""
        if self._ahead is not None:
            await self._claimed()  # the claim ahead ends (or its failure is logged)
        await self.relay.close()

    async def deliver_round(self, ahead: bool = True) -> int:
        """Send one batch of due deliveries; return how many were taken.

        Contents are rendered or loaded a chunk at a time and sent as they come
        (_deliver), so a round of large digests, each its own content, never holds
        them all in memory. A full round likely leaves more due: on PostgreSQL
        (claims_ahead), unless `ahead` is False (a node stopping), it claims the next
        round's rows in a thread while it sends, so that the database's work overlaps
        the relay's rather than waiting for it (a claim took a quarter of a fan-out's
        time).
        """
        claimed = await self._claimed()
        if not claimed:
            return 0
        started = time.perf_counter()
        progress = _Progress()
        if ahead and self.claims_ahead and len(claimed) == self.batch:
            self._ahead = asyncio.create_task(asyncio.to_thread(self._claim))
        renewing = asyncio.create_task(self._keep_leases(claimed, progress))
        try:
            transactions = await self._deliver(claimed, progress)
        except asyncio.CancelledError:  # the process stops dead: nothing more is recorded
            if progress.recorder is not None:
                progress.recorder.cancel()
            raise
        except Exception as error:
            # Whatever broke, no claimed row stays "sending": those without an
            # outcome yet are tried again after the usual wait.
            log.exception("delivery round failed; its unsent deliveries are retried later")
            reason = f"4.3.0 the delivery round failed: {error!r}"[:500]
            known = progress.recorded | {o.delivery.id for o in progress.outcomes}
            progress.outcomes += [Outcome(c, 451, reason) for c in claimed if c.id not in known]
            transactions = 0
        finally:
            renewing.cancel()
        await self._record_waiting(progress)  # what the round has not recorded yet
        log.info(
            "delivered sent=%d retry=%d failed=%d transactions=%d ms=%.0f",
            progress.counts[DeliveryResult.SENT],
            progress.counts[DeliveryResult.RETRY],
            progress.counts[DeliveryResult.FAILED],
            transactions,
            (time.perf_counter() - started) * 1000,
        )
        return len(claimed)

    def _claim(self) -> list[Claimed]:
        with transaction(self.app.sessions) as session:
            return claim_due(session, self.clock(), self.batch, self.lease)

    async def _claimed(self) -> list[Claimed]:
        """The round's deliveries: those the round before claimed ahead, or claimed now."""
        if self._ahead is None:
            return self._claim()
        ahead, self._ahead = self._ahead, None
        try:
            return await ahead
        except Exception:  # nothing was claimed: the next round tries again
            log.exception("claiming the next round's deliveries failed")
            return []

    def _claimed_ahead(self) -> list[int]:
        ahead = self._ahead
        if ahead is None or not ahead.done() or ahead.cancelled() or ahead.exception():
            return []
        return [c.id for c in ahead.result()]

    async def _keep_leases(self, claimed: Sequence[Claimed], progress: _Progress) -> None:
        """Renew the round's claims not recorded yet, and those claimed ahead for the next
        round, a few times per lease while it goes on: a slow round (a slow relay, large
        digests) is not taken over."""
        while True:
            await asyncio.sleep(self.lease.seconds / LEASE_RENEWALS)
            unrecorded = [c.id for c in claimed if c.id not in progress.recorded]
            unrecorded += self._claimed_ahead()
            if not unrecorded:
                return
            try:
                with transaction(self.app.sessions) as session:
                    renew_leases(session, unrecorded, self.lease, self.clock())
            except Exception:  # the store may be back before the lease runs out
                log.exception("renewing the leases of %d deliveries failed", len(unrecorded))

    async def _deliver(self, claimed: Sequence[Claimed], progress: _Progress) -> int:
        """Render, pack and send the claimed deliveries; return how many transactions.

        Contents are rendered a chunk at a time (POSTS_READ_AT_ONCE posts, or up to
        SLICE_BYTES), then their envelopes are sent while the next chunk is rendered:
        the first copies of a long round leave at once, not after the whole round is
        rendered. Rendering blocks the loop, so it runs between chunks rather than
        between envelopes, which would stall the transactions in flight each time.
        Envelopes are made as connections free up, so a round holds a chunk of
        contents and one envelope per connection.
        """
        # DMARC-aware From: the authors' policies, looked up at once before rendering.
        rewrite_from = await self.from_rewriting.for_posts(self.app.read_sessions, claimed)
        posts = any(c.message_id is not None for c in claimed)
        round_ = _Round(rewrite_from, self._communities() if posts else {})
        askers = self._askers(claimed) if posts else {}
        sending = _Sending(asyncio.TaskGroup(), asyncio.Semaphore(self.connections), progress)
        async with sending.tasks:
            for chunk in chunks(list(_groups(claimed)), POSTS_READ_AT_ONCE):
                round_.posts = self._stored_posts(key for key, _ in chunk)
                contents: list[tuple[ContentKey, bytes, list[Claimed]]] = []
                size = 0
                for key, group in chunk:
                    rendered, failure = self._content(key, round_)
                    if rendered is None:
                        progress.outcomes.extend(Outcome(c, 554, failure) for c in group)
                        continue
                    contents.append((key, rendered, group))
                    size += len(rendered)
                    if size >= SLICE_BYTES:
                        await self._send_contents(contents, askers, round_, sending)
                        contents, size = [], 0
                await self._send_contents(contents, askers, round_, sending)
        return sending.transactions

    async def _send_contents(
        self,
        contents: list[tuple[ContentKey, bytes, list[Claimed]]],
        askers: dict[int, tuple[int, int]],
        round_: _Round,
        sending: _Sending,
    ) -> None:
        """Start sending the contents' envelopes, each once a connection is free."""
        for key, rendered, group in contents:
            for envelope, members in self._envelopes(key, rendered, group, askers, round_):
                await sending.slots.acquire()
                sending.tasks.create_task(
                    self._send_and_record(envelope, members, sending.progress, sending.slots)
                )
                sending.transactions += 1
        await asyncio.sleep(0)  # the new transactions start before the next chunk renders

    def _envelopes(
        self,
        key: ContentKey,
        rendered: bytes,
        group: list[Claimed],
        askers: dict[int, tuple[int, int]],
        round_: _Round,
    ) -> Iterator[tuple[Envelope, Sequence[Claimed]]]:
        """One content's envelopes: the thread's first author's own copy of a reply first
        (see _asker_copy), then everyone else's."""
        personal = self.personal_copies and key[2] == 0  # a post's copies, made personal
        if key[2] == 0:
            group, asker = self._asker_copy(key, group, askers.get(key[0]), round_)
            if asker is not None:
                yield from self._pack(asker[0], asker[1], personal=True)
        if group:
            yield from self._pack(rendered, group, personal)

    async def _send_and_record(
        self,
        envelope: Envelope,
        group: Sequence[Claimed],
        progress: _Progress,
        slot: asyncio.Semaphore,
    ) -> None:
        """Send one envelope on the connection `slot` stands for, then free it.

        A transaction to several recipients is recorded before its connection starts
        another, so a crash sends it again at most once per connection. Copies sent one
        per transaction (VERP without XVERP, personal copies, digests) are recorded
        together every RECORD_EVERY: one commit per copy would cut their rate sevenfold
        (bench/fanout.py --modes verp); a crash may send again what was answered in the
        last RECORD_EVERY (docs/sending.md, "In flight").
        """
        try:
            outcomes = await self._send(envelope, group)
            # Only now: progress.outcomes is another list after a record meanwhile.
            progress.outcomes.extend(outcomes)
            if len(group) > 1 or time.monotonic() - progress.recorded_at >= RECORD_EVERY:
                await self._record_waiting(progress)
        finally:
            slot.release()

    async def _record_waiting(self, progress: _Progress) -> None:
        """Return once the outcomes waiting now are recorded, and those a record under way
        took. A group commit: one task records in a thread (_record_batches), so the
        other connections go on sending meanwhile, and the outcomes that come in while
        it records go together in its next transaction.

        Each sender waits only for the record that holds its own outcomes. Before, a
        sender took a turn of a lock: one whose outcomes an earlier turn had recorded
        still waited for its turn, and recorded what had come in since, so that its
        connection idled through one record more: one transaction in flight at a time
        whenever recording was slower than sending (PostgreSQL).
        """
        if progress.outcomes:
            batch = progress.batch
            progress.wanted = True
            if progress.recorder is None or progress.recorder.done():
                progress.recorder = asyncio.create_task(self._record_batches(progress))
        elif progress.in_flight is not None:
            batch = progress.in_flight
        else:
            return
        await asyncio.shield(batch)  # one sender cancelled does not cancel the others' wait

    async def _record_batches(self, progress: _Progress) -> None:
        """Record the waiting outcomes, a transaction at a time, while a sender waits for
        them; each batch's future is done once it is recorded, or holds the error.
        Outcomes nobody waits for (copies sent one per transaction, recorded every
        RECORD_EVERY) wait for the next sender that does: a commit as soon as the last
        one ended would be about one commit per copy again (VERP fan-out 28% slower)."""
        while progress.outcomes and progress.wanted:
            outcomes, progress.outcomes = progress.outcomes, []
            progress.wanted = False
            batch = progress.in_flight = progress.batch
            progress.batch = _new_batch()
            try:
                counts = await asyncio.to_thread(self._record_outcomes, outcomes)
            except BaseException as error:
                progress.outcomes[:0] = outcomes  # rolled back: still to be recorded
                if isinstance(error, Exception):
                    batch.set_exception(error)  # raised in each sender: the round fails
                    return
                batch.cancel()
                raise
            finally:
                progress.in_flight = None
            progress.recorded.update(o.delivery.id for o in outcomes)
            progress.counts.update(counts)
            progress.recorded_at = time.monotonic()
            batch.set_result(None)

    async def _send(self, envelope: Envelope, group: Sequence[Claimed]) -> list[Outcome]:
        try:
            replies = await self.relay.send(envelope)
        except Exception as error:  # a relay fault is this envelope's, not the round's
            log.exception("sending to %d recipients failed", len(group))
            reason = f"4.3.0 the relay failed: {error!r}"[:500]
            return [Outcome(c, 451, reason) for c in group]
        return [Outcome(c, r.code, r.text) for c, r in zip(group, replies, strict=True)]

    def _record_outcomes(self, outcomes: Sequence[Outcome]) -> dict[DeliveryResult, int]:
        now = self.clock()
        with transaction(self.app.sessions) as session:
            counts = record_outcomes(session, outcomes, self.settings.delivery, now)
            count_refusals(session, self.app.templates, self.settings, outcomes, now)
        return counts

    def _pack(
        self, rendered: bytes, group: Sequence[Claimed], personal: bool
    ) -> Iterator[tuple[Envelope, Sequence[Claimed]]]:
        """Envelopes for one content: shared ones when bounces need no VERP or the relay
        writes it (XVERP), else one transaction per recipient with its VERP sender.

        `personal` ([delivery] personal_copies, for a post): each member's copy is their
        own, the shared rendering with their one-click URL, signed per copy, one
        transaction each.
        """
        domain = self.settings.gateway.domain
        verp = self.settings.delivery.envelope == "verp"
        forwarded = group[0].message_id is not None
        shared = None if personal else self._payload(rendered, forwarded, remember=forwarded)
        if personal or (verp and not self.relay.xverp):
            for claimed in group:
                sender = verp_address(claimed.recipient, domain) if verp else bounce_address(domain)
                payload = shared
                if payload is None:
                    payload = self._payload(self._personal(rendered, claimed), forwarded)
                yield Envelope(sender, [claimed.recipient], payload), [claimed]
            return
        assert shared is not None
        payload = shared
        size = self.settings.delivery.recipients_per_transaction
        for chunk in chunks(group, size):
            recipients = [c.recipient for c in chunk]
            yield Envelope(bounce_address(domain), recipients, payload, xverp=verp), chunk

    def _personal(self, rendered: bytes, claimed: Claimed) -> bytes:
        if claimed.person_id is None or claimed.community_id is None:
            return rendered
        request = Unsubscribe(claimed.person_id, Stop.LEAVE, (claimed.community_id,))
        return self.one_click.personal(rendered, request)

    def _payload(self, rendered: bytes, forwarded: bool, remember: bool = False) -> bytes:
        """What the relay sends for a message: signed once (a post's copy, `forwarded`,
        also ARC-sealed; `remember`: see Signer.sign), then as the relay wants it."""
        return self.relay.payload(self.signer.sign(rendered, forwarded, remember))

    def _communities(self) -> dict[int, StoredCommunity]:
        """Every community, read once a round: a post's copy names the others it went to
        and takes their subject prefixes off its subject (gateway.outbound.render)."""
        with transaction(self.app.read_sessions) as session:
            return read_communities(session)

    def _stored_posts(self, keys: Iterable[ContentKey]) -> dict[int, StoredPost]:
        message_ids = [message_id for message_id, _, delivery_id in keys if not delivery_id]
        if not message_ids:
            return {}
        with transaction(self.app.read_sessions) as session:
            return read_posts(session, message_ids)

    def _content(self, key: ContentKey, round_: _Round) -> tuple[bytes | None, str]:
        """The bytes of a content, or None and why it cannot be sent.

        A content that cannot be rendered fails its own deliveries only, with the
        error in their last_error; the rest of the round goes on.
        """
        message_id, community_id, delivery_id = key
        try:
            if delivery_id:
                with transaction(self.app.read_sessions) as session:
                    rendered = generated_content(session, delivery_id)
            else:
                rendered = self._render_post(message_id, community_id, round_)
        except BlobNotFound:
            return None, "5.3.0 the post's stored copy is missing"
        except Exception as error:
            log.exception("message %d could not be rendered; its deliveries fail", message_id)
            return None, f"5.3.0 the mail could not be rendered: {error!r}"[:500]
        if rendered is None:
            return None, "5.3.0 the mail or its community is no longer stored"
        return rendered, ""

    def _askers(self, claimed: Sequence[Claimed]) -> dict[int, tuple[int, int]]:
        """The round's posts that are replies: (thread, its first author) by post, read
        at once (gateway.engagement.answers.askers_of_replies). Empty on a failure: the
        shared copies go."""
        posts = {c.message_id for c in claimed if c.message_id is not None}
        try:
            with transaction(self.app.read_sessions) as session:
                return askers_of_replies(session, posts)
        except Exception:
            log.exception("the askers of %d posts could not be read", len(posts))
            return {}

    def _asker_copy(
        self,
        key: ContentKey,
        group: list[Claimed],
        asker: tuple[int, int] | None,
        round_: _Round,
    ) -> tuple[list[Claimed], tuple[bytes, list[Claimed]] | None]:
        """The group without the thread's first author, and their own copy of this reply
        (with the link that accepts it as the answer: gateway.engagement.answer_links) and
        their deliveries; the group as it is and None when they are not in it, or the
        post is no reply (`asker`: the reply's thread and first author, see _askers). A
        copy that cannot be made leaves them the shared one."""
        message_id, community_id, _ = key
        if asker is None or not any(c.person_id == asker[1] for c in group):
            return group, None
        thread_id, person_id = asker
        try:
            if self._answer_links is None:
                self._answer_links = AnswerLinks.for_data_dir(self.settings.gateway.data_dir)
            link = self._answer_links.link(
                AnswerRequest(thread_id, message_id, person_id),
                self.clock().date(),
                self.settings.gateway.domain,
            )
            rendered = self._render_post(message_id, community_id, round_, answer=link)
        except Exception:
            log.exception(
                "message %d: its thread author's copy failed; the shared one goes", message_id
            )
            return group, None
        if rendered is None:
            return group, None
        mine = [c for c in group if c.person_id == person_id]
        return [c for c in group if c.person_id != person_id], (rendered, mine)

    def _render_post(
        self, message_id: int, community_id: int, round_: _Round, answer: str = ""
    ) -> bytes | None:
        """A post's copy for one community, None when either is no longer stored;
        `answer`: see Renderer.render."""
        stored = round_.posts.get(message_id)
        community = round_.communities.get(community_id)
        if stored is None or community is None:
            return None
        post = stored.post(
            self.app.blobs.get(stored.raw_sha256), round_.rewrite_from.get(message_id, False)
        )
        others = [round_.communities[c] for c in stored.community_ids if c in round_.communities]
        destination = Destination(
            slug=community.slug,
            name=community.name,
            subject_prefix=community.subject_prefix,
            reply_to=community.reply_to,
            public=community.public,
            # Only public communities are named: a copy goes to every member of its
            # community, who need not be members of the others (nor know their address).
            also=tuple(
                (c.slug, c.name)
                for c in sorted(others, key=lambda c: c.slug)
                if c.id != community.id and c.public
            ),
            other_prefixes=tuple(
                c.subject_prefix
                for c in round_.communities.values()
                if c.subject_prefix and c.id != community.id
            ),
        )
        return self.renderer.render(post, destination, answer)


@dataclass
class _Sending:
    """A round's transactions in flight: a free connection (`slots`) to start one."""

    tasks: asyncio.TaskGroup
    slots: asyncio.Semaphore
    progress: _Progress
    transactions: int = 0


@dataclass
class _Round:
    """What a round's renderings share: the DMARC decisions (gateway.outbound.
    from_rewriting), every community, and the posts of the chunk being rendered."""

    rewrite_from: dict[int, bool]
    communities: dict[int, StoredCommunity]
    posts: dict[int, StoredPost] = field(default_factory=dict)


@dataclass
class _Progress:
    """A round's outcomes not recorded yet, and its counts so far."""

    outcomes: list[Outcome] = field(default_factory=list)
    recorded: set[int] = field(default_factory=set)  # ids of the deliveries recorded
    counts: Counter[DeliveryResult] = field(default_factory=Counter)
    recorded_at: float = field(default_factory=time.monotonic)
    # The group commit (DeliveryWorker._record_waiting): the task recording, the future
    # of the outcomes waiting now, and that of the outcomes being recorded.
    recorder: asyncio.Task[None] | None = None
    batch: asyncio.Future[None] = field(default_factory=lambda: _new_batch())
    wanted: bool = False  # a sender waits for `batch`
    in_flight: asyncio.Future[None] | None = None


def _new_batch() -> asyncio.Future[None]:
    """A batch's future; its error counts as seen even when no sender waited for it (the
    copies sent one per transaction do not wait), so asyncio does not log it again."""
    batch: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    batch.add_done_callback(lambda done: done.cancelled() or done.exception())
    return batch


def _groups(claimed: Sequence[Claimed]) -> Iterator[tuple[ContentKey, list[Claimed]]]:
    """Runs of deliveries with the same content (claim_due sorts them so)."""
    group: list[Claimed] = []
    for delivery in claimed:
        if group and delivery.content_key != group[0].content_key:
            yield group[0].content_key, group
            group = []
        group.append(delivery)
    if group:
        yield group[0].content_key, group
