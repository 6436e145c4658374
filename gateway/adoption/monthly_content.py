"""What the monthly mails say: each community's month and advice for its owners, and
each member's "your network" mail, as the plain values their templates lay out.

Read once per run for every community (the figures of gateway.adoption.stats, the
busiest threads, the unanswered questions, the suggestion matcher); each mail then
picks its part, so a run over 10,000 members costs a handful of queries.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import links
from gateway.adoption.months import Month
from gateway.adoption.stats import LONG_WAIT
from gateway.adoption.stats import Figures
from gateway.adoption.stats import Stats
from gateway.adoption.stats import compute_stats
from gateway.adoption.stats import describe_figures
from gateway.adoption.suggest import Matcher
from gateway.adoption.suggest import Profile
from gateway.adoption.suggest import describe_suggestion
from gateway.community.publishing import published_here
from gateway.digests.news import Question
from gateway.digests.news import unanswered_questions
from gateway.settings import Settings
from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import TagKind
from gateway.store.models import Thread
from gateway.store.models import Visibility

HIGHLIGHTS = 3  # busiest threads of the month per community
QUESTIONS = 5
SUGGESTIONS = 3
ADVICE = 2
# Advice is given when fewer members than this share posted, or completed a profile.
FEW_POSTERS = 0.1
FEW_PROFILES = 0.5
SLOW_REPLY_HOURS = 48


@dataclass(frozen=True)
class Highlight:
    thread_id: int
    subject: str
    posts: int


class MonthContent:
    def __init__(self, session: Session, settings: Settings, month: Month) -> None:
        self.settings = settings
        self.domain = settings.gateway.domain
        self.base_url = settings.archive.base_url
        self.month = month
        self.communities = {c.id: c for c in session.scalars(select(Community))}
        self.stats: Stats = compute_stats(session, month.start, now=month.due)
        self.figures = {self.communities_by_slug[c.slug]: c.figures for c in self.stats.communities}
        self.highlights = _highlights(session, month)
        self.questions = unanswered_questions(
            session,
            list(self.communities),
            month.due,
            self.base_url,
            dt.timedelta(hours=settings.adoption.unanswered_after_hours),
        )
        self.matcher = Matcher(session)

    @property
    def communities_by_slug(self) -> dict[str, int]:
        return {c.slug: c.id for c in self.communities.values()}

    def _community(self, community_id: int) -> dict[str, Any]:
        community = self.communities[community_id]
        public = community.visibility is Visibility.PUBLIC
        return {
            "name": community.name,
            "slug": community.slug,
            "address": f"{community.slug}@{self.domain}",
            "url": links.community_url(self.base_url, community.slug) if public else "",
            "public": public,
        }

    # -- the owners' report ---------------------------------------------------------

    def report(self, community_id: int) -> dict[str, Any]:
        figures = self.figures.get(community_id, Figures())
        community = self._community(community_id)
        return {
            # The first day looked back on, a date: the mail names its month in words.
            "since": self.month.since,
            "community": community,
            "figures": describe_figures(figures),
            "advice": advice(figures)[:ADVICE],
            "stats_url": f"{self.base_url}stats/" if community["public"] else "",
        }

    # -- each member's "your network" -----------------------------------------------

    def network(self, profile: Profile, community_ids: list[int]) -> dict[str, Any]:
        """The values of one member's mail; community_ids: those they get mail from."""
        ordered = sorted(community_ids, key=lambda c: self.communities[c].name.lower())
        communities = []
        for community_id in ordered:
            figures = self.figures.get(community_id, Figures())
            highlights = self.highlights.get(community_id, [])
            if not figures.posts and not highlights:
                continue
            public = self.communities[community_id].visibility is Visibility.PUBLIC
            communities.append(
                {
                    **self._community(community_id),
                    "posts": figures.posts,
                    "threads": figures.threads,
                    "new_members": figures.new_members,
                    "highlights": [
                        {
                            "subject": h.subject,
                            "posts": h.posts,
                            "url": links.thread_url(self.base_url, h.thread_id) if public else "",
                        }
                        for h in highlights
                    ],
                }
            )
        expertise = frozenset(tag for kind, tag, _ in profile.tags if kind is TagKind.EXPERTISE)
        questions = self._questions(profile.person_id, community_ids, expertise)
        suggestions = [
            describe_suggestion(s, self.domain) for s in self.matcher.suggest(profile, SUGGESTIONS)
        ]
        return {
            # The first day looked back on, a date: the mail names its month in words.
            "since": self.month.since,
            "communities": communities,
            "questions": questions,
            "suggestions": suggestions,
            "profile_empty": not profile.tags,
            "profile_address": f"profile@{self.domain}",
            "opt_out": opt_out_link(self.domain),
        }

    def _questions(
        self, person_id: int, community_ids: list[int], expertise: frozenset[str]
    ) -> list[dict[str, Any]]:
        found: dict[int, Question] = {}
        for community_id in community_ids:
            for question in self.questions.get(community_id, []):
                if question.author_id != person_id and question.matches(expertise):
                    found.setdefault(question.thread_id, question)
        ranked = sorted(found.values(), key=lambda q: q.asked_at)[:QUESTIONS]
        return [
            {
                "subject": q.subject,
                "url": q.url,
                "author": q.author,
                "community": self.communities[q.community_id].name,
                "asked_at": q.asked_at,
            }
            for q in ranked
        ]


def opt_out_link(domain: str) -> str:
    """The mailto: that stops the monthly mail: a profile@ mail whose body is the
    profile line "Monthly: off" (profile@ reads "Field: value" lines; see the README)."""
    return f"mailto:profile@{domain}?subject=monthly%20off&body=Monthly%3A%20off"


def advice(figures: Figures) -> list[dict[str, Any]]:
    """What the owners could act on, most useful first."""
    found: list[dict[str, Any]] = []
    if figures.questions_waited:
        found.append(
            {"kind": "waiting_questions", "count": figures.questions_waited, "days": LONG_WAIT.days}
        )
    if not figures.posts:
        found.append({"kind": "quiet"})
    elif figures.members >= 5 and figures.posters < FEW_POSTERS * figures.members:
        found.append({"kind": "few_posters", "count": figures.posters, "members": figures.members})
    hours = figures.median_first_reply_hours
    if hours is not None and hours > SLOW_REPLY_HOURS:
        found.append({"kind": "slow_replies", "hours": hours})
    if figures.members and figures.profiles_completed < FEW_PROFILES * figures.members:
        found.append({"kind": "profiles", "count": figures.members - figures.profiles_completed})
    if figures.mail_stopped:
        found.append({"kind": "bounces", "count": figures.mail_stopped})
    return found


def _highlights(session: Session, month: Month) -> dict[int, list[Highlight]]:
    """The busiest threads of the month in each community (published posts)."""
    counted = (
        select(
            MessageCommunity.community_id,
            Message.thread_id,
            func.count().label("posts"),
            func.row_number()
            .over(
                partition_by=MessageCommunity.community_id,
                order_by=(func.count().desc(), Message.thread_id),
            )
            .label("rank"),
        )
        .join(Message, Message.id == MessageCommunity.message_id)
        .where(
            published_here(),
            Message.thread_id.is_not(None),
            Message.received_at >= month.start,
            Message.received_at < month.due,
        )
        .group_by(MessageCommunity.community_id, Message.thread_id)
        .subquery("counted")
    )
    found: dict[int, list[Highlight]] = defaultdict(list)
    for community_id, thread_id, subject, posts in session.execute(
        select(counted.c.community_id, counted.c.thread_id, Thread.subject, counted.c.posts)
        .join(Thread, Thread.id == counted.c.thread_id)
        .where(counted.c.rank <= HIGHLIGHTS)
        .order_by(counted.c.community_id, counted.c.rank)
    ):
        found[community_id].append(Highlight(thread_id, subject, posts))
    return dict(found)
