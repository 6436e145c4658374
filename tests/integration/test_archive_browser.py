"""The archive in a real browser: mail sent over SMTP to a running gateway, the site
built by `gateway archive build`, served on loopback and read in Chromium.

One site is built for the module (the gateway, the mail and the build take a few
seconds); each test opens its own browser context on it and only reads. The corpus
check builds a site of its own from an imported mbox.
"""

from __future__ import annotations

import base64
import hashlib
import mailbox
import random
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from email.headerregistry import Address
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urljoin
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from sqlalchemy import func
from sqlalchemy import select

from gateway.app import App
from gateway.app import build_app
from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from tests.browser import DOMAIN
from tests.browser import Watched
from tests.browser import gateway_folder
from tests.browser import send_all
from tests.browser import serving
from tests.browser import watched_page
from tests.conftest import GatewayCli
from tests.corpus import CORPUS
from tests.corpus import needs_corpus
from tests.factories import post

expect: Any
try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture skips the browser tests with the reason
    expect = None

# Words that occur in one message each, to find (or not find) it anywhere.
SEARCHED = "quokkaberry"
PRIVATE = "zanzibarquill"
HELD = "xylocarpous"
PRIVATE_NAME = "Secret Council"
PRIVATE_MEMBER = "Carol Quietude"  # a member of the private community only
# Where the hostile mail tries to send the browser: TEST-NET-3 (RFC 5737), never routed.
ELSEWHERE = "http://203.0.113.5"
HOSTILE_NAME = "<script>window.pwned=6</script>"
HOSTILE_SUBJECT = f"{HOSTILE_NAME} Hostile subject"
HOSTILE_HTML = f"""<html><head>
<meta http-equiv="refresh" content="0;url={ELSEWHERE}/refresh">
<link rel="stylesheet" href="{ELSEWHERE}/x.css">
<base href="{ELSEWHERE}/">
<style>body {{ background: url({ELSEWHERE}/style.png) }}</style>
</head><body>
<p>Harmless paragraph before the traps.</p>
<script>window.pwned=1</script>
<img src=x onerror="window.pwned=2">
<a id="trap-js" href="javascript:window.pwned=3">trap-js</a>
<a id="trap-js-entity" href="jav&#x09;ascript&colon;window.pwned=3">trap-js-entity</a>
<a id="trap-data" href="data:text/html,<script>window.pwned=3</script>">trap-data</a>
<svg><script>window.pwned=4</script></svg>
<div style="background:url(javascript:window.pwned=5)">styled div</div>
<div style="width:expression(alert(1))">expression div</div>
<iframe src="javascript:window.pwned=8"></iframe>
<iframe srcdoc="<script>parent.pwned=8</script>"></iframe>
<object data="{ELSEWHERE}/x.swf"></object>
<embed src="{ELSEWHERE}/x.swf">
<form action="{ELSEWHERE}/steal"><input name="q" value="secret"><button>trap-form</button></form>
<noscript><abbr title="</noscript><img src=x onerror=window.pwned=9>">n</abbr></noscript>
<math><mtext><table><mglyph><style><img src=x onerror=window.pwned=10></style></table>
</mtext></math>
<img src="{ELSEWHERE}/track.png" alt="tracker">
<img srcset="{ELSEWHERE}/set.png 1x" alt="srcset">
<p onclick="window.pwned=11">trap-click</p>
<p>Harmless paragraph after the traps.</p>
</body></html>"""
ATOM = "{http://www.w3.org/2005/Atom}"
EVIL_NAME = "../../evil.html"
EVIL_CONTENT = b"<html><script>window.pwned=7</script></html>"
# Outlook's Thread-Index of the private post, and of a reply to it (5 more bytes).
PRIVATE_INDEX = base64.b64encode(bytes(range(1, 23))).decode()
REPLY_INDEX = base64.b64encode(bytes(range(1, 28))).decode()


def png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG image (grey pixels), so that a browser can draw it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n" + random.Random(20240501).randbytes(50_000)
PNG = png()


# -- helpers -------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_site(cli: GatewayCli, out: Path, *options: str) -> dict[str, Any]:
    """`gateway archive build --out OUT`; returns its JSON report."""
    report: dict[str, Any] = cli.json("archive", "build", "--out", str(out), *options)
    return report


def status_of(app: App, message_id: str) -> MessageStatus:
    with app.read_sessions() as session:
        status = session.scalar(select(Message.status).where(Message.message_id == message_id))
    assert status is not None, f"the gateway did not store <{message_id}>"
    return status


def thread_path(app: App, message_id: str) -> str:
    """The site path of the thread page that shows this message."""
    with app.read_sessions() as session:
        thread_id = session.scalar(
            select(Message.thread_id).where(Message.message_id == message_id)
        )
    assert thread_id is not None, f"<{message_id}> has no thread"
    return f"t/{thread_id}/"


class Elements(HTMLParser):
    """Every start tag of a page, with its attributes, in document order."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def named(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def ids(self) -> set[str]:
        return {attrs["id"] for _, attrs in self.tags if "id" in attrs}


def pages_of(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def broken_links(site: Path) -> list[str]:
    """Links (href and src) from the site's pages to site files that do not exist,
    or to an anchor that the target page does not have."""
    ids: dict[Path, set[str]] = {}

    def ids_of(page: Path) -> set[str]:
        if page not in ids:
            ids[page] = Elements(page.read_text(encoding="utf-8")).ids()
        return ids[page]

    broken = []
    for page in pages_of(site):
        relative = page.relative_to(site).as_posix()
        for tag, attrs in Elements(page.read_text(encoding="utf-8")).tags:
            for name in ("href", "src"):
                link = attrs.get(name)
                if link is None or re.match(r"[a-z][a-z0-9+.-]*:", link, re.IGNORECASE):
                    continue  # http:, https:, mailto:, data: go elsewhere or nowhere
                parts = urlsplit(link)
                target = page.parent if not parts.path else page.parent / unquote(parts.path)
                target = target.resolve()
                if target.is_dir():
                    target = target / "index.html"
                where = f"{relative}: <{tag} {name}={link!r}>"
                if site.resolve() not in target.parents:
                    broken.append(f"{where} leaves the site")
                elif not target.is_file():
                    broken.append(f"{where}: no file {target.relative_to(site.resolve())}")
                elif parts.fragment and target.suffix == ".html":
                    if unquote(parts.fragment) not in ids_of(target):
                        broken.append(f"{where}: no id {unquote(parts.fragment)!r} there")
    return broken


# -- the site ------------------------------------------------------------------------


@dataclass
class World:
    """The module's site: built from mail sent to a real gateway, served on loopback."""

    root: Path  # the test's folder: config, data, and site/
    site: Path
    origin: str
    paths: dict[str, str] = field(default_factory=dict)  # Message-ID -> thread page

    def url(self, path: str = "") -> str:
        return f"{self.origin}/{path}"


def envelope_with_the_bcc(message: EmailMessage) -> list[str]:
    """To, and the private community for the Bcc'd cross-post."""
    bcc = [f"secret@{DOMAIN}"] if message["Message-ID"] == "<bcc@example.com>" else []
    return [str(message["To"]), *bcc]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[World]:
    folder = gateway_folder(tmp_path_factory, sqlite_template, "archive-browser")
    root, settings, cli = folder.root, folder.settings, folder.cli
    cli("community", "create", "design", "--name", "Design Studio")
    cli("community", "create", "secret", "--name", PRIVATE_NAME, "--private")
    cli("community", "create", "review", "--name", "Budget Review", "--policy", "moderated")
    cli("member", "add", "design", "alice@example.com", "bob@example.com", "mallory@example.com")
    cli("member", "add", "secret", "alice@example.com", "carol@example.com")
    cli("profile", "set", "carol@example.com", "--name", PRIVATE_MEMBER)
    cli("member", "add", "review", "alice@example.com")
    cli(
        "profile", "set", "alice@example.com", "--name", "Alice Liddell",
        "--expertise", "Typography, Colour science",
    )  # fmt: skip
    cli("profile", "set", "bob@example.com", "--write-to", "off")  # no "Write to" on his page

    alice = "Alice <alice@example.com>"
    bob = "Bob <bob@example.com>"
    posts = [
        post(
            "Palette for the annual report",
            f"Shall we use the {SEARCHED} palette for the annual report?\n",
            message_id="root@example.com", sender=alice,
        ),
        post(
            "Re: Palette for the annual report", "Yes, with a darker teal for the headings.\n",
            message_id="reply@example.com", sender=bob, parent="root@example.com",
        ),
        hostile_mail(),
        attachments_mail(alice),
        inline_image_mail(alice),
        photo_mail(alice),
        post(
            f"{PRIVATE.capitalize()} merger plans", f"The {PRIVATE} deal closes on Friday.\n",
            message_id="private@example.com", sender=alice, to="secret",
            Thread_Index=PRIVATE_INDEX,
        ),
        # Public replies to the private post, each linked to it another way: they show
        # neither its subject nor its text (the words PRIVATE and PRIVATE_NAME).
        post(
            "Lunch menu", "Soup on Monday.\n", message_id="by-in-reply-to@example.com",
            sender=bob, In_Reply_To="<private@example.com>",
        ),
        post(
            "Parking rota", "Bays 4 to 9.\n", message_id="by-references@example.com",
            sender=bob, References="<elsewhere@example.com> <private@example.com>",
        ),
        post(
            "Printer toner", "Ordered.\n", message_id="by-thread-index@example.com",
            sender=bob, Thread_Index=REPLY_INDEX,
        ),
        # A cross-post with the private community in the envelope only (a Bcc).
        post(
            "Office move", "We move on the 12th.\n", message_id="bcc@example.com",
            sender=alice,
        ),
        post(
            f"{HELD.capitalize()} budget leak",
            f"The {HELD} figures, before the board sees them.\n",
            message_id="held@example.com", sender=alice, to="review",
        ),
    ]  # fmt: skip
    send_all(settings, posts, envelope_with_the_bcc)

    app = build_app(settings)
    try:
        # What the tests below rely on: every post stored, published but the held one.
        ids = [str(message["Message-ID"]).strip("<>") for message in posts]
        for message_id in ids:
            held = message_id == "held@example.com"
            expected = MessageStatus.HELD if held else MessageStatus.PUBLISHED
            assert status_of(app, message_id) is expected, message_id
        public = [i for i in ids if i not in ("private@example.com", "held@example.com")]
        paths = {message_id: thread_path(app, message_id) for message_id in public}
    finally:
        app.close()
    report = build_site(cli, root / "site")
    assert report["search_index"], report
    with serving(root / "site") as server:
        yield World(root, root / "site", server.origin, paths)


def hostile_mail() -> EmailMessage:
    message = post(
        HOSTILE_SUBJECT,
        "The plain text part of the hostile mail.\n",
        message_id="hostile@example.com",
        sender=Address(display_name=HOSTILE_NAME, addr_spec="mallory@example.com"),
    )
    message.add_alternative(HOSTILE_HTML, subtype="html")
    message.add_attachment(EVIL_CONTENT, maintype="text", subtype="html", filename=EVIL_NAME)
    return message


def attachments_mail(sender: str) -> EmailMessage:
    message = post(
        "Brand assets", "The brief and the logo are attached.\n",
        message_id="files@example.com", sender=sender,
    )  # fmt: skip
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="brief.pdf")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="logo.png")
    return message


def inline_image_mail(sender: str) -> EmailMessage:
    """HTML with an image it shows from its own related part (cid:, RFC 2392)."""
    message = post(
        "Logo in the text", "The logo, inline.\n", message_id="cid@example.com", sender=sender
    )
    message.add_alternative(
        '<p>The logo, inline:</p><p><img src="cid:logo@example.com" alt="inline logo"></p>',
        subtype="html",
    )
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    html.add_related(
        PNG, maintype="image", subtype="png", cid="<logo@example.com>", filename="inline-logo.png"
    )
    return message


def photo_mail(sender: str) -> EmailMessage:
    """A plain text mail with an image marked inline but named by no cid: (Apple Mail
    and phones send photos so)."""
    message = post(
        "Photo of the workshop", "Here is the whiteboard.\n",
        message_id="photo@example.com", sender=sender,
    )  # fmt: skip
    message.add_attachment(
        PNG, maintype="image", subtype="png", filename="whiteboard.png", disposition="inline"
    )
    return message


@pytest.fixture(scope="module")
def origin(world: World) -> str:
    return world.origin


# -- tests ---------------------------------------------------------------------------


def test_a_reader_follows_links_from_the_home_page_to_a_thread_and_its_author(
    world: World, browse: Watched
) -> None:
    page = browse.page
    page.goto(world.url())
    page.locator("a.community", has_text="Design Studio").click()
    expect(page).to_have_url(world.url("c/design/"))
    page.locator("a.thread", has_text="Palette for the annual report").click()
    expect(page).to_have_url(world.url(world.paths["root@example.com"]))

    first = page.locator("section.message", has_text=f"the {SEARCHED} palette")
    reply = page.locator("section.message", has_text="darker teal")
    expect(first).to_have_class(re.compile(r"\bdepth-0\b"))
    expect(reply).to_have_class(re.compile(r"\bdepth-1\b"))
    # The reply comes after its parent and links back to it.
    first_id = first.get_attribute("id")
    order = page.locator("section.message").evaluate_all("all => all.map(s => s.id)")
    assert order.index(first_id) < order.index(reply.get_attribute("id")), order
    expect(reply.locator("a.parent")).to_have_attribute("href", f"#{first_id}")

    first.locator("a.author").click()
    expect(page.locator("h1")).to_have_text("Alice Liddell")
    expect(page.locator("dl.profile")).to_contain_text("Typography")
    expect(page.locator("ul.posts")).to_contain_text("Palette for the annual report")

    # Each expertise tag leads to its entry in the people directory, which lists her.
    for label in ("Typography", "Colour science"):
        page.locator("a.tag", has_text=label).click()
        expect(page).to_have_url(re.compile(r"/people/#"))
        target = page.locator("dt:target")
        expect(target).to_have_text(label)
        expect(page.locator("dt:target + dd")).to_contain_text("Alice Liddell")
        page.go_back()
    page.get_by_role("link", name="People", exact=True).first.click()
    expect(page.locator("ul.people")).to_contain_text("Alice Liddell")


def mailto_fields(href: str | None) -> tuple[str, dict[str, str]]:
    """A mailto: link read back as a mail client does: its address and fields."""
    assert href is not None and href.startswith("mailto:"), href
    parts = urlsplit(href)
    return unquote(parts.path), {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_write_to_is_on_a_person_page_unless_they_opted_out(world: World, browse: Watched) -> None:
    page = browse.page
    page.goto(world.url(world.paths["reply@example.com"]))
    page.locator("section.message", has_text="palette for the annual").locator("a.author").click()
    write_to = page.locator("a.write-to")
    expect(write_to).to_have_text("Write to Alice Liddell")
    assert mailto_fields(write_to.get_attribute("href")) == ("alice@example.com", {})
    page.go_back()
    page.locator("section.message", has_text="darker teal").locator("a.author").click()
    expect(page.locator("h1")).to_have_text("bob")  # a profile without a name
    expect(page.locator("a.write-to")).to_have_count(0)
    assert "mailto:bob@" not in page.content()


def test_a_community_page_offers_join_and_post(world: World, browse: Watched) -> None:
    page = browse.page
    page.goto(world.url("c/design/"))
    join = page.get_by_role("link", name="Join", exact=True)
    assert mailto_fields(join.get_attribute("href")) == (
        f"design-join@{DOMAIN}",
        {"subject": "join"},
    )
    post_link = page.get_by_role("link", name="Post", exact=True)
    assert mailto_fields(post_link.get_attribute("href")) == (f"design@{DOMAIN}", {})
    page.goto(world.url("c/review/"))
    expect(page.locator("ul.how")).to_contain_text("a moderator reads each post first")


def test_search_finds_a_post_by_a_word_of_its_body(world: World, browse: Watched) -> None:
    page = browse.page
    page.goto(world.url(f"search/?q={SEARCHED}"))
    results = page.locator(".pagefind-ui__result")
    expect(results).to_have_count(1)
    expect(results).to_contain_text("Palette for the annual report")
    expect(page.locator(".pagefind-ui__filter-panel")).to_contain_text("Design Studio")
    results.locator("a.pagefind-ui__result-link").click()
    expect(page).to_have_url(world.url(world.paths["root@example.com"]))
    expect(page.locator("article.thread")).to_contain_text(SEARCHED)


def test_the_search_box_of_any_page_opens_the_search_page(world: World, browse: Watched) -> None:
    page = browse.page
    page.goto(world.url(world.paths["reply@example.com"]))
    page.locator("form.search input[name=q]").fill(SEARCHED)
    page.locator("form.search button").click()
    expect(page).to_have_url(world.url(f"search/?q={SEARCHED}"))
    expect(page.locator(".pagefind-ui__result")).to_have_count(1)


def test_hostile_html_runs_nothing_and_loads_nothing_from_elsewhere(
    world: World, browse: Watched
) -> None:
    page = browse.page
    page.goto(world.url(world.paths["hostile@example.com"]))
    body = page.locator("section.message .body")
    expect(body).to_contain_text("Harmless paragraph before the traps.")
    expect(body).to_contain_text("Harmless paragraph after the traps.")
    assert page.evaluate("typeof window.pwned") == "undefined", "a script of the mail ran"

    # The subject and the sender's name are shown as text.
    expect(page.locator("h1")).to_have_text(HOSTILE_SUBJECT)
    assert page.title().startswith(HOSTILE_SUBJECT)
    expect(page.locator("section.message .author")).to_have_text(HOSTILE_NAME)

    # Clicking what is left of the traps runs nothing either, and stays on the page.
    expect(body.get_by_text("trap-js", exact=True)).to_have_count(1)
    for name in ("trap-js", "trap-js-entity", "trap-data", "trap-click"):
        for trap in body.get_by_text(name, exact=True).all():
            trap.click()
    expect(page).to_have_url(world.url(world.paths["hostile@example.com"]))
    assert page.evaluate("typeof window.pwned") == "undefined", "a clicked trap ran"
    assert browse.dialogs == [], "a script of the mail opened a dialog"
    # The page's own policy stops what the mail asks for elsewhere, inside the browser.
    assert browse.blocked == [], "requests got past the page's policy towards another host"
    assert browse.foreign_requests() == [], "requests for another host"


def test_the_page_of_the_hostile_mail_holds_nothing_active(world: World) -> None:
    """The page as written: no script, handler, style, embedded document, or link that
    runs code; the only form is the site's search box, and no meta refresh."""
    html = (world.site / world.paths["hostile@example.com"] / "index.html").read_text("utf-8")
    assert "<script" not in html.lower()
    elements = Elements(html)
    found = {tag for tag, _ in elements.tags}
    for tag in ("script", "iframe", "object", "embed", "svg", "math", "style", "base"):
        assert tag not in found, f"<{tag}> in the page"
    assert [a.get("action") for a in elements.named("form")] == ["../../search/"]
    assert [m["http-equiv"] for m in elements.named("meta") if "http-equiv" in m] == [
        "Content-Security-Policy"
    ]
    assert [link["href"] for link in elements.named("link")] == ["data:,", "../../static/site.css"]
    for tag, attrs in elements.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), f"<{tag} {name}=...> in the page"
            assert name not in ("style", "srcset", "srcdoc"), f"<{tag} {name}=...> in the page"
            assert not re.match(r"\s*(javascript|vbscript|data:text)", value, re.I), (
                f"<{tag} {name}={value!r}> in the page"
            )


def test_a_hostile_attachment_name_is_published_inside_the_site_as_a_download(
    world: World,
) -> None:
    digest = sha256(EVIL_CONTENT)
    written = [p.relative_to(world.root).as_posix() for p in world.root.rglob("*evil*")]
    assert written == [f"site/files/{digest[:2]}/{digest}/evil.html.download"]
    html = (world.site / world.paths["hostile@example.com"] / "index.html").read_text("utf-8")
    links = [a["href"] for a in Elements(html).named("a") if "evil" in a.get("href", "")]
    assert links == [f"../../files/{digest[:2]}/{digest}/evil.html.download"]


def test_a_hostile_attachment_is_served_as_bytes_not_as_a_page(
    world: World, browse: Watched
) -> None:
    page = browse.page
    page.goto(world.url(world.paths["hostile@example.com"]))
    href = page.locator("ul.attachments a", has_text="evil.html").get_attribute("href")
    assert href is not None and href.endswith("/evil.html.download"), href
    response = page.request.get(urljoin(page.url, href))
    assert response.ok, f"{href}: {response.status}"
    assert response.body() == EVIL_CONTENT
    assert "html" not in response.headers["content-type"], response.headers["content-type"]


def test_private_and_held_posts_are_in_no_file_of_the_site(world: World) -> None:
    for path in world.site.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            for word in (PRIVATE, HELD, PRIVATE_NAME.lower(), PRIVATE_MEMBER.lower()):
                assert word.encode() not in data, f"{word!r} in {path.relative_to(world.site)}"


def test_private_and_held_posts_are_not_found_by_search(world: World, browse: Watched) -> None:
    page = browse.page
    for word in (PRIVATE, HELD):
        page.goto(world.url(f"search/?q={word}"))
        expect(page.locator(".pagefind-ui__message")).to_contain_text(f"No results for {word}")
        expect(page.locator(".pagefind-ui__result")).to_have_count(0)


def test_attachments_download_byte_for_byte(world: World, browse: Watched) -> None:
    page = browse.page
    page.goto(world.url(world.paths["files@example.com"]))
    for name, data in (("brief.pdf", PDF), ("logo.png", PNG)):
        link = page.locator("ul.attachments a", has_text=name)
        with page.expect_download() as started:
            link.click()
        download = started.value
        assert download.suggested_filename == name
        assert sha256(Path(download.path()).read_bytes()) == sha256(data), name
        response = page.request.get(urljoin(page.url, link.get_attribute("href") or ""))
        assert response.ok and sha256(response.body()) == sha256(data), name


def test_an_image_the_html_shows_from_its_own_part_is_drawn(world: World, browse: Watched) -> None:
    page = browse.page
    page.goto(world.url(world.paths["cid@example.com"]))
    image = page.locator("section.message .body img")
    expect(image).to_have_count(1)
    src = image.get_attribute("src")
    width = image.evaluate("img => img.complete ? img.naturalWidth : -1")
    assert width == 3, f"the inline image {src!r} was not drawn (naturalWidth {width})"


def test_an_image_marked_inline_without_a_cid_can_still_be_reached(
    world: World, browse: Watched
) -> None:
    page = browse.page
    page.goto(world.url(world.paths["photo@example.com"]))
    section = page.locator("section.message", has_text="Here is the whiteboard.")
    shown = section.locator("a[href*='whiteboard.png'], img[src*='whiteboard.png']")
    assert shown.count() >= 1, (
        "the photo whiteboard.png (Content-Disposition: inline, no cid: reference) is "
        "neither linked nor shown on its thread page:\n" + section.inner_html()
    )


def test_every_link_of_the_site_resolves(world: World) -> None:
    assert broken_links(world.site) == []


def test_feeds_and_mbox_downloads_hold_the_public_posts(world: World) -> None:
    base_url = "http://localhost:8000/"  # [archive] base_url's default
    for feed in ("feed.atom", "c/design/feed.atom"):
        root = ElementTree.parse(world.site / feed).getroot()
        links = [e.get("href", "") for e in root.iterfind(f"{ATOM}entry/{ATOM}link")]
        assert len(links) == len(world.paths), feed
        for link in links:
            assert link.startswith(base_url), link
            page = urlsplit(link.removeprefix(base_url)).path
            assert (world.site / page / "index.html").is_file(), f"{feed}: {link}"
    for message_id, path in world.paths.items():
        box = mailbox.mbox(world.site / path / "thread.mbox", create=False)
        try:
            ids = {str(m["Message-ID"]).strip("<>") for m in box}
        finally:
            box.close()
        assert message_id in ids, f"{path}thread.mbox lacks <{message_id}>"
    box = mailbox.mbox(world.site / "c" / "design" / "design.mbox", create=False)
    try:
        assert sorted(str(m["Message-ID"]).strip("<>") for m in box) == sorted(world.paths)
    finally:
        box.close()


@needs_corpus
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_imported_corpus_shows_every_message_once_and_its_links_resolve(
    gateway_cli: GatewayCli, app: App, tmp_path: Path
) -> None:
    gateway_cli("community", "create", "magick", "--name", "Magick")
    gateway_cli("import", "mbox", "magick", str(CORPUS / "mbox" / "mail-box-magick-list-2000.mbox"))
    with app.read_sessions() as session:
        published = session.scalar(
            select(func.count())
            .select_from(Message)
            .join(MessageCommunity, MessageCommunity.message_id == Message.id)
            .join(Community, Community.id == MessageCommunity.community_id)
            .where(Community.slug == "magick", Message.status == MessageStatus.PUBLISHED)
        )
    assert published == 45
    site = tmp_path / "site"
    build_site(gateway_cli, site)

    shown = 0
    ids: list[str] = []
    for page in sorted((site / "t").glob("*/index.html")):
        for attrs in Elements(page.read_text(encoding="utf-8")).named("section"):
            if "message" in attrs.get("class", "").split():
                shown += 1
                ids.append(attrs["id"])
    assert shown == published
    assert len(set(ids)) == len(ids), "a message is shown on two thread pages"
    assert broken_links(site) == []


LATER = "glaucophane"  # a word of the post in the community made private later


def site_of_a_community_made_private(cli: GatewayCli, tmp_path: Path) -> Path:
    """A site built with a post (and its attachment) in the public community "later",
    then built again after "later" was made private."""
    cli("community", "create", "open", "--name", "Open")
    cli("community", "create", "later", "--name", "Later")
    alice = "alice@example.com"
    kept = post(
        "Kept", "This stays public.\n", message_id="kept@example.com", sender=alice, to="open"
    )
    hidden = post(
        f"{LATER.capitalize()} report", f"The {LATER} figures, attached.\n",
        message_id="hidden@example.com", sender=alice, to="later",
    )  # fmt: skip
    hidden.add_attachment(PDF, maintype="application", subtype="pdf", filename="figures.pdf")
    for name, message in (("kept", kept), ("hidden", hidden)):
        (tmp_path / f"{name}.eml").write_bytes(message.as_bytes())
    cli("import", "eml", "open", str(tmp_path / "kept.eml"))
    cli("import", "eml", "later", str(tmp_path / "hidden.eml"))
    site = tmp_path / "site"
    build_site(cli, site)
    assert any(LATER in p.read_text("utf-8") for p in pages_of(site))
    assert (site / attachment_path(PDF, "figures.pdf")).is_file()
    cli("community", "edit", "later", "--private")
    build_site(cli, site)
    return site


def attachment_path(data: bytes, name: str) -> str:
    digest = sha256(data)
    return f"files/{digest[:2]}/{digest}/{name}"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_community_made_private_leaves_the_pages_and_search_on_the_next_build(
    gateway_cli: GatewayCli, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    site = site_of_a_community_made_private(gateway_cli, tmp_path)
    for path in site.rglob("*"):
        if path.is_file():
            assert LATER.encode() not in path.read_bytes().lower(), path.relative_to(site)
    chromium = request.getfixturevalue("chromium")  # skips here when there is none
    with serving(site) as server, watched_page(chromium, server.origin) as watched:
        watched.page.goto(server.url(f"search/?q={LATER}"))
        expect(watched.page.locator(".pagefind-ui__message")).to_contain_text("No results")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_community_made_private_takes_its_attachments_off_the_site(
    gateway_cli: GatewayCli, tmp_path: Path
) -> None:
    site = site_of_a_community_made_private(gateway_cli, tmp_path)
    assert not (site / attachment_path(PDF, "figures.pdf")).exists(), (
        "the attachment of a post no longer public is still published"
    )
