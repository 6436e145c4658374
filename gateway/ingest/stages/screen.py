"""Stage screen: drop our own mail coming back, mail From one of our own addresses, and
mail that says it is automatic; spot delivery reports.

A post is discarded as automatic only when it says so (RFC 3834 Auto-Submitted,
Precedence auto_reply, a responder's header, a [gateway] automatic_headers marker, our
loop header or List-Id): Precedence: list or another list's List-Id is a post,
published or held by the authorize stage. Nobody writes from the gateway's domain
(every address there is the gateway's): such a From is our own mail or a forgery, and
is never published. Reports (DSNs) are not
posts: the record_actions stage records them for bounce handling, and so is any other
mail with a null envelope sender (RFC 5321 section 4.5.5: only notifications use it),
so that no report is ever published. Imported archives are list mail by nature: only
their delivery reports are left out.
"""

from __future__ import annotations

from gateway.ingest.context import IngestContext
from gateway.ingest.errors import Discard
from gateway.ingest.errors import DiscardReason
from gateway.mail.bounce_scan import scan_bounce
from gateway.mail.headers import is_auto_reply
from gateway.mail.headers import is_delivery_report
from gateway.mail.headers import is_from_mailer
from gateway.mail.headers import is_loop
from gateway.mail.recipients import Kind
from gateway.mail.recipients import parse_recipient
from gateway.store.models import Origin


def run(ctx: IngestContext) -> None:
    assert ctx.parsed is not None
    headers = ctx.parsed.header_values
    if ctx.mail.origin is Origin.IMPORT:
        if is_delivery_report(headers, ctx.mail.mail_from):
            raise Discard(DiscardReason.REPORT_IN_ARCHIVE)
        return
    if is_loop(headers, ctx.domain):
        raise Discard(DiscardReason.LOOP)
    if is_delivery_report(headers, ctx.mail.mail_from) or _mailer_reports_failures(ctx):
        ctx.is_report = True
        return
    if _from_our_address(ctx) and not ctx.mail.own:
        raise Discard(DiscardReason.OWN_ADDRESS)
    if is_auto_reply(headers, ctx.automatic_headers):
        raise Discard(DiscardReason.AUTO_REPLY)
    if _null_sender(ctx):
        ctx.is_report = True


def _from_our_address(ctx: IngestContext) -> bool:
    """From an address of the gateway's domain: a community's, help@, bounces+...@."""
    assert ctx.parsed is not None
    address = ctx.parsed.from_address
    return bool(address) and parse_recipient(address, ctx.domain).kind is not Kind.FOREIGN


def _mailer_reports_failures(ctx: IngestContext) -> bool:
    """A bounce in no standard form, from a mailer, that flufl.bounce can read."""
    assert ctx.parsed is not None
    return is_from_mailer(ctx.parsed.header_values, ctx.mail.mail_from) and bool(
        scan_bounce(ctx.mail.raw)
    )


def _null_sender(ctx: IngestContext) -> bool:
    return ctx.mail.mail_from.strip("<> ") == ""
