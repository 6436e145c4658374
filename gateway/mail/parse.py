"""Raw message bytes to a ParsedMessage; the only module that imports mail-parser.

The stdlib builds the message tree (compat32, as mail-parser does); mail-parser's
recovering readers take From and Date. Headers, bodies and attachments are
decoded here from the tree, because mail-parser 4.8's own walk gets some of them
wrong on real mail (the family of SpamScope/mail-parser#152): 7-bit ISO-2022-JP
bodies come back undecoded, a quoted encoded-word display name stays encoded,
and 8-bit header bytes are dropped or turned into backslash escapes. That walk
also costs most of the parse time (0.7 of 0.8 ms for 5 KB) and keeps a second
copy of every attachment, so it is not run at all.

parse_message never raises. What it cannot read is left empty and the message is
flagged; the raw bytes stay the source of truth (DESIGN.md, principle 2).
mail-parser logs a warning for every part type it does not handle; taming that
logger belongs to the composition root, not to this module.
"""

from __future__ import annotations

import binascii
import dataclasses
import datetime
import email.message
import email.parser
import email.policy
import email.utils
import functools
import itertools
import logging
import mimetypes
import re
import urllib.parse
from collections.abc import Callable
from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeAlias

from mailparser import utils as mailparser_utils

from gateway.mail.charsets import clean_text
from gateway.mail.charsets import decode_bytes
from gateway.mail.charsets import decode_words
from gateway.mail.charsets import header_text
from gateway.mail.filenames import safe_filename
from gateway.mail.flowed import DELSP
from gateway.mail.flowed import FLOWED
from gateway.mail.flowed import FLOWED_DECODED
from gateway.mail.flowed import text_flags
from gateway.mail.flowed import unflowed
from gateway.mail.sanitize import html_to_text
from gateway.mail.sanitize import sanitize_html
from gateway.mail.structure import too_complex

log = logging.getLogger("gateway.ingest")

_FEED_CHUNK = 64 * 1024

FLAG_MALFORMED = "malformed"  # parser defects, or a part that could not be read
FLAG_CHARSET_FALLBACK = "charset-fallback"  # a text part did not decode as declared
# Nested or split past gateway.mail.structure's bounds: only the headers were read.
FLAG_TOO_COMPLEX = "too-complex"

DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_MESSAGE_ID_LENGTH = 998  # RFC 5322 section 2.1.1: no line is longer
MAX_REFERENCES = 100  # ids kept from References (the root and the nearest ancestors)

REACTION_RFC9078 = "rfc9078"
REACTION_GMAIL = "gmail"
GMAIL_REACTION_TYPE = "text/vnd.google.email-reaction+json"
# Parts looked at for a Gmail reaction part (it sits in the top multipart/alternative,
# or one level further in a multipart/related): bounded, the tree is the sender's.
_REACTION_SEARCH = 50

# Unnamed parts of a signature or encryption envelope (RFC 3156, RFC 8551).
_ENVELOPE_TYPES = frozenset(
    {
        "application/pgp-signature",
        "application/pgp-encrypted",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
    }
)
# message/* parts that hold a whole message, kept as an .eml attachment.
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global", "message/news"})

_WHITESPACE = re.compile(r"\s+")
_CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
_ANGLE_ID = re.compile(r"<([^<>]*)>")
_ID_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CID_URL = re.compile(r"cid:([^\s\"'<>)]+)", re.IGNORECASE)
# A Date that ends at its time of day: nothing after it but -0000 or a comment.
_ENDS_AT_TIME = re.compile(r".*\d:\d\d(?::\d\d)?(?:\s+-0000)?\s*(?:\([^()]*\)\s*)?", re.DOTALL)

# Where a body part sits: (serial of its nearest multipart/alternative, branch number).
_Branch: TypeAlias = tuple[int, int] | None
_Child: TypeAlias = tuple[email.message.Message, _Branch, bool]


@dataclasses.dataclass(frozen=True)
class ParsedAttachment:
    """One attachment or inline part, decoded."""

    filename: str  # already passed through gateway.mail.filenames.safe_filename
    content_type: str  # lowercased "type/subtype", DEFAULT_CONTENT_TYPE if none
    payload: bytes  # the decoded part; an attached message re-serialized
    content_id: str  # without <>, "" if none
    inline: bool  # Content-Disposition inline, or referenced as cid: from the HTML


@dataclasses.dataclass(frozen=True)
class ReactionPart:
    """A body part that may carry a reaction, decoded; gateway.mail.reactions decides
    whether it is one. RFC 9078's part (Content-Disposition: reaction) counts only as
    the single body or the first part of the top multipart (section 3); Gmail's
    text/vnd.google.email-reaction+json part anywhere but as an attachment."""

    kind: str  # REACTION_RFC9078 or REACTION_GMAIL
    text: str


@dataclasses.dataclass(frozen=True)
class ParsedMessage:
    """What the gateway reads from one message; the raw bytes stay the source of truth."""

    message_id: str | None  # normalized like extract_message_ids; None if absent or garbage
    subject: str  # RFC 2047 decoded, whitespace folded
    from_address: str  # lowercased, "" if unparseable
    from_name: str  # display name, decoded
    date: datetime.datetime | None  # in UTC; a Date without a zone is read as UTC
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]  # in header order
    thread_index: str  # Outlook Thread-Index, raw
    body_text: str  # text/plain parts, or the HTML as text when there is none
    body_html: str  # text/html parts, sanitized
    attachments: tuple[ParsedAttachment, ...]
    flags: tuple[str, ...]  # FLAG_MALFORMED, FLAG_CHARSET_FALLBACK, FLAG_TOO_COMPLEX, sorted
    headers: Mapping[str, str] = dataclasses.field(hash=False)  # lowercased name -> first value
    # lowercased name -> every value, in order (a marker may come twice: gateway.mail.headers)
    header_values: Mapping[str, tuple[str, ...]] = dataclasses.field(
        hash=False, default_factory=lambda: MappingProxyType({})
    )
    # How the plain text is laid out: (gateway.mail.flowed.FLOWED_DECODED,) when every
    # plain part was format=flowed, each decoded in body_text; () otherwise.
    text_format: tuple[str, ...] = ()
    # The parts that may carry a reaction (RFC 9078, Gmail), in document order.
    reaction_parts: tuple[ReactionPart, ...] = ()

    def __reduce__(self) -> tuple[Callable[..., ParsedMessage], tuple[object, ...]]:
        """Pickled as its fields, the read-only mappings as dicts (a mappingproxy does
        not pickle): worker processes parse for the ingest (gateway.ingest.parse_workers)."""
        values = (getattr(self, field.name) for field in dataclasses.fields(self))
        return _parsed_message, tuple(
            dict(value) if isinstance(value, MappingProxyType) else value for value in values
        )


def _parsed_message(*values: object) -> ParsedMessage:
    return ParsedMessage(
        *(MappingProxyType(value) if isinstance(value, dict) else value for value in values)  # type: ignore[arg-type]
    )


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse `raw` leniently. Never raises; trouble adds FLAG_MALFORMED to flags."""
    if too_complex(raw):
        return _parse(raw, full=False, extra_flag=FLAG_TOO_COMPLEX)
    try:
        return _parse(raw, full=True)
    except Exception:  # mail-parser gives up on deep nesting (MailParserRecursionError)
        log.info("parse failed, reading headers only", exc_info=True)
    try:
        return _parse(raw, full=False)
    except Exception:
        log.info("parse of headers failed", exc_info=True)
    return ParsedMessage(
        None, "", "", "", None, (), (), "", "", "", (), (FLAG_MALFORMED,), MappingProxyType({})
    )


def extract_message_ids(value: str) -> tuple[str, ...]:
    """Every <id> in a header value, without <> or whitespace, in order.

    A value without angle brackets that is one token is an id too: some clients
    send a bare Message-ID. Empty ids, ids with control characters and ids longer
    than MAX_MESSAGE_ID_LENGTH are garbage and left out.
    """
    found = _ANGLE_ID.findall(value)
    if not found and "<" not in value and ">" not in value:
        token = value.strip()
        found = [token] if token and not _WHITESPACE.search(token) else []
    ids = (_WHITESPACE.sub("", candidate) for candidate in found)
    return tuple(
        mid
        for mid in ids
        if mid and len(mid) <= MAX_MESSAGE_ID_LENGTH and not _ID_CONTROL.search(mid)
    )


def _parse(raw: bytes, *, full: bool, extra_flag: str = "") -> ParsedMessage:
    """One attempt: the whole message, or (after a failure) its headers only."""
    flags: set[str] = {extra_flag} if extra_flag else set()
    if full:
        message = _parse_tree(raw)
    else:
        flags.add(FLAG_MALFORMED)
        message = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    values = _header_values(message)
    headers = {name: decode_words(texts[0]) for name, texts in values.items()}
    from_address, from_name = _sender(values["from"][0] if "from" in values else None)
    message_ids = extract_message_ids(values.get("message-id", [""])[0])

    walk = _Walk()
    if full:
        walk.run(message)
    flags.update(walk.flags)
    html = "\n".join(walk.texts(walk.html))
    body_html = _guarded(sanitize_html, html, flags)
    body_text = "\n".join(walk.texts(walk.plain))
    if not body_text.strip() and html:
        body_text = _guarded(html_to_text, body_html or html, flags)
    return ParsedMessage(
        message_id=message_ids[0] if message_ids else None,
        subject=" ".join(headers.get("subject", "").split()),
        from_address=from_address,
        from_name=from_name,
        date=_date(headers.get("date")),
        in_reply_to=extract_message_ids(" ".join(values.get("in-reply-to", []))),
        references=_bounded_references(extract_message_ids(" ".join(values.get("references", [])))),
        thread_index=values.get("thread-index", [""])[0],
        body_text=clean_text(body_text),
        body_html=clean_text(body_html),
        attachments=walk.attachments(html),
        flags=tuple(sorted(flags)),
        headers=MappingProxyType(headers),
        header_values=MappingProxyType(
            {name: tuple(decode_words(text) for text in texts) for name, texts in values.items()}
        ),
        text_format=(FLOWED_DECODED,) if walk.plain_flowed() else (),
        reaction_parts=_reaction_parts(message) if full else (),
    )


def _bounded_references(ids: tuple[str, ...]) -> tuple[str, ...]:
    """References without repeats, at most MAX_REFERENCES: the first (the thread's
    root) and the last ones (the nearest ancestors), as RFC 5322 section 3.6.4 trims
    them. 2,000 repeated ids in a 13 KB header took the inbox processor to 340 MB."""
    unique = tuple(dict.fromkeys(ids))
    if len(unique) <= MAX_REFERENCES:
        return unique
    return (unique[0], *unique[-(MAX_REFERENCES - 1) :])


def _reaction_parts(root: email.message.Message) -> tuple[ReactionPart, ...]:
    """The parts of the tree that may carry a reaction (see ReactionPart)."""
    found: list[ReactionPart] = []
    try:
        _find_reaction_parts(root, found)
    except Exception:  # the stdlib raises on some broken parts: no reaction then
        log.debug("unreadable reaction part", exc_info=True)
        return ()
    return tuple(found)


def _find_reaction_parts(root: email.message.Message, found: list[ReactionPart]) -> None:
    children = root.get_payload() if root.is_multipart() else None
    first = children[0] if isinstance(children, list) and children else root
    if isinstance(first, email.message.Message) and not first.is_multipart():
        if first.get_content_disposition() == "reaction":
            found.append(ReactionPart(REACTION_RFC9078, _part_text(first)))
    stack = [root]
    seen = 0
    while stack and seen < _REACTION_SEARCH:
        part = stack.pop()
        seen += 1
        payload = part.get_payload()
        if isinstance(payload, list):
            if not part.get_content_type().startswith("message/"):
                stack.extend(c for c in reversed(payload) if isinstance(c, email.message.Message))
        elif (
            part.get_content_type() == GMAIL_REACTION_TYPE
            and part.get_content_disposition() != "attachment"
        ):
            found.append(ReactionPart(REACTION_GMAIL, _part_text(part)))


def _part_text(part: email.message.Message) -> str:
    """A leaf's text, decoded from its transfer encoding and charset (UTF-8 if none:
    RFC 9078 and Gmail's reaction parts are UTF-8)."""
    text, _ = decode_bytes(_decoded_payload(part), part.get_content_charset() or "utf-8")
    return text


def _guarded(convert: Callable[[str], str], html: str, flags: set[str]) -> str:
    """Run a third-party HTML conversion; on failure flag the message and return ""."""
    try:
        return convert(html)
    except Exception:
        flags.add(FLAG_MALFORMED)
        return ""


class _Walk:
    """One iterative pass over the MIME tree: body parts, attachments, defects.

    Iterative, never recursive: the nesting depth is the sender's choice. Parts
    inside an attached message are only checked for defects; the attached
    message itself becomes one .eml attachment.
    """

    def __init__(self) -> None:
        self.flags: set[str] = set()
        # Body parts by slot. A part inside a multipart/alternative takes the
        # slot of that alternative: a later branch replaces an earlier one
        # (RFC 2046 section 5.1.4, the last is the preferred), parts of the same
        # branch add up. Any other part has a slot of its own.
        # Each text with whether it was format=flowed (and so decoded here).
        self.plain: dict[int, tuple[int, list[tuple[str, bool]]]] = {}
        self.html: dict[int, tuple[int, list[tuple[str, bool]]]] = {}
        self.found: list[tuple[str, str, bytes, str, bool]] = []
        self._serials = itertools.count()

    def run(self, root: email.message.Message) -> None:
        stack: list[_Child] = [(root, None, True)]
        while stack:
            part, branch, extract = stack.pop()
            if part.defects:
                self.flags.add(FLAG_MALFORMED)
            try:
                children = self._visit(part, branch, extract)
            except Exception:  # the stdlib raises on some broken parts; keep the rest
                log.debug("unreadable MIME part", exc_info=True)
                self.flags.add(FLAG_MALFORMED)
                continue
            stack.extend(reversed(children))

    def texts(self, slots: dict[int, tuple[int, list[tuple[str, bool]]]]) -> list[str]:
        """The texts of `slots` (plain or html), in document order."""
        return [text for _, texts in slots.values() for text, _ in texts]

    def plain_flowed(self) -> bool:
        """Whether the body has plain parts and every one was format=flowed."""
        flowed = [was_flowed for _, texts in self.plain.values() for _, was_flowed in texts]
        return bool(flowed) and all(flowed)

    def attachments(self, html: str) -> tuple[ParsedAttachment, ...]:
        """The attachments found; a part whose Content-ID `html` names is inline."""
        referenced = {urllib.parse.unquote(cid) for cid in _CID_URL.findall(html)}
        return tuple(
            ParsedAttachment(
                filename=safe_filename(name, fallback=_fallback_name(content_type)),
                content_type=content_type,
                payload=payload,
                content_id=content_id,
                inline=inline or (bool(content_id) and content_id in referenced),
            )
            for name, content_type, payload, content_id, inline in self.found
        )

    def _visit(self, part: email.message.Message, branch: _Branch, extract: bool) -> list[_Child]:
        """Handle one part; return its children to visit, in order."""
        content_type = part.get_content_type()
        contents = part.get_payload()
        if isinstance(contents, list):
            children = [child for child in contents if isinstance(child, email.message.Message)]
            if content_type.startswith("message/"):
                view = _mime_view(part) if extract else part
                if extract and (content_type in _MESSAGE_TYPES or _is_named(view)):
                    inline = view.get_content_disposition() == "inline"
                    data = self._message_bytes(children)
                    self._attach(part, view, content_type, data, inline)
                return [(child, None, False) for child in children]
            if content_type == "multipart/alternative":
                serial = next(self._serials)
                return [(child, (serial, i), extract) for i, child in enumerate(children)]
            return [(child, branch, extract) for child in children]
        if extract:
            self._leaf(part, content_type, branch)
        return []

    def _leaf(self, part: email.message.Message, content_type: str, branch: _Branch) -> None:
        view = _mime_view(part)
        named = _is_named(view)
        if not named and content_type in _ENVELOPE_TYPES:
            return
        payload = _decoded_payload(part)
        text_type = content_type in ("text/plain", "text/html")
        # A multipart whose boundary never came is read as text (flanker's
        # false-multipart.eml); anything else that is not a body is a file.
        if named or not (text_type or content_type.startswith("multipart/")):
            inline = view.get_content_disposition() == "inline"
            self._attach(part, view, _content_type(part), payload, inline)
            # Named text marked inline is also body: a reader's client shows it
            # with the message (RFC 2183 section 2.1).
            if not (text_type and inline):
                return
        text, exact = decode_bytes(payload, part.get_content_charset())
        if not exact:
            self.flags.add(FLAG_CHARSET_FALLBACK)
        slots = self.html if content_type == "text/html" else self.plain
        # Flowed is declared per part: decoded before the parts are joined, it cannot
        # join a table of the next part or unstuff its lines (gateway.mail.flowed).
        layout = text_flags(part.get_params() or ()) if content_type == "text/plain" else set()
        if FLOWED in layout:
            text = unflowed(clean_text(text), DELSP in layout)
        entry = (text, FLOWED in layout)
        key = branch[0] if branch is not None else next(self._serials)
        number = branch[1] if branch is not None else 0
        held = slots.get(key)
        if held is not None and held[0] == number:
            held[1].append(entry)
        elif held is None or held[0] < number:
            slots[key] = (number, [entry])

    def _attach(
        self,
        part: email.message.Message,
        view: email.message.Message,
        content_type: str,
        payload: bytes,
        inline: bool,
    ) -> None:
        filename = view.get_filename()
        name = decode_words(header_text(filename)) if isinstance(filename, str) else ""
        content_id = _WHITESPACE.sub("", header_text(_raw_header(part, "content-id") or ""))
        self.found.append((name, content_type, payload, content_id.strip("<>"), inline))

    def _message_bytes(self, children: list[email.message.Message]) -> bytes:
        """An attached message as bytes. The stdlib keeps no offsets, so it is re-serialized."""
        if len(children) != 1:
            return b""
        try:
            return children[0].as_bytes(policy=email.policy.compat32.clone(max_line_length=0))
        except Exception:  # a charset the generator cannot apply, or very deep nesting
            self.flags.add(FLAG_MALFORMED)
            return b""


def _parse_tree(raw: bytes) -> email.message.Message:
    """The stdlib's message tree (compat32), fed in chunks.

    parsebytes() would first decode the whole message into one string, and the
    parser then splits it into lines: for a 25 MB mail that is about 190 MB at
    the peak, against about 70 MB when fed in pieces.
    """
    parser = email.parser.BytesFeedParser(policy=email.policy.compat32)
    view = memoryview(raw)
    for start in range(0, len(raw), _FEED_CHUNK):
        parser.feed(bytes(view[start : start + _FEED_CHUNK]))
    return parser.close()


def _decoded_payload(part: email.message.Message) -> bytes:
    """A leaf's content, transfer-decoded; base64 without the stdlib's extra copies.

    get_payload(decode=True) turns a 24 MB base64 part into about 110 MB of
    temporary copies; binascii reads the string directly. Anything unusual goes
    to the stdlib, which is more forgiving.
    """
    payload = part.get_payload()
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding == "base64" and isinstance(payload, str) and payload.isascii():
        try:
            return binascii.a2b_base64(payload)
        except binascii.Error:
            pass
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _header_values(message: email.message.Message) -> dict[str, list[str]]:
    """Every header as text, by lowercased name, in order."""
    values: dict[str, list[str]] = {}
    # raw_items() gives the values as parsed; get() would turn 8-bit bytes into U+FFFD.
    for name, value in message.raw_items():
        key = header_text(str(name)).lower()
        if key:
            values.setdefault(key, []).append(header_text(str(value)))
    return values


def _raw_header(part: email.message.Message, name: str) -> str | None:
    for key, value in part.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _mime_view(part: email.message.Message) -> email.message.Message:
    """`part`, or a copy of its MIME headers with 8-bit bytes decoded as text.

    compat32 turns 8-bit bytes in a header into U+FFFD when get_param() reads it,
    which would lose a raw UTF-8 filename (flanker's russian-attachment-yahoo.eml).
    """
    wanted = ("content-type", "content-disposition")
    raw = [(k, str(v)) for k, v in part.raw_items() if k.lower() in wanted]
    if all(value.isascii() for _, value in raw):
        return part
    view = email.message.Message()
    for key, value in raw:
        view[key] = header_text(value)
    return view


def _is_named(view: email.message.Message) -> bool:
    return bool(view.get_filename()) or view.get_content_disposition() == "attachment"


def _content_type(part: email.message.Message) -> str:
    if part.get("content-type") is None:
        return DEFAULT_CONTENT_TYPE
    content_type = part.get_content_type()
    return content_type if _CONTENT_TYPE.fullmatch(content_type) else DEFAULT_CONTENT_TYPE


def _fallback_name(content_type: str) -> str:
    if content_type.startswith("message/"):
        return "message.eml"
    return "attachment" + (mimetypes.guess_extension(content_type) or "")


@functools.lru_cache(maxsize=4096)
def _sender(raw_from: str | None) -> tuple[str, str]:
    """(lowercased address, decoded display name) of the first usable From mailbox.
    Kept for the From lines seen last: the same people write again and again, and
    mail-parser's address parser was 5% of the inbox processor's time."""
    if raw_from is None:
        return "", ""
    if raw_from.isascii():
        # mail-parser's address parser recovers more broken headers than the stdlib's.
        pairs: list[tuple[str, str]] = list(mailparser_utils.get_addresses(raw_from))
    else:
        # The text is already decoded from 8-bit; mail-parser would escape those bytes.
        pairs = email.utils.getaddresses([raw_from])
    for name, address in pairs:
        address = address.strip()
        if "@" in address and not _WHITESPACE.search(address):
            return address.lower(), " ".join(decode_words(name).split())
    return "", ""


def _date(header: str | None) -> datetime.datetime | None:
    """mail-parser's Date, else the stdlib's more lenient reading; always in UTC."""
    value: datetime.datetime | None = None
    if header:
        try:
            value = mailparser_utils.convert_mail_date(header)[0]
        except (ValueError, TypeError, OverflowError):
            value = None
    try:
        if value is None and header:
            value = email.utils.parsedate_to_datetime(header)
        if value is None:
            return None
        if value.tzinfo is None:
            # The stdlib drops what it cannot read after the time: "06:09:22 PM
            # EDT" comes back as 06:09:22 without a zone. Only a Date with no
            # zone at all, or -0000 (RFC 5322 section 3.3), is read as UTC.
            if not (header and _ENDS_AT_TIME.fullmatch(header)):
                return None
            value = value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
