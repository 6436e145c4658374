"""A reply split into the words its sender wrote now and the parts a reader can fold
away: the quoted history (with its attribution line or Outlook header block), and the
signature with its disclaimer and the mail client's furniture ("Sent from my iPhone").

One set of rules for plain text and for sanitized HTML (gateway.mail.sanitize keeps
the clients' marker classes for this), used by the archive, digest excerpts, monthly
mails, previews and the email actions (issue 18, items 2 and 3). A body is first cut
into pieces (lines of text, or the blocks of the HTML), each piece is classified, and
consecutive pieces of one kind make a part. Nothing is deleted: the parts put together
are the whole body. A body whose new text would be empty is returned whole.

The rules, not quotequail or mail-parser-reply: on the labelled replies in
tests/fixtures/replies/ (bench/trim.py) neither library handles interleaved replies,
the sanitized HTML or the French and German Outlook header blocks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from html import escape

from lxml import etree
from lxml import html as lxml_html


class Kind(StrEnum):
    NEW = "new"
    QUOTED = "quoted"
    SIGNATURE = "signature"


# Marker classes of the mail clients' HTML (the sanitizer keeps these and no other
# class), by what they open. Outlook's ids are kept as classes of the same name.
QUOTE_CLASSES = frozenset(
    {
        "gmail_quote",  # Gmail: the attribution and the quoted history
        "gmail_quote_container",
        "gmail_attr",  # Gmail: "On ... wrote:"
        "moz-cite-prefix",  # Thunderbird: "Le ... a écrit :"
        "yahoo_quoted",  # Yahoo Mail
        "protonmail_quote",  # Proton Mail
        "moz-forward-container",
    }
)
SIGNATURE_CLASSES = frozenset(
    {
        "gmail_signature",
        "gmail_signature_prefix",  # Gmail's "-- " before the signature
        "moz-signature",  # Thunderbird
        "protonmail_signature_block",  # Proton Mail: signature and "Sent with Proton Mail"
        "Signature",  # Outlook on the web and new Outlook: <div id="Signature">
        "ms-outlook-mobile-signature",  # Outlook for iOS and Android: "Get Outlook for iOS"
    }
)
# From here to the end everything is history: Outlook on the web's reply header and
# the empty marker and <hr> before it, new Outlook's quoted container.
HISTORY_CLASSES = frozenset(
    {"divRplyFwdMsg", "appendonsend", "mail-editor-reference-message-container"}
)
MARKER_CLASSES = QUOTE_CLASSES | SIGNATURE_CLASSES | HISTORY_CLASSES
MARKER_IDS = frozenset(
    {
        "divRplyFwdMsg",
        "appendonsend",
        "Signature",
        "ms-outlook-mobile-signature",
        "mail-editor-reference-message-container",
    }
)

_QUOTED_LINE = re.compile(r"^\s*>")
# An attribution line, once quoted lines are set aside (item 3 of issue 18): in French
# "Le ..." starts many sentences, so only the whole line, ending as clients end it, counts.
_ATTRIBUTION = re.compile(
    r"^\s*(?:"
    r"On\b.{3,300}\bwrote"
    r"|Le\b.{3,300}\ba\s+écrit"
    r"|Am\b.{3,300}\bschrieb\b.{0,300}"
    r"|.{0,300}(?:\bwrote|\bwrites|\ba\s+écrit|\bschrieb|\bgeschrieben|\bescribió)"
    r")\s*:\s*$",
    re.IGNORECASE | re.DOTALL,
)
# The clients' own attribution forms, which open the history even when the client does
# not mark the quoted lines (Yahoo's and Outlook mobile's text parts).
# "Le" and "Am" start sentences too ("Le texte qu'Alice a écrit :"): those need a
# date, a time or an address as well.
_FULL_ATTRIBUTION = re.compile(r"^\s*(?:On\s|(?:Le|Am)\s(?=.*(?:\d|@)))", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(
    r"^[\s*_]*-{2,}\s*(?:Original Message|Message d'origine|Ursprüngliche Nachricht"
    r"|Mensaje original)\s*-{2,}[\s*_]*$",
    re.IGNORECASE,
)
# What the first line of a history opener (_ORIGINAL_MESSAGE, _HEADER_FROM) starts with:
# most lines are not worth a closer look.
_HISTORY_HINT = re.compile(r"[\s*_]*(?:--|from|de|von|van)", re.IGNORECASE)
# Outlook's reply header block: "From:" (De :, Von:) then Sent/To/Subject lines.
_HEADER_FROM = re.compile(r"^[\s*_]*(?:From|De|Von|Van)[\s*_]*:[\s*_]*\S", re.IGNORECASE)
_HEADER_FIELD = re.compile(
    r"^[\s*_]*(?:Sent|Date|Envoyé|Gesendet|Datum|To|À|A|An|Cc|Subject|Objet|Betreff)"
    r"[\s*_]*:",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
# A rule line: Outlook's line above its header block, or a mailing list's footer.
_RULE = re.compile(r"\s*(?:_{10,}|-{10,})\s*$")
_SIGNATURE_SEPARATOR = re.compile(r"\s*\\?--\s?$")
# The mobile and web clients' own line under a message.
_FURNITURE = re.compile(
    r"^\s*(?:Sent from my .{1,40}|Sent from (?:Yahoo Mail|Mail for Windows|Outlook)\b.*"
    r"|Get Outlook for (?:iOS|Android)|Envoyé de mon .{1,40}|Envoyé depuis mon .{1,40}"
    r"|(?:Obtenir|Télécharger) Outlook pour (?:iOS|Android)|Envoyé à partir de .{1,40}"
    r"|Von (?:meinem )?.{1,40} gesendet|Outlook für (?:iOS|Android) beziehen"
    r"|Sent with Proton Mail.*"
    r"|Envoyé avec (?:la messagerie )?"
    r"(?:sécurisée )?Proton Mail.*)\s*\.?\s*$",
    re.IGNORECASE,
)
_DISCLAIMER_MIN_CHARS = 24  # "Ce message est confidentiel." and longer
_SIGNATURE_START = re.compile(
    f"(?:{_SIGNATURE_SEPARATOR.pattern}|{_RULE.pattern}|{_FURNITURE.pattern.lstrip('^')})",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"\b(?:confidential|privileged|intended (?:solely )?for the (?:sole )?(?:use of the )?"
    r"(?:addressee|recipient)|confidentiel|destinataires? (?:exclusifs?|désignés?)"
    r"|strictement interdite?|vertraulich|think before printing|avant d'imprimer"
    r"|before printing this)",
    re.IGNORECASE,
)
# A word of each of _DISCLAIMER's phrases: a text with none of them (most) is not
# searched line by line, which was half of classifying a reply's lines.
_DISCLAIMER_WORDS = (
    "confiden", "privileg", "intended", "destinataire", "strictement", "vertraulich",
    "printing", "imprimer",
)  # fmt: skip
# A phone number: international, French, North American.
_PHONE_NUMBER = (
    r"\+\d[\d .()/-]{7,}\d|\b0\d(?:[ .]?\d\d){4}\b|\(\d{3}\) ?\d{3}-\d{4}"
    r"|\b\d{3}[-.]\d{3}[-.]\d{4}\b"
)
_PHONE = re.compile(
    rf"(?:{_PHONE_NUMBER}|\b(?:Tél|Tel|Phone|Mobile|Mob|Fax|Portable)\b\.?\s*:?)",
    re.IGNORECASE,
)
_IMAGE_PLACEHOLDER = re.compile(r"\[(?:cid:|image:)[^\]]*\]|!\[[^\]]*\]\(cid:", re.IGNORECASE)
# A sign-off line belongs to the message, not to the contact block under it.
_SIGNOFF = re.compile(
    r"^\s*(?:(?:best|kind|warm)?\s*regards|best|cheers|thanks|many thanks|cordialement"
    r"|bien (?:à vous|cordialement)|bonne (?:journée|soirée)|à bientôt|amicalement|bises"
    r"|(?:viele|beste|liebe|freundliche) grüße|mit freundlichen grüßen|lg|vg|mfg)\b",
    re.IGNORECASE,
)
# What a contact line holds besides its label: phone, address, link, logo.
_CONTACT_MARKS = re.compile(
    rf"{_PHONE_NUMBER}|\S+@\S+|\S+://\S+|\bwww\.\S+"
    r"|\[(?:cid:|image:)[^\]]*\]|!\[[^\]]*\]\(cid:[^)]*\)"
)
_CONTACT_LABEL_WORDS = 4
_SENTENCE_STOP = re.compile(r"[.?!]\s*$")
_SENTENCE_END = re.compile(r"[.?!:;,]\s*$")
# A contact block (name, title, phone, logo) is short lines only.
_CONTACT_LINE_CHARS = 60
_CONTACT_LINE_WORDS = 8
_CONTACT_BLOCK_LINES = 12
_ATTRIBUTION_WRAP = 3  # an attribution wrapped over at most this many lines
# A signature with its disclaimer is rarely longer; more after a "--" is the sender's.
_SIGNATURE_MAX_LINES = 20

# HTML: elements shown as one block and never opened, and containers that are opened.
_ATOMIC = frozenset(
    {"p", "table", "ul", "ol", "dl", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
)
_CONTAINERS = frozenset({"div", "section", "article", "center", "font", "span", "body"})
_BLOCKS = _ATOMIC | {"div", "section", "article", "center", "blockquote", "body"}


@dataclass(frozen=True)
class Part:
    kind: Kind
    text: str
    html: str = ""  # the part's HTML when the body was HTML


@dataclass(frozen=True)
class Trimmed:
    """A body as consecutive parts; joined, they are the whole body."""

    parts: tuple[Part, ...]

    @property
    def new_text(self) -> str:
        """What the sender wrote now, blank lines at its edges removed."""
        return _strip_blank_lines("\n".join(p.text for p in self.parts if p.kind is Kind.NEW))

    @property
    def folded(self) -> bool:
        return any(p.kind is not Kind.NEW for p in self.parts)


@dataclass
class _Piece:
    text: str
    html: str = ""
    marker: Kind | None = None
    history: bool = False  # from here to the end is quoted history
    image: bool = False
    blank: bool = field(init=False)

    def __post_init__(self) -> None:
        self.blank = not self.text.strip() and not self.image


def trim_text(text: str, *, whole_if_empty: bool = True) -> Trimmed:
    """A plain-text body split into its parts. A body with no new text is returned
    whole, unless `whole_if_empty` is false (the email actions: a reply quoting the
    gateway's own answer must not re-apply what it quoted)."""
    lines = text.replace("\r\n", "\n").split("\n")
    pieces = [
        _Piece(line, marker=Kind.QUOTED if _QUOTED_LINE.match(line) else None) for line in lines
    ]
    return _parts(pieces, html=False, whole_if_empty=whole_if_empty)


def trim_html(html: str) -> Trimmed:
    """A sanitized HTML body split into its parts, each with its HTML and its text."""
    if not html.strip():
        return Trimmed((Part(Kind.NEW, "", html),))
    root = lxml_html.fragment_fromstring(html, create_parent="div")
    pieces = list(_html_pieces(root))
    if not pieces:
        return Trimmed((Part(Kind.NEW, _text_of(root), html),))
    return _parts(pieces, html=True)


def new_text(text: str) -> str:
    """The words the sender wrote now in a plain-text body."""
    return trim_text(text).new_text


def _parts(pieces: list[_Piece], *, html: bool, whole_if_empty: bool = True) -> Trimmed:
    kinds = _classify(pieces)
    parts: list[Part] = []
    start = 0
    for index in range(1, len(pieces) + 1):
        if index == len(pieces) or kinds[index] is not kinds[start]:
            run = pieces[start:index]
            parts.append(
                Part(
                    kinds[start],
                    "\n".join(p.text for p in run),
                    "".join(p.html for p in run) if html else "",
                )
            )
            start = index
    trimmed = Trimmed(tuple(parts))
    if not whole_if_empty:
        return trimmed
    whole_html = "".join(p.html for p in pieces) if html else ""
    return whole_if_nothing_new(trimmed, "\n".join(p.text for p in pieces), whole_html)


def whole_if_nothing_new(trimmed: Trimmed, whole: str, whole_html: str = "") -> Trimmed:
    """`trimmed`, or the whole body as its new text when all of it was folded (what the
    trim functions give by default): `whole` is the body with LF line ends."""
    if trimmed.folded and not trimmed.new_text.strip():
        return Trimmed((Part(Kind.NEW, whole, whole_html),))
    return trimmed


def _classify(pieces: list[_Piece]) -> list[Kind]:
    count = len(pieces)
    kinds: list[Kind | None] = [p.marker for p in pieces]
    # The history: everything from Outlook's header block or "Original Message" on.
    for index, piece in enumerate(pieces):
        if kinds[index] is not None and not piece.history:
            continue
        if piece.history or (_HISTORY_HINT.match(piece.text) and _opens_history(pieces, index)):
            start = index
            while start > 0 and kinds[start - 1] is None and _separator(pieces[start - 1]):
                start -= 1
            kinds[start:] = [Kind.QUOTED] * (count - start)
            break
    # Attributions: a line (or a few wrapped lines) just before a quote. Only a line
    # ending with ":" ends one: the lines within reach of one are looked at.
    colons = [i for i, piece in enumerate(pieces) if piece.text.rstrip().endswith(":")]
    reach = {i for c in colons for i in range(max(0, c - _ATTRIBUTION_WRAP + 1), c + 1)}
    for index in sorted(reach):
        if kinds[index] is not None or pieces[index].blank:
            continue
        for width in range(1, _ATTRIBUTION_WRAP + 1):
            end = index + width
            if end > count or kinds[end - 1] is not None or pieces[end - 1].blank:
                break
            if not pieces[end - 1].text.rstrip().endswith(":"):
                continue
            joined = " ".join(p.text.strip() for p in pieces[index:end])
            if not _ATTRIBUTION.match(joined):
                continue
            following = _next_filled(pieces, end - 1)
            if following is not None and kinds[following] is Kind.QUOTED:
                kinds[index:following] = [Kind.QUOTED] * (following - index)
                break
            if _FULL_ATTRIBUTION.match(joined) and _has_new_before(pieces, kinds, index):
                kinds[index:] = [Kind.QUOTED] * (count - index)
                break
    # Signatures: from the separator, the client's line or a disclaimer to the next quote.
    disclaimers = _may_have_disclaimer(pieces)
    index = 0
    while index < count:
        piece = pieces[index]
        starts = kinds[index] is Kind.SIGNATURE or (
            kinds[index] is None
            and not piece.blank
            and (
                _SIGNATURE_START.match(piece.text)
                or (
                    disclaimers
                    and len(piece.text) >= _DISCLAIMER_MIN_CHARS
                    and _DISCLAIMER.search(piece.text)
                    and _has_new_before(pieces, kinds, index)
                )
            )
        )
        if starts and kinds[index] is None and _RULE.match(piece.text):
            starts = not _heading_underline(pieces, index)
        if starts:
            end = index
            while end < count and kinds[end] is not Kind.QUOTED:
                end += 1
            # A "--" or a rule line above a long text is the sender's own separator.
            lines = sum(1 for p in pieces[index:end] for t in p.text.split("\n") if t.strip())
            if kinds[index] is Kind.SIGNATURE or lines <= _SIGNATURE_MAX_LINES:
                kinds[index:end] = [Kind.SIGNATURE] * (end - index)
                index = end
        index += 1
    _mark_contact_block(pieces, kinds)
    # Blank pieces left unclassified go with what is before them, except that the new
    # text does not end with the blank lines before a folded part.
    resolved: list[Kind] = []
    for index, kind in enumerate(kinds):
        if kind is None:
            kind = resolved[-1] if pieces[index].blank and resolved else Kind.NEW
        resolved.append(kind)
    index = 0
    while index < count:
        if kinds[index] is None and pieces[index].blank and resolved[index] is Kind.NEW:
            end = index
            while end < count and kinds[end] is None and pieces[end].blank:
                end += 1
            if end < count and resolved[end] is not Kind.NEW:
                resolved[index:end] = [resolved[end]] * (end - index)
            index = end
        else:
            index += 1
    return resolved


def _heading_underline(pieces: list[_Piece], index: int) -> bool:
    """A rule line under a title of about its length ("Known issues" over dashes)."""
    if index == 0 or pieces[index - 1].blank:
        return False
    title = pieces[index - 1].text.strip()
    return abs(len(title) - len(pieces[index].text.strip())) <= 3


def _may_have_disclaimer(pieces: list[_Piece]) -> bool:
    text = "\n".join(p.text for p in pieces).lower()
    return any(word in text for word in _DISCLAIMER_WORDS)


def _opens_history(pieces: list[_Piece], index: int) -> bool:
    if pieces[index].blank:
        return False
    first = pieces[index].text.lstrip("\n").split("\n", 1)[0]
    if _ORIGINAL_MESSAGE.match(first):
        return True
    if not _HEADER_FROM.match(first):
        return False
    lines = [line for line in _lines(pieces[index:], 8) if line.strip()]
    if not lines or not _HEADER_FROM.match(lines[0]):
        return False
    return sum(1 for line in lines[1:6] if _HEADER_FIELD.match(line)) >= 2


def _lines(pieces: Iterable[_Piece], limit: int) -> Iterator[str]:
    count = 0
    for piece in pieces:
        for line in piece.text.split("\n"):
            yield line
            count += 1
            if count >= limit:
                return


def _separator(piece: _Piece) -> bool:
    return piece.blank or bool(_UNDERSCORES.match(piece.text))


def _next_filled(pieces: list[_Piece], index: int) -> int | None:
    for following in range(index + 1, len(pieces)):
        if not pieces[following].blank:
            return following
    return None


def _has_new_before(pieces: list[_Piece], kinds: list[Kind | None], index: int) -> bool:
    return any(kinds[i] is None and not pieces[i].blank for i in range(index))


def _mark_contact_block(pieces: list[_Piece], kinds: list[Kind | None]) -> None:
    """The last run of new text may end with a contact block without a "-- " before
    it (Outlook's signatures): at least two short lines that are no sentence, among
    them a phone number or a logo, after some text of the sender's."""
    end = len(kinds)
    while end > 0 and (kinds[end - 1] is not None or pieces[end - 1].blank):
        end -= 1
    start = end
    while start > 0 and kinds[start - 1] is None:
        start -= 1
    block_start = None
    lines = 0
    strong = False
    for index in range(end - 1, start - 1, -1):
        piece = pieces[index]
        if piece.blank:
            continue
        texts = [line for line in piece.text.split("\n") if line.strip()]
        if lines + len(texts) > _CONTACT_BLOCK_LINES or not all(map(_contact_line, texts)):
            break
        lines += len(texts) or piece.image
        block_start = index
        strong = strong or piece.image
        strong = strong or any(_PHONE.search(t) or _IMAGE_PLACEHOLDER.search(t) for t in texts)
    if block_start is None or not strong or lines < 2:
        return
    if not any(not p.blank for p in pieces[start:block_start]):
        return  # nothing of the sender's before it: not a signature
    kinds[block_start:end] = [Kind.SIGNATURE] * (end - block_start)


def _contact_line(line: str) -> bool:
    line = line.strip()
    rest = _CONTACT_MARKS.sub(" ", line)
    if rest != line:  # a label and a number, an address or a logo: no sentence around it
        words = len(rest.split())
        # "Tél. +33 ..." ends its label with a dot; a longer rest ending so is a sentence.
        return words <= _CONTACT_LABEL_WORDS and (words <= 2 or not _SENTENCE_STOP.search(rest))
    return (
        not _SIGNOFF.match(line)
        and len(line) <= _CONTACT_LINE_CHARS
        and len(line.split()) <= _CONTACT_LINE_WORDS
        and not _SENTENCE_END.search(line)
    )


def _strip_blank_lines(text: str) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


# HTML ----------------------------------------------------------------------------


def _html_pieces(element: etree._Element) -> Iterator[_Piece]:
    """The blocks of `element` in document order: marker elements and atomic blocks
    whole, containers opened, inline runs cut at each <br>."""
    inline: list[str] = []
    inline_text: list[str] = []
    inline_image = False

    def flush() -> Iterator[_Piece]:
        nonlocal inline_image
        if inline:
            markup = "".join(inline)
            text = "".join(inline_text)
            if text.strip() or inline_image or "<br>" in markup:
                markup = f"<div>{markup}</div>"  # a line of its own once cut from its block
            yield _Piece(text, markup, image=inline_image)
            inline.clear()
            inline_text.clear()
            inline_image = False

    if element.text:
        inline.append(escape(element.text, quote=False))
        inline_text.append(element.text)
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        marker = _marker(child)
        if marker is not None or tag in _BLOCKS:
            yield from flush()
            if marker is not None or tag in _ATOMIC or not _has_blocks(child):
                yield _piece_of(child, marker)
            else:
                yield from _html_pieces(child)
        elif tag == "br":
            inline.append("<br>")
            yield from flush()
        elif tag in _CONTAINERS and _has_blocks(child):
            yield from flush()
            yield from _html_pieces(child)
        elif tag:
            inline.append(_outer(child))
            inline_text.append(_text_of(child))
            inline_image = inline_image or _has_image(child)
        if child.tail:
            inline.append(escape(child.tail, quote=False))
            inline_text.append(child.tail)
    yield from flush()


def _marker(element: etree._Element) -> _Piece | None:
    classes = set((element.get("class") or "").split())
    if classes & HISTORY_CLASSES:
        return _Piece("", history=True)
    if element.tag == "blockquote":
        return _Piece("", marker=Kind.QUOTED)
    if classes & QUOTE_CLASSES:
        # Opened when it holds quotes: an interleaved reply writes between them.
        if next(element.iter("blockquote"), None) is not None:
            return None
        return _Piece("", marker=Kind.QUOTED)
    if classes & SIGNATURE_CLASSES:
        return _Piece("", marker=Kind.SIGNATURE)
    return None


def _piece_of(element: etree._Element, marker: _Piece | None) -> _Piece:
    return _Piece(
        _text_of(element).strip("\n"),
        _outer(element),
        marker=marker.marker if marker else None,
        history=marker.history if marker else False,
        image=_has_image(element),
    )


def _has_blocks(element: etree._Element) -> bool:
    return any(
        isinstance(d.tag, str) and (d.tag in _BLOCKS or _marker(d) is not None)
        for d in element.iterdescendants()
    )


def _has_image(element: etree._Element) -> bool:
    return element.tag == "img" or next(element.iter("img"), None) is not None


def _outer(element: etree._Element) -> str:
    markup: str = lxml_html.tostring(element, encoding="unicode", with_tail=False)
    return markup


def _text_of(element: etree._Element) -> str:
    out: list[str] = []

    def walk(node: etree._Element) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag == "br":
            out.append("\n")
        elif tag in _BLOCKS or tag in ("li", "tr"):
            out.append("\n")
        if node.text and tag:
            out.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                out.append(child.tail)
        if tag in _BLOCKS or tag in ("li", "tr"):
            out.append("\n")
        elif tag in ("td", "th"):
            out.append(" ")

    walk(element)
    text = "".join(out).replace("\xa0", " ")
    return re.sub(r"\n{2,}", "\n", text).strip("\n") if text.strip() else text.strip("\n")
