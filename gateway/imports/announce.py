"""`--announce`: one post to the community saying what an import brought in, so that
members learn their community's history is there (it is delivered like any post)."""

from __future__ import annotations

import email.message
import email.policy
import email.utils

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
    template = app.templates.get_template(f"mail/import_announce.{settings.gateway.language}.txt")
    context = template.new_context(values)
    message = email.message.EmailMessage(policy=email.policy.SMTP)
    message["From"] = f"help@{domain}"
    message["To"] = f"{slug}@{domain}"
    message["Subject"] = " ".join("".join(template.blocks["subject"](context)).split())
    message["Date"] = email.utils.format_datetime(now)
    message["Message-ID"] = email.utils.make_msgid("import", domain=domain)
    message.set_content("".join(template.blocks["body"](context)).lstrip("\n"), charset="utf-8")
    mail = InboundMail(message.as_bytes(), f"help@{domain}", (f"{slug}@{domain}",), now)
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
