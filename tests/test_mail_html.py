"""Every kind of mail's HTML, looked at in a real Chromium (tests/browser.py), in English
and French, with long names, long French words and long URLs (tests/mail_samples.py,
long_sample): nothing is wider than the window at 800 px (a desktop client's reading
pane) nor at 390 px (a phone), and the HTML says what the text says (each of the text's
links, mailto URIs and addresses is a link of the HTML).
"""

from __future__ import annotations

import base64
import dataclasses
import email
import email.message
import email.policy
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from gateway.app import make_template_environment
from gateway.blobs import BlobStore
from gateway.outbound.composer import Composer
from gateway.settings import Settings
from tests import mail_samples
from tests.browser import launched_chromium

WIDTHS = (800, 390)
LANGUAGES = ("en", "fr")
# The digest as DigestWriter writes it (mail_samples.digest), not from a kind's values.
MAILS = (*mail_samples.KINDS, "notification")
_LINK = re.compile(
    r"(?:https?://|mailto:)[^\s<>\"]+|[A-Za-z0-9._%+=-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
)
# What is wider than the window, if anything: the page itself, or any element.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  const scrolled = document.documentElement.scrollWidth;
  if (scrolled > width) wide.push('document ' + scrolled);
  for (const element of document.body.querySelectorAll('*')) {
    const box = element.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5)
      wide.push(`${element.tagName} ${Math.round(box.right)}: ${element.textContent.slice(0, 60)}`);
  }
  return wide;
}"""


@dataclasses.dataclass(frozen=True)
class Rendered:
    text: str
    html: str
    images: dict[str, tuple[str, bytes]]  # content id -> (type, bytes)


def settings_for(language: str, data_dir: Path) -> Settings:
    settings = Settings()
    return dataclasses.replace(
        settings,
        gateway=dataclasses.replace(settings.gateway, language=language, data_dir=data_dir),
        archive=dataclasses.replace(settings.archive, base_url=mail_samples.BASE_URL),
    )


def render(name: str, language: str, data_dir: Path) -> Rendered:
    """One mail of the samples, as its text and HTML parts (and its inline images)."""
    settings = settings_for(language, data_dir)
    templates = make_template_environment()
    if name == "digest":
        writer, digest, names = mail_samples.digest(settings, templates, BlobStore(data_dir))
        _, raw = writer.mail(digest, names, mail_samples.NOW)
    elif name == "notification":
        raw = mail_samples.notification(settings, templates)
    else:
        raw = Composer(templates, settings).compose(
            name, "bob@example.com", mail_samples.long_sample(name), mail_samples.NOW
        )
    return parts_of(raw)


def parts_of(raw: bytes) -> Rendered:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None, "a text and an HTML part"
    images = {
        str(part["Content-ID"]).strip("<>"): (part.get_content_type(), part.get_content())
        for part in message.walk()
        if part.get_content_maintype() == "image"
    }
    return Rendered(text.get_content(), html.get_content(), images)


def with_inline_images(rendered: Rendered) -> str:
    """The HTML with its cid: images as data: URIs, as a mail client shows them."""
    html = rendered.html
    for cid, (mime_type, data) in rendered.images.items():
        encoded = base64.b64encode(data).decode("ascii")
        html = html.replace(f"cid:{cid}", f"data:{mime_type};base64,{encoded}")
    return html


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs.extend(value for name, value in attrs if name == "href" and value)


def hrefs(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.hrefs


def text_links(text: str) -> set[str]:
    """The text's URLs and mailto URIs, and its addresses as mailto URIs."""
    found = set()
    for match in _LINK.finditer(text):
        link = match.group().rstrip(".,;:!?)»")
        found.add(link if ":" in link.split("@", 1)[0] else f"mailto:{link}")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as chromium:
        yield chromium


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", MAILS)
def test_the_html_fits_a_desktop_and_a_phone(
    browser: Any, name: str, language: str, tmp_path: Path
) -> None:
    rendered = render(name, language, tmp_path)
    assert f'lang="{language}"' in rendered.html or name == "notification"
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 900})
        try:
            page.set_content(with_inline_images(rendered))
            assert page.evaluate(OVERFLOW) == [], f"{name} ({language}) at {width} px"
            assert page.evaluate("document.body.innerText.length") > 100
        finally:
            page.close()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", MAILS)
def test_the_html_has_every_link_of_the_text(name: str, language: str, tmp_path: Path) -> None:
    rendered = render(name, language, tmp_path)
    links = set(hrefs(rendered.html))
    missing = {link for link in text_links(rendered.text) if link not in links}
    assert missing == set()
    assert text_links(rendered.text)  # every sample has links: the check checks something


def test_the_checks_see_an_overflow_and_a_missing_link(browser: Any) -> None:
    """The two checks above fail on a mail that is too wide or lacks a link."""
    page = browser.new_page(viewport={"width": 390, "height": 900})
    try:
        page.set_content('<html><body><div style="width:600px">wide</div></body></html>')
        assert page.evaluate(OVERFLOW) != []
    finally:
        page.close()
    assert text_links("write to a@example.com or https://x.example.com/a.") == {
        "mailto:a@example.com",
        "https://x.example.com/a",
    }
    assert hrefs('<a href="mailto:a@example.com">a</a>') == ["mailto:a@example.com"]


# Templates that are pieces of other mails, not mails of their own.
PIECES = {"action_macros", "digest_thread", "document_post", "footer", "large_attachment", "sender"}


def test_every_kind_of_mail_is_checked() -> None:
    """A new kind of mail cannot escape the width and wording checks: each template in
    templates/mail/ is a mail these tests render (or a piece of one)."""
    root = Path(__file__).parent.parent / "templates" / "mail"
    kinds = {path.name.split(".")[0] for path in root.glob("*.en.txt")} - PIECES
    assert kinds - set(mail_samples.KINDS) == set()
