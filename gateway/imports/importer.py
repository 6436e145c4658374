"""Import mail into a community through the same ingest stages as mail taken in over SMTP:
parsed, threaded and stored with its original date and attachments, published without
notifying anyone (Origin.IMPORT), in batches of one transaction each. Reaction mails
(RFC 9078, Gmail) are recorded as reactions on the messages they answer; one that
came before its message (in another file, or a batch before) is counted apart, and
importing the same source again records it.

Importing again adds nothing: messages are keyed by Message-ID, or by a hash of
their bytes when they have none (gateway.ingest.stages.parse).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

from gateway.app import App
from gateway.community.communities import get_community
from gateway.imports.sources import SourceMail
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import Disposition
from gateway.ingest.context import InboundMail
from gateway.ingest.context import IngestResult
from gateway.ingest.errors import DiscardReason
from gateway.ingest.parse_workers import ParseWorkers
from gateway.ingest.parse_workers import Pending
from gateway.store.db import transaction
from gateway.store.models import Origin
from gateway.store.models import utcnow

BATCH = 2000  # messages per transaction
# A reaction mail whose message is not in the community (yet): not a delivery report.
UNMATCHED = frozenset(
    {
        DiscardReason.REACTION_UNKNOWN_MESSAGE,
        DiscardReason.REACTION_ELSEWHERE,
        DiscardReason.REACTION_NOT_ALLOWED,
    }
)

# Called after each batch with the messages and bytes read so far.
Progress = Callable[[int, int], None]


@dataclass
class FileReport:
    """What one source (a file, a folder) gave: `gateway import ... --json` prints these."""

    source: str
    messages: int = 0
    imported: int = 0
    duplicates: int = 0
    flagged: int = 0  # imported, but something in it could not be read (stored raw)
    reactions: int = 0  # reaction mails (RFC 9078, Gmail), recorded as reactions
    # Reaction mails to a message not imported (yet): one that came before its message
    # (another file, or a batch before) is recorded by importing the same source again.
    reactions_unmatched: int = 0
    skipped: int = 0  # not posts: delivery reports
    failed: int = 0  # a bug; logged with its traceback, tried again by the next import
    bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_mail(
    app: App,
    slug: str,
    sources: Iterable[tuple[str, Iterator[SourceMail]]],
    progress: Progress | None = None,
) -> list[FileReport]:
    """Import each source's messages into the community `slug`; one report per source."""
    with transaction(app.read_sessions) as session:
        community = get_community(session, slug)
        recipient = f"{community.slug}@{app.settings.gateway.domain}"
    reports = []
    done = FileReport("done")  # what the progress bar shows
    # The batch read last, parsing in the workers while the one before is stored.
    waiting: tuple[FileReport, list[InboundMail], Pending] | None = None

    def ingest(report: FileReport, batch: list[InboundMail], parsed: Pending) -> None:
        _tally(report, ingest_now(app, batch, parsed()))
        done.messages += len(batch)
        done.bytes += sum(len(mail.raw) for mail in batch)
        if progress is not None:
            progress(done.messages, done.bytes)

    def read(report: FileReport, batch: list[InboundMail]) -> None:
        nonlocal waiting
        parsing = workers.submit(batch, app.blobs)
        if waiting is not None:
            ingest(*waiting)
        waiting = (report, batch, parsing)

    with ParseWorkers() as workers:
        for name, messages in sources:
            report = FileReport(name)
            reports.append(report)
            batch: list[InboundMail] = []
            for mail in messages:
                report.messages += 1
                report.bytes += len(mail.raw)
                batch.append(_inbound(mail, recipient))
                if len(batch) == BATCH:
                    read(report, batch)
                    batch = []
            if batch:
                read(report, batch)
        if waiting is not None:
            ingest(*waiting)
    return reports


def _inbound(mail: SourceMail, recipient: str) -> InboundMail:
    received = mail.envelope_date or utcnow()
    return InboundMail(mail.raw, "", (recipient,), received, peer="import", origin=Origin.IMPORT)


def _tally(report: FileReport, outcomes: list[IngestResult | Exception]) -> None:
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            report.failed += 1
        elif outcome.disposition is Disposition.DUPLICATE:
            report.duplicates += 1
        elif outcome.disposition is Disposition.PUBLISHED:
            report.imported += 1
            report.flagged += bool(outcome.flags)
        elif outcome.disposition is Disposition.REACTION:
            report.reactions += 1
        elif set(outcome.reasons) & UNMATCHED:
            report.reactions_unmatched += 1
        else:
            report.skipped += 1


def totals(reports: list[FileReport]) -> FileReport:
    total = FileReport("total")
    for report in reports:
        for key, value in report.as_dict().items():
            if isinstance(value, int):
                setattr(total, key, getattr(total, key) + value)
    return total
