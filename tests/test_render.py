"""Rendering a post for a community: list headers, Subject prefix, Reply-To and From, footers,
large attachments, and signed mail kept byte for byte."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.message
import email.policy
import hashlib
import re
from typing import Any

import pytest

from gateway import links
from gateway.app import make_template_environment
from gateway.outbound.render import Destination
from gateway.outbound.render import Post
from gateway.outbound.render import Renderer
from gateway.settings import GatewaySettings
from gateway.settings import Settings
from tests.corpus import sample
from tests.received import parse_mail
from tests.received import plain_text

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
BASE_URL = "http://localhost:8000/"
DESIGN = Destination(
    slug="design", name="Design", subject_prefix="[design]", reply_to="community", public=True
)
LEAVE = "Leave Design: mailto:design-leave@lists.example.com?subject=leave"
MUTE = "Mute this thread: mailto:mute+42@lists.example.com?subject=mute"
HTML_FOOTER_START = '<div style="margin-top:24px'
PGP_SIGNED = ["new/04.eml", "bar/new/22.eml", "bar/cur/20.eml", "foo/new/03.eml"]


def renderer(settings: Settings | None = None, **delivery: object) -> Renderer:
    settings = settings or Settings()
    if delivery:
        settings = dataclasses.replace(
            settings, delivery=dataclasses.replace(settings.delivery, **delivery)
        )
    return Renderer(settings, make_template_environment())


def mail(headers: str = "", body: str = "Hello\r\n", *, subject: str = "Colours") -> bytes:
    """A small post by Alice; `headers` come after the usual ones."""
    return (
        "From: Alice <alice@example.com>\r\n"
        "To: design@lists.example.com\r\n"
        f"Subject: {subject}\r\n"
        "Date: Mon, 02 Nov 2026 09:00:00 +0000\r\n"
        "Message-ID: <m1@example.com>\r\n"
        f"{headers}\r\n{body}"
    ).encode()


def post(
    raw: bytes,
    *,
    message_id: str = "m1@example.com",
    subject: str = "Colours",
    sender_name: str = "Alice",
    thread_id: int | None = 42,
    attachment_names: dict[str, str] | None = None,
    rewrite_from: bool = False,
) -> Post:
    return Post(
        raw=raw,
        message_id=message_id,
        subject=subject,
        sender_name=sender_name,
        sender_address="alice@example.com",
        thread_id=thread_id,
        received_at=NOW,
        attachment_names=attachment_names or {},
        rewrite_from=rewrite_from,
    )


def render(
    raw: bytes,
    to: Destination = DESIGN,
    *,
    with_renderer: Renderer | None = None,
    **post_fields: Any,
) -> bytes:
    return (with_renderer or renderer()).render(post(raw, **post_fields), to)


def html_body(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def crlf(raw: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", raw)


def assert_crlf(out: bytes) -> None:
    """Every line of a rendered mail ends in CRLF, as SMTP wants it."""
    assert re.search(rb"(?<!\r)\n|\r(?!\n)", out) is None


def attachment_mail(payload: bytes, filename: str) -> bytes:
    outer = email.message.EmailMessage(policy=email.policy.SMTP)
    outer["From"] = "Alice <alice@example.com>"
    outer["To"] = "design@lists.example.com"
    outer["Subject"] = "Report"
    outer["Message-ID"] = "<m1@example.com>"
    outer.set_content("See attached.\n")
    outer.add_attachment(payload, maintype="application", subtype="pdf", filename=filename)
    return outer.as_bytes()


# --- headers


def test_list_headers_are_exact() -> None:
    message = parse_mail(render(mail()))
    assert message["List-Id"] == "Design <design.lists.example.com>"
    assert message["List-Post"] == "<mailto:design@lists.example.com>"
    assert message["List-Help"] == "<mailto:design-help@lists.example.com?subject=help>"
    assert message["List-Subscribe"] == "<mailto:design-join@lists.example.com?subject=join>"
    assert message["List-Unsubscribe"] == "<mailto:design-leave@lists.example.com?subject=leave>"
    assert message["List-Archive"] == "<http://localhost:8000/t/42/>"
    assert message["Precedence"] == "list"
    assert message["X-Gateway-Loop"] == "lists.example.com"
    assert message.get_all("To") == ["Design <design@lists.example.com>"]
    assert message["From"] == "Alice <alice@example.com>"
    assert message["MIME-Version"] == "1.0"


def test_the_original_hop_and_list_headers_are_gone() -> None:
    raw = mail(
        "Return-Path: <alice@example.com>\r\n"
        "Delivered-To: design@lists.example.com\r\n"
        "X-Original-To: design@lists.example.com\r\n"
        "Precedence: bulk\r\n"
        "List-Id: Other <other.lists.example.org>\r\n"
        "List-Post: <mailto:other@lists.example.org>\r\n"
        "List-Unsubscribe: <mailto:other-leave@lists.example.org>\r\n"
        "X-Gateway-Loop: lists.example.org\r\n"
        "Sender: other-bounces@lists.example.org\r\n"
        "X-Custom: kept\r\n"
    )
    out = render(raw)
    message = parse_mail(out)
    for name in ("Return-Path", "Delivered-To", "X-Original-To", "Sender"):
        assert message[name] is None, name
    assert message.get_all("Precedence") == ["list"]
    assert message.get_all("List-Id") == ["Design <design.lists.example.com>"]
    assert message.get_all("List-Post") == ["<mailto:design@lists.example.com>"]
    assert message.get_all("X-Gateway-Loop") == ["lists.example.com"]
    assert len(message.get_all("List-Unsubscribe") or []) == 1
    assert b"lists.example.org" not in out
    assert message["X-Custom"] == "kept"


def test_a_mailing_list_copy_from_the_corpus_loses_its_list_headers() -> None:
    raw = sample("notmuch/default/new/04.eml")
    out = render(raw, subject="Re: [notmuch] Working with Maildir storage?")
    message = parse_mail(out)
    assert message.get_all("List-Id") == ["Design <design.lists.example.com>"]
    for name in ("List-Post", "List-Help", "List-Subscribe", "List-Unsubscribe", "List-Archive"):
        assert len(message.get_all(name) or []) == 1, name
    assert message.get_all("Precedence") == ["list"]
    assert message["Sender"] is None and message["Errors-To"] is None
    assert b"notmuchmail.org/mailman" not in out.split(b"\r\n\r\n", 1)[0]
    assert message.get_all("To") == ["Design <design@lists.example.com>"]
    assert message.get_all("MIME-Version") == ["1.0"]
    assert_crlf(out)


def test_message_id_in_reply_to_and_references_are_kept_byte_for_byte() -> None:
    raw = sample("notmuch/default/new/04.eml")
    out = render(raw, message_id="87iqd9rn3l.fsf@vertex.dottedmag")
    assert out.count(b"\r\nMessage-ID: <87iqd9rn3l.fsf@vertex.dottedmag>\r\n") == 1
    assert out.count(b"\r\nReferences: <20091117190054.GU3165@dottiness.seas.harvard.edu>\r\n") == 1
    in_reply_to = (
        b"\r\nIn-Reply-To: <20091117190054.GU3165@dottiness.seas.harvard.edu> (Lars\r\n"
        b'\tKellogg-Stedman\'s message of "Tue, 17 Nov 2009 14:00:54 -0500")\r\n'
    )
    assert out.count(in_reply_to) == 1


def test_odd_but_valid_id_fields_are_not_rewritten() -> None:
    fields = (
        b"In-Reply-To:   <Parent.ID+x@Example.COM>\r\n"
        b"References: <a@example.com>\r\n <Parent.ID+x@Example.COM>\r\n"
    )
    out = render(mail(fields.decode()))
    assert fields in out
    assert b"\r\nMessage-ID: <m1@example.com>\r\n" in out


def test_a_message_id_is_added_when_the_mail_had_none() -> None:
    raw = b"From: alice@example.com\r\nSubject: Colours\r\n\r\nHello\r\n"
    message = parse_mail(render(raw, message_id="generated.1@lists.example.com"))
    assert message.get_all("Message-ID") == ["<generated.1@lists.example.com>"]
    assert message["Date"] is not None


def test_a_from_is_added_when_the_mail_had_none() -> None:
    """From the address the gateway took as the author's (the envelope sender)."""
    message = parse_mail(render(b"Subject: Colours\r\n\r\nHello\r\n"))
    assert message.get_all("From") == ["Alice <alice@example.com>"]
    kept = parse_mail(render(mail()))
    assert kept.get_all("From") == ["Alice <alice@example.com>"]


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Colours", "[design] Colours"),
        ("Re: [design] Colours", "Re: [design] Colours"),
        ("[design] Colours", "[design] Colours"),
        ("Re: [Design] Colours", "Re: [design] Colours"),
        ("", "[design]"),
        # a reply to the atlas copy of a cross-post, sent to both
        ("Re: [atlas] Colours", "Re: [design] Colours"),
        ("[design] Re: [atlas] Colours", "Re: [design] Colours"),
        ("RE : [atlas] RE : [design] Couleurs", "RE : [design] Couleurs"),
    ],
)
def test_the_subject_prefix_is_added_once(subject: str, expected: str) -> None:
    design = dataclasses.replace(DESIGN, other_prefixes=("[atlas]",))
    message = parse_mail(render(mail(subject=subject), design, subject=subject))
    assert message.get_all("Subject") == [expected]


def test_each_copy_of_a_cross_post_reply_carries_only_its_own_prefix() -> None:
    raw = mail(subject="Re: [atlas] Colours")
    atlas = dataclasses.replace(
        DESIGN, slug="atlas", name="Atlas", subject_prefix="[atlas]", other_prefixes=("[design]",)
    )
    design = dataclasses.replace(DESIGN, other_prefixes=("[atlas]",))
    subjects = [
        parse_mail(render(raw, to, subject="Re: [atlas] Colours"))["Subject"]
        for to in (atlas, design)
    ]
    assert subjects == ["Re: [atlas] Colours", "Re: [design] Colours"]


def test_a_non_ascii_subject_is_encoded_and_decodes_back() -> None:
    subject = "Couleurs d'été ☀ et dégradés"
    raw = mail(subject="=?utf-8?b?Q291bGV1cnMgZCfDqXTDqSDimIAgZXQgZMOpZ3JhZMOpcw==?=")
    out = render(raw, subject=subject)
    head = out.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # RFC 2047 words, no raw UTF-8 in the header
    assert parse_mail(out).get_all("Subject") == [f"[design] {subject}"]


def test_without_a_prefix_the_subject_is_the_authors() -> None:
    out = render(mail(subject="Colours"), dataclasses.replace(DESIGN, subject_prefix=""))
    assert parse_mail(out).get_all("Subject") == ["Colours"]


# --- Reply-To and From


def test_reply_to_community_replaces_the_authors_reply_to() -> None:
    message = parse_mail(render(mail("Reply-To: Alice Home <alice@home.example>\r\n")))
    assert message.get_all("Reply-To") == ["Design <design@lists.example.com>"]


def test_reply_to_sender_keeps_the_authors_reply_to() -> None:
    to = dataclasses.replace(DESIGN, reply_to="sender")
    message = parse_mail(render(mail("Reply-To: Alice Home <alice@home.example>\r\n"), to))
    assert message.get_all("Reply-To") == ["Alice Home <alice@home.example>"]


def test_reply_to_sender_adds_none_when_the_author_set_none() -> None:
    to = dataclasses.replace(DESIGN, reply_to="sender")
    assert parse_mail(render(mail(), to))["Reply-To"] is None


def test_reply_to_an_address() -> None:
    to = dataclasses.replace(DESIGN, reply_to="design-team@example.com")
    message = parse_mail(render(mail("Reply-To: alice@home.example\r\n"), to))
    assert message.get_all("Reply-To") == ["design-team@example.com"]


@pytest.mark.parametrize(
    ("reply_to", "expected"),
    [
        ("sender", "Alice <alice@example.com>"),
        ("community", "Design <design@lists.example.com>"),
    ],
)
def test_rewrite_from_puts_the_community_in_from(reply_to: str, expected: str) -> None:
    to = dataclasses.replace(DESIGN, reply_to=reply_to)
    raw = mail("Reply-To: Alice Home <alice@home.example>\r\n")
    out = render(raw, to, rewrite_from=True)
    message = parse_mail(out)
    assert message.get_all("From") == ["Alice via Design <design@lists.example.com>"]
    assert message.get_all("Reply-To") == [expected]
    assert b"From: Alice <alice@example.com>" not in out
    assert b"alice@home.example" not in out


def test_rewriting_is_decided_per_post_by_one_renderer() -> None:
    """One renderer serves a round's posts; each post says whether its From is rewritten
    (its author's DMARC policy), so two authors' posts differ."""
    shared = renderer()
    strict = parse_mail(render(mail(), with_renderer=shared, rewrite_from=True))
    lenient = parse_mail(render(mail(), with_renderer=shared))
    assert strict["From"] == "Alice via Design <design@lists.example.com>"
    assert lenient["From"] == "Alice <alice@example.com>"


def test_rewrite_from_without_a_name_uses_the_address() -> None:
    out = render(mail(), sender_name="", rewrite_from=True)
    [address] = parse_mail(out)["From"].addresses
    assert address.display_name == "alice@example.com via Design"
    assert address.addr_spec == "design@lists.example.com"


def test_non_ascii_names_are_encoded_and_decode_back() -> None:
    to = dataclasses.replace(DESIGN, name="Équipe « Design », Paris")
    out = render(
        mail(),
        to,
        sender_name="Zoë, O'Brien",
        rewrite_from=True,
    )
    out.split(b"\r\n\r\n", 1)[0].decode("ascii")
    message = parse_mail(out)
    [author] = message["From"].addresses
    assert author.display_name == "Zoë, O'Brien via Équipe « Design », Paris"
    assert author.addr_spec == "design@lists.example.com"
    [community] = message["To"].addresses
    assert (community.display_name, community.addr_spec) == (to.name, "design@lists.example.com")
    assert message["List-Id"] == "Équipe « Design », Paris <design.lists.example.com>"


# --- archive links and footers


def test_a_private_community_links_to_no_archive() -> None:
    to = dataclasses.replace(DESIGN, public=False)
    html = (
        "Content-Type: multipart/alternative; boundary=b\r\n",
        "--b\r\nContent-Type: text/plain\r\n\r\nHi\r\n"
        "--b\r\nContent-Type: text/html\r\n\r\n<html><body><p>Hi</p></body></html>\r\n--b--\r\n",
    )
    out = render(mail(*html), to)
    message = parse_mail(out)
    assert message["List-Archive"] is None
    assert b"localhost:8000" not in out
    assert "Read the whole thread" not in plain_text(message)
    assert "Read the whole thread" not in html_body(message)
    assert LEAVE in plain_text(message)


def test_a_public_community_links_to_the_thread() -> None:
    message = parse_mail(render(mail()))
    assert message["List-Archive"] == "<http://localhost:8000/t/42/>"
    assert "Read the whole thread: http://localhost:8000/t/42/\n" in plain_text(message)


def test_a_post_without_a_thread_has_no_archive_link() -> None:
    message = parse_mail(render(mail(), thread_id=None))
    assert message["List-Archive"] is None
    assert "Read the whole thread" not in plain_text(message)
    assert "Mute this thread" not in plain_text(message)


def test_the_footer_ends_the_text_part() -> None:
    body = plain_text(parse_mail(render(mail(body="Hello\r\n\r\n\r\n"))))
    assert body.startswith("Hello\n\n_______________________________________________\n")
    assert "Design: design@lists.example.com\n" in body
    assert body.endswith(LEAVE + "\n" + MUTE + "\n")
    assert body.count(LEAVE) == 1


def test_the_html_footer_goes_before_the_closing_body_tag() -> None:
    raw = mail(
        "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n",
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi\r\n"
        "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<html><body><p>Hi</p></BODY></html>\r\n--b--\r\n",
    )
    message = parse_mail(render(raw))
    assert [p.get_content_type() for p in message.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    html = html_body(message)
    assert html.count(HTML_FOOTER_START) == 1
    assert html.index("<p>Hi</p>") < html.index(HTML_FOOTER_START) < html.index("</BODY>")
    assert html.rstrip().endswith("</BODY></html>")
    assert 'href="mailto:design-leave@lists.example.com?subject=leave"' in html
    assert plain_text(message).endswith(LEAVE + "\n" + MUTE + "\n")


def test_a_corpus_html_mail_gets_both_footers() -> None:
    raw = sample("notmuch/html/embedded-image.eml")
    out = render(raw, subject="Tack alla trafikanter och fotgängare!")
    message = parse_mail(out)
    assert [p.get_content_type() for p in message.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    text = plain_text(message)
    assert "Malmö 2016-07-09" in text
    assert text.endswith(LEAVE + "\n" + MUTE + "\n")
    assert_crlf(out)
    html = html_body(message)
    assert "fotgängare" in html
    assert html.count(HTML_FOOTER_START) == 1
    assert html.rstrip().endswith("</div>")
    assert message["Subject"] == "[design] Tack alla trafikanter och fotgängare!"


def test_the_footer_names_the_other_communities_of_a_cross_post() -> None:
    to = dataclasses.replace(DESIGN, also=(("ux", "UX"), ("research", "Research")))
    html = (
        "Content-Type: multipart/alternative; boundary=b\r\n",
        "--b\r\nContent-Type: text/plain\r\n\r\nHi\r\n"
        "--b\r\nContent-Type: text/html\r\n\r\n<html><body><p>Hi</p></body></html>\r\n--b--\r\n",
    )
    message = parse_mail(render(mail(*html), to))
    assert (
        "Also posted in: UX (ux@lists.example.com), Research (research@lists.example.com)\n"
        in plain_text(message)
    )
    assert re.search(
        r'UX \(<a href="mailto:ux@lists.example.com"[^>]*>ux@lists.example.com</a>\)',
        html_body(message),
    )


def test_the_footer_is_in_french_for_a_french_gateway() -> None:
    settings = Settings(gateway=GatewaySettings(language="fr"))
    body = plain_text(parse_mail(render(mail(), with_renderer=renderer(settings))))
    assert "Design\u00a0: design@lists.example.com\n" in body
    assert "Lire toute la discussion\u00a0: http://localhost:8000/t/42/\n" in body
    assert body.endswith(
        "Quitter Design\u00a0: mailto:design-leave@lists.example.com?subject=leave\n"
        "Ne plus suivre cette discussion\u00a0: mailto:mute+42@lists.example.com?subject=mute\n"
    )
    assert "Leave Design" not in body


# --- attachments


def test_a_large_attachment_becomes_a_link_to_the_archive() -> None:
    payload = bytes(range(256)) * 20  # 5120 bytes
    sha256 = hashlib.sha256(payload).hexdigest()
    raw = attachment_mail(payload, "Big Report.pdf")
    out = render(
        raw,
        attachment_names={sha256: "Big_Report.pdf"},
        with_renderer=renderer(max_attachment_size=1000),
    )
    message = parse_mail(out)
    parts = [p for p in message.walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/plain"]
    assert all(p.get_payload(decode=True) != payload for p in parts)
    assert all(p.get_filename() is None for p in parts)
    link = parts[1].get_content()
    url = links.attachment_url(BASE_URL, sha256, "Big_Report.pdf")
    assert url == f"{BASE_URL}files/{sha256[:2]}/{sha256}/Big_Report.pdf"
    assert f"Download it from the archive: {url}" in link
    assert 'The attachment "Big_Report.pdf" (5.0 KB)' in link
    assert plain_text(message).startswith("See attached.\n")
    assert plain_text(message).endswith(LEAVE + "\n" + MUTE + "\n")


def test_a_small_attachment_is_kept_intact() -> None:
    payload = bytes(range(256)) * 2
    out = render(attachment_mail(payload, "small.pdf"), with_renderer=renderer())
    message = parse_mail(out)
    [attachment] = [p for p in message.walk() if p.get_filename()]
    assert attachment.get_filename() == "small.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_payload(decode=True) == payload
    assert plain_text(message).endswith(LEAVE + "\n" + MUTE + "\n")


# --- signed mail and odd bodies


def signed_entity(raw: bytes) -> bytes:
    """The multipart/signed part of `raw`, from its Content-Type line through its closing
    boundary, with CRLF line ends."""
    raw = crlf(raw)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    [signed] = [p for p in message.walk() if p.get_content_type() == "multipart/signed"]
    boundary = signed.get_boundary()
    assert boundary
    start = raw.index(b"Content-Type: multipart/signed")
    end = raw.index(b"\r\n--" + boundary.encode() + b"--", start) + len(boundary) + 6
    return raw[start:end]


@pytest.mark.parametrize("name", PGP_SIGNED)
def test_a_signed_part_is_kept_byte_for_byte(name: str) -> None:
    raw = sample(f"notmuch/default/{name}")
    entity = signed_entity(raw)
    out = render(raw)
    assert_crlf(out)
    assert out.count(entity) == 1
    assert out.count(LEAVE.encode()) == 1
    assert LEAVE.encode() not in entity
    message = parse_mail(out)
    assert message.get_content_type() == "multipart/mixed"
    *_, footer = message.iter_parts()
    assert footer.get_content_type() == "text/plain"
    content = footer.get_content()
    assert isinstance(content, str) and content.rstrip().endswith(MUTE)


def test_a_top_level_signed_mail_is_wrapped_not_opened() -> None:
    content_type = (
        b'Content-Type: multipart/signed; boundary="sig";\r\n'
        b'\tmicalg=pgp-sha256; protocol="application/pgp-signature"\r\n'
    )
    body = (
        b"--sig\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        b"Signed text, with trailing spaces   \r\n"
        b"--sig\r\n"
        b"Content-Type: application/pgp-signature\r\n\r\n"
        b"-----BEGIN PGP SIGNATURE-----\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n"
        b"--sig--\r\n"
    )
    raw = mail("MIME-Version: 1.0\r\n" + content_type.decode(), body.decode())
    out = render(raw)
    assert (content_type + b"\r\n" + body) in out
    message = parse_mail(out)
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["multipart/signed", "text/plain"]
    assert LEAVE in parts[1].get_content()


def decoded_parts(out: bytes) -> bytes:
    message = email.message_from_bytes(out, policy=email.policy.default)
    chunks = []
    for part in message.walk():
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            chunks.append(payload)
    return b"\n".join(chunks)


@pytest.mark.parametrize(
    "raw",
    [
        b"From: alice@example.com\r\nSubject: Colours\r\nMessage-ID: <m1@example.com>\r\n",
        b"From: alice@example.com\r\nSubject: Colours\r\n\r\n",
        mail("Content-Type: text/plain; charset=x-no-such-charset\r\n").replace(
            b"Hello", b"H\xe9llo"
        ),
        mail("Content-Type: text/plain; charset=unknown-8bit\r\n").replace(b"Hello", b"H\xe9llo"),
        mail("Content-Type: text/html\r\n", ""),
        mail("Content-Type: multipart/mixed; boundary=nothing-follows\r\n", "no parts here\r\n"),
        mail("Content-Type: multipart/alternative\r\n", "--x\r\n\r\nno boundary parameter\r\n"),
        mail("Content-Transfer-Encoding: base64\r\n", "!!! not base64 !!!\r\n"),
        b"\r\nA body without any header\r\n",
    ],
    ids=[
        "no-body",
        "empty-body",
        "unknown-charset",
        "unknown-8bit",
        "empty-html",
        "multipart-without-parts",
        "multipart-without-boundary",
        "bad-base64",
        "no-headers",
    ],
)
def test_an_odd_body_is_still_sent_with_a_footer(raw: bytes) -> None:
    out = render(raw)
    message = parse_mail(out)
    assert message["List-Id"] == "Design <design.lists.example.com>"
    # The text footer, or the HTML one for an HTML-only post.
    assert b"mailto:design-leave@lists.example.com?subject=leave" in decoded_parts(out)


def test_an_unknown_charset_keeps_the_body_bytes() -> None:
    raw = mail("Content-Type: text/plain; charset=x-no-such-charset\r\n").replace(
        b"Hello", b"H\xe9llo"
    )
    out = render(raw)
    assert b"H\xe9llo" in decoded_parts(out)
    assert LEAVE.encode() in decoded_parts(out)
