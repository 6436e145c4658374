"""Stage route: which communities a mail is posted to, and which action addresses it names.

Several community addresses in one envelope make one cross-posted message. A
delivery report sent to a community address is routed as a bounce, not a post.
"""

from __future__ import annotations

from gateway.ingest.communities import communities_for
from gateway.ingest.context import IngestContext
from gateway.mail.recipients import Kind
from gateway.mail.recipients import Recipient
from gateway.mail.recipients import parse_recipient
from gateway.store.models import ActionKind


def run(ctx: IngestContext) -> None:
    recipients = [parse_recipient(address, ctx.domain) for address in ctx.mail.recipients]
    slugs = sorted({r.slug for r in recipients if r.kind is Kind.POST})
    if ctx.is_report:
        ctx.actions = [_as_bounce(r) for r in recipients if r.kind in (Kind.POST, Kind.ACTION)]
        return
    ctx.actions = [r for r in recipients if r.kind is Kind.ACTION]
    if not slugs:
        return
    ctx.communities = [c for c in communities_for(ctx, slugs) if c is not None]


def _as_bounce(recipient: Recipient) -> Recipient:
    if recipient.action is ActionKind.BOUNCES:
        return recipient
    bounces = ActionKind.BOUNCES
    return Recipient(recipient.address, Kind.ACTION, slug=recipient.slug, action=bounces)
