"""A mail's plain text as HTML for the shared layout: the wording is written once, in the
text template, and every kind of mail gets its HTML part from it.

The gateway's text mails follow a few shapes, and each becomes its HTML form:
paragraphs (hard-wrapped lines joined again, so that they reflow on a phone), "- "
and "* " lists (an item's indented lines continue it), aligned "Label    value"
lines (a two-column table), "Label: mailto:..." or "Label: https://..." lines (a
button when alone, a row of links when several follow each other), a link alone on
its line (a button for a mailto, a link for a URL), lines indented by four spaces
(examples, kept line by line), "== Heading ==" lines, and the "-- " signature (the
quiet footer). Everything is escaped; URLs, mailto URIs and bare addresses become
links, so that every link of the text is in the HTML too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

from markupsafe import Markup
from markupsafe import escape

from gateway.outbound import mail_style as style
from gateway.outbound.mailto import mailto

SIGNATURE = "-- "
_URL = r"(?i:https?://|mailto:)[^\s<>\"]+"
_ADDRESS = r"[A-Za-z0-9._%+=-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"
_LINKABLE = re.compile(rf"(?P<url>{_URL})|(?P<address>{_ADDRESS})")
# URLs alone (the archive's pages, a whole year of mail): the address pattern, tried at
# each letter, is most of a scan. (Addresses alone still need the URLs found, so that
# an address inside a URL is not linked.)
_URLS_ONLY = re.compile(rf"(?P<url>{_URL})")
# Punctuation that ends a sentence rather than the URL it follows.
_TRAILING = ".,;:!?)]»'"
_ITEM = re.compile(r"^(?P<indent> *)[-*] (?P<text>.*)$")
_HEADING = re.compile(r"^\s*={2,}\s*(?P<text>.+?)\s*={2,}\s*$")
_LABELLED_LINK = re.compile(rf"^\s*(?P<label>[^:]{{1,48}}?):\s+(?P<url>{_URL})\s*$")
_LONE_LINK = re.compile(rf"^\s*(?P<url>{_URL}|{_ADDRESS})\s*$")
_ROW = re.compile(r"^\s*(?P<label>\S.*?)\s{2,}(?P<value>\S.*)$")
_EXAMPLE_INDENT = "    "


@dataclass
class Converted:
    """The text's body and its signature (after "-- "), each as HTML."""

    body: Markup
    footer: Markup
    preheader: str = ""


@dataclass
class _Block:
    # "p", "title", "ul", "rows", "links", "labelled-button", "button", "link",
    # "example", "h"
    kind: str
    lines: list[str] = field(default_factory=list)


def convert(text: str) -> Converted:
    """The HTML of a text mail's body: its content, and its signature as the footer."""
    lines, signature = _signed(text)
    body = Markup("").join(_render(block) for block in _blocks(lines))
    footer = Markup("<br>").join(linkify(line.strip()) for line in signature if line.strip())
    return Converted(body, footer, _preheader(lines))


def preheader(text: str) -> str:
    """The first sentence after the greeting: what inboxes show beside the subject
    (all a kind with its own HTML template needs of its text)."""
    return _preheader(_signed(text)[0])


def _signed(text: str) -> tuple[list[str], list[str]]:
    """The text's lines before its signature ("-- "), and the signature's."""
    lines = text.replace("\r\n", "\n").split("\n")
    if SIGNATURE not in lines:
        return lines, []
    at = lines.index(SIGNATURE)
    return lines[:at], lines[at + 1 :]


def _preheader(lines: list[str]) -> str:
    paragraphs = " ".join(line.strip() if line.strip() else "\n" for line in lines).split("\n")
    for paragraph in (p.strip() for p in paragraphs):
        if paragraph and not paragraph.endswith(",") and not _LONE_LINK.match(paragraph):
            return paragraph[:140]
    return ""


def linkify(
    text: str,
    urls: bool = True,
    addresses: bool = True,
    attributes: Mapping[str, str] | None = None,
) -> Markup:
    """Escaped text with its URLs, mailto URIs and addresses as links. Without `urls`,
    addresses only: what a post says (a digest's excerpts) links to no site; without
    `addresses`, URLs only (the archive's pages). `attributes`: the links' own (the
    archive's rel="nofollow noopener"); without them, the mail's link style."""
    out = []
    position = 0
    for match in (_LINKABLE if addresses else _URLS_ONLY).finditer(text):
        if not (urls if match.group("url") else addresses):
            continue
        start, end = match.span()
        target = match.group()
        while target and target[-1] in _TRAILING:
            target, end = target[:-1], end - 1
        if not target:
            continue
        out.append(escape(text[position:start]))
        href = target if match.group("url") else mailto(target)
        out.append(_anchor(href, target, attributes))
        position = end
    out.append(escape(text[position:]))
    return Markup("").join(out)


def link_text(href: str) -> str:
    """What a link says: a mailto's address (its subject is for the mail client)."""
    if href.startswith("mailto:"):
        return href[len("mailto:") :].split("?", 1)[0]
    return href


def _anchor(href: str, text: str, attributes: Mapping[str, str] | None = None) -> Markup:
    own = {"style": style.LINK} if attributes is None else attributes
    spelled = Markup("").join(Markup(' {}="{}"').format(name, value) for name, value in own.items())
    return Markup('<a href="{}"{}>{}</a>').format(href, spelled, text)


def _blocks(lines: list[str]) -> list[_Block]:
    """The text cut at blank lines, then each paragraph cut where its lines change shape."""
    blocks: list[_Block] = []
    paragraph: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            paragraph.append(line.rstrip())
            continue
        if paragraph:
            blocks.extend(_shape(paragraph))
            paragraph = []
    return blocks


def _kind(line: str) -> str:
    if _HEADING.match(line):
        return "h"
    if _ITEM.match(line):
        return "ul"
    if _LABELLED_LINK.match(line):
        return "links"
    if _LONE_LINK.match(line):
        return "lone"
    if _ROW.match(line):
        return "rows"
    if line.startswith(_EXAMPLE_INDENT):
        return "example"
    return "p"


def _value_column(paragraph: list[str]) -> int:
    """Where the values of aligned "Label    value" lines start, when at least two of
    the paragraph's lines agree on it (0: no such column)."""
    columns = [m.start("value") for m in map(_ROW.match, paragraph) if m]
    common = max(set(columns), key=columns.count, default=0)
    return common if columns.count(common) >= 2 else 0


def _aligned(line: str, column: int) -> bool:
    """A line of a table whose label leaves one space before the column of values
    ("Threads replied to 84%")."""
    return (
        len(line) > column > 1
        and line[column - 1] == " "
        and line[column] != " "
        and bool(line[:column].strip())
    )


def _shape(paragraph: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    column = _value_column(paragraph)
    for line in paragraph:
        kind = _kind(line)
        if kind == "p" and column and _aligned(line, column):
            line = f"{line[:column]} {line[column:]}"
            kind = "rows"
        last = blocks[-1] if blocks else None
        if last is not None and last.kind == "ul" and kind != "ul" and _continues(last, line):
            last.lines[-1] += "\n" + line.strip()
            continue
        if kind == "lone":
            # An address or a mailto is something to do: a button; a URL, a link.
            kind = "link" if line.strip().startswith(("http://", "https://")) else "button"
        if last is not None and last.kind == kind and kind not in ("h", "button", "link"):
            last.lines.append(line)
        else:
            blocks.append(_Block(kind, [line]))
    for block, following in zip(blocks, [*blocks[1:], None], strict=True):
        if block.kind == "links" and len(block.lines) == 1:
            block.kind = "labelled-button"
        if block.kind == "p" and following is not None and _is_title(block, following):
            block.kind = "title"
    return blocks


def _is_title(block: _Block, following: _Block) -> bool:
    """A short line alone, without end punctuation, right above a list: its title."""
    line = block.lines[0].strip()
    return (
        following.kind == "ul"
        and len(block.lines) == 1
        and len(line) <= 60
        and not line.endswith((".", ":", ",", ";", "!", "?"))
    )


def _continues(block: _Block, line: str) -> bool:
    """A line indented past its list item's dash continues the item."""
    first = _ITEM.match(block.lines[-1].split("\n", 1)[0])
    indent = len(first.group("indent")) if first else 0
    return len(line) - len(line.lstrip(" ")) > indent


def _render(block: _Block) -> Markup:
    if block.kind == "h":
        text = _HEADING.match(block.lines[0]).group("text")  # type: ignore[union-attr]
        return Markup('<h2 style="{}">{}</h2>\n').format(style.H2, linkify(text))
    if block.kind == "title":
        return Markup('<h3 style="{}">{}</h3>\n').format(style.H3, linkify(block.lines[0].strip()))
    if block.kind == "ul":
        items = Markup("").join(
            Markup('<li style="{}">{}</li>').format(style.LI, _item(line)) for line in block.lines
        )
        return Markup('<ul style="{}">{}</ul>\n').format(style.UL, items)
    if block.kind == "rows":
        return _rows(block.lines)
    if block.kind == "links":
        links = []
        for line in block.lines:
            match = _LABELLED_LINK.match(line)
            assert match is not None
            links.append(_anchor(match.group("url"), match.group("label").strip()))
        return Markup('<p style="{}">{}</p>\n').format(
            style.LINKS, Markup(" &middot; ").join(links)
        )
    if block.kind == "labelled-button":
        match = _LABELLED_LINK.match(block.lines[0])
        assert match is not None
        return button(match.group("url"), match.group("label").strip())
    if block.kind == "button":
        href = _href(block.lines[0].strip())
        return button(href, link_text(href))
    if block.kind == "link":
        href = block.lines[0].strip()
        return Markup('<p style="{}">{}</p>\n').format(style.P, _anchor(href, href))
    if block.kind == "example":
        lines = Markup("<br>").join(linkify(line.strip()) for line in block.lines)
        return Markup('<p style="{}">{}</p>\n').format(style.EXAMPLE, lines)
    text = " ".join(line.strip() for line in block.lines)
    return Markup('<p style="{}">{}</p>\n').format(style.P, linkify(text))


def button(href: str, label: str) -> Markup:
    """A link drawn as a button, on its own line."""
    return Markup('<p style="{}"><a href="{}" style="{}">{}</a></p>\n').format(
        style.BUTTON_LINE, href, style.BUTTON, label
    )


def _item(item: str) -> Markup:
    first, *rest = item.split("\n")
    match = _ITEM.match(first)
    head = match.group("text") if match else first
    parts = [linkify(head)]
    for line in rest:
        lone = _LONE_LINK.match(line)
        labelled = _LABELLED_LINK.match(line)
        if labelled:
            parts.append(_anchor(labelled.group("url"), labelled.group("label").strip()))
        elif lone:
            parts.append(_anchor(_href(lone.group("url")), link_text(lone.group("url"))))
        else:
            parts.append(linkify(line))
    return Markup("<br>").join(parts)


def _href(target: str) -> str:
    return target if ":" in target.split("@", 1)[0] else mailto(target)


def _rows(lines: list[str]) -> Markup:
    rows = []
    for line in lines:
        match = _ROW.match(line)
        assert match is not None
        rows.append(
            Markup('<tr><td style="{}">{}</td><td style="{}">{}</td></tr>').format(
                style.LABEL_CELL,
                linkify(match.group("label")),
                style.VALUE_CELL,
                linkify(match.group("value")),
            )
        )
    return Markup('<table role="presentation" style="{}">{}</table>\n').format(
        style.TABLE, Markup("").join(rows)
    )
