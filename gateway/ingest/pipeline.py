"""The ingest pipeline: an ordered tuple of stages, and the runner that applies them.

Each stage is a module in gateway/ingest/stages with run(ctx) -> None. Stages
that decide (screen, authorize) record verdicts in ctx or raise a disposition
(Discard, Duplicate); only this runner catches those. Anything else raised is a
bug: the worker answers 451 and the sender's MTA tries again.
"""

from __future__ import annotations

from gateway.ingest.context import IngestContext
from gateway.ingest.context import IngestResult
from gateway.ingest.errors import Discard
from gateway.ingest.errors import Duplicate
from gateway.ingest.stages import authorize
from gateway.ingest.stages import enqueue
from gateway.ingest.stages import parse
from gateway.ingest.stages import route
from gateway.ingest.stages import screen
from gateway.ingest.stages import store
from gateway.ingest.stages import thread

STAGES = (parse, screen, route, authorize, thread, store, enqueue)


def run_pipeline(ctx: IngestContext) -> IngestResult:
    try:
        for stage in STAGES:
            stage.run(ctx)
    except Discard as discard:
        return IngestResult("discarded", ctx.message_id, reasons=(discard.reason.key,))
    except Duplicate:
        return IngestResult("duplicate", ctx.message_id, _slugs(ctx))
    if not ctx.communities:
        return IngestResult("action", ctx.message_id, reasons=tuple(a.action for a in ctx.actions))
    flags = tuple(ctx.parsed.flags) if ctx.parsed is not None else ()
    return IngestResult(
        ctx.status.value, ctx.message_id, _slugs(ctx), tuple(r.key for r in ctx.reasons), flags
    )


def _slugs(ctx: IngestContext) -> tuple[str, ...]:
    return tuple(community.slug for community in ctx.communities)
