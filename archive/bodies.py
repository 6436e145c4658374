"""A message's body as page HTML: the sanitized HTML part, or the plain text with its
links made clickable and each quoted run folded away.

The HTML was sanitized once at ingest (gateway.mail.sanitize) and is not sanitized again
(DESIGN.md, "Known costs"); this only points its cid: images at the archived files.
Everything taken from the plain text is escaped here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Iterator

from markupsafe import Markup
from markupsafe import escape

from archive.snapshot import MessageBody
from gateway.mail.sanitize import without_remote_images

URL = re.compile(r"\bhttps?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)
CID_SRC = re.compile(r'(src=")cid:([^"]+)(")', re.IGNORECASE)
BLOCKQUOTE = re.compile(r"<(/?)blockquote\b[^>]*>", re.IGNORECASE)
BLOCKQUOTE = re.compile(r"<(/?)blockquote\b[^>]*>", re.IGNORECASE)
# Quoted lines ("> ...") and the attribution line before them ("On ..., X wrote:").
QUOTED = re.compile(r"^\s*>")
ATTRIBUTION = re.compile(r"(wrote|a écrit|schrieb|escribió)\s*:\s*$", re.IGNORECASE)
# Quoted runs shorter than this stay open: folding one line hides more than it saves.
FOLD_MIN_LINES = 3


def body_html(body: MessageBody, file_url: Callable[[str, str], str], quoted_label: str) -> Markup:
    if body.body_html.strip():
        return Markup(fold_blockquotes(_inline_images(body, file_url), quoted_label))
    return plain_text_html(body.body_text, quoted_label)


def fold_blockquotes(html: str, quoted_label: str) -> str:
    """Each outermost <blockquote> of a (sanitized) HTML body folded away, as the
    quoted runs of plain text are."""
    out: list[str] = []
    depth = position = 0
    for tag in BLOCKQUOTE.finditer(html):
        closing = tag.group(1) == "/"
        if not closing and depth == 0:
            out.append(html[position : tag.start()])
            out.append(f'<details class="quoted"><summary>{escape(quoted_label)}</summary>')
            position = tag.start()
        depth = max(0, depth + (-1 if closing else 1))
        if closing and depth == 0:
            out.append(html[position : tag.end()] + "</details>")
            position = tag.end()
    out.append(html[position:])
    if depth:  # an unclosed quote (the sanitizer closes them; belt and braces)
        out.append("</details>")
    return "".join(out)


def _inline_images(body: MessageBody, file_url: Callable[[str, str], str]) -> str:
    by_cid = {a.content_id.strip("<>"): a for a in body.attachments if a.content_id}

    def replace(match: re.Match[str]) -> str:
        attachment = by_cid.get(match.group(2).strip("<>"))
        if attachment is None:
            return f"{match.group(1)}{match.group(3)}"
        url = escape(file_url(attachment.sha256, attachment.filename))
        return f"{match.group(1)}{url}{match.group(3)}"

    # Remote images are trackers as often as pictures: the pages' policy blocks them,
    # and feed readers, which do not apply it, never get them.
    return CID_SRC.sub(replace, without_remote_images(body.body_html))


def shown_inline(body: MessageBody) -> set[str]:
    """The content ids of the images the HTML body shows itself (cid:), which the page
    then need not list again as attachments."""
    if not body.body_html.strip():
        return set()
    return {match.group(2).strip("<>") for match in CID_SRC.finditer(body.body_html)}


def plain_text_html(text: str, quoted_label: str) -> Markup:
    parts: list[str] = []
    for quoted, lines in _runs(text.rstrip().splitlines()):
        block = _linkify("\n".join(lines))
        if quoted and len(lines) >= FOLD_MIN_LINES:
            parts.append(
                f'<details class="quoted"><summary>{escape(quoted_label)}</summary>'
                f"<pre>{block}</pre></details>"
            )
        else:
            parts.append(f'<pre class="{"quoted" if quoted else "text"}">{block}</pre>')
    return Markup("".join(parts))


def _runs(lines: list[str]) -> Iterator[tuple[bool, list[str]]]:
    """Consecutive lines grouped by whether they are quoted; an attribution line
    ("On Monday, Bob wrote:") goes with the quote that follows it, blank lines between
    them included."""
    quoted = [bool(QUOTED.match(line)) for line in lines]
    for index, line in enumerate(lines):
        if ATTRIBUTION.search(line):
            following = index + 1
            while following < len(lines) and not lines[following].strip():
                following += 1
            if following < len(lines) and quoted[following]:
                quoted[index:following] = [True] * (following - index)
    current: list[str] = []
    for index, line in enumerate(lines):
        if current and quoted[index] != quoted[index - 1]:
            yield quoted[index - 1], current
            current = []
        current.append(line)
    if current:
        yield quoted[-1], current


def _linkify(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in URL.finditer(text):
        out.append(str(escape(text[position : match.start()])))
        url = escape(match.group(0))
        out.append(f'<a href="{url}" rel="nofollow noopener">{url}</a>')
        position = match.end()
    out.append(str(escape(text[position:])))
    return "".join(out)
