"""`--announce`: one post to the community saying what an import brought in, so that
members learn their community's history is there (it is delivered like any post)."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy import select

from gateway import links
from gateway.app import App
from gateway.community.communities import get_community
from gateway.community.publishing import publish_held
from gateway.imports.importer import FileReport
from gateway.imports.importer import totals
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import Disposition
from gateway.ingest.context import InboundMail
from gateway.outbound.composer import Composer
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import Origin
from gateway.store.models import Visibility
from gateway.store.models import as_utc
from gateway.store.models import utcnow


def announce_import(app: App, slug: str, reports: list[FileReport]) -> str:
    """Post the summary to the community (published even where posts are moderated);
    return its Message-ID."""
    settings = app.settings
    domain = settings.gateway.domain
    now = utcnow()
    with transaction(app.read_sessions) as session:
        community = get_community(session, slug)
        first, last = session.execute(
            select(func.min(Message.received_at), func.max(Message.received_at))
            .join(MessageCommunity, MessageCommunity.message_id == Message.id)
            .where(MessageCommunity.community_id == community.id, Message.origin == Origin.IMPORT)
        ).one()
        public = community.visibility is Visibility.PUBLIC
        values = {
            "community": {"name": community.name, "address": f"{slug}@{domain}"},
            "imported": totals(reports).imported,
            "reports": reports,
            "first": as_utc(first) if first else None,
            "last": as_utc(last) if last else None,
            "archive_url": links.community_url(settings.archive.base_url, slug) if public else "",
        }
    # A post like any (not marked automatic): ingest would refuse our own loop header.
    raw = Composer(app.templates, settings).compose(
        "import_announce", f"{slug}@{domain}", values, now, automatic=False
    )
    mail = InboundMail(raw, f"help@{domain}", (f"{slug}@{domain}",), now, own=True)
    [outcome] = ingest_now(app, [mail])
    if isinstance(outcome, Exception):
        raise outcome
    if outcome.disposition is Disposition.HELD:
        with transaction(app.sessions) as session:
            held = session.scalars(
                select(Message).where(Message.message_id == outcome.message_id)
            ).one()
            publish_held(session, held, now)
    return outcome.message_id
