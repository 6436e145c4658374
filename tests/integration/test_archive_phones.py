"""Every page type of the archive on a 390 px phone and under axe-core, in both languages.

One store is filled through the real ingest pipeline with what makes pages hard to fit
and to read: a thread with replies eight deep, quotes, a signature, attachments, an HTML
mail with a wide table, a long URL and a long word, hard-wrapped text, more threads than
a community page holds, people with profiles. It is built twice by `gateway archive
build`, in English and in French, and each site is served on loopback and read in
Chromium. The page types are found in the built site (one page per URL pattern, the
largest), so that pages added later are covered without naming them here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from gateway.app import build_app
from tests.accessibility import PHONE_HEIGHT
from tests.accessibility import PHONE_WIDTH
from tests.accessibility import axe_source
from tests.accessibility import axe_violations
from tests.accessibility import page_width
from tests.browser import WAIT_MS
from tests.browser import gateway_folder
from tests.browser import serving
from tests.factories import AT
from tests.factories import ingest
from tests.factories import post

expect: Any
try:
    from playwright.sync_api import expect
except ImportError:  # the chromium fixture skips the browser tests with the reason
    expect = None

LANGUAGES = ("en", "fr")
SEARCHED = "quokkaberry"  # a word of the deep thread, to search for
LONG_URL = (
    "https://intranet.example.com/departments/communications/brand-guidelines/2026/"
    "annual-report/colour-palette-final-version-approved-by-the-board.pdf?download=1"
)
LONG_WORD = "Donaudampfschifffahrtsgesellschaftskapitänsmützenabzeichenhersteller"
HARD_WRAPPED = (
    f"Shall we use the {SEARCHED} palette for the annual report? I looked at the\n"
    "print proofs this morning and the teal reads well on the cover, but the\n"
    "headings on the inside pages need a darker shade to keep their contrast\n"
    "on the recycled paper stock that the printer suggested last week.\n"
    "\n"
    f"The guidelines are at {LONG_URL}\n"
    f"and the supplier calls it {LONG_WORD}.\n"
)
WIDE_TABLE = "".join(
    f"<tr>{''.join(f'<td>Row {row} column {column} value</td>' for column in range(10))}</tr>"
    for row in range(3)
)
HTML_BODY = f"""<html><body>
<p>The print costs by quarter:</p>
<table>{WIDE_TABLE}</table>
<p>And by half-year:</p>
<table>{WIDE_TABLE}</table>
<p>See <a href="{LONG_URL}">{LONG_URL}</a></p>
<pre>def total(costs):\n    return sum(cost.amount for cost in costs if not {LONG_WORD})</pre>
</body></html>"""
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00"
    b"\x00:~\x9bU\x00\x00\x00\nIDATx\x9cc\xf8\x0f\x00\x01\x01\x01\x00\x1b\xb6\xee\x56"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
DEPTH = 8  # replies, each to the one before


@dataclass
class Site:
    """One built site, served on loopback."""

    language: str
    folder: Path
    origin: str

    def url(self, path: str = "") -> str:
        return f"{self.origin}/{path}"


def deep_thread() -> list[EmailMessage]:
    """A question answered eight replies deep, with a quote, a signature, files, HTML."""
    people = ["Alice <alice@example.com>", "Bob <bob@example.com>"]
    root = post(
        "Palette for the annual report", HARD_WRAPPED, message_id="root@example.com",
        sender=people[0],
    )  # fmt: skip
    thread = [root]
    previous = "root@example.com"
    for depth in range(1, DEPTH + 1):
        message_id = f"reply{depth}@example.com"
        body = (
            f"On Monday, someone wrote:\n> {HARD_WRAPPED.splitlines()[0]}\n> and more.\n\n"
            f"Reply number {depth}: agreed, with a darker teal for the headings.\n"
            "\n-- \nBob Builder\nPrint shop, extension 4417\n"
        )
        message = post(
            "Re: Palette for the annual report", body, message_id=message_id,
            sender=people[depth % 2], parent=previous,
        )  # fmt: skip
        if depth == 2:
            message.add_alternative(HTML_BODY, subtype="html")
        if depth == 3:
            message.add_attachment(
                b"%PDF-1.4\n" + bytes(4000), maintype="application", subtype="pdf",
                filename=f"{LONG_WORD}-brief-final.pdf",
            )  # fmt: skip
            message.add_attachment(PNG, maintype="image", subtype="png", filename="logo.png")
        if depth == 4:
            # Apple Mail's inline photo: an image with no alt text, shown from its own part.
            message.add_alternative(
                f'<p>{body}</p><img apple-inline="yes" src="cid:photo@example.com">',
                subtype="html",
            )
            html = message.get_body(preferencelist=("html",))
            assert html is not None
            html.add_related(
                PNG, maintype="image", subtype="png", cid="<photo@example.com>",
                filename="IMG_2041.png",
            )  # fmt: skip
        thread.append(message)
        previous = message_id
    return thread


def many_threads(count: int) -> list[EmailMessage]:
    """More threads than one community page lists, so that a later page exists."""
    return [
        post(
            f"Weekly note {number}",
            f"Note {number} of the design studio.\n",
            message_id=f"note{number}@example.com",
            sender="Bob <bob@example.com>",
        )  # fmt: skip
        for number in range(count)
    ]


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[list[Site]]:
    folder = gateway_folder(tmp_path_factory, sqlite_template, "archive-phones", LANGUAGES)
    root, cli = folder.root, folder.cli
    cli("community", "create", "design", "--name", "Design Studio")
    cli("community", "create", "finance", "--name", "Finance and Procurement Working Group")
    cli("member", "add", "design", "alice@example.com", "bob@example.com")
    cli("member", "add", "finance", "alice@example.com", "bob@example.com")
    cli(
        "profile", "set", "alice@example.com", "--name", "Alice Liddell",
        "--department", "Communications", "--expertise", "Typography, Colour science",
        "--interests", "Print production",
    )  # fmt: skip
    cli("profile", "set", "bob@example.com", "--name", "Bob Builder", "--department", "Print")
    app = build_app(folder.settings)
    try:
        mails = [*many_threads(52), *deep_thread()]
        mails.append(post("Budget for print", "The quote is in.\n", message_id="f@example.com",
                          to="finance"))  # fmt: skip
        for minutes, mail in enumerate(mails):
            sender = mail["From"].addresses[0].addr_spec
            slug = str(mail["To"]).split("@")[0]
            outcome = ingest(
                app, mail, (slug,), sender=sender, at=AT + dt.timedelta(minutes=minutes)
            )
            assert outcome.disposition == "published", (mail["Message-ID"], outcome)
    finally:
        app.close()
    built = []
    for language in LANGUAGES:
        site = root / f"site-{language}"
        report = folder.clis[language].json("archive", "build", "--out", str(site))
        assert report["search_index"], report
        built.append((language, site))
    with serving(root / "site-en") as english, serving(root / "site-fr") as french:
        yield [
            Site("en", root / "site-en", english.origin),
            Site("fr", root / "site-fr", french.origin),
        ]


def placeholder(segment: str) -> str:
    """What a path segment stands for in a URL pattern: a number ("N"), a month
    ("YYYY-MM"), or itself."""
    if segment.isdigit():
        return "N"
    if re.fullmatch(r"\d{4}-\d{2}", segment):
        return "YYYY-MM"
    return segment


def page_types(folder: Path) -> dict[str, str]:
    """One page for each URL pattern of the site, the largest of its kind: numbers,
    months and community names stand for any ("t/N/", "c/*/page/N/", "c/*/YYYY-MM/");
    files and the search bundle are not pages."""
    chosen: dict[str, tuple[int, str]] = {}
    for file in folder.rglob("index.html"):
        path = file.parent.relative_to(folder).as_posix()
        path = "" if path == "." else f"{path}/"
        if path.startswith(("files/", "pagefind/", "static/")):
            continue
        parts = path.rstrip("/").split("/") if path else []
        shape = [placeholder(part) for part in parts]
        if shape[:1] == ["c"] and len(shape) > 1:
            shape[1] = "*"
        pattern = "/".join(shape) + ("/" if shape else "")
        size = file.stat().st_size
        if pattern not in chosen or size > chosen[pattern][0]:
            chosen[pattern] = (size, path)
    return {pattern: path for pattern, (_, path) in sorted(chosen.items())}


@pytest.fixture
def phone(chromium: Any, sites: list[Site]) -> Iterator[Any]:
    """A page 390 px wide, as a phone in portrait lays it out."""
    context = chromium.new_context(viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
    context.set_default_timeout(WAIT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def every_page(sites: list[Site]) -> Iterator[tuple[Site, str, str]]:
    """(site, name, path) for each page type in each language, and the search page with
    a query typed and its results shown."""
    for site in sites:
        for pattern, path in page_types(site.folder).items():
            yield site, f"{site.language} {pattern or '(home)'}", path
        yield site, f"{site.language} search/?q=", f"search/?q={SEARCHED}"


def open_page(page: Any, site: Site, path: str) -> None:
    page.goto(site.url(path))
    if path.startswith("search/?q="):
        expect(page.locator(".pagefind-ui__result").first).to_be_visible()


def test_the_sweep_finds_every_page_type(sites: list[Site]) -> None:
    """What the sweep walks: a change that stopped finding a page type shows here."""
    for site in sites:
        patterns = set(page_types(site.folder))
        assert {
            "",
            "c/*/",
            "c/*/page/N/",
            "c/*/YYYY-MM/",
            "t/N/",
            "people/",
            "people/N/",
            "stats/",
            "search/",
        } <= patterns, patterns
        # The largest thread page is the deep one, with its files and its HTML part.
        html = (site.folder / page_types(site.folder)["t/N/"] / "index.html").read_text("utf-8")
        assert f"depth-{DEPTH}" in html and "logo.png" in html and "<table" in html
        assert "IMG_2041.png" in html


def test_no_page_scrolls_sideways_on_a_phone(sites: list[Site], phone: Any) -> None:
    overflowing = []
    for site, name, path in every_page(sites):
        open_page(phone, site, path)
        width = page_width(phone, name)
        if width.overflows:
            overflowing.append(str(width))
    assert overflowing == [], "pages wider than a 390 px phone:\n" + "\n".join(overflowing)


def test_no_page_has_an_axe_violation(sites: list[Site], phone: Any) -> None:
    source = axe_source()
    violations = []
    for site, name, path in every_page(sites):
        for width in (PHONE_WIDTH, 1280):
            phone.set_viewport_size({"width": width, "height": PHONE_HEIGHT})
            open_page(phone, site, path)
            violations += [f"{v} [{width} px]" for v in axe_violations(phone, source, name)]
    assert violations == [], f"{len(violations)} axe violations:\n" + "\n".join(violations)


def test_replies_keep_most_of_the_width_however_deep(sites: list[Site], phone: Any) -> None:
    site = sites[0]
    open_page(phone, site, page_types(site.folder)["t/N/"])
    widths = phone.locator("section.message").evaluate_all(
        "all => all.map(s => Math.round(s.getBoundingClientRect().width))"
    )
    assert len(widths) == DEPTH + 1
    assert min(widths) >= 0.8 * max(widths), widths


def test_wide_tables_scroll_in_their_own_box(sites: list[Site], phone: Any) -> None:
    for site in sites:
        for path, tables in (("stats/", 1), (page_types(site.folder)["t/N/"], 2)):
            open_page(phone, site, path)
            boxes = phone.locator(".scroll")
            expect(boxes).to_have_count(tables)
            labels = [box.get_attribute("aria-label") for box in boxes.all()]
            assert len(set(labels)) == tables, f"{site.language} {path}: {labels}"
            for box in boxes.all():
                scrolls = box.evaluate("b => b.scrollWidth > b.clientWidth")
                assert scrolls, f"{site.language} {path}: the table fits, the test shows nothing"
                # A box that scrolls can be reached and scrolled with the keyboard.
                expect(box).to_have_attribute("tabindex", "0")
                expect(box).to_have_attribute("role", "region")
                # It is drawn inside the page's width, however wide its table.
                right = box.evaluate("b => b.getBoundingClientRect().right")
                assert right <= PHONE_WIDTH, f"{site.language} {path}: box ends at {right} px"


def test_the_search_page_has_one_search_box(sites: list[Site], phone: Any) -> None:
    for site in sites:
        open_page(phone, site, f"search/?q={SEARCHED}")
        boxes = phone.locator("input[type=search], input[type=text]")
        visible = [box for box in boxes.all() if box.is_visible()]
        assert len(visible) == 1, f"{site.language}: {len(visible)} search boxes"
        expect(visible[0]).to_have_value(SEARCHED)
        # Typing another word there searches again, in place.
        visible[0].fill("Weekly note 7")
        expect(phone.locator(".pagefind-ui__result").first).to_contain_text(re.compile("Weekly"))


def test_page_types_are_one_largest_page_per_url_pattern(tmp_path: Path) -> None:
    for path, size in {
        "": 1, "c/design/": 5, "c/finance/": 9, "c/design/page/2/": 1, "c/design/2026-11/": 3,
        "c/finance/2026-10/": 4, "c/design/2026/11/": 3, "t/1/": 2, "t/22/": 8, "people/": 1,
        "people/3/": 1, "files/ab/x/": 1, "pagefind/": 1,
    }.items():  # fmt: skip
        (tmp_path / path).mkdir(parents=True, exist_ok=True)
        (tmp_path / path / "index.html").write_text("x" * size, encoding="utf-8")
    assert page_types(tmp_path) == {
        "": "",
        "c/*/": "c/finance/",
        "c/*/N/N/": "c/design/2026/11/",
        "c/*/YYYY-MM/": "c/finance/2026-10/",
        "c/*/page/N/": "c/design/page/2/",
        "people/": "people/",
        "people/N/": "people/3/",
        "t/N/": "t/22/",
    }
