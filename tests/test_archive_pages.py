"""The archive's page parts that need no store: bodies as HTML, reply order, charts, URLs."""

from __future__ import annotations

import datetime as dt
import mimetypes

import pytest

from archive import urls
from archive.bodies import FoldLabels
from archive.bodies import body_html
from archive.bodies import html_body_html
from archive.bodies import plain_text_html
from archive.charts import WEEKS
from archive.charts import posts_over_time
from archive.charts import top_contributors
from archive.pages import reply_order
from archive.pages import shown_subject
from archive.snapshot import MessageBody
from archive.snapshot import MessageEntry
from archive.snapshot import SiteAttachment
from gateway.links import SAFE_EXTENSIONS
from gateway.links import published_filename

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
LABELS = FoldLabels("Quoted text", "Signature")


def entry(
    id: int, parent: int | None = None, sender: int | None = 1, days_ago: int = 0
) -> MessageEntry:
    return MessageEntry(
        id, 1, parent, sender, "", f"s{sender}@example.com",
        NOW - dt.timedelta(days=days_ago), "0" * 64, (1,),
    )  # fmt: skip


def test_plain_text_is_escaped_and_its_links_clickable() -> None:
    html = plain_text_html('See <b>this</b> & https://example.com/a?b=1&c="2".\n', LABELS)
    assert "&lt;b&gt;this&lt;/b&gt; &amp;" in html
    assert '<a href="https://example.com/a?b=1&amp;c=" rel="nofollow noopener">' in html


# The archive links with the mail's linkifier (gateway.outbound.text_html): URLs only.
def test_plain_text_links_urls_in_any_case_but_no_address() -> None:
    html = plain_text_html("[HTTPS://example.com/x] or ann@example.com (http://e.org/y).\n", LABELS)
    assert '<a href="HTTPS://example.com/x" rel="nofollow noopener">HTTPS://example.com/x</a>]' in (
        html
    )
    assert '<a href="http://e.org/y" rel="nofollow noopener">http://e.org/y</a>).' in html
    assert "ann@example.com" in html and "mailto:" not in html


def test_long_quotes_fold_with_their_attribution_and_short_ones_stay_open() -> None:
    text = "My answer.\nOn Monday, Bob wrote:\n> one\n> two\n> three\nThanks.\n\n> just this\n"
    html = plain_text_html(text, LABELS)
    assert html.count("<details") == 1
    folded = html[html.index("<details") : html.index("</details>")]
    assert "On Monday, Bob wrote:" in folded and "&gt; three" in folded
    assert '<pre class="quoted">&gt; just this</pre>' in html


def test_inline_images_point_at_the_published_files() -> None:
    body = MessageBody(
        "s", None, "", '<p><img src="cid:logo@x"><img src="cid:unknown"></p>',
        (SiteAttachment("logo.png", "image/png", 3, "ab" * 32, "<logo@x>", True),),
    )  # fmt: skip
    html = body_html(body, urls.attachment, LABELS)
    assert f'src="files/ab/{"ab" * 32}/logo.png"' in html and 'src=""' in html


def test_names_a_browser_would_run_are_published_as_downloads() -> None:
    assert published_filename("report.pdf") == "report.pdf"
    assert published_filename("../../x.HTML") == "x.HTML.download"
    assert published_filename("drawing.svg") == "drawing.svg.download"
    assert published_filename("report.xhtm") == "report.xhtm.download"
    assert published_filename("process.XPDL") == "process.XPDL.download"
    assert published_filename("README") == "README"
    assert urls.attachment("ab" * 32, "a b.pdf").endswith("/a%20b.pdf")


# nginx's default conf/mime.types for the published extensions it names; the others
# get its default_type, application/octet-stream.
NGINX_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".bmp": "image/x-ms-bmp", ".ico": "image/x-icon",
    ".tif": "image/tiff", ".tiff": "image/tiff", ".pdf": "application/pdf",
    ".txt": "text/plain", ".rtf": "application/rtf", ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel", ".ppt": "application/vnd.ms-powerpoint",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".zip": "application/zip", ".7z": "application/x-7z-compressed",
    ".rar": "application/x-rar-compressed", ".mp3": "audio/mpeg", ".ogg": "audio/ogg",
    ".m4a": "audio/x-m4a", ".mp4": "video/mp4", ".m4v": "video/x-m4v",
    ".mov": "video/quicktime", ".webm": "video/webm", ".avi": "video/x-msvideo",
    ".mpeg": "video/mpeg", ".mpg": "video/mpeg",
}  # fmt: skip


def runs_in_a_browser(content_type: str) -> bool:
    """A type a browser renders as a document of the origin, or runs as script."""
    content_type = content_type.lower()
    return (
        content_type in ("text/html", "text/xml", "application/xml", "text/xsl", "text/mathml")
        or content_type.endswith("+xml")
        or "javascript" in content_type
        or "ecmascript" in content_type
    )


def test_every_name_a_static_server_types_as_a_page_or_script_is_published_as_a_download() -> None:
    mimetypes.init()
    active = [e for e, t in mimetypes.types_map.items() if runs_in_a_browser(t)]
    assert {".html", ".xhtm", ".xpdl", ".svg", ".js", ".xml"} <= set(active)
    for extension in active + [".shtml", ".xht", ".mjs", ".atom", ".rss", ".mml", ".xspf"]:
        assert published_filename(f"a{extension}").endswith(".download"), extension
    for extension in SAFE_EXTENSIONS:
        python_type, _ = mimetypes.guess_type(f"a{extension}")
        assert not runs_in_a_browser(python_type or ""), extension
        assert not runs_in_a_browser(NGINX_TYPES.get(extension, "")), extension
        assert published_filename(f"a{extension}") == f"a{extension}"


def test_replies_follow_their_parents_whatever_the_arrival_order() -> None:
    messages = [entry(1), entry(3, parent=2), entry(2, parent=1), entry(4, parent=1), entry(5)]
    order = [(m.id, depth) for m, depth in reply_order(messages)]
    assert order == [(1, 0), (2, 1), (3, 2), (4, 1), (5, 0)]
    assert [m.id for m, _ in reply_order([entry(1, parent=2), entry(2, parent=1)])] == [1, 2]


@pytest.mark.parametrize(
    ("subject", "thread_subject", "shown"),
    [
        # markers and the gateway's community prefixes add nothing: the thread's subject
        ("Re: [atlas] Colours", "Colours", "Colours"),
        ("[design] Re: [atlas] colours", "Colours", "Colours"),
        ("AW: Colours", "Colours", "Colours"),
        # a thread about "[RFC] Colours" keeps its tag
        ("[design] [RFC] Colours", "[RFC] Colours", "[RFC] Colours"),
        ("[RFC] Colours", "[RFC] Colours", "[RFC] Colours"),
        # a tag no community uses, or other words, make another subject: shown
        ("[RFC] Colours", "Colours", "[RFC] Colours"),
        ("Re: Colours, the date", "Colours", "Re: Colours, the date"),
    ],
)
def test_a_message_shows_its_subject_when_it_is_not_the_threads(
    subject: str, thread_subject: str, shown: str
) -> None:
    assert shown_subject(subject, thread_subject, ("[atlas]", "[design]")) == shown


def test_posts_over_time_by_week_and_top_contributors() -> None:
    messages = [entry(n, sender=1 + n % 2, days_ago=n) for n in range(1, 15)]
    chart = posts_over_time(messages, NOW)
    assert chart.total == 14 and len(chart.bars) == WEEKS and chart.unit == "week"
    assert sum(bar.value for bar in chart.bars[-3:]) == 14  # 26 Nov 2026 is a Thursday
    assert max(bar.height for bar in chart.bars) == chart.height - 4
    top = top_contributors(messages, {1: "Ann", 2: "Bo"}, NOW)
    assert [(c.name, c.posts) for c in top] == [("Ann", 7), ("Bo", 7)]
    assert top[0].share == 1.0


def test_every_page_url_ends_in_a_slash_and_has_a_relative_root() -> None:
    for url in (urls.thread(5), urls.community("design", 2), urls.person(3), urls.PEOPLE):
        assert url.endswith("/") and urls.page_file(url).endswith("/index.html")
    assert urls.root_from(urls.community("design", 2)) == "../../../../"
    assert urls.root_from(urls.HOME) == "" and urls.page_file(urls.HOME) == "index.html"


def test_an_attribution_folds_with_its_quote_across_blank_lines() -> None:
    html = plain_text_html("Yes.\n\nOn Fri, Ann wrote:\n\n> a\n> b\n> c\n", LABELS)
    folded = html[html.index("<details") : html.index("</details>")]
    assert "On Fri, Ann wrote:" in folded and html.startswith('<div class="text"><p>Yes.</p></div>')


def test_outermost_html_quotes_fold() -> None:
    html = "<p>Yes.</p><blockquote>a<blockquote>b</blockquote>c</blockquote><p>End</p>"
    folded = html_body_html(html, LABELS)
    assert folded == (
        '<p>Yes.</p><details class="quoted"><summary>Quoted text</summary>'
        "<blockquote>a<blockquote>b</blockquote>c</blockquote></details><p>End</p>"
    )


def test_a_plain_text_signature_and_its_disclaimer_fold_under_their_own_label() -> None:
    html = plain_text_html("See you.\n\n-- \nAnn\n\nThis email is confidential.\n", LABELS)
    assert html.startswith('<div class="text"><p>See you.</p></div>')
    folded = html[html.index("<details") :]
    assert folded.startswith('<details class="signature"><summary>Signature</summary>')
    assert "confidential" in folded


def test_an_outlook_html_reply_shows_its_new_words_and_folds_the_rest() -> None:
    html = (
        "<p>Oui pour jeudi.</p><p>Hugo</p><p>Tél. : +33 1 23 45 67 89</p>"
        '<p><img src="files/logo.png"></p><p>Ce message est confidentiel.</p><hr>'
        "<p><b>De :</b> Alice<br><b>Envoyé :</b> mardi<br><b>À :</b> Hugo<br>"
        "<b>Objet :</b> Planning</p><p>Old question</p>"
    )
    page = html_body_html(html, LABELS)
    assert page.startswith("<p>Oui pour jeudi.</p>")
    signature = page[page.index('<details class="signature">') : page.index("</details>")]
    assert "Hugo" in signature and "logo.png" in signature and "confidentiel" in signature
    quoted = page[page.index('<details class="quoted">') :]
    assert "Envoyé" in quoted and "Old question" in quoted and "<hr>" in quoted
