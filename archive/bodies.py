"""A message's body as page HTML: the sanitized HTML part, or the plain text with its
links made clickable; either way the new text shown and what gateway.mail.trim tells
apart from it (the quoted history with its attribution or Outlook's header block, the
signature with its disclaimer) folded one click away in <details>, nothing deleted.

The new plain text is laid out as paragraphs: format=flowed decoded (gateway.mail.flowed:
at parse for each flowed part; here for messages stored before that, whose flags
still say FLOWED) and hard-wrapped lines joined where they look wrapped
(archive.reflow), so that it reads at any width; code and tables keep their lines in
a monospace block. A body whose every part was flowed is joined no further.

The HTML was sanitized once at ingest (gateway.mail.sanitize) and is not sanitized again
(DESIGN.md, "Known costs"); this only points its cid: images at the archived files.
Everything taken from the plain text is escaped here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup
from markupsafe import escape

from archive.reflow import blocks
from archive.reflow import wrap_column
from archive.snapshot import MessageBody
from gateway.mail.flowed import DELSP
from gateway.mail.flowed import FLOWED
from gateway.mail.flowed import FLOWED_DECODED
from gateway.mail.flowed import unflowed
from gateway.mail.trim import Kind
from gateway.mail.trim import Part
from gateway.mail.trim import trim_html
from gateway.mail.trim import trim_text
from gateway.outbound.text_html import linkify

# Links in what people wrote: followed by no search engine, opened with no opener.
LINK_ATTRIBUTES = {"rel": "nofollow noopener"}
CID_SRC = re.compile(r'(src=")cid:([^"]+)(")', re.IGNORECASE)
# Quoted runs of plain text shorter than this stay open (an interleaved reply's context):
# folding one line hides more than it saves.
FOLD_MIN_LINES = 3
# A line break the sender meant, inside a paragraph.
NEWLINE = "\n"
LINE_BREAK = "<br>\n"


@dataclass(frozen=True)
class FoldLabels:
    """The summaries of the folded parts, in the page's language (labels.*.toml)."""

    quoted: str
    signature: str

    def of(self, kind: Kind) -> str:
        return self.signature if kind is Kind.SIGNATURE else self.quoted


def body_html(body: MessageBody, file_url: Callable[[str, str], str], labels: FoldLabels) -> Markup:
    if body.body_html.strip():
        return html_body_html(_inline_images(body, file_url), labels)
    return plain_text_html(
        body.body_text,
        labels,
        flowed=FLOWED in body.flags,
        delsp=DELSP in body.flags,
        reflow=FLOWED_DECODED not in body.flags,
    )


def html_body_html(html: str, labels: FoldLabels) -> Markup:
    """A sanitized HTML body with its trimmed parts folded."""
    return Markup("".join(_html_part(part, labels) for part in trim_html(html).parts))


def _html_part(part: Part, labels: FoldLabels) -> str:
    if part.kind is Kind.NEW or not part.text.strip() and "<img" not in part.html:
        return part.html
    return _folded(part.kind, labels, part.html)


def _folded(kind: Kind, labels: FoldLabels, inner: str) -> str:
    return (
        f'<details class="{kind.value}"><summary>{escape(labels.of(kind))}</summary>'
        f"{inner}</details>"
    )


def _inline_images(body: MessageBody, file_url: Callable[[str, str], str]) -> str:
    # Only an img has a source in stored HTML (gateway.mail.sanitize's allow-list).
    if "<img" not in body.body_html.lower():
        return body.body_html
    by_cid = {a.content_id.strip("<>"): a for a in body.attachments if a.content_id}

    def replace(match: re.Match[str]) -> str:
        attachment = by_cid.get(match.group(2).strip("<>"))
        if attachment is None:
            return f"{match.group(1)}{match.group(3)}"
        url = escape(file_url(attachment.sha256, attachment.filename))
        return f"{match.group(1)}{url}{match.group(3)}"

    # Remote images are trackers as often as pictures: the pages' policy blocks them,
    # and feed readers, which do not apply it, never get them. (Imported here: bleach
    # is a tenth of an update's start-up, and most bodies show no image.)
    from gateway.mail.sanitize import without_remote_images

    return CID_SRC.sub(replace, without_remote_images(body.body_html))


def shown_inline(body: MessageBody) -> set[str]:
    """The content ids of the images the HTML body shows itself (cid:), which the page
    then need not list again as attachments."""
    if not body.body_html.strip():
        return set()
    return {match.group(2).strip("<>") for match in CID_SRC.finditer(body.body_html)}


def plain_text_html(
    text: str,
    labels: FoldLabels,
    flowed: bool = False,
    delsp: bool = False,
    reflow: bool = True,
) -> Markup:
    """`flowed`: the text is still format=flowed, to decode; `reflow`: join lines that
    look hard-wrapped (not in text that was flowed: its lines are paragraphs)."""
    if flowed:
        text = unflowed(text, delsp)
    column = wrap_column(text) if reflow and not flowed else None
    parts: list[str] = []
    for part in trim_text(text.rstrip()).parts:
        lines = part.text.strip("\n").split("\n")
        if not part.text.strip():
            continue
        if part.kind is Kind.NEW:
            parts.append(f'<div class="text">{_new_text(part.text, column)}</div>')
        elif part.kind is Kind.QUOTED and len(lines) < FOLD_MIN_LINES:
            parts.append(f'<pre class="quoted">{_linkify(NEWLINE.join(lines))}</pre>')
        else:
            block = _linkify(NEWLINE.join(lines))
            parts.append(_folded(part.kind, labels, f"<pre>{block}</pre>"))
    return Markup("".join(parts))


def _new_text(text: str, column: int | None) -> str:
    """Paragraphs (the sender's own line breaks kept) and monospace blocks."""
    shown = []
    for block in blocks(text.strip("\n"), column):
        inner = _linkify("\n".join(block.lines))
        if block.preformatted:
            shown.append(f'<pre class="code">{inner}</pre>')
        else:
            shown.append(f"<p>{inner.replace(NEWLINE, LINE_BREAK)}</p>")
    return "".join(shown)


def _linkify(text: str) -> str:
    # URLs only: the archive is public, and its pages link no address.
    return str(linkify(text, addresses=False, attributes=LINK_ATTRIBUTES))
