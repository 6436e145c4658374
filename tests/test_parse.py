"""Parsing real and hostile mail: every corpus message, the tricky clients, broken input."""

from __future__ import annotations

import datetime
import random
import re

import pytest

from gateway.mail.filenames import safe_filename
from gateway.mail.parse import FLAG_CHARSET_FALLBACK
from gateway.mail.parse import FLAG_MALFORMED
from gateway.mail.parse import FLAG_TOO_COMPLEX
from gateway.mail.parse import ParsedAttachment
from gateway.mail.parse import ParsedMessage
from gateway.mail.parse import extract_message_ids
from gateway.mail.parse import parse_message
from gateway.mail.structure import MAX_ENCLOSED
from gateway.mail.structure import too_complex
from tests.corpus import CORPUS
from tests.corpus import corpus_locations
from tests.corpus import load
from tests.corpus import needs_corpus
from tests.corpus import sample

CONTENT_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
SCRIPTABLE = re.compile(r"<\s*(script|iframe|object|embed)\b|\son[a-z]+\s*=|javascript:", re.I)


def parse(location: str) -> ParsedMessage:
    """A message copied from the corpus into tests/fixtures."""
    return parse_message(sample(location))


def parse_corpus(location: str) -> ParsedMessage:
    return parse_message(load(location))


def assert_text(value: object) -> None:
    assert isinstance(value, str)
    value.encode("utf-8")  # no lone surrogate: every text can be stored
    assert "\x00" not in value


def assert_sane(parsed: ParsedMessage) -> None:
    assert isinstance(parsed, ParsedMessage)
    for mid in (parsed.message_id, *parsed.in_reply_to, *parsed.references):
        if mid is not None:
            assert_text(mid)
            assert mid and not re.search(r"[\s<>]", mid)
    for text in (parsed.subject, parsed.from_name, parsed.thread_index):
        assert_text(text)
    assert parsed.subject == " ".join(parsed.subject.split())
    assert_text(parsed.from_address)
    if parsed.from_address:
        assert "@" in parsed.from_address
        assert parsed.from_address == parsed.from_address.lower()
    if parsed.date is not None:
        assert isinstance(parsed.date, datetime.datetime)
        assert parsed.date.utcoffset() == datetime.timedelta(0)
    assert isinstance(parsed.in_reply_to, tuple)
    assert isinstance(parsed.references, tuple)
    assert_text(parsed.body_text)
    assert "\r" not in parsed.body_text
    assert_text(parsed.body_html)
    assert not SCRIPTABLE.search(parsed.body_html)
    assert set(parsed.flags) <= {FLAG_MALFORMED, FLAG_CHARSET_FALLBACK, FLAG_TOO_COMPLEX}
    assert list(parsed.flags) == sorted(set(parsed.flags))
    for name, value in parsed.headers.items():
        assert_text(name)
        assert_text(value)
        assert name == name.lower()
    assert isinstance(parsed.attachments, tuple)
    for attachment in parsed.attachments:
        assert isinstance(attachment, ParsedAttachment)
        assert_text(attachment.filename)
        assert attachment.filename and safe_filename(attachment.filename) == attachment.filename
        assert CONTENT_TYPE.fullmatch(attachment.content_type)
        assert isinstance(attachment.payload, bytes)
        assert_text(attachment.content_id)
        assert not re.search(r"[\s<>]", attachment.content_id)
        assert isinstance(attachment.inline, bool)


def message(*headers: str, body: str = "Hello\n", content_type: str = "") -> bytes:
    lines = ["From: Alice <alice@example.com>", "Message-ID: <m1@example.com>", *headers]
    if content_type:
        lines += ["MIME-Version: 1.0", f"Content-Type: {content_type}"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8")


# The whole corpus


@needs_corpus
@pytest.mark.parametrize("location", corpus_locations())
def test_every_corpus_message_parses(location: str) -> None:
    assert_sane(parse_corpus(location))


@needs_corpus
def test_corpus_is_all_there() -> None:
    locations = corpus_locations()
    assert len(locations) == 808  # INDEX.md, "Counts"
    assert sum(location.startswith("notmuch/") for location in locations) == 320


@pytest.fixture(scope="module")
def corpus() -> dict[str, ParsedMessage]:
    return {location: parse_corpus(location) for location in corpus_locations()}


def index_list(title: str) -> set[str]:
    """A list of messages from INDEX.details.md, generated from the corpus by the stdlib."""
    details = (CORPUS / "INDEX.details.md").read_text(encoding="utf-8")
    section = details.split(f"\n{title}\n", 1)[1].lstrip("\n").split("\n\n", 1)[0]
    return set(re.findall(r"^- `([^`]+)`", section, re.MULTILINE))


@needs_corpus
def test_message_id_is_missing_exactly_where_the_index_says(
    corpus: dict[str, ParsedMessage],
) -> None:
    missing = index_list("No Message-ID (25):")
    assert len(missing) == 25
    assert {location for location, parsed in corpus.items() if parsed.message_id is None} == missing


@needs_corpus
def test_every_message_with_attachments_has_them(corpus: dict[str, ParsedMessage]) -> None:
    listed = index_list("With attachments (105):")
    assert len(listed) == 105
    assert {location for location in listed if not corpus[location].attachments} == set()


# Headers


def test_iso_8859_1_encoded_word_from_inside_quotes() -> None:
    parsed = parse("notmuch/default/cur/52.eml")
    assert parsed.from_name == "Fran\u00e7ois Boulogne"
    assert parsed.from_address == "boulogne.f@gmail.com"


def test_raw_latin_1_from_is_decoded() -> None:
    # 8-bit header bytes, no encoded-word: "L\xfctkebohle".
    assert parse("mime/flanker/from-encoding.eml").from_name == "Ingo L\u00fctkebohle"


def test_raw_8bit_subject_and_windows_1252_name() -> None:
    parsed = parse("mime/ruby-mail/error_emails/invalid_subject_characters.eml")
    expected = (
        "Forma\u00e7\u00e3o FrenetikPolis: Mega Campanha Final Ver\u00e3o | Cursos de Setembro"
    )
    assert parsed.subject == expected
    assert parsed.from_name == "Forma\u00e7\u00e3o Frenetikpolis"


def test_iso_2022_jp_subject_keeps_the_space_before_the_encoded_word() -> None:
    # "Re: TEST" then a folded encoded-word: linear whitespace next to ordinary
    # text is kept (RFC 2047 section 6.2).
    parsed = parse("mime/ruby-mail/rfc2822/example14.eml")
    assert parsed.subject == "Re: TEST \u30c6\u30b9\u30c8\u30c6\u30b9\u30c8"


@needs_corpus  # its mail is large: not copied to tests/fixtures
def test_encoded_words_split_over_folded_lines_are_joined() -> None:
    parsed = parse_corpus("mime/flanker/long-header.eml")  # a 200 KB Subject
    assert parsed.subject.startswith(
        "Die hei\u00dfe Zypernsonne qu\u00e4lte Max und Victoria ja b\u00f6se auf dem Weg"
    )
    assert len(parsed.headers["subject"]) > 100_000


def test_missing_message_id_gives_none() -> None:
    assert parse("mime/ruby-mail/rfc2822/example13.eml").message_id is None
    assert parse_message(message(body="x").replace(b"<m1@example.com>", b"<>")).message_id is None


def test_bare_message_id_is_kept() -> None:
    parsed = parse("mime/ruby-mail/plain_emails/mix_caps_content_type.eml")
    assert parsed.message_id == "201002191008.30117.foo.bar@company.com"


def test_references_keep_header_order() -> None:
    parsed = parse("notmuch/default/cur/40.eml")
    assert parsed.references == (
        "1258471718-6781-1-git-send-email-dottedmag@dottedmag.net",
        "87lji5cbwo.fsf@yoom.home.cworth.org",
        "yunbpj0etua.fsf@aiko.keithp.com",
    )
    assert parsed.in_reply_to == ("yunbpj0etua.fsf@aiko.keithp.com",)


def test_in_reply_to_with_trailing_comment() -> None:
    parsed = parse("mbox/mail-box-magick-list-2000.mbox#10")
    assert parsed.in_reply_to == ("NDBBJJFDMKFOAIFBEPPJIELLCBAA.cknoos@atg.com",)


def test_two_references_headers_one_with_an_unclosed_id() -> None:
    parsed = parse("mime/ruby-mail/error_emails/multiple_references_with_one_invalid.eml")
    assert parsed.references == ("foo@bar.net", "baz@bar.net")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@example.com>", ("a@example.com",)),
        ("  <a@example.com>  ", ("a@example.com",)),
        (
            "<a@example.com> <b@example.com>\r\n\t<c@example.com>",
            ("a@example.com", "b@example.com", "c@example.com"),
        ),
        ("<b@x> <a@x> <b@x>", ("b@x", "a@x", "b@x")),
        ('<a@example.com> (Bob\'s message of "Thu, 7 Jan 2010")', ("a@example.com",)),
        ("<a@example.com>; from bob@example.com on Thu", ("a@example.com",)),
        ("<a04310102b5099e5b4e3f@[207.29.200.50]>", ("a04310102b5099e5b4e3f@[207.29.200.50]",)),
        ("<long-id\r\n @example.com>", ("long-id@example.com",)),
        ("a@example.com", ("a@example.com",)),
        ("  a@example.com  ", ("a@example.com",)),
        ("a@example.com b@example.com", ()),
        ("<>", ()),
        ("< >", ()),
        ("", ()),
        ("   ", ()),
        ("<a@example.com>, <invalid.   ", ("a@example.com",)),
        ("<bad\x01id@example.com>", ()),
        ("<" + "x" * 1000 + "@example.com>", ()),
    ],
)
def test_extract_message_ids(value: str, expected: tuple[str, ...]) -> None:
    assert extract_message_ids(value) == expected


def test_headers_are_lowercased_first_values_decoded() -> None:
    parsed = parse_message(
        message(
            "X-Test: first",
            "x-TEST: second",
            "Subject: =?utf-8?q?Caf=C3=A9?=\r\n  au   lait",
            "Thread-Index: AcuEcgXhz8cjF31qQU6V",
        )
    )
    assert parsed.headers["x-test"] == "first"
    assert parsed.headers["subject"] == "Caf\u00e9  au   lait"
    assert parsed.subject == "Caf\u00e9 au lait"
    assert parsed.thread_index == "AcuEcgXhz8cjF31qQU6V"
    assert parsed.headers["from"] == "Alice <alice@example.com>"


def test_no_from_gives_empty_sender() -> None:
    parsed = parse("mime/flanker/attached-pdf.eml")
    assert (parsed.from_address, parsed.from_name) == ("", "")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Date: Tue, 10 May 2005 15:27:03 -0500", datetime.datetime(2005, 5, 10, 20, 27, 3)),
        ("Date: Tue, 10 May 2005 15:27:03 +0000", datetime.datetime(2005, 5, 10, 15, 27, 3)),
        ("Date: Tue, 10 May 2005 15:27:03 -0000", datetime.datetime(2005, 5, 10, 15, 27, 3)),
        ("Date: Tue, 10 May 2005 15:27:03", datetime.datetime(2005, 5, 10, 15, 27, 3)),
        ("Date: 10 May 2005 15:27 PDT", datetime.datetime(2005, 5, 10, 22, 27)),
        ("Date: Tue, 10 May 2005 15:27 (no zone)", datetime.datetime(2005, 5, 10, 15, 27)),
        ("Date: Pn, 29 paX 2007 21:13:00 +0100", None),
        # Not "no zone": a zone the parsers cannot read, so the time is unknown.
        ("Date: Wed 29 May 2019 06:09:22 PM EDT", None),
        ("Date: Tue, 12 Oct 2010 16:21:05 H0500", None),
        ("Date: Wed, 15 Dec 2010    59:10 -0500", None),
        ("Date: ", None),
        ("X-No-Date: yes", None),
    ],
)
def test_date_is_utc_and_a_missing_zone_means_utc(
    header: str, expected: datetime.datetime | None
) -> None:
    parsed = parse_message(message(header))
    if expected is None:
        assert parsed.date is None
    else:
        assert parsed.date == expected.replace(tzinfo=datetime.UTC)
        assert parsed.date.tzinfo is not None


# Bodies and charsets


def test_gb2312_body() -> None:
    parsed = parse("notmuch/lkml/cur/1382298793.002302.eml")
    assert "Thanks\uff01" in parsed.body_text  # a full-width exclamation mark
    assert parsed.flags == ()


def test_iso_2022_jp_body() -> None:
    # 7-bit escape sequences, which mail-parser 4.8 returns undecoded.
    parsed = parse("mime/ruby-mail/multi_charset/japanese_iso_2022.eml")
    assert parsed.body_text.strip() == "\u3059\u307f\u307e\u305b\u3093\u3002"
    assert parsed.subject == "\u307e\u307f\u3080\u3081\u3082"


BELL = "Envoy\u00e9 par le service de messagerie texte de Bell Mobilit\u00e9."


def test_lying_charset_falls_back_to_utf8() -> None:
    parsed = parse("mime/ruby-mail/plain_emails/raw_email6.eml")  # says us-ascii, is UTF-8
    assert BELL in parsed.body_text
    assert FLAG_CHARSET_FALLBACK in parsed.flags


def test_unknown_charset_falls_back_to_utf8() -> None:
    parsed = parse("mime/ruby-mail/plain_emails/raw_email10.eml")  # charset=X-UNKNOWN
    assert BELL in parsed.body_text
    assert FLAG_CHARSET_FALLBACK in parsed.flags


@pytest.mark.parametrize(
    ("charset", "body", "expected"),
    [
        ("utf-8", b"caf\xe9 cr\xe8me", "caf\u00e9 cr\u00e8me"),  # Latin-1 under a UTF-8 label
        ("x-made-up", b"caf\xe9", "caf\u00e9"),
        (
            "x-made-up",
            "caf\u00e9 \u043c\u0438\u0440".encode() + b"\xd0",
            "caf\u00e9 \u043c\u0438\u0440\ufffd",
        ),
        ("utf-7", b"+2D3-", "+2D3-"),  # a lone surrogate is not text: read as ASCII
        ("unicode_escape", b"\\ud800", "\\ud800"),
        ("base64", b"aGk=", "aGk="),  # not a text encoding
    ],
)
def test_undecodable_text_never_fails(charset: str, body: bytes, expected: str) -> None:
    raw = message(content_type=f"text/plain; charset={charset}", body="").replace(
        b"\r\n\r\n", b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    parsed = parse_message(raw + body)
    assert parsed.body_text == expected
    assert FLAG_CHARSET_FALLBACK in parsed.flags
    assert_sane(parsed)


def test_html_only_message_gets_its_text_from_the_html() -> None:
    parsed = parse("mime/flanker/long-links.eml")
    assert parsed.body_html
    assert "http://www.longurlmaker.com/view/?id=" in parsed.body_text
    assert "<a" not in parsed.body_text and "href=" not in parsed.body_text


@pytest.mark.parametrize(
    "location",
    [
        "mime/flanker/long-links.eml",
        "mime/ruby-mail/error_emails/content_transfer_encoding_empty.eml",
        "mime/ruby-mail/error_emails/content_transfer_encoding_text-html.eml",
        "mime/ruby-mail/error_emails/content_transfer_encoding_with_8bits.eml",
        "mime/ruby-mail/error_emails/multiple_invalid_content_dispositions.eml",
        "notmuch/html/attribute-text.eml",
    ],
)
def test_every_html_only_message_has_text(location: str) -> None:
    # INDEX.details.md lists two more: bad_date_header.eml, whose HTML sits in a
    # Date header continuation, and an HTML part that is only an inline <img>.
    parsed = parse(location)
    assert parsed.body_text.strip()
    assert not re.search(r"<\s*(p|a|div|table|br|html|body)\b", parsed.body_text, re.I)


def test_named_inline_html_is_body_and_attachment() -> None:
    parsed = parse("notmuch/html/attribute-text.eml")
    assert parsed.body_text.strip() == "hunter2"  # an input's value is not text
    assert [a.filename for a in parsed.attachments] == ["test.html"]


def test_alternative_gives_plain_text_and_sanitized_html() -> None:
    body = (
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain version\r\n"
        "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<p onclick=x()>html version</p><script>alert(1)</script>\r\n--b--\r\n"
    )
    parsed = parse_message(message(content_type='multipart/alternative; boundary="b"', body=body))
    # The line break before a boundary belongs to the boundary (RFC 2046 section 5.1.1).
    assert parsed.body_text == "plain version"
    assert parsed.body_html == "<p>html version</p>"


def test_thousands_of_alternatives_give_one_body() -> None:
    # flanker's enclosed-endless.eml holds about 3,500 HTML alternatives;
    # one top-level alternative like it must not be sanitized 3,500 times over.
    branches = "".join(
        f"--b\r\nContent-Type: text/html\r\n\r\n<p>version {n}</p>\r\n" for n in range(3000)
    )
    parsed = parse_message(
        message(content_type='multipart/alternative; boundary="b"', body=branches + "--b--\r\n")
    )
    assert parsed.body_html == "<p>version 2999</p>"
    assert parsed.body_text == "version 2999"


def test_mixed_text_parts_are_joined_in_order() -> None:
    body = (
        "--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
        "--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "iVBORw0KGgo=\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--b--\r\n"
    )
    parsed = parse_message(message(content_type='multipart/mixed; boundary="b"', body=body))
    assert parsed.body_text == "first\nsecond"
    (image,) = parsed.attachments
    assert (image.filename, image.content_type, image.payload) == (
        "attachment.png",
        "image/png",
        b"\x89PNG\r\n\x1a\n",
    )


def test_body_line_endings_and_nuls_are_normalized() -> None:
    parsed = parse_message(message(body="a\r\nb\rc\x00d\n"))
    assert parsed.body_text == "a\nb\ncd\n"


# Attachments


@pytest.mark.parametrize(
    ("location", "filename"),
    [
        # RFC 2231: filename*=ISO-8859-1''Eelanal%FC%FCsi%20p%E4ring.jpg
        (
            "mime/ruby-mail/attachment_emails/attachment_with_quoted_filename.eml",
            "Eelanal\u00fc\u00fcsi p\u00e4ring.jpg",
        ),
        # RFC 2231 continuations (filename*0*, filename*1*) in UTF-8
        (
            "mime/ruby-mail/multi_charset/japanese_attachment_long_name.eml",
            "\u304b\u304d\u304f\u3051\u3053" * 5 + ".txt",
        ),
        # RFC 2047, unquoted: filename==?utf-8?B?VGhpcyBpcyBhIHRlc3QucGRm?=
        (
            "mime/ruby-mail/attachment_emails/attachment_with_base64_encoded_name.eml",
            "This is a test.pdf",
        ),
        # RFC 2047, quoted
        ("mime/ruby-mail/multi_charset/japanese_attachment.eml", "\u3066\u3059\u3068.txt"),
    ],
)
def test_encoded_attachment_filenames(location: str, filename: str) -> None:
    assert filename in [attachment.filename for attachment in parse(location).attachments]


@needs_corpus  # its mail is large: not copied to tests/fixtures
def test_russian_filename_cut_mid_character_is_valid_text() -> None:
    parsed = parse_corpus("mime/flanker/russian-attachment-yahoo.eml")
    (attachment,) = parsed.attachments
    assert attachment.filename.startswith(
        "\u041a\u0430\u0440\u0442\u0438\u043d\u043a\u0430 \u0441 \u043e\u0447\u0435\u043d\u044c"
    )
    assert attachment.filename.endswith("\ufffd")  # the half character, not Latin-1 mojibake
    assert attachment.content_type == "image/png"
    assert attachment.payload.startswith(b"\x89PNG\r\n\x1a\n")


def test_pdf_attachment_is_decoded() -> None:
    parsed = parse("mime/ruby-mail/attachment_emails/attachment_pdf.eml")
    pdfs = [a for a in parsed.attachments if a.content_type == "application/pdf"]
    assert pdfs and all(a.payload.startswith(b"%PDF") for a in pdfs)
    assert not any(a.inline for a in pdfs)


def test_cid_image_is_inline_and_attached_message_is_a_file() -> None:
    parsed = parse("mime/ruby-mail/attachment_emails/attachment_message_rfc822_inline_image.eml")
    cid = "emedfeb92f-a786-4718-a446-98db8afb53fb@kronos"
    image, attached = parsed.attachments
    assert (image.filename, image.content_type, image.content_id, image.inline) == (
        "img.png",
        "image/png",
        cid,
        True,
    )
    assert f'src="cid:{cid}"' in parsed.body_html
    assert (attached.filename, attached.content_type, attached.inline) == (
        "Testmail.eml",
        "message/rfc822",
        False,
    )
    assert attached.payload.startswith(b"Return-Path: ")


def test_cid_reference_makes_an_image_inline() -> None:
    body = (
        '--b\r\nContent-Type: text/html\r\n\r\n<p><img src="cid:logo%40example.com"></p>\r\n'
        "--b\r\nContent-Type: image/gif\r\nContent-ID: < logo@example.com >\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nR0lGODlhAQABAAAAACw=\r\n"
        "--b\r\nContent-Type: image/gif\r\nContent-ID: <other@example.com>\r\n\r\n"
        "GIF89a\r\n--b--\r\n"
    )
    parsed = parse_message(message(content_type='multipart/related; boundary="b"', body=body))
    referenced, unreferenced = parsed.attachments
    assert (referenced.content_id, referenced.inline) == ("logo@example.com", True)
    assert (unreferenced.content_id, unreferenced.inline) == ("other@example.com", False)
    assert parsed.body_text == ""


def test_data_image_survives_in_the_html() -> None:
    parsed = parse("notmuch/html/embedded-image.eml")
    assert '<img src="data:image/gif;base64,' in parsed.body_html
    assert 'rel="nofollow noopener"' in parsed.body_html
    assert parsed.body_text.startswith("<http://malmoborg.se/2016/07/")  # the text/plain part


def test_unnamed_signature_is_not_an_attachment() -> None:
    body = (
        "--b\r\nContent-Type: text/plain\r\n\r\nsigned text\r\n"
        "--b\r\nContent-Type: application/pgp-signature\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n"
        "--b--\r\n"
    )
    raw = message(
        content_type='multipart/signed; protocol="application/pgp-signature"; boundary="b"',
        body=body,
    )
    parsed = parse_message(raw)
    assert parsed.attachments == ()
    assert parsed.body_text == "signed text"


@needs_corpus  # its mail is large: not copied to tests/fixtures
def test_enclosed_endless_message() -> None:
    # 3 MB: an attached message holding thousands of alternatives.
    parsed = parse_corpus("mime/flanker/enclosed-endless.eml")
    assert parsed.body_text == "Hello\n"
    (attached,) = parsed.attachments
    assert (attached.filename, attached.content_type) == ("thanks.eml", "message/rfc822")
    assert len(attached.payload) > 2_000_000
    assert FLAG_MALFORMED in parsed.flags  # its first line is a stray continuation


# Broken input


def nested(depth: int) -> bytes:
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n' for n in range(depth)
    )
    closing = "".join(f"\r\n--b{n}--\r\n" for n in reversed(range(depth)))
    head = "From: Deep <deep@example.com>\r\nMessage-ID: <deep@example.com>\r\nSubject: deep\r\n"
    return (head + opening + "Content-Type: text/plain\r\n\r\nbottom" + closing).encode()


def test_deep_nesting_falls_back_to_the_headers() -> None:
    parsed = parse_message(nested(1500))
    assert_sane(parsed)
    assert (parsed.message_id, parsed.subject, parsed.from_address) == (
        "deep@example.com",
        "deep",
        "deep@example.com",
    )
    assert FLAG_MALFORMED in parsed.flags
    assert FLAG_TOO_COMPLEX in parsed.flags  # stored raw and flagged, never walked
    assert parsed.body_text == ""


def test_moderate_nesting_is_read_whole() -> None:
    parsed = parse_message(nested(300))
    assert parsed.body_text == "bottom"
    assert FLAG_MALFORMED not in parsed.flags


def enclosing(count: int) -> bytes:
    """A mail enclosing a mail enclosing a mail ... `count` deep: no delimiter lines,
    and a colon for each."""
    return b"Content-Type: message/rfc822\r\n\r\n" * count + b"x\r\n"


@pytest.mark.parametrize(
    ("count", "expected"),
    [(MAX_ENCLOSED - 1, False), (MAX_ENCLOSED, False), (MAX_ENCLOSED + 1, True)],
    ids=["below the bound", "at the bound", "past it"],
)
def test_a_mail_may_enclose_up_to_max_enclosed_messages(count: int, expected: bool) -> None:
    assert too_complex(enclosing(count)) is expected


GARBAGE = {
    "empty": b"",
    "nuls": b"\x00" * 200,
    "only a blank line": b"\r\n\r\n",
    "no header block": b"just some text\nwithout headers\n",
    "8-bit header names": b"\xff\xfe: \xfd\r\nSubject: \xe9\r\n\r\n\xe9",
    "multipart without boundary": b"Content-Type: multipart/mixed\r\n\r\n--x\r\nhi\r\n",
    "bad base64": b"Content-Type: image/png; name=a.png\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n@@@",
    "bad quoted-printable": b"Content-Type: text/plain\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=",
    "bad encoded words": b"Subject: =?utf-8?B?@@@?= =?x?q?=ZZ?= =?utf-8?b?w?=\r\n\r\n",
    "bad rfc2231": b"Content-Type: text/plain; name*0*=x-bad''%FF; name*1*=%\r\n"
    b"Content-Disposition: attachment; filename*=''\r\n\r\nx",
    "header without colon": b"Subject x\r\nFrom: a@b.c\r\n\r\nbody",
    "long line": b"Subject: " + b"x" * 100_000 + b"\r\n\r\n" + b"y" * 100_000,
}


@pytest.mark.parametrize("raw", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_never_raises(raw: bytes) -> None:
    assert_sane(parse_message(raw))


@needs_corpus  # its mail is large: not copied to tests/fixtures
def test_truncated_and_shuffled_corpus_messages_never_raise() -> None:
    rng = random.Random(20240611)
    for location in (
        "mime/flanker/torture.eml",
        "mime/ruby-mail/attachment_emails/attachment_with_encoded_name.eml",
        "mime/flanker/russian-attachment-yahoo.eml",
        "notmuch/protected-headers/nested-rfc822-message.eml",
    ):
        raw = load(location)
        for cut in sorted(rng.sample(range(len(raw)), 8)):
            assert_sane(parse_message(raw[:cut]))
        noisy = bytearray(raw[:20_000])
        for _ in range(200):
            noisy[rng.randrange(len(noisy))] = rng.randrange(256)
        assert_sane(parse_message(bytes(noisy)))


def test_an_unnamed_calendar_part_is_an_attachment_and_nothing_is_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = (
        "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        "--b\r\nContent-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n--b--\r\n"
    )
    parsed = parse_message(message(content_type='multipart/mixed; boundary="b"', body=body))
    assert capsys.readouterr() == ("", "")
    assert [a.filename for a in parsed.attachments] == ["attachment.ics"]


def test_references_are_kept_once_each_and_trimmed_to_the_root_and_the_nearest() -> None:
    ids = " ".join(f"<r{n}@example.com>" for n in range(300))
    repeated = "".join(f"References: {ids}\r\n" for _ in range(20))
    parsed = parse_message(f"From: a@example.com\r\n{repeated}\r\nbody\r\n".encode())
    assert len(parsed.references) == 100
    assert parsed.references[0] == "r0@example.com"
    assert parsed.references[1:] == tuple(f"r{n}@example.com" for n in range(201, 300))
