"""The ingest pipeline: an ordered tuple of stages, and the runner that applies them.

Each stage is a module in gateway/ingest/stages with run(ctx) -> None; a stage
that is cheaper on many mails at once (write_messages) has run_batch(ctxs) instead
(BatchStage). Stages that decide (screen, authorize) record verdicts in ctx or raise a
Stop (Discard, Duplicate, AnswerMarked, Folded); only this runner catches those. A
batch stage may also give Wait for a mail: it runs that stage again after the rest of
the batch. Anything else raised is a bug: the mail had its 250 when it was spooled, so the inbox
processor keeps it with the error and tries it again (gateway.ingest.processor).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import Protocol
from typing import runtime_checkable

from gateway.ingest.context import Disposition
from gateway.ingest.context import IngestContext
from gateway.ingest.context import IngestResult
from gateway.ingest.discards import record_discard
from gateway.ingest.errors import AnswerMarked
from gateway.ingest.errors import Discard
from gateway.ingest.errors import Duplicate
from gateway.ingest.errors import Folded
from gateway.ingest.errors import Wait
from gateway.ingest.stages import authorize
from gateway.ingest.stages import enqueue
from gateway.ingest.stages import fold_reactions
from gateway.ingest.stages import keep
from gateway.ingest.stages import mark_answers
from gateway.ingest.stages import parse
from gateway.ingest.stages import record_actions
from gateway.ingest.stages import route
from gateway.ingest.stages import screen
from gateway.ingest.stages import store_attachments
from gateway.ingest.stages import write_messages

STAGES = (
    parse,
    screen,
    keep,
    route,
    authorize,
    mark_answers,
    fold_reactions,
    write_messages,
    store_attachments,
    record_actions,
    enqueue,
)

# The exceptions that end a mail's way through the stages early.
Stop = Discard | Duplicate | AnswerMarked | Folded


@runtime_checkable
class BatchStage(Protocol):
    """A stage that takes the mails of a batch together: a Stop, Wait or None per mail."""

    def run_batch(self, ctxs: Sequence[IngestContext]) -> Sequence[Stop | Wait | None]: ...


def run_batch(ctxs: Sequence[IngestContext]) -> list[IngestResult]:
    """Run the stages on mails of one transaction.

    A batch stage takes all the mails at once; the stages between two batch stages
    take them mail by mail, each mail through all of them (so that the blob of one
    is written while the next is parsed). A batch stage gets mails with distinct
    Message-IDs: a second copy of a Message-ID waits for a next round, which starts
    at that stage. It then finds the first copy stored (and its deliveries queued),
    as it would have arriving after it. A mail a batch stage told to Wait (a reaction to
    a mail of the same batch) starts at that stage in the next round too.
    """
    results: dict[int, IngestResult] = {}
    start = dict.fromkeys(range(len(ctxs)), 0)  # mail -> the first stage it still needs
    while start:
        later: dict[int, int] = {}
        for first, stages in _segments():
            going = [i for i, s in start.items() if s <= first]
            going = [i for i in going if i not in results and i not in later]
            stage = stages[0]
            if isinstance(stage, BatchStage):
                seen: set[str] = set()
                for i in going:
                    if ctxs[i].message_id in seen:
                        later[i] = first
                    seen.add(ctxs[i].message_id)
                going = [i for i in going if i not in later]
                stopped = stage.run_batch([ctxs[i] for i in going])
                for i, stop in zip(going, stopped, strict=True):
                    if isinstance(stop, Wait):
                        later[i] = first
                    elif stop is not None:
                        results[i] = _stopped(ctxs[i], stop)
                continue
            for i in going:
                try:
                    for stage in stages:
                        stage.run(ctxs[i])
                except (Discard, Duplicate, AnswerMarked, Folded) as stop:
                    results[i] = _stopped(ctxs[i], stop)
        for i in start:
            if i not in results and i not in later:
                results[i] = _result(ctxs[i])
        start = later
    return [results[i] for i in range(len(ctxs))]


def _segments() -> list[tuple[int, list[Any]]]:
    """STAGES in runs: each batch stage alone, the mail stages between them together;
    with the number of each run's first stage."""
    segments: list[tuple[int, list[Any]]] = []
    for number, stage in enumerate(STAGES):
        alone = isinstance(stage, BatchStage)
        if alone or not segments or isinstance(segments[-1][1][0], BatchStage):
            segments.append((number, [stage]))
        else:
            segments[-1][1].append(stage)
    return segments


def _stopped(ctx: IngestContext, stop: Stop) -> IngestResult:
    if isinstance(stop, Discard):
        record_discard(ctx, stop.reason)
        return IngestResult(Disposition.DISCARDED, ctx.message_id, reasons=(stop.reason,))
    if isinstance(stop, AnswerMarked):
        return IngestResult(Disposition.ANSWER, ctx.message_id, _slugs(ctx))
    if isinstance(stop, Folded):
        return IngestResult(Disposition.REACTION, ctx.message_id, _slugs(ctx), stop.emoji)
    return IngestResult(Disposition.DUPLICATE, ctx.message_id, _slugs(ctx))


def _result(ctx: IngestContext) -> IngestResult:
    if not ctx.communities:
        actions = tuple(a.action for a in ctx.actions if a.action is not None)
        return IngestResult(Disposition.ACTION, ctx.message_id, reasons=actions)
    flags = tuple(ctx.parsed.flags) if ctx.parsed is not None else ()
    # Published if published in any community (a cross-post may wait in others: reasons).
    disposition = Disposition.PUBLISHED if ctx.published_in else Disposition.HELD
    return IngestResult(disposition, ctx.message_id, _slugs(ctx), tuple(ctx.reasons), flags)


def _slugs(ctx: IngestContext) -> tuple[str, ...]:
    return tuple(community.slug for community in ctx.communities)
