"""HTML from mail made safe to show (bleach) or turned into plain text (html2text).

The only module that imports bleach and html2text (STYLE.md, "Third-party
seams"): bleach is deprecated upstream (mozilla/bleach#698), so replacing it must
stay a one-file change. bleach needs about 0.8 ms for a 600-character part
(DESIGN.md, "Known costs"): sanitize once at ingest and store the result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Mapping
from html import unescape
from typing import Any

import html2text
from bleach.html5lib_shim import Filter
from bleach.sanitizer import Cleaner

from gateway.mail.trim import MARKER_CLASSES
from gateway.mail.trim import MARKER_IDS

# Elements kept in a mail body; every other element is removed and its text kept.
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del",
        "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
        "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "samp", "small", "span",
        "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "tt", "u", "ul",
    }
)  # fmt: skip

# Attributes kept, per element. No style, no on* handler; no class or id but the mail
# clients' quote and signature markers (gateway.mail.trim), kept as classes.
ALLOWED_ATTRIBUTES: Mapping[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "abbr": frozenset({"title"}),
    "img": frozenset({"src", "alt", "width", "height", "title"}),
    "ol": frozenset({"start"}),
    "td": frozenset({"colspan", "rowspan"}),
    "th": frozenset({"colspan", "rowspan"}),
}

# URL schemes for links; a link without a scheme (relative, "#anchor") is kept.
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# URL schemes for images: cid: names an inline part of the same message (RFC 2392).
IMAGE_SCHEMES = frozenset({"http", "https", "cid"})
# The only data: URLs kept: base64 raster images in img src. Never data:text/html,
# never SVG (it can carry script), never in a link.
IMAGE_DATA_URL = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[a-z0-9+/=]*", re.ASCII)

# Elements removed together with everything inside them: their content is code,
# styling or an embedded document, never text the sender meant to show.
DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "style", "title", "template", "iframe", "frame", "frameset",
        "object", "embed", "applet", "noembed", "noframes", "svg", "math",
    }
)  # fmt: skip

LINK_REL = "nofollow noopener"

# What browsers ignore inside a URL scheme (bleach's sanitize_uri_value does the same).
_URL_NOISE = re.compile(r"[`\x00-\x20\x7f-\xa0\s]+")
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")
# What a browser's URL parser drops or rewrites (WHATWG URL Standard, "basic URL
# parser"): leading and trailing C0 controls and spaces are trimmed, tabs and line
# breaks anywhere are removed, and a backslash is a slash in http(s) and
# scheme-relative URLs.
_URL_EDGES = "".join(map(chr, range(0x21)))
_URL_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
# The only image sources a built page or feed shows: the message's own parts.
LOCAL_IMAGE_SCHEMES = frozenset({"cid", "data"})


def sanitize_html(html: str) -> str:
    """Return `html` reduced to the allow-lists above, safe to embed in a page."""
    if not html:
        return ""
    # A Cleaner holds parser state, so each call builds its own: ingest may run
    # parses in several threads at once. The dropped elements pass bleach's filter
    # so that _DropAndMark can remove them with their content; bleach alone would
    # keep their text.
    cleaner = _cleaner(ALLOWED_TAGS | DROPPED_WITH_CONTENT, _DropAndMark)
    result: str = cleaner.clean(html)
    return result


def without_remote_images(html: str) -> str:
    """Return sanitized `html` with the source of every image that is not one of the
    message's own parts (cid:) or an inline raster (data:) removed.

    Remote images are trackers as often as pictures. The decision is made on the
    parsed attribute value, as the browser will read it (entities decoded, spaces
    trimmed, backslashes as slashes), never on the markup's spelling.
    """
    if "<img" not in html.lower():
        return html
    cleaner = _cleaner(ALLOWED_TAGS, _DropRemoteImages)
    result: str = cleaner.clean(html)
    return result


def _cleaner(tags: frozenset[str] | set[str], only: type[Filter]) -> Cleaner:
    """A bleach Cleaner with our attribute rules and schemes, and one filter of ours."""
    return Cleaner(
        tags=tags,
        attributes=_allow_attribute,
        protocols=LINK_SCHEMES | IMAGE_SCHEMES | {"data"},
        strip=True,
        strip_comments=True,
        filters=[only],
    )


def html_to_text(html: str) -> str:
    """Return the readable text of `html`: no wrapping, links kept inline."""
    if not html:
        return ""
    converter = html2text.HTML2Text(bodywidth=0)
    converter.unicode_snob = True
    converter.inline_links = True
    converter.wrap_links = False
    converter.images_to_alt = True
    return converter.handle(html).strip("\n")


def _allow_attribute(tag: str, name: str, value: str) -> bool:
    """bleach's attribute filter: the allow-list, plus a scheme check on URLs."""
    if name == "class":
        return bool(MARKER_CLASSES.intersection(value.split()))
    if name == "id":
        return value in MARKER_IDS
    if tag == "blockquote" and name == "type":
        return value.lower() == "cite"
    if name not in ALLOWED_ATTRIBUTES.get(tag, ()):
        return False
    if tag == "a" and name == "href":
        scheme = _scheme(value)
        return scheme is None or scheme in LINK_SCHEMES
    if tag == "img" and name == "src":
        scheme = _scheme(value)
        if scheme == "data":
            return IMAGE_DATA_URL.fullmatch(_normalize_url(value)) is not None
        return scheme in IMAGE_SCHEMES
    return True


def browser_url(value: str) -> str:
    """An attribute's URL as a browser reads it: entities decoded, edges trimmed,
    tabs and line breaks removed, backslashes read as slashes."""
    url = _URL_TAB_OR_NEWLINE.sub("", unescape(value)).strip(_URL_EDGES)
    scheme = _scheme(url)
    if scheme in (None, "http", "https"):
        url = url.replace("\\", "/")
    return url


def _normalize_url(value: str) -> str:
    """The URL as a browser reads its scheme: entities decoded, noise removed, lowercased."""
    return _URL_NOISE.sub("", unescape(value)).lower()


def _scheme(value: str) -> str | None:
    """The URL's scheme, or None for a relative URL."""
    match = _SCHEME.match(_normalize_url(value))
    return match.group(1) if match else None


class _DropAndMark(Filter):  # type: ignore[misc]  # bleach ships no type hints
    """Remove DROPPED_WITH_CONTENT elements with their content; mark links rel=nofollow.

    Runs on the tree walker's token stream, after bleach has filtered tags and
    attributes; start and end tags come from a parsed tree, so they balance.
    """

    def __iter__(self) -> Iterator[dict[str, Any]]:
        depth = 0
        for token in super().__iter__():
            kind = token["type"]
            dropped = kind in ("StartTag", "EndTag", "EmptyTag") and (
                token["name"] in DROPPED_WITH_CONTENT
            )
            if dropped and kind == "StartTag":
                depth += 1
            elif dropped and kind == "EndTag":
                depth = max(depth - 1, 0)
            elif not dropped and not depth:
                if kind == "StartTag" and token["name"] == "a":
                    token.setdefault("data", {})[(None, "rel")] = LINK_REL
                if kind in ("StartTag", "EmptyTag") and token["name"] == "img":
                    _canonical_source(token)
                if kind in ("StartTag", "EmptyTag"):
                    _markers_only(token)
                yield token


def _markers_only(token: dict[str, Any]) -> None:
    """Keep only the clients' marker classes, an allowed id moved into them: an id from
    a mail must not collide with the page's own."""
    attributes = token.get("data") or {}
    classes = attributes.pop((None, "class"), "").split()
    classes += [attributes.pop((None, "id"))] if (None, "id") in attributes else []
    kept = [name for name in dict.fromkeys(classes) if name in MARKER_CLASSES]
    if kept:
        attributes[(None, "class")] = " ".join(kept)


def _canonical_source(token: dict[str, Any]) -> None:
    """Store an image's source as the browser reads it, so that what later reads the
    stored HTML (the archive, the feeds) sees the URL the browser would load."""
    attributes = token.get("data") or {}
    if (None, "src") in attributes:
        attributes[(None, "src")] = browser_url(attributes[(None, "src")])


class _DropRemoteImages(Filter):  # type: ignore[misc]  # bleach ships no type hints
    """Remove the source of each image that is not cid: or an allowed data: URL."""

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token["name"] == "img":
                attributes = token.get("data") or {}
                source = attributes.get((None, "src"))
                if source is not None and not _is_local_image(browser_url(source)):
                    del attributes[(None, "src")]
            yield token


def _is_local_image(url: str) -> bool:
    scheme = _scheme(url)
    if scheme == "data":
        return IMAGE_DATA_URL.fullmatch(_normalize_url(url)) is not None
    return scheme in LOCAL_IMAGE_SCHEMES
