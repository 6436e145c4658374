"""Reply trimming end to end (issue 18, items 2 and 3): an Outlook reply (HTML and text,
French header block, a signature with a cid: logo and a disclaimer) and a French reply
starting "Le projet avance bien..." sent over SMTP to a real `gateway serve`; the
archive built by `gateway archive build` shows the new words with the rest folded in
<details> (checked in Chromium: hidden until the summary is clicked), and the digest
shows the new words as each message's excerpt."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.app import App
from gateway.digests.periods import latest_due
from gateway.settings import Settings
from gateway.store.models import Cadence
from gateway.store.models import Message
from gateway.store.models import utcnow
from tests.browser import launched_chromium
from tests.browser import serving
from tests.browser import watched_page
from tests.conftest import GatewayCli
from tests.conftest import running
from tests.factories import raw_post

DOMAIN = "lists.example.com"
REPLIES = Path(__file__).resolve().parent.parent / "fixtures" / "replies"
OUTLOOK = "outlook-desktop-fr-signature-logo-disclaimer"
FRENCH = "text-fr-le-sentence-above-quoted-attribution"
SCREENSHOT = "outlook-reply-folded.png"

expect: Any
try:
    from playwright.sync_api import expect
except ImportError:  # launched_chromium skips the browser test with the reason
    expect = None


def labelled(name: str, message_id: str, parent: str) -> bytes:
    """A labelled reply from the set, addressed to the design community by Hugo."""
    message = email.message_from_bytes(
        (REPLIES / f"{name}.eml").read_bytes(), policy=email.policy.SMTP
    )
    assert isinstance(message, EmailMessage)
    for header, value in (
        ("From", "Hugo Lefèvre <hugo@example.com>"),
        ("To", f"design@{DOMAIN}"),
        ("Message-ID", f"<{message_id}>"),
        ("In-Reply-To", f"<{parent}>"),
        ("References", f"<{parent}>"),
    ):
        del message[header]
        message[header] = value
    return message.as_bytes()


def thread_of(app: App, message_id: str) -> int:
    with app.read_sessions() as session:
        thread_id = session.scalar(
            select(Message.thread_id).where(Message.message_id == message_id)
        )
    assert thread_id is not None, f"<{message_id}> was not stored"
    return thread_id


def test_an_outlook_reply_is_folded_in_the_archive_and_the_digest(
    app: App,
    settings: Settings,
    gateway_cli: GatewayCli,
    tmp_path: Path,
) -> None:
    gateway_cli("community", "create", "design", "--name", "Design")
    gateway_cli("member", "add", "design", "alice@example.com", "hugo@example.com")
    gateway_cli("member", "add", "design", "bob@example.com", "--delivery", "daily")
    with running(settings) as server:
        root = raw_post(
            "Planning", "Où en est le planning du lot 3 ?\n", message_id="root@example.org"
        )
        assert server.send(root, [f"design@{DOMAIN}"]).startswith("250")
        outlook = labelled(OUTLOOK, "outlook@example.com", "root@example.org")
        sent = server.send(outlook, [f"design@{DOMAIN}"], sender="hugo@example.com")
        assert sent.startswith("250")
        french = labelled(FRENCH, "french@example.com", "root@example.org")
        sent = server.send(french, [f"design@{DOMAIN}"], sender="hugo@example.com")
        assert sent.startswith("250")
    thread_id = thread_of(app, "outlook@example.com")
    assert thread_of(app, "french@example.com") == thread_id

    # The digest: each reply's excerpt is its new words, not the header block, the
    # signature or the quoted attribution.
    next_due = latest_due(Cadence.DAILY, utcnow(), "", settings.digests).at + dt.timedelta(days=1)
    at = (next_due + dt.timedelta(minutes=30)).isoformat()
    digest = gateway_cli("digest", "run", "daily", "--at", at, "--to", "bob@example.com").stdout
    assert "Bonjour Alice, Le projet avance bien, je t'envoie la suite demain matin." in digest
    assert (
        "Le projet avance bien, la maquette est prête pour la revue de jeudi. "
        "Le devis suit demain." in digest
    )
    for folded in ("Envoyé", "Objet", "+33 1 23 45 67 89", "confidentiels", "a écrit", "cid:"):
        assert folded not in digest, folded

    # The archive, built by the real builder.
    site = tmp_path / "site"
    gateway_cli("archive", "build", "--out", str(site))
    page = (site / "t" / str(thread_id) / "index.html").read_text(encoding="utf-8")
    assert '<details class="quoted"><summary>Quoted text</summary>' in page
    assert '<details class="signature"><summary>Signature</summary>' in page
    signature = page[page.index('<details class="signature">') :]
    signature = signature[: signature.index("</details>")]
    assert "Chef de projet" in signature and "confidentiels" in signature
    assert "files/" in signature and "image001.png" in signature  # the cid: logo, archived

    with launched_chromium() as browser, serving(site) as server:
        with watched_page(browser, server.origin) as watched:
            tab = watched.page
            tab.set_viewport_size({"width": 900, "height": 1400})
            tab.goto(server.url(f"t/{thread_id}/"))
            outlook_section = tab.locator("section.message", has_text="je t'envoie la suite")
            expect(
                outlook_section.get_by_text("Le projet avance bien, je t'envoie")
            ).to_be_visible()
            header = outlook_section.get_by_text("Alice Martin <alice@example.org>").first
            history = outlook_section.get_by_text("Il nous faut une date pour la recette.")
            phone = outlook_section.get_by_text("+33 1 23 45 67 89")
            expect(history).to_be_hidden()
            expect(header).to_be_hidden()
            expect(phone).to_be_hidden()
            french_section = tab.locator("section.message", has_text="la maquette est prête")
            expect(french_section.get_by_text("Le devis suit demain.")).to_be_visible()
            tab.screenshot(path=str(tmp_path / SCREENSHOT), full_page=True)
            outlook_section.locator("details.quoted > summary").click()
            expect(history).to_be_visible()
            expect(header).to_be_visible()
            expect(phone).to_be_hidden()  # the signature is folded apart
            outlook_section.locator("details.signature > summary").click()
            expect(phone).to_be_visible()
            tab.screenshot(path=str(tmp_path / "outlook-reply-unfolded.png"), full_page=True)
            assert watched.foreign_requests() == [] and watched.blocked == []
