"""The monthly mails, each sent exactly once: a report to each community's owners, and
"your network" to each member who gets mail.

Like the digests (gateway.digests.runner), a monthly_runs row per (person, kind,
community, month) is inserted with ON CONFLICT DO NOTHING in the same transaction
as the queued mail: two runs at once, or a run again after a crash, queue each mail
once. The scheduler in `gateway serve` and `gateway monthly run` both call
run_monthly. Members whose every membership has delivery "none" (or whose mail
bounces stopped) get no "your network" mail, nor those who opted out. A mail
looks back on a whole month: only members who were in a community at its start,
and communities that existed then, are mailed about it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import Insert
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite
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
from gateway.store.db import transaction
from gateway.store.models import Community
from gateway.store.models import DeliveryMode
from gateway.store.models import Membership
from gateway.store.models import MonthlyRun
from gateway.store.models import Person
from gateway.store.models import Role
from gateway.store.models import utcnow

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
    status: str  # queued, empty (nothing to say), already (sent by an earlier run)
    subject: str = ""


@dataclass
class MonthlyReport:
    period: str
    planned: list[Planned] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for p in self.planned if p.status == status)


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
    report = MonthlyReport(month.period)
    adoption = app.settings.adoption
    if not (adoption.owner_report or adoption.network_mail) or at - month.due > GRACE:
        return report
    # A run `--at` a time to come queues its mail to be sent now.
    queued_at = min(at, utcnow())
    with transaction(app.read_sessions) as session:
        sent = {
            (person_id, kind, community_id)
            for person_id, kind, community_id in session.execute(
                select(MonthlyRun.person_id, MonthlyRun.kind, MonthlyRun.community_id).where(
                    MonthlyRun.period == month.period
                )
            )
        }
        recipients = _recipients(session, month, adoption.owner_report, adoption.network_mail)
        todo = [r for r in recipients if (r[0], r[2], r[3]) not in sent or dry_run]
        if not todo:
            return report
        content = MonthContent(session, app.settings, month)
        people = profiles(session, list({r[0] for r in todo if r[2] == NETWORK}))
        mails = []
        for person_id, address, kind, community_id, community_ids in todo:
            if kind == REPORT:
                values = content.report(community_id)
                empty = False
            else:
                values = content.network(people[person_id], community_ids)
                empty = (
                    not (values["communities"] or values["questions"] or values["suggestions"])
                    and not values["profile_empty"]
                )
            mails.append(_Mail(person_id, address, kind, community_id, values, empty))
    for chunk in _chunks(mails, CHUNK):
        report.planned.extend(_queue(app, month, chunk, queued_at, dry_run))
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
) -> list[tuple[int, str, str, int, list[int]]]:
    """(person, address, kind, community, the communities they get mail from)."""
    rows = session.execute(
        select(
            Person.id,
            Person.address,
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
    found: list[tuple[int, str, str, int, list[int]]] = []
    mailed: dict[int, list[int]] = defaultdict(list)
    addresses: dict[int, str] = {}
    for person_id, address, monthly, community_id, role, delivery, disabled in rows:
        if disabled is not None:
            continue
        if reports and role == Role.OWNER:
            found.append((person_id, address, REPORT, community_id, []))
        if network and monthly and delivery != DeliveryMode.NONE:
            mailed[person_id].append(community_id)
            addresses[person_id] = address
    for person_id, community_ids in mailed.items():
        found.append((person_id, addresses[person_id], NETWORK, 0, community_ids))
    return found


def _queue(
    app: App, month: Month, mails: list[_Mail], now: dt.datetime, dry_run: bool
) -> list[Planned]:
    """Record a chunk of mails and queue those this run recorded first."""
    planned = []
    composer = Composer(app.templates, app.settings)
    network = ListFields(unsubscribe=(opt_out_link(app.settings.gateway.domain),))
    with transaction(app.read_sessions if dry_run else app.sessions) as session:
        if dry_run:
            first = {(m.person_id, m.kind, m.community_id): 0 for m in mails}
        else:
            inserted = session.execute(
                _insert_runs(session),
                [
                    {
                        "person_id": m.person_id,
                        "kind": m.kind,
                        "community_id": m.community_id,
                        "period": month.period,
                        "status": "empty" if m.empty else "queued",
                        "created_at": now,
                    }
                    for m in mails
                ],
            ).all()
            first = {(p, k, c): run_id for run_id, p, k, c in inserted}
        for mail in mails:
            slug = mail.values["community"]["slug"] if mail.kind == REPORT else ""
            key = (mail.person_id, mail.kind, mail.community_id)
            if key not in first:
                planned.append(Planned(mail.address, mail.kind, slug, "already"))
                continue
            if mail.empty:
                planned.append(Planned(mail.address, mail.kind, slug, "empty"))
                continue
            parts = composer.render(TEMPLATES[mail.kind], mail.values)
            planned.append(Planned(mail.address, mail.kind, slug, "queued", parts.subject))
            if dry_run:
                continue
            opt_out = network if mail.kind == NETWORK else None
            raw = composer.message(
                parts, mail.address, now, kind=TEMPLATES[mail.kind], list_fields=opt_out
            )
            delivery = enqueue_mail(
                session, mail.address, raw, TEMPLATES[mail.kind], now, person_id=mail.person_id
            )
            session.flush()
            session.execute(
                update(MonthlyRun)
                .where(MonthlyRun.id == first[key])
                .values(delivery_id=delivery.id)
            )
    return planned


def _insert_runs(session: Session) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: the rows it returns are the mails
    this run recorded first."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(MonthlyRun).on_conflict_do_nothing(
        index_elements=["person_id", "kind", "community_id", "period"]
    )
    return statement.returning(  # type: ignore[no-any-return]
        MonthlyRun.id,
        MonthlyRun.person_id,
        MonthlyRun.kind,
        MonthlyRun.community_id,
        sort_by_parameter_order=True,
    )


def _chunks(items: list[_Mail], size: int) -> Iterator[list[_Mail]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def set_monthly_mail(session: Session, address: str, wanted: bool) -> Person:
    """Start or stop a person's "your network" mail (the opt-out link's action, and
    `gateway monthly stop|start`); raises NotFound for an unknown address."""
    person = get_person(session, address)
    person.monthly_mail = wanted
    return person
