"""Text in mail: charsets that lie, RFC 2047 encoded-words, raw 8-bit bytes.

Everything here turns bytes or header text into a str without ever raising: the
declared charset first, then UTF-8, then Latin-1, flagging the fallback (used by
gateway.mail.parse, which builds the message tree).
"""

from __future__ import annotations

import binascii
import codecs
import re

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DECODED_NON_ASCII = re.compile("[^\x00-\x7f\ufffd]")

# Labels decoded with the superset that senders really use under them
# (WHATWG Encoding Standard, section 4.2, "Names and labels").
_CHARSET_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "big5": "big5hkscs",
}


def header_text(value: str) -> str:
    """A raw header value as text: unfolded, 8-bit bytes decoded, NULs removed."""
    text = _LINE_BREAK.sub("", value)
    if not text.isascii():
        try:
            data = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            data = text.encode("utf-8", "replace")
        text = _decode_8bit(data)
    return text.replace("\x00", "").strip()


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded-words anywhere in `text`, even inside quotes.

    Whitespace between two encoded-words is dropped (RFC 2047 section 6.2), and
    the bytes of adjacent words in one charset are joined before decoding, so a
    character split across two words survives. A word that does not decode
    stays as it was.
    """
    if "=?" not in text:
        return text
    out: list[str] = []
    run: list[tuple[str, bytes]] = []  # adjacent decoded words: (charset, bytes)
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        gap = text[position : match.start()]
        data = _word_bytes(match.group(2), match.group(3))
        if run and (gap.strip() or data is None):
            out.append(_decode_run(run))
            run = []
        if not run:
            out.append(gap)
        position = match.end()
        if data is None:
            out.append(match.group(0))
            continue
        charset = match.group(1).lower()
        if run and run[-1][0] == charset:
            run[-1] = (charset, run[-1][1] + data)
        else:
            run.append((charset, data))
    if run:
        out.append(_decode_run(run))
    out.append(text[position:])
    return "".join(out)


def _word_bytes(encoding: str, encoded: str) -> bytes | None:
    data = encoded.encode("ascii", "replace")
    try:
        if encoding in "qQ":
            return binascii.a2b_qp(data, header=True)
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return None


def _decode_run(run: list[tuple[str, bytes]]) -> str:
    return "".join(decode_bytes(data, charset)[0] for charset, data in run)


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode with the declared charset (us-ascii if none); True if it fitted.

    Fallbacks, in order: UTF-8; the declared charset with replacement characters
    if it is a known multi-byte or 8-bit one; then _decode_8bit. Never raises.
    """
    codec = _codec(charset or "us-ascii")
    if codec is not None:
        text = _strict(data, codec)
        if text is not None:
            return text, True
    if codec is not None and codec not in ("ascii", "utf-8"):
        text = _strict(data, "utf-8")
        if text is None:
            text = _strict(data, codec, "replace")
        if text is not None:
            return text, False
    return _decode_8bit(data), False


def _decode_8bit(data: bytes) -> str:
    """Decode bytes of unknown charset: UTF-8, else Latin-1, which reads any byte.

    Bytes that are mostly UTF-8 (a multi-byte character cut off, as in flanker's
    russian-attachment-yahoo.eml) keep UTF-8 with a replacement character
    rather than turning whole into Latin-1 mojibake.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", "replace")
    if len(_DECODED_NON_ASCII.findall(text)) > text.count("\ufffd"):
        return text
    return data.decode("latin-1")


def _codec(charset: str) -> str | None:
    """The Python codec for a MIME charset label, or None if Python has none."""
    label = charset.strip().strip("\"'").lower()
    try:
        return codecs.lookup(_CHARSET_SUPERSETS.get(label, label)).name
    except (LookupError, ValueError):
        return None


def _strict(data: bytes, codec: str, errors: str = "strict") -> str | None:
    try:
        text = data.decode(codec, errors)
    except Exception:  # a codec named by the sender may raise anything
        return None
    # Codecs such as utf-7 or unicode_escape can produce lone surrogates,
    # which are not text and cannot be stored.
    if not text.isascii() and _SURROGATE.search(text):
        return None
    return text


def clean_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
