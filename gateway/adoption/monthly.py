"""The monthly mails, each sent exactly once: a report to each community's owners, and
"your network" to each member who gets mail.

Like the digests, each mail is recorded in the ledger of once-per-period mail
(gateway.store.ledger: a monthly_runs row per person, kind, community and month) in
the same transaction as the queued mail: two runs at once, or a run again after a
crash, queue each mail once. The scheduler in `gateway serve` and `gateway monthly
run` both call run_monthly. Members whose every membership has delivery "none" (or whose mail
bounces stopped) get no "your network" mail, nor those who opted out. A mail
looks back on a whole month: only members who were in a community at its start,
and communities that existed then, are mailed about it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.adoption.monthly_content import MonthContent
from gateway.adoption.monthly_content import opt_out_link
from gateway.adoption.months import Month
from gateway.adoption.months import latest_month
from gateway.adoption.suggest import profiles
from gateway.app import App
from gateway.community.people import get_person
from gateway.outbound.composer import Composer
from gateway.outbound.composer import ListFields
from gateway.outbound.deliveries import enqueue_mail
from gateway.outbound.one_click import OneClick
from gateway.store.db import transaction
from gateway.store.ledger import FAILED
from gateway.store.ledger import MONTHLY
from gateway.store.ledger import QUEUED
from gateway.store.ledger import Entry
from gateway.store.ledger import Tally
from gateway.store.models import Community
from gateway.store.models import DeliveryMode
from gateway.store.models import Membership
from gateway.store.models import MonthlyRun
from gateway.store.models import Person
from gateway.store.models import Role
from gateway.store.models import utcnow
from gateway.store.sql import chunks
from gateway.web.tokens import Stop
from gateway.web.tokens import Unsubscribe

log = logging.getLogger("gateway.adoption")

NETWORK = "network"
REPORT = "report"
TEMPLATES = {NETWORK: "monthly_network", REPORT: "monthly_report"}
CHUNK = 200  # mails per transaction
# A month's mails are sent up to this long after they were due (a restart catches
# up); later, they are no longer news and that month is skipped.
GRACE = dt.timedelta(days=7)


@dataclass(frozen=True)
class Planned:
    address: str
    kind: str
    community: str  # the report's community slug; "" for a network mail
    status: str  # queued, empty (nothing to say), already (sent by an earlier run), failed
    subject: str = ""


@dataclass(kw_only=True)
class MonthlyReport(Tally[Planned]):
    period: str


@dataclass(frozen=True)
class _Mail:
    person_id: int
    address: str
    kind: str
    community_id: int  # 0 for a network mail
    values: dict[str, Any]
    empty: bool


def run_monthly(app: App, at: dt.datetime, *, dry_run: bool = False) -> MonthlyReport:
    """Queue every monthly mail due at `at` not queued yet (dry_run: record nothing)."""
    month = latest_month(at, app.settings)
    report = MonthlyReport(period=month.period)
    adoption = app.settings.adoption
    if not (adoption.owner_report or adoption.network_mail) or at - month.due > GRACE:
        return report
    # A run `--at` a time to come queues its mail to be sent now.
    queued_at = min(at, utcnow())
    with transaction(app.read_sessions) as session:
        sent = MONTHLY.recorded(session, MonthlyRun.period == month.period)
        recipients = _recipients(session, month, adoption.owner_report, adoption.network_mail)
        todo = [r for r in recipients if (r[0], r[2], r[3], month.period) not in sent or dry_run]
        if not todo:
            return report
        content = MonthContent(session, app.settings, month)
        people = profiles(session, list({r[0] for r in todo if r[2] == NETWORK}))
        mails = []
        for person_id, address, kind, community_id, community_ids, zone in todo:
            if kind == REPORT:
                values = content.report(community_id)
                empty = False
            else:
                values = content.network(people[person_id], community_ids)
                empty = (
                    not (values["communities"] or values["questions"] or values["suggestions"])
                    and not values["profile_empty"]
                )
            values["zone"] = zone  # the reader's own, if they set one
            mails.append(_Mail(person_id, address, kind, community_id, values, empty))
    composer = Composer(app.templates, app.settings)
    one_click = OneClick(app.settings)  # reads the token key: once a run
    for chunk in chunks(mails, CHUNK):
        report.planned.extend(_queue(app, composer, one_click, month, chunk, queued_at, dry_run))
    if report.planned and not dry_run:
        log.info(
            "monthly mail %s queued=%d empty=%d already=%d",
            month.period,
            report.count("queued"),
            report.count("empty"),
            report.count("already"),
        )
    return report


def _recipients(
    session: Session, month: Month, reports: bool, network: bool
) -> list[tuple[int, str, str, int, list[int], str | None]]:
    """(person, address, kind, community, the communities they get mail from, the
    person's time zone)."""
    rows = session.execute(
        select(
            Person.id,
            Person.address,
            Person.timezone,
            Person.monthly_mail,
            Membership.community_id,
            Membership.role,
            Membership.delivery,
            Membership.disabled_at,
        )
        .join(Membership, Membership.person_id == Person.id)
        .join(Community, Community.id == Membership.community_id)
        .where(
            Membership.joined_at <= month.start,
            Community.created_at <= month.start,
            Community.closed_at.is_(None),
        )
        .order_by(Person.id, Membership.community_id)
    ).all()
    found: list[tuple[int, str, str, int, list[int], str | None]] = []
    mailed: dict[int, list[int]] = defaultdict(list)
    people: dict[int, tuple[str, str | None]] = {}
    for person_id, address, zone, monthly, community_id, role, delivery, disabled in rows:
        if disabled is not None:
            continue
        if reports and role == Role.OWNER:
            found.append((person_id, address, REPORT, community_id, [], zone))
        if network and monthly and delivery != DeliveryMode.NONE:
            mailed[person_id].append(community_id)
            people[person_id] = (address, zone)
    for person_id, community_ids in mailed.items():
        to, reader_zone = people[person_id]
        found.append((person_id, to, NETWORK, 0, community_ids, reader_zone))
    return found


def _queue(
    app: App,
    composer: Composer,
    one_click: OneClick,
    month: Month,
    mails: list[_Mail],
    now: dt.datetime,
    dry_run: bool,
) -> list[Planned]:
    """Record a chunk of mails and queue those this run recorded first."""
    planned = []
    opt_out = opt_out_link(app.settings.gateway.domain)
    with transaction(app.read_sessions if dry_run else app.sessions) as session:
        entries = [
            Entry((m.person_id, m.kind, m.community_id, month.period), m.empty) for m in mails
        ]
        recorded = MONTHLY.record(session, entries, now, dry_run=dry_run)
        deliveries = {}
        for mail, entry in zip(mails, recorded, strict=True):
            slug = mail.values["community"]["slug"] if mail.kind == REPORT else ""
            if entry.status != QUEUED:
                planned.append(Planned(mail.address, mail.kind, slug, entry.status))
                continue
            try:
                parts = composer.render(TEMPLATES[mail.kind], mail.values)
                network = (
                    ListFields(
                        unsubscribe=(opt_out,),
                        one_click=one_click.url(Unsubscribe(mail.person_id, Stop.MONTHLY)),
                    )
                    if mail.kind == NETWORK
                    else None
                )
                raw = composer.message(
                    parts, mail.address, now, kind=TEMPLATES[mail.kind], list_fields=network
                )
            except Exception:  # this mail only, set aside; the others go out
                log.exception("monthly %s mail for %s failed", mail.kind, mail.address)
                planned.append(Planned(mail.address, mail.kind, slug, FAILED))
                continue
            planned.append(Planned(mail.address, mail.kind, slug, QUEUED, parts.subject))
            if dry_run:
                continue
            deliveries[entry.run_id] = enqueue_mail(
                session, mail.address, raw, TEMPLATES[mail.kind], now, person_id=mail.person_id
            )
        session.flush()
        MONTHLY.link(session, {run_id: d.id for run_id, d in deliveries.items()})
    return planned


def set_monthly_mail(session: Session, address: str, wanted: bool) -> Person:
    """Start or stop a person's "your network" mail (the opt-out link's action, and
    `gateway monthly stop|start`); raises NotFound for an unknown address."""
    person = get_person(session, address)
    person.monthly_mail = wanted
    return person
