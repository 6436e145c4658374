"""Images, files and plain text on a built site, read in a real Chromium: mail sent over
SMTP to a running gateway, the site built by `gateway archive build` (in English, then
in French from the same store), served on loopback.

A photo shows as a thumbnail the site itself serves (drawn: naturalWidth > 0), linked
to the full image; a PDF is named "PDF · 41.0 KB"; a paragraph hard-wrapped by its
sender's client, and one sent as format=flowed, each read as one block of text; code
keeps its lines in a monospace font.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
from PIL import Image
from sqlalchemy import select

from gateway.app import build_app
from gateway.settings import settings_from_dict
from gateway.store.models import Message
from tests import mail_samples
from tests.browser import DOMAIN
from tests.browser import Watched
from tests.browser import gateway_folder
from tests.browser import send_all
from tests.browser import serving
from tests.factories import post

expect: Any
try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture skips the browser tests with the reason
    expect = None

PHOTO = mail_samples.picture(1600, 1200)
PDF = b"%PDF-1.4\n" + random.Random(19).randbytes(41 * 1024 - 9)  # 41.0 KB
# Gmail's hard wrap at 70 columns (the shape of fedora-devel-list 2010-01 #29).
WRAPPED = (
    "Sometime in the past few weeks I've ended up as the package owner for\n"
    "emacs, without actually requesting it. I've previously been a\n"
    "co-maintainer, but haven't requested package ownership at any point, so\n"
    "I'm wondering what turn of events brought this about.\n"
    "\n"
    "Cheers,\n"
    "Jonathan.\n"
)
WRAPPED_PARAGRAPH = (
    "Sometime in the past few weeks I've ended up as the package owner for emacs, "
    "without actually requesting it. I've previously been a co-maintainer, but haven't "
    "requested package ownership at any point, so I'm wondering what turn of events "
    "brought this about."
)
# Apple Mail's format=flowed; delsp=yes: each soft break is a space the reader removes.
FLOWED = (
    "I can try at another bisect, but might take some time.. let me know if  \n"
    "there is something I can test with the adapter plugged in, or do wi \n"
    "thout it.\n"
)
FLOWED_PARAGRAPH = (
    "I can try at another bisect, but might take some time.. let me know if there is "
    "something I can test with the adapter plugged in, or do without it."
)


CODE = (
    "Start it with this, and the site is rebuilt after each post that the gateway\n"
    "publishes:\n"
    "\n"
    "    gateway serve --config gateway.toml\n"
    "    gateway archive build --full\n"
    "\n"
    "```\n"
    "[archive]\n"
    'base_url = "https://lists.example.com/archive/"\n'
    "```\n"
)


@dataclass
class Site:
    folder: Path
    origin: str
    threads: dict[str, str]  # Message-ID -> thread page path

    def url(self, path: str) -> str:
        return f"{self.origin}/{path}"


def files_mail() -> EmailMessage:
    message = post(
        "Site visit", "The photo and the report.\n",
        message_id="files@example.com", sender="Alice <alice@example.com>",
    )  # fmt: skip
    message.add_attachment(PHOTO, maintype="image", subtype="jpeg", filename="site visit.jpg")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    return message


def flowed_mail() -> EmailMessage:
    message = post(
        "Bisect", FLOWED, message_id="flowed@example.com", sender="Bob <bob@example.com>"
    )
    message.set_param("format", "flowed")
    message.set_param("delsp", "yes")
    return message


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Path]:
    """The gateway's folder, after the mail went in over SMTP and two builds: site/
    in English and site-fr/ in French, from the same store."""
    folder = gateway_folder(tmp_path_factory, sqlite_template, "archive-files", ("en", "fr"))
    root, cli = folder.root, folder.cli
    cli("community", "create", "design", "--name", "Design Studio")
    cli("member", "add", "design", "alice@example.com", "bob@example.com")
    mails = [
        files_mail(),
        post("Package owner", WRAPPED, message_id="wrapped@example.com", sender="bob@example.com"),
        flowed_mail(),
        post("Start-up", CODE, message_id="code@example.com", sender="alice@example.com"),
    ]
    send_all(folder.settings, mails)
    cli.json("archive", "build", "--out", str(root / "site"), "--no-search")
    folder.clis["fr"].json("archive", "build", "--out", str(root / "site-fr"), "--no-search")
    yield root


def thread_paths(root: Path) -> dict[str, str]:
    config = {"data_dir": "data", "database_url": f"sqlite:///{root / 'data' / 'gateway.sqlite3'}"}
    app = build_app(settings_from_dict({"gateway": {**config, "domain": DOMAIN}}, base_dir=root))
    try:
        with app.read_sessions() as session:
            rows = session.execute(select(Message.message_id, Message.thread_id)).all()
    finally:
        app.close()
    return {message_id: f"t/{thread_id}/" for message_id, thread_id in rows}


@pytest.fixture(scope="module")
def site(built: Path) -> Iterator[Site]:
    with serving(built / "site") as server:
        yield Site(built / "site", server.origin, thread_paths(built))


@pytest.fixture(scope="module")
def origin(site: Site) -> str:
    return site.origin


def test_a_photo_shows_as_a_thumbnail_served_by_the_site_and_linked_to_the_photo(
    site: Site, browse: Watched
) -> None:
    page = browse.page
    page.goto(site.url(site.threads["files@example.com"]))
    thumbnail = page.locator("ul.attachments a.thumbnail img")
    expect(thumbnail).to_have_count(1)
    expect(thumbnail).to_have_attribute("alt", "site visit.jpg")
    drawn = thumbnail.evaluate(
        "img => img.decode().then(() => [img.naturalWidth, img.naturalHeight, img.currentSrc])"
    )
    width, height, source = drawn
    assert (width, height) == (400, 300), drawn  # decoded at a quarter: sharp on a phone
    assert urlsplit(source).netloc == urlsplit(site.origin).netloc  # from the site itself
    assert source.endswith(".thumb.jpg")
    assert thumbnail.get_attribute("width") == "320"
    assert thumbnail.get_attribute("height") == "240"
    # The thumbnail's file is small, beside the attachment; the link opens the full photo.
    assert len(page.request.get(source).body()) < len(PHOTO) // 4
    href = page.locator("ul.attachments a.thumbnail").get_attribute("href") or ""
    full = page.request.get(urljoin(page.url, href))
    assert full.ok and full.body() == PHOTO
    with Image.open(io.BytesIO(full.body())) as photo:
        assert photo.size == (1600, 1200)


def test_a_pdf_is_named_by_its_type_and_size_in_english_and_french(
    site: Site, built: Path, browse: Watched
) -> None:
    page = browse.page
    path = site.threads["files@example.com"]
    page.goto(site.url(path))
    item = page.locator("ul.attachments li", has_text="report.pdf")
    expect(item.locator(".meta")).to_have_text("PDF · 41.0 KB")
    expect(
        page.locator("ul.attachments li", has_text="site visit.jpg").locator(".meta")
    ).to_contain_text("JPEG image · ")
    assert "application/pdf" not in page.content()
    french = (built / "site-fr" / path / "index.html").read_text(encoding="utf-8")
    assert "Document PDF · 41,0\u00a0Ko" in french and "Image JPEG · " in french


# The line boxes a paragraph is drawn on (one per distinct top edge of its text).
LINE_BOXES = """p => {
    const range = document.createRange();
    range.selectNodeContents(p);
    return new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size;
}"""


def test_hard_wrapped_and_flowed_paragraphs_read_as_one_block(site: Site, browse: Watched) -> None:
    page = browse.page
    for message_id, text, sender_lines in (
        ("wrapped@example.com", WRAPPED_PARAGRAPH, 4),
        ("flowed@example.com", FLOWED_PARAGRAPH, 3),
    ):
        page.goto(site.url(site.threads[message_id]))
        paragraph = page.locator("section.message .body div.text p").first
        expect(paragraph).to_have_text(text)
        # One block: no line break of the sender's left, the browser wraps it to the
        # column (1280 px wide: fewer lines than the sender's client made).
        assert paragraph.locator("br").count() == 0, paragraph.inner_html()
        drawn = paragraph.evaluate(LINE_BOXES)
        assert drawn < sender_lines, f"{message_id}: drawn on {drawn} lines"
    page.goto(site.url(site.threads["wrapped@example.com"]))
    signed = page.locator("section.message .body div.text p").nth(1)
    expect(signed).to_have_text("Cheers,\nJonathan.")
    assert signed.locator("br").count() == 1  # a short line keeps its break


def test_code_keeps_its_lines_in_a_monospace_font(site: Site, browse: Watched) -> None:
    page = browse.page
    page.goto(site.url(site.threads["code@example.com"]))
    code = page.locator("section.message .body pre.code")
    expect(code).to_have_count(2)
    assert code.first.inner_text() == (
        "    gateway serve --config gateway.toml\n    gateway archive build --full"
    )
    assert "[archive]\nbase_url" in code.nth(1).inner_text()
    fonts = code.first.evaluate("pre => getComputedStyle(pre).fontFamily")
    prose = page.locator("section.message .body div.text p").first
    assert "monospace" in fonts and "monospace" not in prose.evaluate(
        "p => getComputedStyle(p).fontFamily"
    )
    expect(prose).to_have_text(
        "Start it with this, and the site is rebuilt after each post that the gateway publishes:"
    )
