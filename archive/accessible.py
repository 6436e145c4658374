"""What a page adds to a mail's HTML body so that it reads on a phone and aloud.

A table from an HTML mail is often wider than a phone: in a box of its own it scrolls
there and the page keeps its width. The box is a labelled region that takes the
keyboard's focus, so that it can be scrolled without a pointer (WCAG 2.1.1). Only the
outermost tables are boxed; nested ones scroll with them. Each box of a page has its own
number in its label (landmarks are told apart by their names).

An image with no alt text (Apple Mail sends its inline photos so) is named by its file
name, or a generic word, so that a screen reader says something for it (WCAG 1.1.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

from markupsafe import Markup
from markupsafe import escape

TABLE_TAG = re.compile(r"<(/?)table\b[^>]*>", re.IGNORECASE)
IMAGE_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
HAS_ALT = re.compile(r"\salt\s*=", re.IGNORECASE)
SOURCE = re.compile(r'\ssrc="([^"]*)"', re.IGNORECASE)


def scrolling_tables(html: Markup, label: str, numbers: Iterator[int]) -> Markup:
    """`html` with each outermost <table> inside a focusable, labelled scrolling box;
    `label` has a {number} place, filled from `numbers` (shared by a page's bodies)."""
    if "<table" not in html.lower():
        return html
    text = str(html)  # slices of a Markup would escape what is added to them
    pieces: list[str] = []
    depth = 0
    last = 0
    for match in TABLE_TAG.finditer(text):
        closing = match.group(1) == "/"
        if not closing:
            if depth == 0:
                name = escape(label.format(number=next(numbers)))
                opening = f'<div class="scroll" role="region" tabindex="0" aria-label="{name}">'
                pieces.append(text[last : match.start()] + opening)
                last = match.start()
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                pieces.append(text[last : match.end()] + "</div>")
                last = match.end()
    if depth > 0:  # a table left open by the mail: close the box at the end
        pieces.append(text[last:] + "</div>")
        last = len(text)
    pieces.append(text[last:])
    return Markup("".join(pieces))


def images_with_alt(html: Markup, label: str) -> Markup:
    """`html` with an alt text on each image that has none: its file's name, else `label`."""
    if "<img" not in html.lower():
        return html

    def named(match: re.Match[str]) -> str:
        tag = match.group(0)
        if HAS_ALT.search(tag):
            return tag
        source = SOURCE.search(tag)
        name = unquote(source.group(1).rsplit("/", 1)[-1]) if source else ""
        alt = name if "." in name.strip(".") else label
        return f'<img alt="{escape(alt)}"{tag[4:]}'

    return Markup(IMAGE_TAG.sub(named, str(html)))
