"""Every page of the site rendered from the index and the bodies it needs: home,
community lists, threads, people, search, and the Atom feeds.

Each method returns text; archive.build decides which pages to render and writes them.
Values are prepared here as plain mappings so that templates only lay them out.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from archive import urls
from archive.bodies import FoldLabels
from archive.bodies import body_html
from archive.bodies import shown_inline
from archive.charts import posts_per_week
from archive.charts import shares
from archive.charts import top_contributors
from archive.charts import weekly_bars
from archive.filetypes import file_type
from archive.snapshot import MessageBody
from archive.snapshot import MessageEntry
from archive.snapshot import SiteAttachment
from archive.snapshot import SiteCommunity
from archive.snapshot import SiteIndex
from archive.snapshot import SitePerson
from archive.snapshot import SiteThread
from archive.thumbnails import SiteThumbnail
from gateway.adoption.stats import Stats
from gateway.adoption.stats import describe_figures
from gateway.mail.sizes import human_size
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
        thumbnails: Callable[[SiteAttachment], SiteThumbnail | None] = lambda attachment: None,
    ) -> None:
        """`thumbnails` gives an image attachment's thumbnail in the site, if it has one
        (archive.thumbnails.SiteThumbnails.of)."""
        self.environment = environment.overlay()
        language = settings.gateway.language
        self.environment.filters.update(
            datetime=format_datetime, filesize=lambda size: human_size(size, language)
        )
        labels = environment.loader.get_source(environment, f"archive/labels.{language}.toml")[0]  # type: ignore[union-attr]
        self.labels: dict[str, Any] = tomllib.loads(labels)
        self.fold_labels = FoldLabels(self.labels["quoted"], self.labels["signature"])
        self.domain = settings.gateway.domain
        self.base_url = settings.archive.base_url
        self.index = index
        self.now = now
        self.threads_of = index.community_threads()
        self.names = {p.id: p.display_name for p in index.people.values()}
        self.thumbnails = thumbnails

    # -- pages ---------------------------------------------------------------------

    def home(self) -> str:
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for community in self.index.communities.values():
            groups[community.kind].append(self._community(community))
        ordered = [(kind.value, groups[kind.value]) for kind in Kind if groups.get(kind.value)]
        messages = list(self.index.messages())
        return self._render(
            "home",
            urls.HOME,
            groups=ordered,
            weekly=posts_per_week(messages, self.now),
            contributors=top_contributors(messages, self.names, self.now),
        )

    def community_pages(self, community: SiteCommunity) -> Iterator[tuple[str, str]]:
        """Its thread list, THREADS_PER_PAGE threads a page, newest first."""
        threads = self.threads_of.get(community.id, [])
        pages = max(1, -(-len(threads) // THREADS_PER_PAGE))
        values = self._community(community)
        weekly = posts_per_week(
            (m for t in threads for m in t.messages if community.id in m.communities), self.now
        )
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
                ),
            )

    def thread(self, thread: SiteThread, bodies: Mapping[int, MessageBody]) -> str:
        url = urls.thread(thread.id)
        root = urls.root_from(url)
        by_id = {m.id: m for m in thread.messages}
        items = []

        def file_url(sha256: str, filename: str) -> str:
            return root + urls.attachment(sha256, filename)

        for entry, depth in reply_order(thread.messages):
            body = bodies[entry.id]
            inline = shown_inline(body)
            parent = by_id.get(entry.parent_id) if entry.parent_id else None
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
                    "body": body_html(body, file_url, self.fold_labels),
                    "attachments": [
                        self._attachment(a)
                        for a in body.attachments
                        if a.content_id.strip("<>") not in inline or not a.content_id
                    ],
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
            (tag, label_of[tag], [self._person_link(p) for p in _by_name(by_tag[tag])])
            for tag in sorted(by_tag)
        ]
        everyone = [self._person_link(p) for p in _by_name(self.index.people.values())]
        return self._render("people", urls.PEOPLE, expertise=expertise, everyone=everyone)

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
                (c.name or c.address.split("@", 1)[0], c.posts) for c in overall.top_contributors
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
            "address": f"{community.slug}@{self.domain}",
            "join_address": f"{community.slug}-join@{self.domain}",
            "members": community.members,
            "posts": posts,
            "thread_count": len(threads),
            "last_activity": threads[0].last_activity if threads else None,
        }

    def _community_link(self, community_id: int) -> dict[str, str]:
        community = self.index.communities[community_id]
        return {"name": community.name, "url": urls.community(community.slug)}

    def _thread_summary(self, thread: SiteThread, community_id: int) -> dict[str, Any]:
        return {
            "url": urls.thread(thread.id),
            "subject": thread.subject,
            "starter": self._author(thread.first),
            "messages": len(thread.messages),
            "last_activity": thread.last_activity,
            "also": [self._community_link(c) for c in thread.communities if c != community_id],
        }

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
        return entry.sender_name or entry.sender_address.split("@", 1)[0]

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
