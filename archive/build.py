"""`gateway archive build`: the static site from the store, rewriting only what changed.

A build reads the index of public messages (no bodies), gives each thread, community
and person a signature of what its page shows, and compares them with the signatures
saved by the previous build in the site's manifest: only pages whose signature
changed are rendered again, and pages of things no longer public are removed. A
change of templates (or of this builder's FORMAT) makes the next build a full one.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import heapq
import json
import logging
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

import templates
from archive import urls
from archive.community_people import CommunityPeople
from archive.community_people import community_people
from archive.files import mbox
from archive.files import mbox_state
from archive.files import publish_attachments
from archive.files import write_mbox
from archive.mail_links import takes_replies
from archive.months import threads_by_month
from archive.output import Counts
from archive.output import SiteOutput
from archive.pages import FEED_ENTRIES
from archive.pages import THREADS_PER_PAGE
from archive.pages import Pages
from archive.parallel import share_out
from archive.search import build_search_index
from archive.snapshot import MessageEntry
from archive.snapshot import SiteCommunity
from archive.snapshot import SiteIndex
from archive.snapshot import SitePerson
from archive.snapshot import SiteThread
from archive.snapshot import public_attachments
from archive.snapshot import read_bodies
from archive.snapshot import read_index
from archive.thumbnails import SiteThumbnails
from gateway.adoption.stats import Stats
from gateway.adoption.stats import compute_stats
from gateway.adoption.stats import describe_figures
from gateway.app import App
from gateway.digests.news import Question
from gateway.digests.news import unanswered_questions
from gateway.store.db import transaction
from gateway.store.models import utcnow
from gateway.store.sql import chunks

MANIFEST = ".archive-manifest.json"
LOCK = ".archive-build.lock"
# Bump when the builder changes what it writes: the next build is then a full one.
FORMAT = 6  # 2: reply links, months, people, thumbnails, reflowed text, phones; 3: plurals;
# 4: reactions, accepted answers and thanks received; 5: reactors named only if shown;
# 6: the stats page names its count of reactions
# Threads whose bodies are read and rendered together.
THREAD_BATCH = 200
# Fewer threads than this per process are not worth a fork.
PER_WORKER = 300
STATIC = (urls.STYLESHEET, urls.SEARCH_SCRIPT, urls.PEOPLE_SCRIPT)
# How old a question the home page still lists as unanswered (digests stop at 14 days).
QUESTIONS_SINCE = dt.timedelta(days=90)

log = logging.getLogger("gateway.archive")


@dataclass
class BuildReport:
    full: bool
    threads: int = 0
    communities: int = 0
    people: int = 0
    counts: Counts = field(default_factory=Counts)
    searched: bool = False
    indexed: bool = False  # whether the search index covers every page now
    seconds: float = 0.0


@dataclass
class Manifest:
    fingerprint: str = ""
    threads: dict[str, str] = field(default_factory=dict)
    communities: dict[str, str] = field(default_factory=dict)
    people: dict[str, str] = field(default_factory=dict)
    pages: dict[str, int] = field(default_factory=dict)  # community slug -> list pages
    files: dict[str, str] = field(default_factory=dict)  # attachment path published -> sha256
    directory: str = ""  # the people directory's signature
    stats: str = ""  # the stats page's
    indexed: bool = False  # whether the search index covers the pages
    months: dict[str, str] = field(default_factory=dict)  # "slug/2026-11" -> signature
    # community slug -> its mbox's MboxState (archive.files.write_mbox appends to it)
    mboxes: dict[str, list[object]] = field(default_factory=dict)

    @classmethod
    def load(cls, site: Path) -> Manifest:
        try:
            data = json.loads((site / MANIFEST).read_text())
            if isinstance(data.get("files"), list):  # written before FORMAT 3: paths only
                data["files"] = {path: urls.attachment_sha256(path) for path in data["files"]}
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return cls()

    def save(self, site: Path) -> None:
        """Written last: a build that stops halfway is redone from the old manifest."""
        temporary = site / f".{MANIFEST}.tmp"
        temporary.write_text(json.dumps(self.__dict__, sort_keys=True))
        temporary.replace(site / MANIFEST)


class Progress(Protocol):
    """What the CLI's progress bar is told: the pages planned, then each step done."""

    def start(self, total: int) -> None: ...

    def advance(self, steps: int) -> None: ...


class _NoProgress:
    def start(self, total: int) -> None:
        return None

    def advance(self, steps: int) -> None:
        return None


class SiteBuilder:
    """One build of the site: run() plans it from the store and the manifest, then writes it."""

    def __init__(
        self, app: App, site: Path, full: bool = False, search: bool = True, workers: int = 1
    ) -> None:
        """workers > 1 forks renderers: only from a process with no other thread."""
        self.app = app
        self.workers = workers
        self.pid = os.getpid()
        self.out = SiteOutput(site)
        self.search = search
        self.now = utcnow()
        self.fingerprint = templates_fingerprint()
        self.full = full
        self.previous = Manifest()

    def run(self, progress: Progress | None = None) -> BuildReport:
        """Build, one build at a time per folder (`gateway serve`'s publisher and a
        `gateway archive build` by hand wait for each other)."""
        started = time.perf_counter()
        progress = progress or _NoProgress()
        with _locked(self.out.root / LOCK), transaction(self.app.read_sessions) as session:
            self.previous = Manifest.load(self.out.root)
            # A change of templates or of FORMAT: every page is rendered again.
            self.full = self.full or self.previous.fingerprint != self.fingerprint
            index = read_index(session, self.app.settings.archive.show_write_to)
            plan = _Plan(index, self.previous, self.full)
            progress.start(plan.size)
            report = self._write(session, index, plan, progress)
        report.seconds = time.perf_counter() - started
        return report

    def _write(
        self, session: Session, index: SiteIndex, plan: _Plan, progress: Progress
    ) -> BuildReport:
        out, blobs = self.out, self.app.blobs
        thumbnails = SiteThumbnails(out, blobs)
        pages = Pages(
            self.app.templates, self.app.settings, index, self.now, plan.people_of, thumbnails.of
        )
        report = BuildReport(full=self.full, counts=out.counts)
        for name in STATIC:
            out.write(name, (templates.PATH / "archive" / name).read_bytes())
        jobs: list[_Job] = [*plan.threads, *plan.communities, *plan.people]
        rendered = share_out(
            jobs,
            lambda part: self._render(pages, plan, part, progress),
            min(self.workers, -(-len(jobs) // PER_WORKER)),
            self._after_fork,
            progress.advance,
        )
        for name in ("written", "unchanged", "removed"):
            setattr(out.counts, name, getattr(out.counts, name) + getattr(rendered, name))
        report.threads = len(plan.threads)
        report.communities = len(plan.communities)
        report.people = len(plan.people)
        latest = heapq.nlargest(FEED_ENTRIES, index.messages(), key=lambda m: (m.received_at, m.id))
        out.write(
            urls.SITE_FEED,
            pages.feed(
                pages.labels["feed_title_site"],
                urls.SITE_FEED,
                urls.HOME,
                latest,
                read_bodies(session, (m.id for m in latest)),
            ),
        )
        out.write(urls.page_file(urls.HOME), pages.home(self._questions(session, index)))
        out.write(urls.page_file(urls.SEARCH), pages.search())
        directory = _directory_signature(index)
        if self.full or directory != self.previous.directory:
            out.write(urls.page_file(urls.PEOPLE), pages.people())
        stats = self.previous.stats
        # The figures take a few grouped queries over everything (0.3 s for 10,000
        # posts): a quick update (--no-search) leaves them to the next full or
        # searched build, as it leaves the search index.
        if self.search or self.full or not stats:
            figures = compute_stats(session, public_only=True, now=self.now)
            stats = _stats_signature(figures)
            if self.full or stats != self.previous.stats:
                out.write(urls.page_file(urls.STATS), pages.stats(figures))
        attachments = public_attachments(session, index)
        publish_attachments(out, blobs, attachments, self.previous.files, self.full)
        page_counts = {**self.previous.pages, **plan.page_counts}
        for thread_id in plan.gone_threads:
            out.remove(urls.thread(int(thread_id)))
        for slug in plan.gone_communities:
            out.remove(urls.community(slug))
            page_counts.pop(slug, None)
        for person_id in plan.gone_people:
            out.remove(urls.person(int(person_id)))
        for key in plan.gone_months:
            out.remove(urls.community_month(*key.split("/")))
        manifest = Manifest(
            self.fingerprint, plan.page_signatures, plan.community_signatures,
            plan.person_signatures, page_counts, dict(sorted(attachments.items())),
            indexed=self.previous.indexed and not self.full and out.counts.written == 0,
            directory=directory, stats=stats, months=plan.month_signatures,
            mboxes=self._mboxes(pages, plan),
        )  # fmt: skip
        manifest.save(out.root)  # the pages are done, whatever happens to the index
        if self.search and not manifest.indexed and index.threads:
            build_search_index(out.root, self.app.settings.gateway.language)
            manifest.indexed = report.searched = True
            manifest.save(out.root)
        report.indexed = manifest.indexed
        return report

    def _render(
        self, pages: Pages, plan: _Plan, jobs: Sequence[_Job], progress: Progress
    ) -> Counts:
        """The pages of these threads, communities and people, with their downloads (in
        this process, or in a forked one with its own database connection)."""
        out = SiteOutput(self.out.root)
        if os.getpid() != self.pid:
            progress = _NoProgress()  # the parent draws the bar
        threads = [job for job in jobs if isinstance(job, SiteThread)]
        with transaction(self.app.read_sessions) as session:
            for batch in chunks(threads, THREAD_BATCH):
                bodies = read_bodies(session, (m.id for t in batch for m in t.messages))
                for thread in batch:
                    try:
                        page = pages.thread(thread, bodies)
                        download = mbox(
                            self.app.blobs, thread.messages, self.app.settings.gateway.domain
                        )
                    except Exception:  # this thread only: the rest of the site is built
                        log.exception("thread %d could not be rendered; left out", thread.id)
                        continue
                    out.write(urls.page_file(urls.thread(thread.id)), page)
                    out.write(urls.thread_mbox(thread.id), download)
                progress.advance(len(batch))
            for job in jobs:
                if isinstance(job, SiteCommunity):
                    self._write_community(out, pages, session, job, plan)
                elif isinstance(job, SitePerson):
                    page = pages.person(job, plan.posts_by[job.id])
                    out.write(urls.page_file(urls.person(job.id)), page)
                else:
                    continue
                progress.advance(1)
        return out.counts

    def _write_community(
        self, out: SiteOutput, pages: Pages, session: Session, community: SiteCommunity, plan: _Plan
    ) -> None:
        """Its list pages (and no more than it has now), the pages of its months that
        changed, its mbox download and its feed."""
        count = plan.page_counts[community.slug]
        months = plan.months_of[community.slug]
        for url, html in pages.community_pages(community, months):
            out.write(urls.page_file(url), html)
        for url, html in pages.month_pages(community, months, plan.changed_months[community.slug]):
            out.write(urls.page_file(url), html)
        for stale in range(count + 1, self.previous.pages.get(community.slug, 0) + 1):
            out.remove(urls.community(community.slug, stale))
        posted = _posted(pages, community)
        write_mbox(
            out,
            urls.community_mbox(community.slug),
            self.app.blobs,
            posted,
            self.app.settings.gateway.domain,
            None if self.full else self.previous.mboxes.get(community.slug),
        )
        latest = posted[::-1][:FEED_ENTRIES]
        feed = pages.feed(
            community.name,
            urls.community_feed(community.slug),
            urls.community(community.slug),
            latest,
            read_bodies(session, (m.id for m in latest)),
        )
        out.write(urls.community_feed(community.slug), feed)

    def _mboxes(self, pages: Pages, plan: _Plan) -> dict[str, list[object]]:
        """Each community's mbox state for the manifest: those written now, as they are
        on disk (a forked renderer wrote them), the others as they were."""
        mboxes = {
            slug: state
            for slug, state in self.previous.mboxes.items()
            if slug in plan.community_signatures
        }
        for community in plan.communities:
            relative = urls.community_mbox(community.slug)
            state = mbox_state(self.out, relative, _posted(pages, community))
            mboxes[community.slug] = list(state)
        return mboxes

    def _questions(self, session: Session, index: SiteIndex) -> list[Question]:
        """The unanswered questions of the public communities, by the digests' rule."""
        settings = self.app.settings
        found = unanswered_questions(
            session,
            index.communities,
            self.now,
            "",
            dt.timedelta(hours=settings.adoption.unanswered_after_hours),
            QUESTIONS_SINCE,
        )
        return [question for questions in found.values() for question in questions]

    def _after_fork(self) -> None:
        """A forked renderer opens its own connections (SQLAlchemy: "Using Connection
        Pools with Multiprocessing")."""
        for engine in {self.app.engine, self.app.spool_engine}:
            engine.dispose(close=False)


_Job = SiteThread | SiteCommunity | SitePerson


class _Plan:
    """What changed since the previous build, by comparing signatures."""

    def __init__(self, index: SiteIndex, previous: Manifest, full: bool) -> None:
        self.posts_by: dict[int, list[MessageEntry]] = defaultdict(list)
        for message in index.messages():
            if message.sender_id is not None:
                self.posts_by[message.sender_id].append(message)
        shared = _ThreadShared(index)
        self.thread_signatures = {
            str(t.id): _thread_signature(t, index, shared) for t in index.threads.values()
        }
        self.page_signatures = {
            key: _page_signature(signature, index.threads[int(key)], index)
            for key, signature in self.thread_signatures.items()
        }
        threads_of = index.community_threads()
        self.people_of = community_people(index)
        self.community_signatures = {
            c.slug: _community_signature(
                c,
                threads_of.get(c.id, []),
                self.thread_signatures,
                _people_shown(index, self.people_of.get(c.id, CommunityPeople())),
            )
            for c in index.communities.values()
        }
        self.person_signatures = {
            str(p.id): _person_signature(p, self.posts_by.get(p.id, []), index)
            for p in index.people.values()
        }
        known = Manifest() if full else previous
        self.threads = [
            t for t in index.threads.values()
            if known.threads.get(str(t.id)) != self.page_signatures[str(t.id)]
        ]  # fmt: skip
        self.communities = [
            c for c in index.communities.values()
            if known.communities.get(c.slug) != self.community_signatures[c.slug]
        ]  # fmt: skip
        self.people = [
            p for p in index.people.values()
            if known.people.get(str(p.id)) != self.person_signatures[str(p.id)]
        ]  # fmt: skip
        self.gone_threads = sorted(set(previous.threads) - set(self.thread_signatures))
        self.gone_communities = sorted(set(previous.communities) - set(self.community_signatures))
        self.gone_people = sorted(set(previous.people) - set(self.person_signatures))
        # Each community's months, computed once for the signatures and the pages.
        self.months_of = {
            c.slug: threads_by_month(threads_of.get(c.id, [])) for c in index.communities.values()
        }
        # Each month page's signature: what it shows of the community (its name and
        # address, not its members: a join does not rewrite every month), its threads
        # and its neighbours.
        self.month_signatures = {
            f"{c.slug}/{month.key}": _digest(
                c.name,
                c.slug,
                [(t.id, self.thread_signatures[str(t.id)]) for t in month.threads],
                month.previous,
                month.following,
            )
            for c in index.communities.values()
            for month in self.months_of[c.slug]
        }
        self.changed_months: dict[str, set[str]] = defaultdict(set)  # slug -> months
        for key, signature in self.month_signatures.items():
            if known.months.get(key) != signature:
                slug, month = key.split("/")
                self.changed_months[slug].add(month)
        self.gone_months = sorted(set(previous.months) - set(self.month_signatures))
        self.size = len(self.threads) + len(self.communities) + len(self.people)
        # How many list pages each community has now (archive.pages.THREADS_PER_PAGE a page).
        self.page_counts = {
            c.slug: max(1, -(-len(threads_of.get(c.id, [])) // THREADS_PER_PAGE))
            for c in index.communities.values()
        }


def _posted(pages: Pages, community: SiteCommunity) -> list[MessageEntry]:
    """The community's messages in the order they came: its mbox."""
    return sorted(
        (
            m
            for t in pages.threads_of.get(community.id, [])
            for m in t.messages
            if community.id in m.communities
        ),
        key=lambda m: (m.received_at, m.id),
    )


def _digest(*parts: object) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=10).hexdigest()


def _thread_signature(thread: SiteThread, index: SiteIndex, shared: _ThreadShared) -> str:
    people = index.people
    return _digest(
        thread.subject,
        # Reply links: each message's Message-ID and communities (archive.mail_links);
        # the name shown for its author (a profile's name change touches the page).
        [
            (
                m.id,
                m.parent_id,
                m.sender_id,
                m.message_id,
                m.communities,
                people[m.sender_id].name if m.sender_id in people else m.sender_name,
            )
            for m in thread.messages
        ],
        [shared.communities[c] for c in thread.communities],
        shared.prefixes,
        thread.id in index.answers,  # "Answered", in the lists too
    )


def _page_signature(signature: str, thread: SiteThread, index: SiteIndex) -> str:
    """A thread page's signature: its thread's, and what it shows of reactions and of
    its accepted answer (a new reaction rewrites the page, not the lists)."""
    reactions = [index.reactions.get(m.id) for m in thread.messages]
    answer = index.answers.get(thread.id)
    if answer is None and not any(reactions):
        return signature
    return _digest(signature, answer, reactions)


class _ThreadShared:
    """What every thread's signature takes from the whole index, made once per build."""

    def __init__(self, index: SiteIndex) -> None:
        self.communities = {
            c.id: (c.id, c.name, c.slug, takes_replies(c)) for c in index.communities.values()
        }
        # Which subjects the page shows (archive.pages.shown_subject).
        self.prefixes = _digest(index.subject_prefixes)


def _community_signature(
    community: SiteCommunity,
    threads: list[SiteThread],
    thread_signatures: dict[str, str],
    people: object,
) -> str:
    return _digest(community, [(t.id, thread_signatures[str(t.id)]) for t in threads], people)


def _people_shown(index: SiteIndex, people: CommunityPeople) -> object:
    """What a community page shows of its people: who, under which name and department."""
    shown = {*people.owners, *people.moderators, *(p for p, _ in people.experts)}
    shown.update(p for p, _ in people.helpful)
    return (
        people,
        sorted((p, index.people[p].display_name, index.people[p].department) for p in shown),
    )


def _person_signature(person: SitePerson, posts: list[MessageEntry], index: SiteIndex) -> str:
    communities = [index.communities[c].name for c in person.communities]
    return _digest(
        person,
        [(m.id, index.threads[m.thread_id].subject) for m in posts],
        communities,
        index.standing.get(person.id),
    )


def _directory_signature(index: SiteIndex) -> str:
    """What the people directory shows: names, departments, expertise and interests
    (its filter's), not posts."""
    return _digest(
        sorted(
            (p.id, p.display_name, p.department, p.expertise, p.interests)
            for p in index.people.values()
        )
    )


def _stats_signature(stats: Stats) -> str:
    """What the stats page shows: its figures and the dates of its window (a day's
    builds rewrite it only when a figure changed)."""
    return _digest(
        stats.since.date(),
        stats.until.date(),
        describe_figures(stats.overall),
        [(c.slug, c.name, describe_figures(c.figures)) for c in stats.communities],
    )


def templates_fingerprint() -> str:
    digest = hashlib.blake2b(str(FORMAT).encode(), digest_size=10)
    for path in sorted((templates.PATH / "archive").rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
