"""Every page of the site rendered from the index and the bodies it needs: home,
community lists, threads, people, search, and the Atom feeds.

Each method returns text; archive.build decides which pages to render and writes them.
Values are prepared here as plain mappings so that templates only lay them out.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tomllib
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from markupsafe import Markup

from archive import urls
from archive.accessible import images_with_alt
from archive.accessible import scrolling_tables
from archive.bodies import FoldLabels
from archive.bodies import body_html
from archive.bodies import shown_inline
from archive.charts import posts_over_time
from archive.charts import shares
from archive.charts import top_contributors
from archive.charts import weekly_bars
from archive.community_people import CommunityPeople
from archive.community_people import community_people
from archive.filetypes import file_type
from archive.mail_links import community_actions
from archive.mail_links import reply_link
from archive.mail_links import write_to_link
from archive.months import Month
from archive.months import month_number
from archive.months import months_by_year
from archive.snapshot import MessageBody
from archive.snapshot import MessageEntry
from archive.snapshot import SiteAttachment
from archive.snapshot import SiteCommunity
from archive.snapshot import SiteIndex
from archive.snapshot import SitePerson
from archive.snapshot import SiteThread
from archive.thumbnails import SiteThumbnail
from gateway.adoption import topics
from gateway.adoption.stats import Stats
from gateway.adoption.stats import describe_figures
from gateway.community.people import display_name
from gateway.digests.excerpts import excerpt
from gateway.digests.news import Question
from gateway.engagement.standing import Standing
from gateway.mail.addresses import community_address
from gateway.mail.sizes import human_size
from gateway.outbound.wording import plural
from gateway.settings import Settings
from gateway.store.models import Kind
from gateway.threads.rules import normalize_subject

if TYPE_CHECKING:
    import jinja2

THREADS_PER_PAGE = 50
FEED_ENTRIES = 30
RECENT_POSTS = 20
# Deeper replies are drawn at this indentation: a 40-deep quarrel stays readable.
MAX_DEPTH = 8
STATS_WEEKS = 13  # the stats page's window (gateway.adoption.stats.DEFAULT_DAYS)
LATEST_THREADS = 10  # on the home page
ANSWER_EXCERPT = 600  # characters of an accepted answer shown under the question


def format_datetime(value: dt.datetime) -> str:
    """Absolute dates (STYLE.md): the same on every page whenever it is read."""
    return value.strftime("%Y-%m-%d %H:%M UTC")


class Pages:
    def __init__(
        self,
        environment: jinja2.Environment,
        settings: Settings,
        index: SiteIndex,
        now: dt.datetime,
        people_of: Mapping[int, CommunityPeople] | None = None,
        thumbnails: Callable[[SiteAttachment], SiteThumbnail | None] = lambda attachment: None,
    ) -> None:
        """people_of: archive.community_people's answer, when the caller has it already.
        `thumbnails` gives an image attachment's thumbnail in the site, if it has one
        (archive.thumbnails.SiteThumbnails.of)."""
        self.environment = environment.overlay()
        language = settings.gateway.language
        labels = environment.loader.get_source(environment, f"archive/labels.{language}.toml")[0]  # type: ignore[union-attr]
        self.labels: dict[str, Any] = tomllib.loads(labels)
        self.environment.filters.update(
            datetime=format_datetime,
            filesize=lambda size: human_size(size, language),
            # "1 member", "2 members": a label's one/other forms, # for the count.
            plural=lambda count, forms: plural(count, forms["one"], forms["other"], language),
            period=lambda day, precision: format_period(day, precision, self.labels),
        )
        self.language = language
        self.fold_labels = FoldLabels(self.labels["quoted"], self.labels["signature"])
        self.domain = settings.gateway.domain
        self.base_url = settings.archive.base_url
        self.index = index
        self.now = now
        self.threads_of = index.community_threads()
        self.names = {p.id: p.display_name for p in index.people.values()}
        self.people_of = community_people(index) if people_of is None else people_of
        self.thumbnails = thumbnails

    # -- pages ---------------------------------------------------------------------

    def home(self, questions: Sequence[Question] = ()) -> str:
        """The communities by kind, the latest threads, and the unanswered questions
        (gateway.digests.news.unanswered_questions, read by archive.build)."""
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for community in self.index.communities.values():
            groups[community.kind].append(self._community(community))
        ordered = [(kind.value, groups[kind.value]) for kind in Kind if groups.get(kind.value)]
        messages = list(self.index.messages())
        latest = sorted(self.index.threads.values(), key=lambda t: (t.last_activity, t.id))
        return self._render(
            "home",
            urls.HOME,
            groups=ordered,
            latest=[self._thread_summary(t) for t in latest[::-1][:LATEST_THREADS]],
            questions=self._questions(questions),
            weekly=posts_over_time(messages, self.now),
            contributors=top_contributors(messages, self.names, self.now),
        )

    def community_pages(
        self, community: SiteCommunity, months: Sequence[Month]
    ) -> Iterator[tuple[str, str]]:
        """Its thread list, THREADS_PER_PAGE threads a page, newest first; `months`: its
        threads_by_month, which the build's plan has already."""
        threads = self.threads_of.get(community.id, [])
        pages = max(1, -(-len(threads) // THREADS_PER_PAGE))
        values = self._community(community)
        weekly = posts_over_time(
            (m for t in threads for m in t.messages if community.id in m.communities), self.now
        )
        months = [
            (year, [self._month_link(community, m) for m in chunk])
            for year, chunk in months_by_year(months)
        ]
        for page in range(1, pages + 1):
            url = urls.community(community.slug, page)
            chunk = threads[(page - 1) * THREADS_PER_PAGE : page * THREADS_PER_PAGE]
            yield (
                url,
                self._render(
                    "community",
                    url,
                    community=values,
                    threads=[self._thread_summary(t, community.id) for t in chunk],
                    page=page,
                    pages=pages,
                    previous_url=urls.community(community.slug, page - 1),
                    next_url=urls.community(community.slug, page + 1),
                    weekly=weekly,
                    months=months,
                    people=self._community_people(community.id),
                ),
            )

    def month_pages(
        self, community: SiteCommunity, months: Sequence[Month], keys: Collection[str]
    ) -> Iterator[tuple[str, str]]:
        """The pages of these ("2026-11") of its months (its threads_by_month): (url, html)."""
        values = self._community(community)
        for month in months:
            if month.key not in keys:
                continue
            url = urls.community_month(community.slug, month.key)
            yield (
                url,
                self._render(
                    "month",
                    url,
                    community=values,
                    month=self._month_link(community, month),
                    threads=[self._thread_summary(t, community.id) for t in month.threads],
                    previous=self._month_link(community, month.previous),
                    following=self._month_link(community, month.following),
                ),
            )

    def thread(self, thread: SiteThread, bodies: Mapping[int, MessageBody]) -> str:
        url = urls.thread(thread.id)
        root = urls.root_from(url)
        by_id = {m.id: m for m in thread.messages}
        items = []
        public, prefixes = self.index.communities, self.index.subject_prefixes

        def file_url(sha256: str, filename: str) -> str:
            return root + urls.attachment(sha256, filename)

        table_numbers = itertools.count(1)
        for entry, depth in reply_order(thread.messages):
            body = bodies[entry.id]
            inline = shown_inline(body)
            parent = by_id.get(entry.parent_id) if entry.parent_id else None
            body_html_shown = self._accessible(
                body_html(body, file_url, self.fold_labels), table_numbers
            )
            items.append(
                {
                    "id": entry.id,
                    "depth": min(depth, MAX_DEPTH),
                    "author": self._author(entry),
                    "person_url": self._person_url(entry.sender_id),
                    "date": entry.received_at,
                    "subject": shown_subject(
                        body.subject, thread.subject, self.index.subject_prefixes
                    ),
                    "parent_id": parent.id if parent else None,
                    "parent_author": self._author(parent) if parent else "",
                    "reply_url": reply_link(
                        entry, thread.first, body.subject, public, self.domain, prefixes
                    ),
                    "body": body_html_shown,
                    "attachments": [
                        self._attachment(a)
                        for a in body.attachments
                        if a.content_id.strip("<>") not in inline or not a.content_id
                    ],
                    "reactions": self._reactions(entry.id),
                    "accepted": self.index.answers.get(thread.id) == entry.id,
                }
            )
        communities = [self._community_link(c) for c in thread.communities]
        return self._render(
            "thread",
            url,
            thread={
                "subject": thread.subject,
                "communities": communities,
                "mbox": urls.thread_mbox(thread.id),
                "reply_url": reply_link(
                    thread.messages[-1], thread.first, thread.subject, public, self.domain, prefixes
                ),
                "participants": self._participants(thread),
                "first_id": thread.first.id,
                "answer": self._answer(thread, bodies),
            },
            messages=items,
        )

    def person(self, person: SitePerson, posts: list[MessageEntry]) -> str:
        url = urls.person(person.id)
        recent = sorted(posts, key=lambda m: (m.received_at, m.id), reverse=True)[:RECENT_POSTS]
        return self._render(
            "person",
            url,
            person={
                "name": person.display_name,
                "department": person.department,
                "bio": person.bio,
                "expertise": person.expertise,
                "interests": person.interests,
                "communities": [self._community_link(c) for c in person.communities],
                "write_to": write_to_link(person),
                "standing": self.index.standing.get(person.id, Standing()),
                "posts": [
                    {
                        "url": urls.message(m.thread_id, m.id),
                        "subject": self.index.threads[m.thread_id].subject,
                        "date": m.received_at,
                    }
                    for m in recent
                ],
            },
        )

    def people(self) -> str:
        """Everyone, and the directory by expertise: "who knows about X"."""
        by_tag: dict[str, list[SitePerson]] = defaultdict(list)
        label_of: dict[str, str] = {}
        for person in self.index.people.values():
            for tag, label in person.expertise:
                by_tag[tag].append(person)
                label_of.setdefault(tag, label)
        expertise = [
            (
                tag,
                label_of[tag],
                " ".join(topics.words(tag)),  # what static/people.js compares: folded words
                [self._person_link(p) for p in _by_name(by_tag[tag])],
            )
            for tag in sorted(by_tag)
        ]
        everyone = [
            {
                **self._person_link(p),
                # What the directory's filter (static/people.js) compares: folded words.
                "tags": "|".join(
                    " ".join(topics.words(tag)) for tag, _ in (*p.expertise, *p.interests)
                ),
                "labels": [label for _, label in (*p.expertise, *p.interests)],
            }
            for p in _by_name(self.index.people.values())
        ]
        departments = sorted(
            {p.department for p in self.index.people.values() if p.department}, key=str.casefold
        )
        return self._render(
            "people",
            urls.PEOPLE,
            expertise=expertise,
            everyone=everyone,
            departments=departments,
            stop_words=" ".join(sorted(topics.STOP_WORDS)),
        )

    def search(self) -> str:
        return self._render("search", urls.SEARCH)

    def stats(self, stats: Stats) -> str:
        """Participation in the public communities: charts and a table (`gateway stats`)."""
        overall = stats.overall
        weekly = {dt.date.fromisoformat(week): n for week, (n, _) in overall.weekly.items()}
        communities = []
        for item in stats.communities:
            figures = describe_figures(item.figures)
            slug = item.slug
            communities.append({**figures, "name": item.name, "url": urls.community(slug)})
        return self._render(
            "stats",
            urls.STATS,
            since=stats.since,
            until=stats.until,
            overall=describe_figures(overall),
            weekly=weekly_bars(weekly, stats.until, STATS_WEEKS),
            departments=shares(
                (name or self.labels["stats_no_department"], n)
                for name, n in overall.departments.items()
            ),
            delivery=shares(
                (self.labels["stats_delivery"][mode], n) for mode, n in overall.delivery.items()
            ),
            contributors=shares(
                (display_name(c.name, c.address), c.posts) for c in overall.top_contributors
            ),
            answerers=shares(
                (display_name(a.name, a.address), a.accepted_answers) for a in overall.top_answerers
            ),
            origins=shares(
                [
                    (self.labels["stats_new_posts"], overall.new_posts),
                    (self.labels["stats_imported_posts"], overall.imported_posts),
                ]
            ),
            communities=communities,
        )

    def feed(
        self,
        title: str,
        feed_url: str,
        page_url: str,
        entries: list[MessageEntry],
        bodies: Mapping[int, MessageBody],
    ) -> str:
        """An Atom feed (RFC 4287) of these messages, newest first, with absolute links."""
        template = self.environment.get_template("archive/feed.xml")
        return template.render(
            t=self.labels,
            title=title,
            self_url=self.base_url + feed_url,
            page_url=self.base_url + page_url,
            # An empty feed's date moves once a day, not at every build.
            updated=entries[0].received_at
            if entries
            else self.now.replace(hour=0, minute=0, second=0, microsecond=0),
            entries=[
                {
                    "subject": bodies[m.id].subject or self.index.threads[m.thread_id].subject,
                    "url": self.base_url + urls.message(m.thread_id, m.id),
                    "author": self._author(m),
                    "date": m.received_at,
                    "content": str(
                        body_html(bodies[m.id], self._absolute_file_url, self.fold_labels)
                    ),
                }
                for m in entries
            ],
        )

    # -- values shared by several pages --------------------------------------------

    def _render(self, name: str, url: str, **values: Any) -> str:
        template = self.environment.get_template(f"archive/{name}.html")
        return template.render(
            t=self.labels, root=urls.root_from(url), domain=self.domain, **values
        )

    def _accessible(self, html: Markup, table_numbers: Iterator[int]) -> Markup:
        """A mail body as a phone and a screen reader need it (archive/accessible.py)."""
        html = scrolling_tables(html, self.labels["table_scrolls"], table_numbers)
        return images_with_alt(html, self.labels["image_without_alt"])

    def _community(self, community: SiteCommunity) -> dict[str, Any]:
        threads = self.threads_of.get(community.id, [])
        posts = sum(1 for t in threads for m in t.messages if community.id in m.communities)
        return {
            "name": community.name,
            "description": community.description,
            "closed": community.closed,
            "url": urls.community(community.slug),
            "feed": urls.community_feed(community.slug),
            "mbox": urls.community_mbox(community.slug),
            "address": community_address(community.slug, self.domain),
            "join_address": community_address(community.slug, self.domain, "join"),
            "owner_address": community_address(community.slug, self.domain, "owner"),
            "policy": community.policy,
            "actions": community_actions(community, self.domain, self.labels["join_subject"]),
            "members": community.members,
            "posts": posts,
            "thread_count": len(threads),
            "last_activity": threads[0].last_activity if threads else None,
        }

    def _community_people(self, community_id: int) -> dict[str, list[dict[str, Any]]]:
        """Its owners, moderators, matching experts and most helpful members, as links."""
        people = self.people_of.get(community_id, CommunityPeople())
        link = self._person_link
        every = self.index.people
        return {
            "owners": [link(every[p]) for p in people.owners],
            "moderators": [link(every[p]) for p in people.moderators],
            "experts": [{**link(every[p]), "tags": tags} for p, tags in people.experts],
            "helpful": [{**link(every[p]), "answered": n} for p, n in people.helpful],
        }

    def _community_link(self, community_id: int) -> dict[str, str]:
        community = self.index.communities[community_id]
        return {"name": community.name, "url": urls.community(community.slug)}

    def _thread_summary(self, thread: SiteThread, community_id: int = 0) -> dict[str, Any]:
        return {
            "url": urls.thread(thread.id),
            "subject": thread.subject,
            "starter": self._author(thread.first),
            "messages": len(thread.messages),
            "last_activity": thread.last_activity,
            "also": [self._community_link(c) for c in thread.communities if c != community_id],
            "answered": thread.id in self.index.answers,
        }

    def _reactions(self, message_id: int) -> list[dict[str, Any]]:
        """A message's reactions: emoji, count and who (gateway.engagement.shown)."""
        return [r.shown(self.language) for r in self.index.reactions.get(message_id, ())]

    def _answer(
        self, thread: SiteThread, bodies: Mapping[int, MessageBody]
    ) -> dict[str, Any] | None:
        """The accepted answer, as shown under the question: its author, date and the
        start of what they wrote, with a link to it in place."""
        answer_id = self.index.answers.get(thread.id)
        entry = next((m for m in thread.messages if m.id == answer_id), None)
        if entry is None:
            return None
        return {
            "id": entry.id,
            "author": self._author(entry),
            "person_url": self._person_url(entry.sender_id),
            "date": entry.received_at,
            "excerpt": excerpt(bodies[entry.id].body_text, ANSWER_EXCERPT),
        }

    def _month_link(self, community: SiteCommunity, month: Month | str | None) -> Any:
        """A month's name, URL and thread count (None for no month)."""
        if month is None:
            return None
        key = month if isinstance(month, str) else month.key
        number = month_number(key)
        return {
            "key": key,
            "url": urls.community_month(community.slug, key),
            "name": f"{self.labels['months'][number - 1]} {key[:4]}",
            "short": self.labels["months_short"][number - 1],
            "threads": len(month.threads) if isinstance(month, Month) else None,
        }

    def _participants(self, thread: SiteThread) -> list[dict[str, Any]]:
        """Who wrote in the thread, most messages first (then by first message)."""
        counts: dict[tuple[int | None, str], list[Any]] = {}
        for message in thread.messages:
            key = (message.sender_id, "" if message.sender_id else message.sender_address)
            if key not in counts:
                counts[key] = [message, 0]
            counts[key][1] += 1
        ranked = sorted(counts.values(), key=lambda item: -item[1])  # stable: first comes first
        return [
            {
                "name": self._author(first),
                "url": self._person_url(first.sender_id),
                "messages": count,
            }
            for first, count in ranked
        ]

    def _questions(self, questions: Sequence[Question]) -> list[dict[str, Any]]:
        """Questions of threads the site shows, newest first, once each (a cross-post
        is one question in each of its communities)."""
        shown: dict[int, dict[str, Any]] = {}
        for question in sorted(questions, key=lambda q: (q.asked_at, q.thread_id), reverse=True):
            thread = self.index.threads.get(question.thread_id)
            if thread is None or question.thread_id in shown:
                continue
            shown[question.thread_id] = {
                "url": urls.thread(thread.id),
                "subject": thread.subject,
                "author": self._author(thread.first),
                "asked_at": question.asked_at,
                "communities": [self._community_link(c) for c in thread.communities],
            }
        return list(shown.values())

    def _attachment(self, attachment: SiteAttachment) -> dict[str, Any]:
        kinds = self.labels["file_types"]
        return {
            "url": urls.attachment(attachment.sha256, attachment.filename),
            "filename": attachment.filename,
            "type": file_type(attachment.filename, attachment.content_type, kinds),
            "size": attachment.size,
            "thumbnail": self.thumbnails(attachment),
        }

    def _author(self, entry: MessageEntry) -> str:
        if entry.sender_id and entry.sender_id in self.names:
            person = self.index.people[entry.sender_id]
            if person.name:
                return person.name
        return display_name(entry.sender_name, entry.sender_address)

    def _person_url(self, person_id: int | None) -> str | None:
        return urls.person(person_id) if person_id and person_id in self.names else None

    def _person_link(self, person: SitePerson) -> dict[str, str]:
        return {
            "name": person.display_name,
            "department": person.department,
            "url": urls.person(person.id),
        }

    def _absolute_file_url(self, sha256: str, filename: str) -> str:
        return self.base_url + urls.attachment(sha256, filename)


def format_period(day: dt.date, precision: str, labels: Mapping[str, Any]) -> str:
    """A date of a chart's axis in the page's language: "2 Nov 2026", "Nov 2026", "2026"."""
    if precision == "year":
        return str(day.year)
    month = f"{labels['months_short'][day.month - 1]} {day.year}"
    number = labels.get("first_day", "1") if day.day == 1 else str(day.day)  # "1er" in French
    return month if precision == "month" else f"{number} {month}"


def shown_subject(subject: str, thread_subject: str, prefixes: Sequence[str] = ()) -> str:
    """A message's subject on its thread's page: the thread's own when it only adds reply
    markers or community prefixes (`prefixes`: "Re: [atlas] Colours" in "Colours"), so
    that the page does not repeat it; a subject changed in the thread is shown, and so
    is a tag no community of the gateway uses ("[RFC] Colours" in "Colours")."""
    normalized, _ = normalize_subject(subject, prefixes)
    return thread_subject if normalized.lower() == thread_subject.lower() else subject


def reply_order(messages: list[MessageEntry]) -> list[tuple[MessageEntry, int]]:
    """Messages in reading order: each followed by its replies, indented one level more.
    Iterative, since a thread's depth comes from its mail (STYLE.md)."""
    ids = {m.id for m in messages}
    children: dict[int | None, list[MessageEntry]] = defaultdict(list)
    for message in messages:
        parent = message.parent_id if message.parent_id in ids else None
        children[parent].append(message)
    ordered: list[tuple[MessageEntry, int]] = []
    stack = [(m, 0) for m in reversed(children[None])]
    seen: set[int] = set()
    while stack:
        message, depth = stack.pop()
        if message.id in seen:
            continue
        seen.add(message.id)
        ordered.append((message, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(message.id, [])))
    # A cycle the threader let through would leave messages unreached: show them last.
    ordered.extend((m, 0) for m in messages if m.id not in seen)
    return ordered


def _by_name(people: Any) -> list[SitePerson]:
    return sorted(people, key=lambda p: (p.display_name.casefold(), p.id))
