"""HTML from mail: hostile markup is neutralized, ordinary markup survives, text is readable."""

from __future__ import annotations

import re

import pytest

from gateway.mail.sanitize import ALLOWED_TAGS
from gateway.mail.sanitize import LINK_REL
from gateway.mail.sanitize import html_to_text
from gateway.mail.sanitize import sanitize_html
from gateway.mail.sanitize import without_remote_images
from tests.remote_images import REMOTE_IMAGE_SPELLINGS

# Anything that can run script or load a document, whatever survived around it.
DANGER = re.compile(
    r"<\s*/?\s*(script|style|iframe|frame|object|embed|svg|math|form|input|base|meta|link)\b"
    r"|\son[a-z]+\s*=|javascript:|vbscript:|data:text|style\s*=",
    re.IGNORECASE,
)

HOSTILE = [
    # (name, html, text that must survive, text that must be gone)
    ("script", "<p>hi</p><script>alert(1)</script>", "hi", "alert"),
    ("uppercase script", "<SCRIPT>alert(1)</SCRIPT>after", "after", "alert"),
    ("unclosed script", "before<script>alert(1)", "before", "alert"),
    ("script in a comment", "<!-- <script>alert(1)</script> -->kept", "kept", "alert"),
    ("split script tag", "<scr<script>ipt>alert(1)</script>kept", "kept", "<script"),
    ("img onerror", '<img src="x.png" onerror="alert(1)">', "<img", "onerror"),
    ("javascript href", '<a href="javascript:alert(1)">x</a>', ">x</a>", "javascript"),
    ("uppercase JAVASCRIPT href", '<a href="JAVASCRIPT:alert(1)">x</a>', ">x</a>", "alert"),
    ("entity-encoded colon", '<a href="javascript&#58;alert(1)">x</a>', ">x</a>", "alert"),
    ("entity-encoded tab", '<a href="jav&#x09;ascript:alert(1)">x</a>', ">x</a>", "alert"),
    ("leading space", '<a href=" javascript:alert(1)">x</a>', ">x</a>", "alert"),
    ("vbscript href", '<a href="vbscript:msgbox(1)">x</a>', ">x</a>", "msgbox"),
    (
        "data:text/html link",
        '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
        ">x</a>",
        "data:",
    ),
    ("data:image link", '<a href="data:image/png;base64,iVBORw0KGgo=">x</a>', ">x</a>", "data:"),
    ("style attribute", '<p style="background:url(javascript:alert(1))">x</p>', "<p>x</p>", "url("),
    ("style element", "<style>body{display:none}</style>text", "text", "display"),
    ("iframe", '<iframe src="http://evil.example/"></iframe>after', "after", "evil"),
    ("iframe content", "<iframe>inner</iframe>after", "after", "inner"),
    ("svg onload", '<svg onload="alert(1)"><circle r="1"/></svg>after', "after", "alert"),
    ("script inside svg", "<svg><script>alert(1)</script></svg>after", "after", "alert"),
    (
        "math href",
        '<math><mi xlink:href="javascript:alert(1)">m</mi></math>after',
        "after",
        "alert",
    ),
    (
        "object",
        '<object data="x.swf"><param name="a" value="b">fallback</object>after',
        "after",
        "swf",
    ),
    ("embed", '<embed src="x.swf">after', "after", "swf"),
    (
        "form",
        '<form action="http://evil.example/"><input name="pw" type="password"></form>x',
        "x",
        "evil",
    ),
    (
        "meta refresh",
        '<meta http-equiv="refresh" content="0;url=http://evil.example/">x',
        "x",
        "evil",
    ),
    ("base", '<base href="http://evil.example/">x', "x", "evil"),
    ("event handler on div", '<div onmouseover="alert(1)">d</div>', "<div>d</div>", "alert"),
    ("img data:text/html", '<img src="data:text/html;base64,PHNjcmlwdD4=">', "<img", "data:"),
    ("img data:image/svg", '<img src="data:image/svg+xml;base64,PHN2Zz4=">', "<img", "svg"),
    ("img javascript", '<img src="javascript:alert(1)">', "<img", "alert"),
    ("title", "<title>Newsletter</title><p>body</p>", "<p>body</p>", "Newsletter"),
]


@pytest.mark.parametrize(
    ("html", "kept", "gone"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_hostile_markup_is_neutralized(html: str, kept: str, gone: str) -> None:
    result = sanitize_html(html)
    assert kept in result
    assert gone not in result
    assert not DANGER.search(result), result


ALLOWED = [
    ("paragraphs", "<p>one<br>two</p>", "<p>one<br>two</p>"),
    (
        "emphasis",
        "<b>b</b><i>i</i><em>e</em><strong>s</strong><u>u</u><s>x</s>",
        "<b>b</b><i>i</i><em>e</em><strong>s</strong><u>u</u><s>x</s>",
    ),
    (
        "quote and code",
        "<blockquote>q</blockquote><pre><code>c</code></pre>",
        "<blockquote>q</blockquote><pre><code>c</code></pre>",
    ),
    ("lists", "<ul><li>a</li></ul><ol><li>b</li></ol>", "<ul><li>a</li></ul><ol><li>b</li></ol>"),
    ("headings", "<h1>t</h1><h6>s</h6>", "<h1>t</h1><h6>s</h6>"),
    (
        "table spans",
        '<table><tr><td colspan="2" rowspan="3">c</td><th colspan="1">h</th></tr></table>',
        '<table><tbody><tr><td colspan="2" rowspan="3">c</td><th colspan="1">h</th></tr>'
        "</tbody></table>",
    ),
    (
        "misc",
        "<hr><sub>1</sub><sup>2</sup><span>s</span><div>d</div>",
        "<hr><sub>1</sub><sup>2</sup><span>s</span><div>d</div>",
    ),
    (
        "link",
        '<a href="https://example.com/x?a=1&amp;b=2" title="t">l</a>',
        f'<a href="https://example.com/x?a=1&amp;b=2" title="t" rel="{LINK_REL}">l</a>',
    ),
    (
        "mailto link",
        '<a href="mailto:design@lists.example.com">m</a>',
        f'<a href="mailto:design@lists.example.com" rel="{LINK_REL}">m</a>',
    ),
    ("anchor link", '<a href="#part2">p</a>', f'<a href="#part2" rel="{LINK_REL}">p</a>'),
    (
        "sender's rel replaced",
        '<a href="http://x.example/" rel="opener" target="_blank">x</a>',
        f'<a href="http://x.example/" rel="{LINK_REL}">x</a>',
    ),
    (
        "image",
        '<img src="https://example.com/a.png" alt="A" width="10" height="20">',
        '<img src="https://example.com/a.png" alt="A" width="10" height="20">',
    ),
    (
        "inline image",
        '<img src="cid:part1.abc@example.com" alt="logo">',
        '<img src="cid:part1.abc@example.com" alt="logo">',
    ),
    (
        "data image",
        '<img src="data:image/png;base64,iVBORw0KGgo=">',
        '<img src="data:image/png;base64,iVBORw0KGgo=">',
    ),
    (
        "data image jpeg",
        '<img src="data:image/jpeg;base64,/9j/4A==">',
        '<img src="data:image/jpeg;base64,/9j/4A==">',
    ),
    ("unknown tag stripped, text kept", "<font color=red>f</font><center>c</center>", "fc"),
    ("classes and ids dropped", '<span class="c" id="i">s</span>', "<span>s</span>"),
    (
        "the clients' quote markers kept, other classes dropped",
        '<div class="gmail_quote x"><blockquote type="cite" class="y">q</blockquote></div>',
        '<div class="gmail_quote"><blockquote type="cite">q</blockquote></div>',
    ),
    (
        "Outlook's marker ids kept as classes, never as ids",
        '<div id="divRplyFwdMsg" class="x">h</div><div id="Signature">s</div>',
        '<div class="divRplyFwdMsg">h</div><div class="Signature">s</div>',
    ),
    (
        "blockquote type other than cite dropped",
        '<blockquote type="x">q</blockquote>',
        "<blockquote>q</blockquote>",
    ),
    ("text escaped", "1 < 2 & 3 > 2", "1 &lt; 2 &amp; 3 &gt; 2"),
]


@pytest.mark.parametrize(
    ("html", "expected"), [case[1:] for case in ALLOWED], ids=[case[0] for case in ALLOWED]
)
def test_allowed_markup_is_kept(html: str, expected: str) -> None:
    assert sanitize_html(html) == expected


def test_allow_list_holds_no_dangerous_element() -> None:
    assert not ALLOWED_TAGS & {"script", "style", "iframe", "form", "input", "object", "svg"}


def test_empty_input() -> None:
    assert sanitize_html("") == ""
    assert html_to_text("") == ""


def test_whole_document_keeps_only_its_body() -> None:
    html = (
        "<!DOCTYPE html><html><head><title>T</title><style>p{}</style>"
        '<meta charset="utf-8"></head><body><p>Bonjour</p></body></html>'
    )
    assert sanitize_html(html) == "<p>Bonjour</p>"


def test_html_to_text_keeps_links_inline_and_does_not_wrap() -> None:
    words = " ".join(["word"] * 40)
    text = html_to_text(
        '<p>Hello <b>world</b>, see <a href="https://example.com/a">the page</a>.</p>'
        f"<p>{words}</p>"
    )
    assert "[the page](https://example.com/a)" in text
    assert words in text  # one line: no wrapping
    assert text == text.strip("\n")


def test_html_to_text_drops_script_and_style_and_keeps_unicode() -> None:
    text = html_to_text(
        "<style>p{color:red}</style><script>alert(1)</script><p>Caf\u00e9 &eacute;t\u00e9</p>"
    )
    assert text == "Caf\u00e9 \u00e9t\u00e9"


def test_html_to_text_shows_image_alt_text_not_its_data() -> None:
    text = html_to_text('<p>Logo: <img src="data:image/png;base64,iVBORw0KGgo=" alt="ACME"></p>')
    assert "ACME" in text
    assert "base64" not in text


@pytest.mark.parametrize(
    "html", [case[1] for case in REMOTE_IMAGE_SPELLINGS], ids=[c[0] for c in REMOTE_IMAGE_SPELLINGS]
)
def test_an_image_source_is_stored_as_the_browser_reads_it(html: str) -> None:
    """Whatever the spelling, the stored source is the URL the browser would load, so
    that what reads the stored HTML later sees the remote image for what it is."""
    assert re.search(r'src="https://evil\.example/\d\.png"', sanitize_html(html))


@pytest.mark.parametrize(
    "html", [case[1] for case in REMOTE_IMAGE_SPELLINGS], ids=[c[0] for c in REMOTE_IMAGE_SPELLINGS]
)
def test_remote_images_are_removed_whatever_their_spelling(html: str) -> None:
    assert "evil" not in without_remote_images(sanitize_html(html))
    assert "evil" not in without_remote_images(html)  # HTML stored before this check too


def test_the_message_own_images_are_kept() -> None:
    html = '<img src="cid:logo@x"><img src="data:image/png;base64,iVBORw0KGgo="><img src="//x/a">'
    assert without_remote_images(html) == (
        '<img src="cid:logo@x"><img src="data:image/png;base64,iVBORw0KGgo="><img>'
    )
