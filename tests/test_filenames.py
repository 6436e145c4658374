"""Attachment file names: what is kept, what is removed, and when the fallback is used."""

from __future__ import annotations

import pytest

from gateway.mail.filenames import MAX_BYTES
from gateway.mail.filenames import safe_filename


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("Rapport annuel 2024.xlsx", "Rapport annuel 2024.xlsx"),
        # Only the last path component, with either separator.
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("C:\\Users\\alice\\Desktop\\notes.txt", "notes.txt"),
        ("/var/mail/../spool/x.eml", "x.eml"),
        ("mixed/..\\both.doc", "both.doc"),
        # Control characters (C0, DEL, C1) are removed; tab and line breaks are whitespace.
        ("a\x00b\x1fc\x7fd\x85e\x9f.txt", "abcde.txt"),
        ("line\r\nbreak\ttab.txt", "line break tab.txt"),
        # Characters invalid on common filesystems are removed.
        ('wh<a>t:is"this|?*.txt', "whatisthis.txt"),
        # Leading dots and spaces, trailing dots and spaces.
        ("  .hidden  ", "hidden"),
        ("...dots...", "dots"),
        ("name.  ", "name"),
        ("trailing.txt. . .", "trailing.txt"),
        # Whitespace runs collapse to one space, Unicode spaces included.
        ("many   spaces\u00a0\u2003here.txt", "many spaces here.txt"),
        ("a <> b.txt", "a b.txt"),
        # NFC: a decomposed e + combining acute becomes one character.
        ("caf\u0065\u0301.txt", "caf\u00e9.txt"),
        ("Eelanalu\u0308u\u0308si.jpg", "Eelanal\u00fc\u00fcsi.jpg"),
        # Bidirectional overrides would disguise the extension.
        ("invoice\u202etxt.exe", "invoicetxt.exe"),
        ("photo\u2066gpj\u2069.exe", "photogpj.exe"),
        # Lone surrogates cannot be stored as UTF-8.
        ("bro\udcc3ken.txt", "broken.txt"),
        (
            "\u041a\u0430\u0440\u0442\u0438\u043d\u043a\u0430.png",
            "\u041a\u0430\u0440\u0442\u0438\u043d\u043a\u0430.png",
        ),
        ("\u3066\u3059\u3068.txt", "\u3066\u3059\u3068.txt"),
    ],
)
def test_safe_filename(given: str, expected: str) -> None:
    assert safe_filename(given) == expected


@pytest.mark.parametrize(
    "given",
    [None, "", ".", "..", "...", "   ", " . . ", "dir/", "a/b/", "\x00\x01", '<>:"|?*', "\u202e"],
)
def test_nothing_left_gives_the_fallback(given: str | None) -> None:
    assert safe_filename(given) == "attachment"
    assert safe_filename(given, fallback="message.eml") == "message.eml"


def test_long_name_keeps_its_extension_and_whole_characters() -> None:
    # 150 two-byte characters: 300 bytes of stem.
    result = safe_filename("\u00e9" * 150 + ".pdf")
    assert result.endswith(".pdf")
    assert len(result.encode("utf-8")) <= MAX_BYTES
    assert result == "\u00e9" * 98 + ".pdf"  # 196 bytes of stem, no half character


def test_long_name_in_three_byte_characters_is_cut_between_characters() -> None:
    result = safe_filename("\u65e5" * 100 + ".txt")
    assert result == "\u65e5" * 65 + ".txt"
    assert len(result.encode("utf-8")) == 199


def test_long_name_without_extension_is_cut_at_the_limit() -> None:
    assert safe_filename("x" * 300) == "x" * MAX_BYTES


def test_overlong_extension_is_cut_like_the_rest_of_the_name() -> None:
    result = safe_filename("a." + "b" * 300)
    assert result == ("a." + "b" * 300)[:MAX_BYTES]


def test_cut_that_ends_on_a_dot_or_space_is_stripped() -> None:
    # The cut falls after "a" * 195 + " ", which must not end the name.
    assert safe_filename("a" * 195 + " ." + "z" * 20 + ".txt") == "a" * 195 + ".txt"


def test_result_is_stable() -> None:
    once = safe_filename("  ../we\u0301ird\x07 <name>.tar.gz. ")
    assert once == "w\u00e9ird name.tar.gz"
    assert safe_filename(once) == once
