"""The composer: template pairs rendered into whole mails, the common and list headers,
and notices queued like any delivery."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.message
import email.policy
import email.utils
import re
from pathlib import Path

import jinja2
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import templates
from gateway.app import make_template_environment
from gateway.mail.headers import LOOP_HEADER
from gateway.mail.headers import is_auto_reply
from gateway.mail.headers import is_loop
from gateway.outbound import mail_style
from gateway.outbound import text_html
from gateway.outbound.composer import Composer
from gateway.outbound.composer import ListFields
from gateway.outbound.composer import Parts
from gateway.outbound.composer import community_list
from gateway.outbound.composer import send_notice
from gateway.outbound.mailto import mailto
from gateway.outbound.render import Destination
from gateway.outbound.render import Post
from gateway.outbound.render import Renderer
from gateway.settings import Settings
from gateway.store.models import Delivery
from gateway.store.models import DeliveryStatus

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
TEMPLATES = {
    "mail/plain.en.txt": "{% block subject %}Hello {{ name }}{% endblock %}\n"
    "{% block body %}\nDear {{ name }},\nyour mail reached {{ domain }}.\n{% endblock %}",
    "mail/plain.fr.txt": "{% block subject %}Bonjour {{ name }}{% endblock %}\n"
    "{% block body %}Cher {{ name }}, votre message est arrivé.\n{% endblock %}",
    "mail/rich.en.txt": "{% block subject %}News for {{ name }}{% endblock %}\n"
    "{% block body %}Plain news: {{ news }}\n{% endblock %}",
    "mail/rich.en.html": "<p>HTML news: <b>{{ news }}</b></p>\n",
    # The real layout: kinds without an HTML template of their own are converted into it.
    "mail/layout.html": (templates.PATH / "mail" / "layout.html").read_text(),
    # And the real From names.
    "mail/sender.en.txt": (templates.PATH / "mail" / "sender.en.txt").read_text(),
    "mail/sender.fr.txt": (templates.PATH / "mail" / "sender.fr.txt").read_text(),
}


def mail_templates() -> jinja2.Environment:
    """Mail is text; only the HTML half is autoescaped (as in gateway.app)."""
    environment = jinja2.Environment(
        loader=jinja2.DictLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
        keep_trailing_newline=True,
    )
    # The globals the layout reads (gateway.app sets them once).
    environment.globals.update(style=mail_style.as_dict(), linkify=text_html.linkify)
    return environment


def composer(language: str = "en") -> tuple[Composer, Settings]:
    settings = Settings()
    settings = dataclasses.replace(
        settings, gateway=dataclasses.replace(settings.gateway, language=language)
    )
    return Composer(mail_templates(), settings), settings


def parse(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def text_of(message: email.message.EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def test_a_text_kind_gets_its_html_from_the_layout_with_the_common_headers() -> None:
    mails, settings = composer()
    domain = settings.gateway.domain
    raw = mails.compose("plain", "Bob <bob@example.com>", {"name": "Bob"}, NOW)
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF throughout
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in message.iter_parts())
    html = text_of(message, "html")
    assert '<html lang="en">' in html and "<title>Hello Bob</title>" in html
    assert f'<a href="mailto:{domain}"' not in html  # a domain alone is no address
    assert "Dear Bob, your mail reached" in html  # the wrapped lines reflow
    assert message["From"] == f"Community gateway <help@{domain}>"
    assert message["To"] == "Bob <bob@example.com>"
    assert message["Subject"] == "Hello Bob"
    assert email.utils.parsedate_to_datetime(message["Date"]) == NOW
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith(f"@{domain}>")
    assert "plain" in message["Message-ID"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message[LOOP_HEADER] == domain
    assert "List-Id" not in message and "Precedence" not in message
    assert text_of(message, "plain") == f"Dear Bob,\nyour mail reached {domain}.\n"
    # Our own mail, if it ever came back in, is recognised and left alone.
    headers = {name.lower(): str(value) for name, value in message.items()}
    assert is_loop(headers, domain) and is_auto_reply(headers)


def test_the_language_picks_the_template_and_non_ascii_stays_7bit_safe() -> None:
    mails, _ = composer("fr")
    raw = mails.compose("plain", "bob@example.com", {"name": "Béatrice"}, NOW)
    assert raw.isascii()  # encoded words and quoted-printable
    message = parse(raw)
    assert message["Subject"] == "Bonjour Béatrice"
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None and plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert text_of(message, "plain") == "Cher Béatrice, votre message est arrivé.\n"


def test_a_kind_with_an_html_template_is_multipart_alternative() -> None:
    mails, settings = composer()
    parts = mails.render("rich", {"name": "Bob", "news": "<new>"})
    assert parts == Parts(
        "News for Bob",
        "Plain news: <new>\n",
        "<p>HTML news: <b>&lt;new&gt;</b></p>\n",
        sender=settings.gateway.name,
    )  # its own HTML template, rendered whole
    message = parse(mails.message(parts, "bob@example.com", NOW, kind="rich"))
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert text_of(message, "plain") == "Plain news: <new>\n"
    assert text_of(message, "html") == "<p>HTML news: <b>&lt;new&gt;</b></p>\n"


def test_options_set_reply_to_threading_and_a_chosen_message_id() -> None:
    mails, settings = composer()
    message = parse(
        mails.compose(
            "plain",
            "bob@example.com",
            {"name": "Bob"},
            NOW,
            sender="design-owner",
            reply_to="confirm+abc@example.org",
            in_reply_to="question@example.com",
            message_id="<chosen@example.org>",
        )
    )
    assert message["From"] == f"Community gateway <design-owner@{settings.gateway.domain}>"
    assert message["Reply-To"] == "confirm+abc@example.org"
    assert message["In-Reply-To"] == message["References"] == "<question@example.com>"
    assert message["Message-ID"] == "<chosen@example.org>"


def test_a_post_the_gateway_writes_is_not_marked_automatic() -> None:
    mails, _ = composer()
    message = parse(
        mails.compose("plain", "bob@example.com", {"name": "Bob"}, NOW, automatic=False)
    )
    assert "Auto-Submitted" not in message and LOOP_HEADER not in message


def test_an_attached_mail_goes_along_as_it_came() -> None:
    mails, _ = composer()
    original = b"From: alice@example.com\r\nSubject: Caf\xc3\xa9\r\n\r\nBody \xc3\xa9\r\n"
    raw = mails.compose("plain", "bob@example.com", {"name": "Bob"}, NOW, attached=original)
    assert original in raw  # byte for byte
    message = parse(raw)
    assert message.get_content_type() == "multipart/mixed"
    text, attached = message.iter_parts()
    assert text.get_content_type() == "multipart/alternative"
    assert attached.get_content_type() == "message/rfc822"
    assert attached["Content-Transfer-Encoding"] == "8bit"


def test_an_attached_mail_with_overlong_lines_goes_as_a_file() -> None:
    mails, _ = composer()
    original = b"Subject: long\r\n\r\n" + b"x" * 2000 + b"\r\n"
    raw = mails.compose("plain", "bob@example.com", {"name": "Bob"}, NOW, attached=original)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    _, attached = parse(raw).iter_parts()
    assert attached.get_content_type() == "application/octet-stream"
    assert attached.get_filename() == "message.eml"
    assert attached.get_content() == original


def test_list_fields_in_one_order_with_precedence_only_for_a_list() -> None:
    domain = "lists.example.com"
    assert community_list(domain, "design", "Design", "http://x/t/1/").headers() == [
        ("List-Id", "Design <design.lists.example.com>"),
        ("List-Post", "<mailto:design@lists.example.com>"),
        ("List-Help", "<mailto:design-help@lists.example.com?subject=help>"),
        ("List-Subscribe", "<mailto:design-join@lists.example.com?subject=join>"),
        ("List-Unsubscribe", "<mailto:design-leave@lists.example.com?subject=leave>"),
        ("List-Archive", "<http://x/t/1/>"),
        ("Precedence", "list"),
    ]
    opt_out = ListFields(unsubscribe=("https://x/stop", mailto("a@x", subject="stop")))
    assert opt_out.headers() == [
        ("List-Unsubscribe", "<https://x/stop>, <mailto:a@x?subject=stop>")
    ]


def test_composed_mail_and_a_members_copy_carry_the_same_list_headers() -> None:
    mails, settings = composer()
    domain = settings.gateway.domain
    list_fields = community_list(domain, "design", "Design")
    composed = parse(
        mails.compose("plain", "bob@example.com", {"name": "Bob"}, NOW, list_fields=list_fields)
    )
    post = Post(
        raw=b"From: alice@example.com\r\nSubject: Hi\r\nMessage-ID: <p@x>\r\n\r\nHi\r\n",
        message_id="p@x",
        subject="Hi",
        sender_name="",
        sender_address="alice@example.com",
        thread_id=None,
        received_at=NOW,
        attachment_names={},
    )
    design = Destination("design", "Design", "", "sender", public=False)
    copy = parse(Renderer(settings, make_template_environment()).render(post, design))
    names = [name for name, _ in list_fields.headers()]
    assert [(n, composed[n]) for n in names] == [(n, copy[n]) for n in names]
    assert copy["List-Id"] == f"Design <design.{domain}>"


@pytest.mark.parametrize("attached", [None, b"Subject: held\r\n\r\nbody\r\n"])
def test_a_notice_is_queued_with_its_bytes(
    session: Session, settings: Settings, attached: bytes | None
) -> None:
    delivery = send_notice(
        session,
        mail_templates(),
        settings,
        "plain",
        "bob@example.com",
        {"name": "Bob"},
        NOW,
        person_id=None,
        attached=attached,
    )
    session.flush()
    row = session.scalars(select(Delivery).where(Delivery.id == delivery.id)).one()
    assert (row.recipient, row.kind, row.status) == (
        "bob@example.com",
        "plain",
        DeliveryStatus.PENDING,
    )
    assert row.next_attempt_at is not None
    message = parse(row.content)
    assert message["To"] == "bob@example.com"
    assert message["Subject"] == "Hello Bob"
    assert message[LOOP_HEADER] == settings.gateway.domain
    expected = "multipart/mixed" if attached else "multipart/alternative"
    assert message.get_content_type() == expected


def test_long_ascii_fields_fold_at_spaces_and_are_never_encoded() -> None:
    """A monthly mail's opt-out URI is longer than a line and has no space: software that
    reads the raw List-Unsubscribe must find the <mailto:...> as it is, not RFC 2047 words.
    A long Subject keeps its first word on the field's own line."""
    write, _ = composer()
    opt_out = "mailto:profile@lists.example.com?subject=monthly%20off&body=Monthly%3A%20off"
    subject = "Board: a post waits for your approval: Cross-post: offre de partenariat"
    raw = write.message(
        Parts(subject, "Text.\n"),
        "zoe@example.com",
        NOW,
        kind="plain",
        list_fields=ListFields(unsubscribe=(opt_out,)),
    )
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert f"\r\nList-Unsubscribe: <{opt_out}>\r\n" in head
    assert "=?" not in head
    assert "\r\nSubject: Board: a post waits" in head
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == subject


@pytest.mark.parametrize(
    "subject",
    [
        # Python 3.11's folding writes "services  numériques,accessibilité" for this one.
        "Your daily digest: 3 new messages in Conception de services numériques, "
        "accessibilité et recherche utilisateur, Design practice",
        "Votre résumé quotidien : 3 nouveaux messages dans Conception de services "
        "numériques, accessibilité et recherche utilisateur",
        "é" * 80,
        "Ré: [design] l'été, à bientôt",
    ],
)
def test_a_non_ascii_subject_keeps_every_space_between_its_words(subject: str) -> None:
    """Readers drop the white space between two encoded words (RFC 2047 6.2): the space
    before an accented word that follows another goes inside its encoded word."""
    write, _ = composer()
    raw = write.message(Parts(subject, "Text.\n"), "zoe@example.com", NOW, kind="plain")
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and max(len(line) for line in head.split(b"\r\n")) <= 78
    assert parse(raw)["Subject"] == subject


def test_the_html_mail_templates_take_their_colours_from_mail_style() -> None:
    """gateway.outbound.mail_style holds every declaration: a colour written in a template
    would escape its dark-mode and contrast rules."""
    folder = Path(templates.__file__).parent / "mail"
    written = {
        path.name: re.findall(r'style="[^"{]*#[0-9a-fA-F]{3,6}\b', path.read_text())
        for path in sorted(folder.glob("*.html"))
    }
    assert {name: found for name, found in written.items() if found} == {}
    assert mail_style.as_dict()["ANSWERED"] == f"color:{mail_style.DONE}"
