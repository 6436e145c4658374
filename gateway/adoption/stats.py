"""Participation figures for a network's sponsors, per community and overall (`gateway stats`).

Every figure is a grouped SQL query over gateway.adoption.scope's subqueries; the
only rows read back are one per thread (for the median time to first reply) and the
grouped counts, never the messages themselves.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import Subquery
from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.adoption import scope
from gateway.engagement.standing import accepted_by_someone_else
from gateway.store.models import Community
from gateway.store.models import Delivery
from gateway.store.models import DeliveryMode
from gateway.store.models import DeliveryStatus
from gateway.store.models import Origin
from gateway.store.models import Person
from gateway.store.models import PersonTag
from gateway.store.models import Reaction
from gateway.store.models import ThreadAnswer
from gateway.store.models import Visibility
from gateway.store.models import as_utc
from gateway.store.models import utcnow

DEFAULT_DAYS = 90  # the window when no --since is given: a quarter
TOP_CONTRIBUTORS = 5
# A question left this long without a reply is one the owners' report points out.
LONG_WAIT = dt.timedelta(days=3)


@dataclass
class Contributor:
    address: str
    name: str
    posts: int


@dataclass
class Answerer:
    address: str
    name: str
    accepted_answers: int


@dataclass
class Figures:
    """One community's figures, or the whole network's (cross-posts counted once)."""

    members: int = 0
    new_members: int = 0
    posters: int = 0  # members who posted in the window
    readers_only: int = 0  # members who did not
    posts: int = 0
    threads: int = 0  # started in the window
    replied_threads: int = 0
    median_first_reply_hours: float | None = None
    questions: int = 0
    questions_answered: int = 0
    questions_waited: int = 0  # answered after LONG_WAIT, or still waiting that long
    weekly: dict[str, list[int]] = field(default_factory=dict)  # Monday -> [posts, threads]
    top_contributors: list[Contributor] = field(default_factory=list)
    departments: dict[str, int] = field(default_factory=dict)  # posts by the author's one
    delivery: dict[str, int] = field(default_factory=dict)  # memberships by mode
    mail_stopped: int = 0  # memberships whose mail bounces stopped
    deliveries_sent: int = 0
    deliveries_failed: int = 0
    imported_posts: int = 0
    new_posts: int = 0
    imported_threads_revived: int = 0  # imported threads that got a new reply in the window
    profiles_completed: int = 0  # members with a name, a department and a tag
    accepted_answers: int = 0  # threads whose answer was accepted in the window
    questions_accepted: int = 0  # questions of the window with an accepted answer
    reactions: int = 0  # put on the scope's posts in the window
    thanks_received: int = 0  # those of them by someone else than the post's author
    top_answerers: list[Answerer] = field(default_factory=list)  # by accepted answers

    @property
    def reply_rate(self) -> float | None:
        return _share(self.replied_threads, self.threads)

    @property
    def answered_share(self) -> float | None:
        return _share(self.questions_answered, self.questions)

    @property
    def accepted_share(self) -> float | None:
        return _share(self.questions_accepted, self.questions)

    @property
    def bounce_rate(self) -> float | None:
        return _share(self.deliveries_failed, self.deliveries_sent + self.deliveries_failed)

    @property
    def profiles_share(self) -> float | None:
        return _share(self.profiles_completed, self.members)


@dataclass(frozen=True)
class CommunityFigures:
    slug: str
    name: str
    public: bool
    figures: Figures


@dataclass
class Stats:
    since: dt.datetime
    until: dt.datetime
    overall: Figures
    communities: list[CommunityFigures]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def default_since(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=DEFAULT_DAYS)


def compute_stats(
    session: Session,
    since: dt.datetime | None = None,
    *,
    slugs: Collection[str] | None = None,
    public_only: bool = False,
    now: dt.datetime | None = None,
) -> Stats:
    """The figures of the window [since, now) for these communities (default: all)."""
    now = now or utcnow()
    since = since or default_since(now)
    query = select(Community).order_by(Community.slug)
    if slugs is not None:
        query = query.where(Community.slug.in_(list(slugs)))
    if public_only:
        query = query.where(Community.visibility == Visibility.PUBLIC)
    communities = list(session.scalars(query))
    ids = [c.id for c in communities]
    per = _Query(session, ids, since, now, per_community=True).figures()
    overall = _Query(session, ids, since, now, per_community=False).figures()
    return Stats(
        since=since,
        until=now,
        overall=overall.get(scope.OVERALL, Figures()),
        communities=[
            CommunityFigures(
                c.slug, c.name, c.visibility is Visibility.PUBLIC, per.get(c.id, Figures())
            )
            for c in communities
        ],
    )


class _Query:
    """The grouped queries of one scope: per community, or the network as a whole."""

    def __init__(
        self,
        session: Session,
        ids: list[int],
        since: dt.datetime,
        now: dt.datetime,
        per_community: bool,
    ) -> None:
        self.session = session
        self.ids = ids
        self.since = since
        self.now = now
        self.per_community = per_community
        self.dialect = session.get_bind().dialect.name
        self.result: dict[int, Figures] = defaultdict(Figures)

    def figures(self) -> dict[int, Figures]:
        if not self.ids:
            return {}
        recent = scope.posts(self.ids, self.per_community, self.since)
        members = scope.members(self.ids, self.per_community)
        self._members(members)
        self._posters(recent, members)
        self._posts(recent)
        self._threads(scope.posts(self.ids, self.per_community))
        self._answers()
        self._reactions()
        self._contributors(recent)
        self._deliveries()
        self._profiles(members)
        return dict(self.result)

    def _rows(self, query: Any) -> list[Any]:
        return list(self.session.execute(query).all())

    def _members(self, members: Subquery) -> None:
        people = select(
            members.c.key,
            members.c.person_id,
            func.min(members.c.joined_at).label("joined_at"),
        ).group_by(members.c.key, members.c.person_id)
        first = people.subquery("first_joined")
        new = case((first.c.joined_at >= self.since, 1), else_=0)
        for key, count, joined in self._rows(
            select(first.c.key, func.count(), func.sum(new)).group_by(first.c.key)
        ):
            self.result[key].members = count
            self.result[key].new_members = int(joined or 0)
        for key, mode, count in self._rows(
            select(members.c.key, members.c.delivery, func.count()).group_by(
                members.c.key, members.c.delivery
            )
        ):
            self.result[key].delivery[DeliveryMode(mode).value] = count
        for key, count in self._rows(
            select(members.c.key, func.count())
            .where(members.c.disabled_at.is_not(None))
            .group_by(members.c.key)
        ):
            self.result[key].mail_stopped = count

    def _posters(self, recent: Subquery, members: Subquery) -> None:
        # Distinct pairs on both sides, joined: a correlated EXISTS over these
        # subqueries makes SQLite scan the posts once per membership.
        senders = select(recent.c.key, recent.c.sender_id).distinct().subquery("senders")
        people = select(members.c.key, members.c.person_id).distinct().subquery("people")
        for key, count in self._rows(
            select(people.c.key, func.count())
            .join(
                senders,
                and_(senders.c.key == people.c.key, senders.c.sender_id == people.c.person_id),
            )
            .group_by(people.c.key)
        ):
            self.result[key].posters = count
        for figures in self.result.values():
            figures.readers_only = figures.members - figures.posters

    def _posts(self, recent: Subquery) -> None:
        week = scope.week(recent.c.received_at, self.dialect)
        for key, monday, count in self._rows(
            select(recent.c.key, week, func.count()).group_by(recent.c.key, week)
        ):
            self.result[key].weekly[str(monday)] = [count, 0]
        for key, origin, count in self._rows(
            select(recent.c.key, recent.c.origin, func.count()).group_by(
                recent.c.key, recent.c.origin
            )
        ):
            figures = self.result[key]
            figures.posts += count
            if Origin(origin) is Origin.IMPORT:
                figures.imported_posts = count
            else:
                figures.new_posts = count
        department = func.coalesce(Person.department, "")
        for key, name, count in self._rows(
            select(recent.c.key, department, func.count())
            .select_from(recent)
            .outerjoin(Person, Person.id == recent.c.sender_id)
            .group_by(recent.c.key, department)
        ):
            self.result[key].departments[name] = count

    def _threads(self, posts: Subquery) -> None:
        """One row per thread of the scope started in the window (or revived in it)."""
        started = func.min(posts.c.received_at)
        imported = Origin.IMPORT.value
        rows = self._rows(
            select(
                posts.c.key,
                started,
                func.min(case((posts.c.parent_id.is_not(None), posts.c.received_at))),
                func.max(posts.c.question),
                func.max(case((posts.c.origin == imported, 1), else_=0)),
                func.max(
                    case(
                        (
                            and_(posts.c.origin != imported, posts.c.received_at >= self.since),
                            1,
                        ),
                        else_=0,
                    )
                ),
                func.max(case((ThreadAnswer.thread_id.is_not(None), 1), else_=0)),
            )
            .select_from(posts)
            .outerjoin(ThreadAnswer, ThreadAnswer.thread_id == posts.c.thread_id)
            .where(posts.c.thread_id.is_not(None))
            .group_by(posts.c.key, posts.c.thread_id)
            .having(func.max(posts.c.received_at) >= self.since)
        )
        waits: dict[int, list[float]] = defaultdict(list)
        for key, first, reply, question, was_imported, new_since, accepted in rows:
            figures = self.result[key]
            if was_imported and new_since:
                figures.imported_threads_revived += 1
            first = as_utc(first)
            if first < self.since:
                continue
            figures.threads += 1
            week = (first.date() - dt.timedelta(days=first.weekday())).isoformat()
            figures.weekly.setdefault(week, [0, 0])[1] += 1
            wait = as_utc(reply) - first if reply is not None else None
            if wait is not None:
                figures.replied_threads += 1
                waits[key].append(wait.total_seconds() / 3600)
            if question:
                figures.questions += 1
                figures.questions_answered += wait is not None
                figures.questions_accepted += accepted
                if (wait or self.now - first) > LONG_WAIT:
                    figures.questions_waited += 1
        for key, hours in waits.items():
            self.result[key].median_first_reply_hours = round(statistics.median(hours), 1)

    def _contributors(self, recent: Subquery) -> None:
        counted = (
            select(
                recent.c.key,
                recent.c.sender_id,
                func.count().label("posts"),
                func.row_number()
                .over(partition_by=recent.c.key, order_by=(func.count().desc(), recent.c.sender_id))
                .label("rank"),
            )
            .where(recent.c.sender_id.is_not(None))
            .group_by(recent.c.key, recent.c.sender_id)
            .subquery("counted")
        )
        for key, address, name, posts in self._top(counted, counted.c.posts):
            self.result[key].top_contributors.append(Contributor(address, name, posts))

    def _top(self, counted: Any, count: Any) -> list[Any]:
        """The first TOP_CONTRIBUTORS people of each key of a ranked count (a subquery
        of key, sender_id, rank and the count): key, address, name and count."""
        return self._rows(
            select(counted.c.key, Person.address, Person.name, count)
            .join(Person, Person.id == counted.c.sender_id)
            .where(counted.c.rank <= TOP_CONTRIBUTORS)
            .order_by(counted.c.key, counted.c.rank)
        )

    def _answers(self) -> None:
        """Answers accepted in the window, and who wrote the most of them (an answer
        its author accepted counts in the total, not for them: engagement.standing)."""
        in_window = ThreadAnswer.answered_at >= self.since
        posts = scope.authors(
            self.ids, self.per_community, select(ThreadAnswer.message_id).where(in_window)
        )
        accepted = (
            select(
                posts.c.key,
                posts.c.sender_id,
                case((accepted_by_someone_else(posts.c.sender_id), 1), else_=0).label("earned"),
            )
            .join(ThreadAnswer, ThreadAnswer.message_id == posts.c.id)
            .where(in_window)
            .subquery("accepted")
        )
        for key, count in self._rows(select(accepted.c.key, func.count()).group_by(accepted.c.key)):
            self.result[key].accepted_answers = count
        counted = (
            select(
                accepted.c.key,
                accepted.c.sender_id,
                func.count().label("answers"),
                func.row_number()
                .over(
                    partition_by=accepted.c.key,
                    order_by=(func.count().desc(), accepted.c.sender_id),
                )
                .label("rank"),
            )
            .where(accepted.c.sender_id.is_not(None), accepted.c.earned == 1)
            .group_by(accepted.c.key, accepted.c.sender_id)
            .subquery("answerers")
        )
        for key, address, name, answers in self._top(counted, counted.c.answers):
            self.result[key].top_answerers.append(Answerer(address, name, answers))

    def _reactions(self) -> None:
        """Reactions put on the scope's posts in the window, and among them the thanks
        received, by the rule of gateway.engagement.standing.thanks_received: any emoji,
        put by someone else than the post's author (their addresses differ)."""
        in_window = Reaction.created_at >= self.since
        posts = scope.authors(
            self.ids, self.per_community, select(Reaction.message_id).where(in_window)
        )
        thanks = case((Person.address != posts.c.sender_address, 1), else_=0)
        for key, count, received in self._rows(
            select(posts.c.key, func.count(), func.sum(thanks))
            .join(Reaction, Reaction.message_id == posts.c.id)
            .join(Person, Person.id == Reaction.person_id)
            .where(in_window)
            .group_by(posts.c.key)
        ):
            self.result[key].reactions = count
            self.result[key].thanks_received = int(received or 0)

    def _deliveries(self) -> None:
        key = Delivery.community_id if self.per_community else literal(scope.OVERALL)
        for group, status, count in self._rows(
            select(key, Delivery.status, func.count())
            .where(
                Delivery.community_id.in_(self.ids),
                Delivery.created_at >= self.since,
                Delivery.status.in_([DeliveryStatus.SENT, DeliveryStatus.FAILED]),
            )
            .group_by(key, Delivery.status)
        ):
            figures = self.result[group]
            if DeliveryStatus(status) is DeliveryStatus.SENT:
                figures.deliveries_sent = count
            else:
                figures.deliveries_failed = count

    def _profiles(self, members: Subquery) -> None:
        tagged = exists().where(PersonTag.person_id == Person.id)
        for key, count in self._rows(
            select(members.c.key, func.count(func.distinct(Person.id)))
            .join(Person, Person.id == members.c.person_id)
            .where(Person.name != "", Person.department != "", tagged)
            .group_by(members.c.key)
        ):
            self.result[key].profiles_completed = count


# --- the stable shape printed by --json (documented in the README)


def describe_figures(figures: Figures) -> dict[str, Any]:
    return {
        "members": figures.members,
        "new_members": figures.new_members,
        "posters": figures.posters,
        "readers_only": figures.readers_only,
        "posts": figures.posts,
        "threads": figures.threads,
        "weekly": [
            {"week": week, "posts": posts, "threads": threads}
            for week, (posts, threads) in sorted(figures.weekly.items())
        ],
        "reply_rate": figures.reply_rate,
        "median_first_reply_hours": figures.median_first_reply_hours,
        "questions": figures.questions,
        "questions_answered": figures.questions_answered,
        "answered_share": figures.answered_share,
        "questions_waited": figures.questions_waited,
        "top_contributors": [
            {"email": c.address, "name": c.name, "posts": c.posts} for c in figures.top_contributors
        ],
        "posts_by_department": dict(sorted(figures.departments.items())),
        "delivery": {mode.value: figures.delivery.get(mode.value, 0) for mode in DeliveryMode},
        "mail_stopped": figures.mail_stopped,
        "bounce_rate": figures.bounce_rate,
        "imported_posts": figures.imported_posts,
        "new_posts": figures.new_posts,
        "imported_threads_revived": figures.imported_threads_revived,
        "profiles_completed": figures.profiles_completed,
        "profiles_share": figures.profiles_share,
        "accepted_answers": figures.accepted_answers,
        "questions_accepted": figures.questions_accepted,
        "accepted_share": figures.accepted_share,
        "reactions": figures.reactions,
        "thanks_received": figures.thanks_received,
        "top_answerers": [
            {"email": a.address, "name": a.name, "accepted_answers": a.accepted_answers}
            for a in figures.top_answerers
        ],
    }


def describe_stats(stats: Stats) -> dict[str, Any]:
    return {
        "since": stats.since.isoformat(),
        "until": stats.until.isoformat(),
        "overall": describe_figures(stats.overall),
        "communities": [
            {"slug": c.slug, "name": c.name, "public": c.public, **describe_figures(c.figures)}
            for c in stats.communities
        ],
    }
