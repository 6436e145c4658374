"""Stage screen: drop our own mail coming back and automatic replies; spot delivery reports.

Reports (DSNs) are not posts: the record_actions stage records them for bounce handling.
Imported archives are list mail by nature (List-Id, Precedence: list): only
their delivery reports are left out.
"""

from __future__ import annotations

from gateway.ingest.context import IngestContext
from gateway.ingest.errors import Discard
from gateway.ingest.errors import DiscardReason
from gateway.mail.headers import is_auto_reply
from gateway.mail.headers import is_delivery_report
from gateway.mail.headers import is_loop
from gateway.store.models import Origin


def run(ctx: IngestContext) -> None:
    assert ctx.parsed is not None
    headers = ctx.parsed.headers
    if ctx.mail.origin is Origin.IMPORT:
        if is_delivery_report(headers, ctx.mail.mail_from):
            raise Discard(DiscardReason.REPORT_IN_ARCHIVE)
        return
    if is_loop(headers, ctx.domain):
        raise Discard(DiscardReason.LOOP)
    if is_delivery_report(headers, ctx.mail.mail_from):
        ctx.is_report = True
        return
    if is_auto_reply(headers):
        raise Discard(DiscardReason.AUTO_REPLY)
