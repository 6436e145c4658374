"""The archive kept up to date by `gateway serve`: pages within seconds of a new post,
the search index at most every [archive] search_interval seconds.

It polls a cheap fingerprint of the store (a few aggregates) every rebuild_delay
seconds and runs an ordinary incremental build when it changed, so a restart, a
post approved later, or a profile edited by the CLI are all picked up the same way.

While mail waits in the spool, or copies wait to be sent, a build waits for the
pipeline to take it in and send them, for at most MAX_DEFER seconds since the last
build (the site's, by whichever node or run: a node restarted during a burst waits
too): during a burst, rendering the threads that grow with each batch again and
again would take the cores ingest and delivery need, and one build after the burst
writes the same pages. A post's copies go before its page: the publisher's niceness
does not reach the PostgreSQL server that runs its queries.

With several nodes, [archive] out_dir is one folder they all see, and only the node
holding the "archive" singleton builds (renewed each turn and during a long build);
the others keep watching, and take it over when the builder stops or dies.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.build import MANIFEST
from archive.build import BuildReport
from archive.build import SiteBuilder
from gateway.app import App
from gateway.app import build_app
from gateway.ingest.spool_claims import mail_waiting
from gateway.outbound.deliveries import copies_waiting
from gateway.runtime.background import BackgroundLoop
from gateway.runtime.background import Signal
from gateway.runtime.serve import COMPANION_NICENESS
from gateway.runtime.serve import Companion
from gateway.runtime.serve import child_setup
from gateway.runtime.serve import parent_alive
from gateway.runtime.singleton import for_turns
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Community
from gateway.store.models import Membership
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Person
from gateway.store.models import PersonTag
from gateway.store.models import Reaction
from gateway.store.models import ThreadAnswer
from gateway.store.models import Visibility
from gateway.store.models import utcnow
from gateway.store.singletons import ARCHIVE

log = logging.getLogger("gateway.archive")
NAME = "gateway-archive"
# The longest a build waits for a busy pipeline: the pages lag a burst by no more.
MAX_DEFER = 30.0


def store_fingerprint(session: Session) -> tuple[object, ...]:
    """Changes whenever a page could: posts (new, approved, removed), reactions (new,
    renewed or taken away), accepted answers, people, profiles, memberships and public
    communities. (A community's new name of the same length shows with the next
    change, or at once with `gateway archive build`.)"""
    published = Message.status == MessageStatus.PUBLISHED
    public = Community.visibility == Visibility.PUBLIC
    return tuple(
        session.execute(
            select(
                select(func.count()).select_from(Message).where(published).scalar_subquery(),
                select(func.max(Message.id)).where(published).scalar_subquery(),
                # A cross-post approved in one more community shows on more pages.
                select(func.count())
                .select_from(MessageCommunity)
                .where(MessageCommunity.status == MessageStatus.PUBLISHED)
                .scalar_subquery(),
                select(func.max(Person.updated_at)).scalar_subquery(),
                select(func.count()).select_from(Reaction).scalar_subquery(),
                select(func.max(Reaction.created_at)).scalar_subquery(),
                # An answer accepted, replaced or taken back.
                select(func.count()).select_from(ThreadAnswer).scalar_subquery(),
                select(func.sum(ThreadAnswer.message_id)).scalar_subquery(),
                select(func.count()).select_from(PersonTag).scalar_subquery(),
                select(func.count()).select_from(Membership).scalar_subquery(),
                select(func.count()).select_from(Community).where(public).scalar_subquery(),
                # Which ones are public, and (mostly) their names and descriptions.
                select(
                    func.sum(
                        Community.id * 1000
                        + func.length(Community.name)
                        + func.length(Community.description)
                    )
                )
                .where(public)
                .scalar_subquery(),
            )
        ).one()
    )


class ArchivePublisher(BackgroundLoop):
    def __init__(self, app: App, stopping: Signal | None = None) -> None:
        super().__init__(NAME, None, stopping)
        self.app = app
        self.settings = app.settings.archive
        self.singleton = for_turns(
            app.sessions,
            ARCHIVE,
            app.settings.node_id,
            app.settings.delivery.lease_seconds,
            self.settings.rebuild_delay,
        )

    def run(self, alive: Callable[[], bool] = lambda: True) -> None:
        try:
            self._run(alive)
        finally:
            self.singleton.release()

    def _run(self, alive: Callable[[], bool]) -> None:
        seen: tuple[object, ...] | None = None
        indexed_at = float("-inf")
        built_at = self._last_build()
        unindexed = True
        while not self._stopping.is_set() and alive():
            if not self.singleton.take():  # another node builds: ask again next turn
                seen = None  # and build what changed meanwhile when this node takes over
                built_at = self._last_build()  # (the other node's last build, then)
                self._stopping.wait(self.settings.rebuild_delay)
                continue
            try:
                with transaction(self.app.read_sessions) as session:
                    current = store_fingerprint(session)
                search_due = (
                    self.settings.search
                    and time.monotonic() - indexed_at >= self.settings.search_interval
                )
                due = current != seen or (unindexed and search_due)
                if due and not self._pipeline_first(built_at):
                    report = self.build(search_due)
                    seen, built_at = current, time.monotonic()
                    if report.searched:
                        indexed_at = time.monotonic()
                    unindexed = not report.indexed
            except Exception:
                log.exception("the archive build failed; trying again shortly")
            self._stopping.wait(self.settings.rebuild_delay)

    def _last_build(self) -> float:
        """When the site was last built, by any node or run (its manifest is written
        last), on this process's monotonic clock; -inf if never. A node started amid a
        burst (restarted while its queue is full) or taking over from another lets the
        copies go first as it would later on, but never beyond MAX_DEFER since that
        build: nodes restarted again and again cannot keep the pages from being built."""
        try:
            age = time.time() - (self.settings.out_dir / MANIFEST).stat().st_mtime
        except OSError:
            return float("-inf")
        return time.monotonic() - max(age, 0.0)

    def _pipeline_first(self, built_at: float) -> bool:
        """Whether the build waits a turn: mail waits in the spool or copies wait to be
        sent, and the last build was less than MAX_DEFER seconds ago."""
        if time.monotonic() - built_at >= MAX_DEFER:
            return False
        if mail_waiting(self.app.spool_engine):
            return True
        with transaction(self.app.read_sessions) as session:
            return copies_waiting(session, utcnow())

    def build(self, search: bool) -> BuildReport:
        with self.singleton.kept():
            report = SiteBuilder(self.app, self.settings.out_dir, search=search).run()
        if report.counts.written or report.counts.removed or report.searched:
            log.info(
                "archive: %d threads, %d communities, %d people rendered; %d files written, "
                "%d removed%s (%.2f s)",
                report.threads, report.communities, report.people, report.counts.written,
                report.counts.removed, "; search index rebuilt" if report.searched else "",
                report.seconds,
            )  # fmt: skip
        return report


def run_publisher(settings: Settings, stopping: Signal, log_level: int) -> None:
    """The publisher's own process: page rendering must not slow ingest or delivery."""
    child_setup(NAME, log_level, COMPANION_NICENESS)
    app = build_app(settings)
    try:
        ArchivePublisher(app, stopping).run(alive=parent_alive())
    finally:
        app.close()


COMPANION = Companion(NAME, run_publisher, ArchivePublisher)
