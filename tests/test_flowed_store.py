"""format=flowed through the store (gateway.mail.parse, the ingest, archive.snapshot,
archive.bodies), on SQLite and PostgreSQL: a flowed post is stored decoded with the
flag that says so, and a post stored before that change (the body as sent, flagged
format=flowed) still reads as its paragraphs."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.bodies import FoldLabels
from archive.bodies import body_html
from archive.snapshot import read_bodies
from gateway.app import App
from gateway.community.communities import create_community
from gateway.mail.flowed import DELSP
from gateway.mail.flowed import FLOWED
from gateway.mail.flowed import FLOWED_DECODED
from gateway.store.db import transaction
from gateway.store.models import Message
from gateway.store.models import Policy
from tests.factories import ingest
from tests.factories import post
from tests.factories import stored_post

LABELS = FoldLabels("Quoted text", "Signature")
# As sent with delsp=yes: each soft break is a space that belongs to no word.
AS_SENT = (
    "The build of Thursday failed on the two arm machines; I can try another bis \n"
    "ect, but it will take some time.\n"
    "\n"
    " >not a quote, stuffed\n"
)
PARAGRAPH = (
    "The build of Thursday failed on the two arm machines; I can try another bisect, "
    "but it will take some time."
)


def file_url(sha256: str, filename: str) -> str:
    return f"/files/{sha256}/{filename}"


def shown(session: Session, message_id: str) -> str:
    row = session.scalars(select(Message).where(Message.message_id == message_id)).one()
    return str(body_html(read_bodies(session, [row.id])[row.id], file_url, LABELS))


def test_a_flowed_post_is_stored_decoded_and_reads_as_its_paragraphs(app: App) -> None:
    with transaction(app.sessions) as session:
        create_community(session, "design", "Design", policy=Policy.OPEN)
    mail: EmailMessage = post("Bisect", AS_SENT, message_id="flowed@example.com")
    mail.set_param("format", "flowed")
    mail.set_param("delsp", "yes")
    ingest(app, mail)
    with transaction(app.sessions) as session:
        row = session.scalars(select(Message).where(Message.message_id == "flowed@example.com"))
        stored = row.one()
        assert stored.body_text == f"{PARAGRAPH}\n\n>not a quote, stuffed\n"
        assert FLOWED_DECODED in stored.flags and FLOWED not in stored.flags
        html = shown(session, "flowed@example.com")
    assert f"<p>{PARAGRAPH}</p>" in html
    assert "&gt;not a quote, stuffed" in html


def test_a_flowed_post_stored_before_decoding_at_parse_still_reads_the_same(
    session: Session,
) -> None:
    design = create_community(session, "design", "Design")
    stored_post(session, "old@example.com", design, body_text=AS_SENT, flags=[FLOWED, DELSP])
    html = shown(session, "old@example.com")
    assert f"<p>{PARAGRAPH}</p>" in html
    assert "&gt;not a quote, stuffed" in html
