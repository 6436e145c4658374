"""A digest run: every person whose daily (or weekly) digest is due gets it, once.

Who is due comes from their time zone; what a digest covers starts where their
last one ended (gateway.digests.periods), so after downtime one digest catches
up. Each digest is recorded in the ledger of once-per-period mail
(gateway.store.ledger: a digest_runs row per person, cadence and period) in the
same transaction as its queued mail (its bytes in the delivery row): two runs at
once, or a run again after a crash, queue each digest exactly once. The
scheduler in `gateway serve` and `gateway digest run` both call run_digests.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.digests.assemble import Digest
from gateway.digests.assemble import Reader
from gateway.digests.assemble import assemble
from gateway.digests.compose import DigestWriter
from gateway.digests.news import gather
from gateway.digests.periods import Due
from gateway.digests.periods import latest_due
from gateway.store.db import transaction
from gateway.store.ledger import DIGESTS
from gateway.store.ledger import FAILED
from gateway.store.ledger import QUEUED
from gateway.store.ledger import Entry
from gateway.store.ledger import Tally
from gateway.store.models import Cadence
from gateway.store.models import Community
from gateway.store.models import Delivery
from gateway.store.models import DeliveryMode
from gateway.store.models import DeliveryStatus
from gateway.store.models import DigestRun
from gateway.store.models import Membership
from gateway.store.models import Person
from gateway.store.models import PersonTag
from gateway.store.models import TagKind
from gateway.store.models import ThreadMute
from gateway.store.models import as_utc
from gateway.store.sql import chunks

log = logging.getLogger("gateway.digests")

CHUNK = 100  # digests per transaction: their mail (up to ~100 KB each) is held until it commits
DIGEST = "digest"  # the kind of their deliveries


@dataclass(frozen=True)
class Planned:
    """One digest of a run, as `gateway digest run` reports it."""

    address: str
    period: str
    messages: int
    subject: str
    status: str  # queued, empty, already (another run queued it first), failed
    text: str = ""


@dataclass(kw_only=True)
class RunReport(Tally[Planned]):
    cadence: Cadence
    at: dt.datetime


@dataclass(frozen=True)
class _Pending:
    reader: Reader
    due: Due
    start: dt.datetime


def run_digests(
    app: App,
    cadence: Cadence,
    at: dt.datetime,
    *,
    dry_run: bool = False,
    only: str | None = None,
    until: dt.datetime | None = None,
) -> RunReport:
    """Queue every digest of `cadence` due at `at` and not queued yet.

    dry_run builds them and records nothing; `only` limits the run to one address
    and, with dry_run, previews that person's digest even if it was sent already.
    `until` (the clock, from `gateway digest run --at` a time still to come) ends
    the windows there: the next digest starts where this one ended, so posts that
    arrive before the period's due time are not skipped. The mail is due at once.
    """
    now = at if until is None else min(at, until)
    started = time.perf_counter()
    report = RunReport(cadence=cadence, at=at)
    writer = DigestWriter(app.settings, app.templates, app.blobs)
    with transaction(app.read_sessions) as session:
        pending = _pending(session, app, cadence, at, only, again=dry_run and only is not None)
        names = dict(session.execute(select(Community.id, Community.name)).all())
        windows: dict[tuple[dt.datetime, dt.datetime], list[_Pending]] = defaultdict(list)
        for item in pending:
            windows[(item.start, min(item.due.at, now))].append(item)  # due.at <= at
        digests: list[Digest] = []
        for (start, end), items in windows.items():
            communities = {c for item in items for c in item.reader.community_ids}
            news = gather(
                session,
                communities,
                start,
                end,
                app.settings.archive.base_url,
                dt.timedelta(hours=app.settings.adoption.unanswered_after_hours),
            )
            writer.new_window(news.communities)
            for item in items:
                try:
                    digest = assemble(
                        item.reader,
                        news,
                        cadence,
                        item.due.period,
                        start,
                        end,
                        app.settings.adoption.questions_per_day,
                    )
                except Exception:  # this reader's digest only; tried again next run
                    log.exception("digest for %s could not be assembled", item.reader.address)
                    report.planned.append(
                        Planned(item.reader.address, item.due.period, 0, "", FAILED)
                    )
                    continue
                if dry_run:
                    report.planned.append(_preview(writer, digest, names))
                else:
                    digests.append(digest)
            if not dry_run:
                for chunk in chunks(digests, CHUNK):
                    report.planned.extend(_queue(app, writer, chunk, names, now))
                digests = []
    if pending:
        log.info(
            "digests %s at=%s queued=%d empty=%d already=%d dry_run=%s ms=%.0f",
            cadence.value,
            at.isoformat(timespec="seconds"),
            report.count("queued"),
            report.count("empty"),
            report.count("already"),
            dry_run,
            (time.perf_counter() - started) * 1000,
        )
    return report


def _pending(
    session: Session,
    app: App,
    cadence: Cadence,
    at: dt.datetime,
    only: str | None,
    again: bool = False,
) -> list[_Pending]:
    """Readers of this cadence whose digest due at `at` is not recorded yet (or all,
    `again`)."""
    mode = DeliveryMode(cadence.value)
    query = (
        select(Person.id, Person.address, Person.name, Person.timezone, Membership.community_id)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.delivery == mode, Membership.disabled_at.is_(None))
        .order_by(Person.id)
    )
    if only is not None:
        query = query.where(Person.address == only)
    rows = session.execute(query).all()
    if not rows:
        return []
    subscribed = select(Membership.person_id).where(Membership.delivery == mode)
    tags: dict[int, dict[TagKind, set[str]]] = defaultdict(lambda: defaultdict(set))
    for person_id, kind, tag in session.execute(
        select(PersonTag.person_id, PersonTag.kind, PersonTag.tag).where(
            PersonTag.person_id.in_(subscribed)
        )
    ):
        tags[person_id][kind].add(tag)
    muted: dict[int, set[int]] = defaultdict(set)
    for person_id, thread_id in session.execute(
        select(ThreadMute.person_id, ThreadMute.thread_id).where(
            ThreadMute.person_id.in_(subscribed)
        )
    ):
        muted[person_id].add(thread_id)
    dues: dict[str, Due] = {}
    communities: dict[int, list[int]] = defaultdict(list)
    people: dict[int, tuple[str, str, str]] = {}
    for person_id, address, name, zone, community_id in rows:
        communities[person_id].append(community_id)
        people[person_id] = (address, name, zone)
        if zone not in dues:
            dues[zone] = latest_due(cadence, at, zone, app.settings.digests)
    periods = {due.period for due in dues.values()}
    recorded = DIGESTS.recorded(
        session, DigestRun.cadence == cadence, DigestRun.period.in_(periods)
    )
    last_end = {
        person_id: as_utc(end)
        for person_id, end in session.execute(
            select(DigestRun.person_id, func.max(DigestRun.window_end))
            .where(DigestRun.cadence == cadence, DigestRun.window_end.is_not(None))
            .group_by(DigestRun.person_id)
        )
    }
    pending = []
    for person_id, (address, name, zone) in people.items():
        due = dues[zone]
        if (person_id, cadence, due.period) in recorded and not again:
            continue
        expertise = frozenset(tags[person_id][TagKind.EXPERTISE])
        reader = Reader(
            person_id,
            address,
            name,
            tuple(communities[person_id]),
            expertise,
            profile_empty=not expertise and not tags[person_id][TagKind.INTEREST],
            muted=frozenset(muted.get(person_id, ())),
            timezone=zone,
        )
        last = last_end.get(person_id)
        if last is not None and last >= due.at:  # a preview of a digest already sent
            last = None
        pending.append(_Pending(reader, due, due.window_start(last)))
    return pending


def _preview(writer: DigestWriter, digest: Digest, names: dict[int, str]) -> Planned:
    reader = digest.reader
    if digest.empty:
        return Planned(reader.address, digest.period, 0, "", "empty")
    parts = writer.parts(digest, names)
    return Planned(
        reader.address, digest.period, digest.message_count, parts.subject, "queued", parts.text
    )


def _queue(
    app: App, writer: DigestWriter, digests: list[Digest], names: dict[int, str], now: dt.datetime
) -> list[Planned]:
    """Record a chunk of digests and queue the mail of those this run recorded first,
    in one transaction: three statements for the whole chunk."""
    with transaction(app.sessions) as session:
        entries = [
            Entry(
                (d.reader.id, d.cadence, d.period),
                d.empty,
                {"message_count": d.message_count, "window_start": d.start, "window_end": d.end},
            )
            for d in digests
        ]
        planned, mails, mailed = [], [], []
        for digest, recorded in zip(digests, DIGESTS.record(session, entries, now), strict=True):
            reader = digest.reader
            if recorded.status != QUEUED:
                planned.append(Planned(reader.address, digest.period, 0, "", recorded.status))
            else:
                try:
                    subject, raw = writer.mail(digest, names, now)
                except Exception:  # one reader's digest, set aside; the others go out
                    log.exception("digest for %s %s failed", reader.address, digest.period)
                    planned.append(Planned(reader.address, digest.period, 0, "", FAILED))
                    continue
                planned.append(
                    Planned(reader.address, digest.period, digest.message_count, subject, QUEUED)
                )
                mails.append(
                    {
                        "recipient": reader.address,
                        "person_id": reader.id,
                        "kind": DIGEST,
                        "content": raw,
                        "status": DeliveryStatus.PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "last_error": "",
                        "created_at": now,
                    }  # fmt: skip
                )
                mailed.append(recorded.run_id)
        if mails:
            delivery_ids = session.scalars(
                insert(Delivery).returning(Delivery.id, sort_by_parameter_order=True), mails
            ).all()
            DIGESTS.link(session, dict(zip(mailed, delivery_ids, strict=True)))
    return planned
