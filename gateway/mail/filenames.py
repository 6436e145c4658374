"""Attachment file names from mail, made safe to store, show and offer for download.

A sender chooses the name, so it may carry a path (`../../etc/passwd`), control
characters, characters that Windows refuses, or a length that no filesystem
takes. `safe_filename` keeps what a reader would recognise and drops the rest.
"""

from __future__ import annotations

import re
import unicodedata

# Longest name kept, in UTF-8 bytes: under the 255-byte limit of ext4, NTFS and
# APFS, with room left for a prefix a caller may add.
MAX_BYTES = 200
# A longer "extension" is treated as part of the name when shortening it.
MAX_EXTENSION_BYTES = 16

_SEPARATORS = re.compile(r"[/\\]")
_WHITESPACE = re.compile(r"\s+")
# C0 controls other than the whitespace ones (tab and line breaks become a space),
# DEL, C1 controls; the characters Windows refuses in names; lone surrogates (not
# encodable); and the bidirectional controls that make "photo\u202egpj.exe"
# display as "photoexe.jpg" (Unicode TR #36, section 2.1).
_FORBIDDEN = re.compile(
    '[\x00-\x08\x0e-\x1f\x7f-\x9f<>:"|?*\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]'
)


def safe_filename(name: str | None, fallback: str = "attachment") -> str:
    """Return the last path component of `name`, cleaned; `fallback` if nothing is left.

    Control and filesystem-invalid characters are removed, whitespace runs
    become one space, leading dots and spaces and trailing dots and spaces are
    stripped, and the result is NFC-normalized and at most MAX_BYTES of UTF-8,
    shortened before its extension and never inside a character.
    """
    if not name:
        return fallback
    text = unicodedata.normalize("NFC", name)
    text = _SEPARATORS.split(text)[-1]
    text = _FORBIDDEN.sub("", text)
    text = _WHITESPACE.sub(" ", text).strip(" .")
    text = _shorten(text)
    return text or fallback


def _shorten(text: str) -> str:
    """Cut `text` to MAX_BYTES of UTF-8, keeping a short extension whole."""
    if len(text.encode("utf-8")) <= MAX_BYTES:
        return text
    stem, dot, extension = text.rpartition(".")
    suffix = dot + extension
    if not stem or len(suffix.encode("utf-8")) > MAX_EXTENSION_BYTES:
        stem, suffix = text, ""
    room = MAX_BYTES - len(suffix.encode("utf-8"))
    # Decoding with "ignore" drops only the character the byte cut went through.
    cut = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(" .")
    return cut + suffix if cut else ""
