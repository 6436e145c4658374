"""The archive builder on a real store (SQLite and PostgreSQL): what the site holds,
what it never holds, and what an incremental build rewrites, keeps and removes."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import mailbox
import re
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

import pytest
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from archive import build as build_module
from archive import publisher as publisher_module
from archive.build import BuildReport
from archive.build import SiteBuilder
from archive.output import SiteOutput
from archive.output import UnsafePath
from archive.publisher import ArchivePublisher
from gateway.app import App
from gateway.community.communities import CommunityChanges
from gateway.community.communities import close_community
from gateway.community.communities import create_community
from gateway.community.communities import edit_community
from gateway.community.communities import get_community
from gateway.community.held import approve
from gateway.community.members import add_members
from gateway.community.people import ProfileChanges
from gateway.community.people import set_profile
from gateway.outbound.deliveries import enqueue_mail
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Delivery
from gateway.store.models import DeliveryStatus
from gateway.store.models import InboxMail
from gateway.store.models import Kind
from gateway.store.models import Message
from gateway.store.models import Policy
from gateway.store.models import Visibility
from gateway.store.models import utcnow
from tests.conftest import wait_for
from tests.factories import AT
from tests.factories import CountingBlobs
from tests.factories import ingest
from tests.factories import ingest_post
from tests.factories import new_message_id
from tests.factories import post
from tests.remote_images import REMOTE_IMAGE_SPELLINGS

DOMAIN = "lists.example.com"


def community(app: App, slug: str, **options: Any) -> None:
    options.setdefault("policy", Policy.OPEN)
    with transaction(app.sessions) as session:
        create_community(session, slug, slug.title(), **options)


def build(app: App, site: Path, **options: Any) -> BuildReport:
    return SiteBuilder(app, site, search=False, **options).run()


def text_of(site: Path) -> str:
    """Every file of the site, as one text (to look for what must not be there)."""
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in sorted(site.rglob("*")) if p.is_file()
    )


def thread_pages(site: Path) -> dict[str, str]:
    return {p.parent.name: p.read_text() for p in (site / "t").glob("*/index.html")}


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value or "" for name, value in attrs if name in ("href", "src")]
        self.scripts += tag == "script"


def links(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return tmp_path / "site"


def test_pages_of_a_small_network(app: App, site: Path) -> None:
    community(app, "design", kind=Kind.PRACTICE, description="How we design.")
    community(app, "launch", kind=Kind.PROJECT)
    first = ingest_post(app, "design", subject="Colour palette", body="Which <blue>?\n")
    ingest_post(app, "design", subject="Re: Colour palette", parent=first, sender="bob@example.com")
    ingest_post(app, "design", "launch", subject="Launch visuals")

    report = build(app, site)

    assert report.full and report.threads == 2 and report.communities == 2
    home = (site / "index.html").read_text()
    assert "How we design." in home and "design@lists.example.com" in home
    assert home.index("Practices") < home.index("Design")  # grouped by kind
    listing = (site / "c" / "design" / "index.html").read_text()
    assert "Colour palette" in listing and "Launch visuals" in listing
    assert "Also posted in" in listing and 'href="../../c/launch/"' in listing
    pages = list(thread_pages(site).values())
    palette = next(p for p in pages if "Colour palette</h1>" in p)
    assert "Which &lt;blue&gt;?" in palette
    assert palette.count('class="message depth-0"') == 1
    assert palette.count('class="message depth-1"') == 1
    for page in [home, listing, *pages]:
        parsed = links(page)
        assert parsed.scripts == 0
        for href in parsed.hrefs:
            if href.startswith(("http", "mailto:", "#", "data:")):
                continue
            assert not href.startswith("/"), href  # relative: servable under any prefix
    feed = ElementTree.parse(site / "c" / "design" / "feed.atom").getroot()
    entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 3
    assert entries[0].findtext("{http://www.w3.org/2005/Atom}id", "").startswith("http")


# How a public reply names the private post it answers (Thread-Index: Outlook's, 22
# bytes for the conversation and 5 more for the reply).
LINKS = {
    "in-reply-to": ({}, {"In_Reply_To": "<{parent}>"}),
    "references": ({}, {"References": "<other@example.com> <{parent}>"}),
    "thread-index": (
        {"Thread_Index": base64.b64encode(bytes(range(1, 23))).decode()},
        {"Thread_Index": base64.b64encode(bytes(range(1, 28))).decode()},
    ),
}


@pytest.mark.parametrize("link", list(LINKS))
def test_a_public_reply_to_a_private_post_shows_nothing_of_it(
    app: App, site: Path, link: str
) -> None:
    community(app, "open")
    community(app, "hidden", visibility=Visibility.PRIVATE)
    private_headers, reply_headers = LINKS[link]
    secret = post(
        "Secret plan zanzibar", "The quokka deal.\n", message_id="private@example.com",
        to="hidden", **private_headers,
    )  # fmt: skip
    ingest(app, secret, ["hidden"])
    headers = {
        name: value.format(parent="private@example.com") for name, value in reply_headers.items()
    }
    reply = post(
        "Lunch menu", "Soup on Monday.\n", message_id="reply@example.com", to="open",
        sender="bob@example.com", **headers,
    )  # fmt: skip
    ingest(app, reply, ["open"], sender="bob@example.com")
    # The reply to the public one joins it, as ever.
    ingest_post(app, "open", subject="Re: Lunch menu", parent="reply@example.com")

    build(app, site)

    everything = text_of(site)
    assert "zanzibar" not in everything and "quokka" not in everything
    assert "hidden" not in everything
    [page] = [p for p in thread_pages(site).values() if "Lunch menu" in p]
    assert "Lunch menu</h1>" in page and page.count('class="message depth-') == 2


def test_public_replies_to_a_private_post_share_a_public_thread_whatever_the_order(
    app: App, site: Path
) -> None:
    """The first reply arrives before the private post (it is not adopted when the post
    comes); the second joins the first, as replies to one post do."""
    community(app, "open")
    community(app, "hidden", visibility=Visibility.PRIVATE)
    early = post(
        "Lunch menu", "Soup on Monday.\n", message_id="early@example.com", to="open",
        parent="private@example.com",
    )  # fmt: skip
    ingest(app, early, ["open"])
    secret = post("Secret plan zanzibar", message_id="private@example.com", to="hidden")
    ingest(app, secret, ["hidden"])
    late = post(
        "Re: Lunch menu", "And soup on Tuesday.\n", message_id="late@example.com",
        to="open", parent="private@example.com",
    )  # fmt: skip
    ingest(app, late, ["open"])

    build(app, site)

    assert "zanzibar" not in text_of(site)
    [page] = thread_pages(site).values()
    assert "Lunch menu</h1>" in page and "Soup on Monday" in page and "soup on Tuesday" in page


def test_a_thread_is_titled_after_the_first_post_the_site_shows(app: App, site: Path) -> None:
    """A public reply to a held post (same audience: it joins the held post's thread), and
    a thread stored mixed before threading kept audiences apart: neither hidden subject
    is the title."""
    community(app, "open")
    community(app, "checked", policy=Policy.MODERATED)
    community(app, "hidden", visibility=Visibility.PRIVATE)
    held = ingest_post(app, "checked", subject="Waiting wombat", expect="held")
    ingest_post(app, "open", subject="Tea time", parent=held, body="Tea.\n")
    ingest(app, post("Coffee beans", message_id="reply@example.com", to="open"), ["open"])
    secret = ingest_post(app, "hidden", subject="Secret plan zanzibar")
    with transaction(app.sessions) as session:
        private, public = (
            session.scalars(select(Message).where(Message.message_id == m)).one()
            for m in (secret, "reply@example.com")
        )
        public.thread_id, public.parent_id = private.thread_id, private.id

    build(app, site)

    everything = text_of(site)
    assert "zanzibar" not in everything and "wombat" not in everything
    titles = sorted(re.findall(r"<h1>([^<]*)</h1>", "".join(thread_pages(site).values())))
    assert titles == ["Coffee beans", "Tea time"]


def test_private_communities_and_held_posts_never_appear(app: App, site: Path) -> None:
    community(app, "open")
    community(app, "hidden", visibility=Visibility.PRIVATE)
    community(app, "checked", policy=Policy.MODERATED)
    public = ingest_post(app, "open", subject="Public root")
    ingest_post(app, "hidden", subject="Secret plan zanzibar")
    ingest_post(app, "open", "hidden", subject="Shared news")
    ingest_post(
        app, "hidden", subject="Re: Public root", parent=public, body="private reply quokka\n"
    )
    ingest_post(app, "checked", subject="Waiting for a moderator wombat", expect="held")

    build(app, site)

    everything = text_of(site)
    for secret in ("zanzibar", "quokka", "wombat"):
        assert secret not in everything
    # Only the original headers of the cross-post, in its mbox download, name it.
    pages = "".join(p.read_text() for p in site.rglob("*") if p.suffix in (".html", ".atom"))
    assert "Hidden" not in pages and "hidden@" not in pages
    assert "Shared news" in everything and "Public root" in everything
    assert not (site / "c" / "hidden").exists()
    assert "0 posts" in (site / "c" / "checked" / "index.html").read_text()


def test_a_cross_post_shows_where_it_is_published_and_where_approved_later(
    app: App, site: Path
) -> None:
    community(app, "open")
    community(app, "checked", policy=Policy.MODERATED)
    message_id = ingest_post(app, "open", "checked", subject="Cross wombat")
    build(app, site)
    assert "Cross wombat" in (site / "c" / "open" / "index.html").read_text()
    assert "Cross wombat" not in (site / "c" / "checked" / "index.html").read_text()
    with transaction(app.sessions) as session:
        message = session.scalars(select(Message).where(Message.message_id == message_id)).one()
        assert approve(session, message, AT) == 0  # no one to deliver to
    # A reply to the open copy, to both: its subject adds only a marker and a prefix, so
    # the thread's page does not repeat it (a changed subject is shown).
    ingest_post(app, "open", "checked", subject="[checked] Re: [open] Cross wombat",
                parent=message_id)  # fmt: skip
    ingest_post(app, "open", subject="Re: Cross wombat, the date", parent=message_id)
    build(app, site)
    assert "Cross wombat" in (site / "c" / "checked" / "index.html").read_text()
    [page] = thread_pages(site).values()
    assert page.count('class="subject"') == 1 and "Cross wombat, the date" in page


def test_an_update_renders_only_what_a_new_reply_touches(app: App, site: Path) -> None:
    community(app, "design")
    community(app, "other")
    root = ingest_post(app, "design", subject="Grid system")
    ingest_post(app, "design", subject="Typography")
    ingest_post(app, "other", subject="Unrelated")
    build(app, site)
    untouched = site / "c" / "other" / "index.html"
    before = untouched.stat().st_mtime_ns

    nothing = build(app, site)
    ingest_post(app, "design", subject="Re: Grid system", parent=root, sender="carol@example.com")
    update = build(app, site)

    assert not nothing.full and nothing.threads == nothing.communities == 0
    assert nothing.counts.written == 0
    assert not update.full
    assert (update.threads, update.communities) == (1, 1)
    assert untouched.stat().st_mtime_ns == before
    [grid] = [p for p in thread_pages(site).values() if "Grid system</h1>" in p]
    assert "carol" in grid


def test_changing_the_templates_makes_a_full_build(
    app: App, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    community(app, "design")
    ingest_post(app, "design", subject="One")
    build(app, site)
    monkeypatch.setattr(build_module, "FORMAT", build_module.FORMAT + 1)

    assert build(app, site).full


def test_pages_of_what_is_no_longer_public_are_removed(app: App, site: Path) -> None:
    community(app, "design")
    community(app, "launch")
    ingest_post(app, "design", subject="Design only")
    ingest_post(app, "launch", "design", subject="Both")
    build(app, site)
    assert len(thread_pages(site)) == 2

    with transaction(app.sessions) as session:
        edit_community(session, "design", CommunityChanges(visibility=Visibility.PRIVATE))
    report = build(app, site)

    assert report.counts.removed >= 2
    assert not (site / "c" / "design").exists()
    [remaining] = thread_pages(site).values()
    assert "Both</h1>" in remaining and "Design" not in remaining


def test_a_community_list_is_paginated_and_shrinks(app: App, site: Path) -> None:
    community(app, "busy")
    for number in range(55):
        ingest_post(app, "busy", subject=f"Topic {number}", at=AT + dt.timedelta(minutes=number))
    build(app, site)
    first = (site / "c" / "busy" / "index.html").read_text()
    assert "Topic 54" in first and "Topic 4<" not in first
    assert 'rel="next" href="../../c/busy/page/2/"' in first
    assert "Topic 0<" in (site / "c" / "busy" / "page" / "2" / "index.html").read_text()


def test_attachments_are_published_under_safe_names(app: App, site: Path) -> None:
    community(app, "design")
    data = bytes(range(256)) * 40
    mail = post(
        "A file", "See attached.\n", message_id=new_message_id(), sender="alice@example.com"
    )
    mail.add_attachment(
        data, maintype="application", subtype="octet-stream", filename="../../../escape.html"
    )
    ingest(app, mail)

    build(app, site)

    digest = hashlib.sha256(data).hexdigest()
    published = site / "files" / digest[:2] / digest / "escape.html.download"
    assert published.read_bytes() == data
    assert not list(site.parent.glob("escape*")) and not list(site.glob("escape*"))
    [page] = thread_pages(site).values()
    assert f"../../files/{digest[:2]}/{digest}/escape.html.download" in page


def test_an_xhtml_attachment_is_published_as_a_download_under_its_name(
    app: App, site: Path
) -> None:
    community(app, "design")
    script = b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>'
    mail = post("Report", "See attached.\n", message_id=new_message_id())
    mail.add_attachment(script, maintype="application", subtype="xhtml+xml", filename="report.xhtm")
    ingest(app, mail)

    build(app, site)

    digest = hashlib.sha256(script).hexdigest()
    assert (site / "files" / digest[:2] / digest / "report.xhtm.download").exists()
    assert not (site / "files" / digest[:2] / digest / "report.xhtm").exists()
    [page] = thread_pages(site).values()
    assert '/report.xhtm.download" download="report.xhtm">report.xhtm</a>' in page


def test_remote_images_reach_neither_pages_nor_feeds_whatever_their_spelling(
    app: App, site: Path
) -> None:
    community(app, "design")
    mail = post("Pictures", "See the pictures.\n", message_id=new_message_id())
    html = "".join(f"<p>{name}: {markup}</p>" for name, markup in REMOTE_IMAGE_SPELLINGS)
    mail.add_alternative(f"<html><body>{html}</body></html>", subtype="html")
    ingest(app, mail)

    build(app, site)

    [page] = thread_pages(site).values()
    assert "&gt; in an earlier attribute" in page  # the body is the HTML one
    assert "evil" not in page
    for feed in (site / "feed.atom", site / "c" / "design" / "feed.atom"):
        assert "in an earlier attribute" in feed.read_text()
        assert "evil" not in feed.read_text()


def test_a_thread_download_is_the_original_mail(app: App, site: Path) -> None:
    community(app, "design")
    root = ingest_post(app, "design", subject="Original", body="Right from the start\n")
    ingest_post(app, "design", subject="Re: Original", parent=root)
    build(app, site)

    [thread] = (site / "t").glob("*/thread.mbox")
    messages = read_mbox(thread)
    assert [m["Subject"] for m in messages] == ["Original", "Re: Original"]
    assert messages[0].get_payload() == "Right from the start\n"
    assert len(read_mbox(site / "c" / "design" / "design.mbox")) == 2


def read_mbox(path: Path) -> list[mailbox.mboxMessage]:
    box = mailbox.mbox(path, create=False)
    try:
        return list(box)
    finally:
        box.close()


def test_people_pages_and_the_expertise_directory(app: App, site: Path) -> None:
    community(app, "design")
    with transaction(app.sessions) as session:
        add_members(session, get_community(session, "design"), ["dana@example.com"])
        set_profile(
            session,
            "dana@example.com",
            ProfileChanges(
                name="Dana Scully",
                department="Research",
                expertise=["Typography", "Sécurité des réseaux"],
            ),
        )
    ingest_post(app, "design", subject="Kerning tips", sender="dana@example.com")

    build(app, site)

    people = (site / "people" / "index.html").read_text()
    assert 'id="typography"' in people and "Dana Scully" in people
    # The directory's filter (static/people.js) compares folded words, stop words out.
    assert '<dt id="securite des reseaux" data-tags="securite reseaux">' in people
    [person_page] = [
        p.read_text() for p in (site / "people").glob("*/index.html") if "Dana" in p.read_text()
    ]
    assert "Research" in person_page and "Kerning tips" in person_page
    [thread] = thread_pages(site).values()
    assert re.search(r'class="author" href="../../people/\d+/">Dana Scully', thread)


def test_a_site_folder_path_cannot_leave_it(tmp_path: Path) -> None:
    out = SiteOutput(tmp_path / "site")
    for bad in ("../outside.html", "/etc/passwd", "a/../../outside"):
        with pytest.raises(UnsafePath):
            out.write(bad, "x")
    assert not (tmp_path / "outside.html").exists()
    assert out.write("t/1/index.html", "page") and not out.write("t/1/index.html", "page")


@contextmanager
def publisher_started(app: App, settings: Settings, site: Path) -> Iterator[None]:
    """A publisher looking every second, from its start (not after its first build)."""
    quick = dataclasses.replace(
        settings, archive=dataclasses.replace(settings.archive, out_dir=site, rebuild_delay=1)
    )
    publisher = ArchivePublisher(dataclasses.replace(app, settings=quick))
    publisher.start()
    try:
        yield
    finally:
        publisher.stop(timeout=30)


@contextmanager
def quick_publisher(app: App, settings: Settings, site: Path) -> Iterator[None]:
    """A publisher looking every second, running until the block ends, after its
    first build."""
    with publisher_started(app, settings, site):
        wait_for(lambda: (site / "index.html").exists(), what="the first build")
        yield


def shows(site: Path, subject: str) -> bool:
    return any(subject in page for page in thread_pages(site).values())


def test_the_publisher_renders_a_new_post_within_seconds(
    app: App, settings: Settings, site: Path
) -> None:
    community(app, "design")
    with quick_publisher(app, settings, site):
        ingest_post(app, "design", subject="Fresh news")
        wait_for(lambda: shows(site, "Fresh news"), what="the new thread's page")


def spool_a_mail(app: App) -> None:
    with Session(app.spool_engine) as spool, spool.begin():
        spool.add(InboxMail(raw=b"x", recipients=["design@lists.example.com"]))


def empty_the_spool(app: App) -> None:
    with Session(app.spool_engine) as spool, spool.begin():
        spool.execute(delete(InboxMail))


def queue_a_copy(app: App) -> None:
    with transaction(app.sessions) as session:
        enqueue_mail(session, "member@example.com", b"Subject: x\r\n\r\nx\r\n", "notice", utcnow())


def send_the_copies(app: App) -> None:
    with transaction(app.sessions) as session:
        session.execute(update(Delivery).values(status=DeliveryStatus.SENT))


@pytest.mark.parametrize(
    ("busy", "idle"),
    [(spool_a_mail, empty_the_spool), (queue_a_copy, send_the_copies)],
    ids=["spooled mail", "copies to send"],
)
def test_the_publisher_waits_for_the_pipeline_but_no_longer_than_max_defer(
    app: App,
    settings: Settings,
    site: Path,
    monkeypatch: pytest.MonkeyPatch,
    busy: Callable[[App], None],
    idle: Callable[[App], None],
) -> None:
    community(app, "design")
    monkeypatch.setattr(publisher_module, "MAX_DEFER", 6.0)
    with quick_publisher(app, settings, site):
        busy(app)
        ingest_post(app, "design", subject="During a burst")
        waited = time.monotonic()
        time.sleep(3)  # three turns of the publisher, with the pipeline busy
        assert not shows(site, "During a burst")
        wait_for(lambda: shows(site, "During a burst"), what="the page, once the wait is over")
        assert time.monotonic() - waited < 6.0 + 5  # MAX_DEFER after the first build, a turn
        idle(app)
        ingest_post(app, "design", subject="After the burst")
        wait_for(lambda: shows(site, "After the burst"), what="the next page, the pipeline idle")


def test_a_restarted_publisher_lets_waiting_copies_go_first_until_max_defer_since_the_last_build(
    app: App, settings: Settings, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    community(app, "design")
    build(app, site)  # the last build of the node's previous run
    built = time.monotonic()
    ingest_post(app, "design", subject="Before the restart")
    queue_a_copy(app)  # restarted while its queue is full
    monkeypatch.setattr(publisher_module, "MAX_DEFER", 6.0)
    with publisher_started(app, settings, site):
        time.sleep(3)  # three turns of the publisher, the copy still waiting
        assert not shows(site, "Before the restart")
        wait_for(lambda: shows(site, "Before the restart"), what="the page, once the wait is over")
        assert time.monotonic() - built < 6.0 + 5  # MAX_DEFER after the last build, a turn


def test_a_site_never_built_is_built_at_once_whatever_waits(
    app: App, settings: Settings, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    community(app, "design")
    ingest_post(app, "design", subject="First of all")
    queue_a_copy(app)
    monkeypatch.setattr(publisher_module, "MAX_DEFER", 60.0)
    with publisher_started(app, settings, site):
        wait_for(lambda: shows(site, "First of all"), what="the first build")


def test_forked_renderers_write_the_same_site(app: App, tmp_path: Path) -> None:
    community(app, "design")
    for number in range(40):
        root = ingest_post(app, "design", subject=f"Topic {number}")
        ingest_post(app, "design", subject=f"Re: Topic {number}", parent=root)
    alone, shared = tmp_path / "alone", tmp_path / "shared"

    one = SiteBuilder(app, alone, search=False).run()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build_module, "PER_WORKER", 10)
        two = SiteBuilder(app, shared, search=False, workers=2).run()

    assert one.threads == two.threads == 40
    assert one.counts.written == two.counts.written > 80
    files = sorted(p.relative_to(alone) for p in alone.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(shared) for p in shared.rglob("*") if p.is_file())
    for name in files:
        if name.name != ".archive-manifest.json":
            assert (alone / name).read_bytes() == (shared / name).read_bytes(), name


def test_a_profile_change_updates_the_directory_and_the_person(app: App, site: Path) -> None:
    community(app, "design")
    with transaction(app.sessions) as session:
        add_members(session, get_community(session, "design"), ["erin@example.com"])
    build(app, site)
    assert "Accessibility" not in (site / "people" / "index.html").read_text()

    with transaction(app.sessions) as session:
        set_profile(session, "erin@example.com", ProfileChanges(expertise=["Accessibility"]))
    report = build(app, site)

    assert report.people == 1 and report.threads == 0
    assert "Accessibility" in (site / "people" / "index.html").read_text()


def test_a_thread_that_cannot_be_rendered_is_left_out_and_the_site_is_built(
    app: App, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    community(app, "design")
    ingest_post(app, "design", subject="Broken")
    ingest_post(app, "design", subject="Fine")
    render = build_module.Pages.thread

    def thread(self: Any, job: Any, bodies: Any) -> str:
        # No real thread is known to break its page: this one is made to.
        if job.subject == "Broken":
            raise ValueError("a broken template")
        return str(render(self, job, bodies))

    monkeypatch.setattr(build_module.Pages, "thread", thread)
    build(app, site)
    pages = list(thread_pages(site).values())
    assert len(pages) == 1 and "Fine</h1>" in pages[0]
    assert "Fine" in (site / "c" / "design" / "index.html").read_text()


# -- join in: reply, join, post and write-to links (archive.mail_links) -----------------


def mailto_links(html: str, css_class: str) -> list[tuple[str, dict[str, str]]]:
    """The mailto: links of a page with this class, read back: (address, fields)."""
    found = []
    for match in re.finditer(rf'<a class="[^"]*\b{css_class}\b[^"]*" href="(mailto:[^"]+)"', html):
        parts = urlsplit(unescape(match.group(1)))
        fields = {name: values[0] for name, values in parse_qs(parts.query).items()}
        found.append((unquote(parts.path), fields))
    return found


def test_every_message_has_a_reply_link_in_reply_to_it(app: App, site: Path) -> None:
    community(app, "design", subject_prefix="[design]")
    root = ingest_post(app, "design", subject="Colour & type")
    reply = ingest_post(app, "design", subject="Re: [design] Colour & type", parent=root)
    build(app, site)

    [page] = thread_pages(site).values()
    replies = mailto_links(page, "reply-by-mail")
    assert [fields["In-Reply-To"] for _, fields in replies] == [f"<{root}>", f"<{reply}>"]
    for address, fields in replies:
        assert address == f"design@{DOMAIN}"
        assert fields["subject"] == "Re: Colour & type"  # once, without [design]
    assert replies[1][1]["References"] == f"<{root}> <{reply}>"
    # "Reply to the thread" answers its newest message.
    [(address, fields)] = mailto_links(page, "reply-thread")
    assert address == f"design@{DOMAIN}" and fields["In-Reply-To"] == f"<{reply}>"


def test_a_new_reply_moves_the_thread_reply_link_to_it(app: App, site: Path) -> None:
    community(app, "design")
    root = ingest_post(app, "design", subject="Grid")
    build(app, site)
    newest = ingest_post(app, "design", subject="Re: Grid", parent=root)
    update = build(app, site)

    assert (update.threads, update.communities) == (1, 1)
    [page] = thread_pages(site).values()
    [(_, fields)] = mailto_links(page, "reply-thread")
    assert fields["In-Reply-To"] == f"<{newest}>"


def test_a_community_turned_announce_takes_the_reply_links_off_its_threads(
    app: App, site: Path
) -> None:
    community(app, "design")
    ingest_post(app, "design", subject="Grid")
    build(app, site)
    with transaction(app.sessions) as session:
        edit_community(session, "design", CommunityChanges(policy=Policy.ANNOUNCE))
    update = build(app, site)

    assert update.threads == 1  # a member's reply would now be held: no link promises it
    [page] = thread_pages(site).values()
    assert mailto_links(page, "reply-by-mail") == mailto_links(page, "reply-thread") == []


def test_community_pages_join_and_post_as_the_gateway_handles_them(app: App, site: Path) -> None:
    community(app, "design")
    community(app, "club", policy=Policy.MEMBERS)
    community(app, "news", policy=Policy.ANNOUNCE)
    community(app, "old")
    with transaction(app.sessions) as session:
        close_community(session, "old")
    build(app, site)

    def actions(slug: str) -> tuple[str, dict[str, list[tuple[str, dict[str, str]]]]]:
        html = (site / "c" / slug / "index.html").read_text()
        return html, {kind: mailto_links(html, kind) for kind in ("join", "post", "owners")}

    html, design = actions("design")
    assert design["join"][0] == (f"design-join@{DOMAIN}", {"subject": "join"})
    assert design["post"][0] == (f"design@{DOMAIN}", {})
    assert ">Join</a>" in html and ">Post</a>" in html
    html, club = actions("club")
    assert "members only: join first" in html and club["post"]
    html, news = actions("news")
    assert not news["post"] and news["join"]  # only owners post: they are who to ask
    assert news["owners"] == [(f"news-owner@{DOMAIN}", {})]
    html, old = actions("old")
    assert not old["join"] and not old["post"] and ">Join</a>" not in html
    assert old["owners"] == [(f"old-owner@{DOMAIN}", {})]


def test_write_to_follows_the_persons_choice_and_the_setting(
    app: App, settings: Settings, site: Path
) -> None:
    community(app, "design")
    with transaction(app.sessions) as session:
        add_members(session, get_community(session, "design"), ["erin@example.com"])
        add_members(session, get_community(session, "design"), ["finn@example.com"])
        set_profile(session, "erin@example.com", ProfileChanges(name="Erin"))
        set_profile(session, "finn@example.com", ProfileChanges(name="Finn"))
    build(app, site)

    def write_to() -> dict[str, list[tuple[str, dict[str, str]]]]:
        pages = {p.parent.name: p.read_text() for p in (site / "people").glob("*/index.html")}
        by_name = {re.search(r"<h1>(\w+)</h1>", html)[1]: html for html in pages.values()}  # type: ignore[index]
        return {name: mailto_links(html, "write-to") for name, html in by_name.items()}

    assert write_to() == {"Erin": [("erin@example.com", {})], "Finn": [("finn@example.com", {})]}
    with transaction(app.sessions) as session:
        set_profile(session, "erin@example.com", ProfileChanges(write_to="off"))
    update = build(app, site)
    assert (update.people, update.threads, update.communities) == (1, 0, 0)  # her page only
    assert write_to() == {"Erin": [], "Finn": [("finn@example.com", {})]}

    # The setting is the default of those who did not choose: Finn, not Erin.
    quiet = dataclasses.replace(
        settings, archive=dataclasses.replace(settings.archive, show_write_to=False)
    )
    with transaction(app.sessions) as session:
        set_profile(session, "erin@example.com", ProfileChanges(write_to="on"))
    update = SiteBuilder(dataclasses.replace(app, settings=quiet), site, search=False).run()
    assert update.people == 2
    assert write_to() == {"Erin": [("erin@example.com", {})], "Finn": []}


def test_a_community_mbox_grows_by_its_new_messages_and_is_rewritten_when_not_just_appended(
    app: App, site: Path, tmp_path: Path
) -> None:
    community(app, "design")
    root = ingest_post(app, "design", subject="Grid", at=AT)
    ingest_post(app, "design", subject="Re: Grid", parent=root, at=AT + dt.timedelta(hours=1))
    build(app, site)
    counting = CountingBlobs(app.settings.blob_dir)
    app_counting = dataclasses.replace(app, blobs=counting)
    mbox = site / "c" / "design" / "design.mbox"

    ingest_post(app, "design", subject="Re: Grid", parent=root, at=AT + dt.timedelta(hours=2))
    build(app_counting, site)
    appended = mbox.read_bytes()
    # An older message (an import) lands in the middle; then a build stopped after
    # appending left more than the manifest knows of: both times the mbox is rewritten.
    ingest_post(app, "design", subject="Early", at=AT - dt.timedelta(days=1))
    build(app, site)
    early = [m["Subject"] for m in read_mbox(mbox)]
    with mbox.open("ab") as stopped:
        stopped.write(b"From half-written\n")
    ingest_post(app, "design", subject="Re: Early", at=AT + dt.timedelta(hours=3))
    build(app, site)
    build(app, fresh := tmp_path / "fresh", full=True)

    # The update read the thread's three mails for the thread's mbox, and one for the
    # community's: not the two it already held.
    assert len(counting.reads) == 3 + 1
    assert [m["Subject"] for m in read_mbox_bytes(appended)] == ["Grid", "Re: Grid", "Re: Grid"]
    assert early == ["Early", "Grid", "Re: Grid", "Re: Grid"]
    assert mbox.read_bytes() == (fresh / "c" / "design" / "design.mbox").read_bytes()
    assert [m["Subject"] for m in read_mbox(mbox)] == [
        "Early", "Grid", "Re: Grid", "Re: Grid", "Re: Early",
    ]  # fmt: skip


def read_mbox_bytes(data: bytes) -> list[mailbox.mboxMessage]:
    with tempfile.NamedTemporaryFile(suffix=".mbox") as copy:
        copy.write(data)
        copy.flush()
        return read_mbox(Path(copy.name))
