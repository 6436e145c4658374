"""Tables in mail bodies put in a box of their own that scrolls sideways.

A table from an HTML mail is often wider than a phone; in its own box it scrolls
there and the page keeps its width. The box is a labelled region that takes the
keyboard's focus, so that it can be scrolled without a pointer (WCAG 2.1.1). Only the
outermost tables are boxed; nested ones scroll with them.
"""

from __future__ import annotations

import re

from markupsafe import Markup
from markupsafe import escape

TABLE_TAG = re.compile(r"<(/?)table\b[^>]*>", re.IGNORECASE)


def scrolling_tables(html: Markup, label: str) -> Markup:
    """`html` with each outermost <table> inside a focusable, labelled scrolling box."""
    if "<table" not in html.lower():
        return html
    text = str(html)  # slices of a Markup would escape what is added to them
    opening = f'<div class="scroll" role="region" tabindex="0" aria-label="{escape(label)}">'
    pieces: list[str] = []
    depth = 0
    last = 0
    for match in TABLE_TAG.finditer(text):
        closing = match.group(1) == "/"
        if not closing:
            if depth == 0:
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
