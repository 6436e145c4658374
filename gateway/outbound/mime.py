"""Byte-level surgery on a raw message: its header fields, its MIME entity, a wrapper part.

Posts go out as they came in, with our headers in front of theirs: working on
the bytes keeps every header we do not touch exactly as its author's client
wrote it, and keeps a signed part byte for byte (RFC 1847: the signature covers
the bytes of the part).
"""

from __future__ import annotations

import email.policy
import secrets
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass

CRLF = b"\r\n"
# Folds and RFC 2047-encodes the header fields we write, with CRLF line ends.
MAX_LINE = 78  # RFC 5322 2.1.1's "should"
_FOLDING = email.policy.SMTP.clone(max_line_length=MAX_LINE)


@dataclass(frozen=True)
class Field:
    """One header field as written: its name folded to lowercase, and its raw lines."""

    name: str
    raw: bytes


def to_crlf(raw: bytes) -> bytes:
    """Every line ending CRLF: the form SMTP and signatures (RFC 1847) both use."""
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", CRLF)


def split_message(raw: bytes) -> tuple[list[Field], bytes]:
    """The header fields and the body of a CRLF message (to_crlf)."""
    end = raw.find(CRLF + CRLF)
    if raw.startswith(CRLF):
        head, body = b"", raw[2:]
    elif end < 0:
        head, body = raw, b""
    else:
        head, body = raw[: end + 2], raw[end + 4 :]
    fields: list[Field] = []
    for line in head.split(CRLF)[:-1] if head.endswith(CRLF) else head.split(CRLF):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = Field(fields[-1].name, fields[-1].raw + line + CRLF)
            continue
        name, colon, _ = line.partition(b":")
        if colon and name.strip():
            fields.append(Field(name.strip().decode("ascii", "replace").lower(), line + CRLF))
    return fields, body


def fold(name: str, value: str) -> bytes:
    """A header field we write, folded and encoded (non-ASCII as RFC 2047 words).

    ASCII is folded at its spaces and never encoded: a List-Unsubscribe URI or a long
    Subject stays readable to software that reads the raw field, and the first word
    stays on the field's own line (a parser would keep a leading space otherwise).
    """
    line = f"{name}: {value}"
    if line.isascii() and line.isprintable():
        if len(line) <= MAX_LINE:
            return line.encode("ascii") + CRLF  # the common case
        return _fold_ascii(line)
    if name.lower() == "subject" and value.isprintable():
        return _fold_text(name, value)
    header = _FOLDING.header_factory(name, value)
    folded: str = header.fold(policy=_FOLDING)
    return folded.encode("ascii")


def _fold_ascii(line: str) -> bytes:
    """Break a long ASCII field before spaces, lines of at most MAX_LINE where a word
    allows (a longer word stays whole: up to 998 octets is still a legal line)."""
    name, _, value = line.partition(": ")
    words = value.split(" ")
    lines = [f"{name}: {words[0]}"]
    for word in words[1:]:
        if len(lines[-1]) + 1 + len(word) <= MAX_LINE:
            lines[-1] += " " + word
        else:
            lines.append(" " + word)
    return "\r\n".join(lines).encode("ascii") + CRLF


def _fold_text(name: str, value: str) -> bytes:
    """An unstructured field with non-ASCII words (a Subject): ASCII words as they are,
    the others as RFC 2047 encoded words, folded between words. The space before an
    encoded word that follows another goes inside it: readers drop the white space
    between two encoded words (RFC 2047 6.2), so "numériques, accessibilité" would read
    "numériques,accessibilité" (as the folding of Python 3.11's email package writes it).
    """
    tokens: list[str] = []
    encoded_before = False
    for word in value.split(" "):
        if word.isascii():
            tokens.append(word)
            encoded_before = False
        else:
            tokens.extend(_encoded_words((" " if encoded_before else "") + word))
            encoded_before = True
    lines = [f"{name}: {tokens[0]}"]
    for token in tokens[1:]:
        if len(lines[-1]) + 1 + len(token) <= MAX_LINE:
            lines[-1] += " " + token
        else:
            lines.append(" " + token)
    return "\r\n".join(lines).encode("ascii") + CRLF


def _encoded_words(text: str) -> list[str]:
    """`text` as "Q" encoded words short enough for a line with "Subject: " (RFC 2047 2
    allows 75 characters), cut between characters, never inside one (readers join
    adjacent encoded words)."""
    words: list[str] = []
    chunk = ""
    for char in text:
        if chunk and len(_q_word(chunk + char)) > _ENCODED_WORD:
            words.append(_q_word(chunk))
            chunk = ""
        chunk += char
    words.append(_q_word(chunk))
    return words


def _q_word(text: str) -> str:
    """RFC 2047 4.2: letters and digits as they are, a space as "_", the rest =XX."""
    encoded = "".join(
        "_" if byte == 0x20 else chr(byte) if chr(byte) in _Q_PLAIN else f"={byte:02X}"
        for byte in text.encode("utf-8")
    )
    return f"=?utf-8?q?{encoded}?="


_ENCODED_WORD = MAX_LINE - len("Subject: ") - 3
_Q_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


def is_content_field(name: str) -> bool:
    return name.startswith("content-") or name == "mime-version"


def entity(fields: Iterable[Field], body: bytes) -> bytes:
    """The message's MIME entity: its Content-* fields and its body."""
    head = b"".join(item.raw for item in fields if item.name.startswith("content-"))
    return head + CRLF + body


def wrap_with_part(original: bytes, part: bytes) -> bytes:
    """A multipart/mixed entity holding the original entity untouched, then `part`."""
    # No Content-Type means text/plain (RFC 2045 5.2); inside a part, say so.
    if original.startswith(CRLF):
        original = b"Content-Type: text/plain" + CRLF + original
    return multipart("mixed", [original, part])


def multipart(subtype: str, entities: Sequence[bytes], parameters: str = "") -> bytes:
    """A multipart/<subtype> entity holding `entities` (each its Content-* fields, an empty
    line and its body), between delimiters of a random boundary (RFC 2046 5.1.1);
    `parameters` more of its Content-Type ('type="text/html"' for a related, RFC 2387)."""
    boundary = f"=_gateway_{secrets.token_hex(12)}".encode("ascii")
    delimited = [b"--" + boundary + CRLF + entity + CRLF for entity in entities]
    return b"".join(
        (
            b"Content-Type: multipart/" + subtype.encode("ascii"),
            (b"; " + parameters.encode("ascii")) if parameters else b"",
            b'; boundary="' + boundary + b'"' + CRLF + CRLF,
            *delimited,
            b"--" + boundary + b"--" + CRLF,
        )
    )
