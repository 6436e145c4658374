"""Bounce parsing: the corpus's real bounces, hand-built reports and hostile input."""

from __future__ import annotations

from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from gateway.outbound.dsn import BounceReport
from gateway.outbound.dsn import parse_bounce
from tests.corpus import corpus_locations
from tests.corpus import load
from tests.corpus import needs_corpus
from tests.corpus import sample

FLANKER = "mime/flanker/bounce"
RUBY = "mime/ruby-mail/multipart_report_emails"
GMAIL_5_1_1 = (
    "550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 "
    "double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. "
    "Learn more at 550 5.1.1 http://mail.google.com/support/bin/answer.py?answer=6596 "
)
MULTI_ADDRESS = [
    "bbbbvhvbbvkjbhfbvbvjhb@gmail.com",
    "bscdbcjhasbcjhbdscbhbsdhcbj@gmail.com",
    "egyfefsdvsfvvhjsd@gmail.com",
    "kfhejkfbsjkjsbhds@gmail.com",
    "qfvhgsvhgsduiohncdhcvhsdfvsfygusd@gmail.com",
]

# location -> (recipient, action, status) for every recipient, in the order the report lists them
EXPECTED = {
    f"{FLANKER}/mailbox-full.eml": [("user@aol.com", "failed", "5.2.2")],
    f"{FLANKER}/zed.eml": [
        ("asdfasdfasdfasdfasdfasdfewrqertrtyrthsfgdfgadfqeadvxzvz@gmail.com", "failed", "5.1.1")
    ],
    # Despite the file names, both "delayed" samples say "Action: failed" with a 4.x.x status.
    f"{FLANKER}/delayed.eml": [("foo@example.com", "failed", "4.0.0")],
    f"{FLANKER}/delayed-broken.eml": [("demo@example.com", "failed", "4.2.2")],
    f"{FLANKER}/no-mx.eml": [("user@example.com", "delayed", "4.4.4")],
    f"{FLANKER}/office365.eml": [("noname@example.com", "failed", "5.1.10")],
    # Plain-text Gmail bounces, read by flufl.bounce: the address, no status code.
    f"{FLANKER}/gmail-invalid-address.eml": [
        ("awfawfawfawfawfaw@someserverhere.com", "failed", "")
    ],
    f"{FLANKER}/gmail-no-dns.eml": [("user@example.comm", "failed", "")],
    f"{RUBY}/multi_address_bounce1.eml": [(a, "failed", "5.1.1") for a in MULTI_ADDRESS],
    f"{RUBY}/multi_address_bounce2.eml": [(a, "failed", "5.1.1") for a in MULTI_ADDRESS],
    f"{RUBY}/multipart_report_multiple_status.eml": [("u@ci.com", "failed", "5.3.0")],
    f"{RUBY}/report_422.eml": [("fraser@oooooooo.com.au", "delayed", "4.2.2")],
    f"{RUBY}/report_530.eml": [("edwin@zzzzzzz.com", "failed", "5.3.0")],
    "mime/ruby-mail/mime_emails/raw_email_with_mimepart_without_content_type.eml": [
        ("larose.julie@courrier.uqam.ca", "delayed", "4.5.0")
    ],
}


# Hand-written reports in the forms real mailers send (tests/fixtures/bounces).
HAND_WRITTEN = {
    "postfix-user-unknown.eml": [("bob@example.net", "failed", "5.1.1")],
    "postfix-delayed.eml": [("carol@example.org", "delayed", "4.4.1")],
    "exchange-2003-ndr.eml": [("dave@corp.example.org", "failed", "5.1.1")],
    "exchange-online-ndr.eml": [("erin@corp.example.org", "failed", "5.1.10")],
    "exchange-ndr-fr.eml": [("francois.martin@societe.example.fr", "failed", "5.1.1")],
    "gmail-user-unknown.eml": [("frank.unknown@gmail.com", "failed", "5.1.1")],
    "qmail-no-mailbox.eml": [("grace@example.net", "failed", "")],
    "exim-failed.eml": [("henry@example.org", "failed", "")],
    "exim-to-community.eml": [("ivy@example.org", "failed", "")],
    # From an ordinary-looking address: only its null envelope sender says a mailer sent it.
    "domino-not-listed.eml": [("jack.jones@corp.example.org", "failed", "")],
}
HAND_WRITTEN_DIR = Path(__file__).parent / "fixtures" / "bounces"


def summary(reports: list[BounceReport]) -> list[tuple[str, str, str]]:
    return [(report.recipient, report.action, report.status) for report in reports]


@pytest.mark.parametrize("location", sorted(EXPECTED))
def test_corpus_bounce(location: str) -> None:
    reports = parse_bounce(sample(location))
    assert summary(reports) == EXPECTED[location]
    for report in reports:
        assert report.permanent == (report.action == "failed")
        assert report.transient == (report.action == "delayed")


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_report(name: str) -> None:
    raw = (HAND_WRITTEN_DIR / name).read_bytes()
    assert summary(parse_bounce(raw, null_sender=True)) == HAND_WRITTEN[name]


def test_every_hand_written_report_is_checked() -> None:
    assert {path.name for path in HAND_WRITTEN_DIR.glob("*.eml")} == set(HAND_WRITTEN)


@pytest.mark.parametrize(
    ("location", "diagnostic"),
    [
        (f"{FLANKER}/mailbox-full.eml", "552 5.2.2 E4.12 user MAILBOX FULL"),
        (f"{FLANKER}/delayed.eml", "426 connection timed out"),
        (f"{FLANKER}/delayed-broken.eml", ""),
        (f"{FLANKER}/zed.eml", GMAIL_5_1_1 + "17si20661415yxe.22"),
        (f"{RUBY}/multi_address_bounce1.eml", GMAIL_5_1_1 + "41si5422799iwn.27"),
        (f"{RUBY}/report_530.eml", "553 5.3.0 <edwin@zzzzzzz.com>... Unknown E-Mail Address"),
        (
            f"{FLANKER}/office365.eml",
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient noname@example.com not found"
            " by SMTP address lookup",
        ),
    ],
)
def test_diagnostic_drops_the_type_and_folds_to_one_line(location: str, diagnostic: str) -> None:
    assert parse_bounce(sample(location))[0].diagnostic == diagnostic


@needs_corpus
def test_only_the_bounces_in_the_corpus_are_reported() -> None:
    hits = {location for location in corpus_locations() if parse_bounce(load(location))}
    assert hits == set(EXPECTED)


def test_ordinary_mail_is_not_a_bounce() -> None:
    assert parse_bounce(sample("notmuch/default/01.eml")) == []


def test_broken_postmaster_text_without_a_reply_code_is_not_guessed() -> None:
    # "Delivery failed 10 attempts: info@example.net": no SMTP code, no brackets; better [].
    assert parse_bounce(sample(f"{FLANKER}/broken-mime.eml")) == []


@pytest.mark.parametrize("location", sorted(EXPECTED))
def test_truncated_bounce_does_not_raise(location: str) -> None:
    raw = sample(location)
    reports = parse_bounce(raw[: len(raw) // 2])
    assert all(isinstance(report, BounceReport) for report in reports)


@needs_corpus  # its mail is large (3 MB): not copied to tests/fixtures
def test_endlessly_nested_mail_returns() -> None:
    assert parse_bounce(load("mime/flanker/enclosed-endless.eml")) == []


def test_garbage_does_not_raise() -> None:
    for raw in (b"", b"\x00\xff" * 1000, b"Content-Type: multipart/report\n\n--", b"\n" * 10):
        assert parse_bounce(raw) == []


def status_part(*blocks: dict[str, str]) -> Message:
    part = MIMEBase("message", "delivery-status")
    part.set_payload([status_block(fields) for fields in blocks])
    return part


def status_block(fields: dict[str, str]) -> Message:
    block = Message()
    for name, value in fields.items():
        block[name] = value
    return block


def report(*blocks: dict[str, str]) -> bytes:
    msg = MIMEMultipart("report", report_type="delivery-status")
    msg["From"] = "MAILER-DAEMON@mx.example.net"
    msg["To"] = "bounces@lists.example.org"
    msg.attach(MIMEText("Delivery failed.\n"))
    msg.attach(status_part({"Reporting-MTA": "dns; mx.example.net"}, *blocks))
    return msg.as_bytes()


def test_hand_built_report() -> None:
    raw = report(
        {
            "Original-Recipient": "rfc822; alias@example.com",
            "Final-Recipient": "rfc822; <Alice@Example.COM>",
            "Action": "Failed",
            "Status": "5.1.1 (bad mailbox)",
            "Diagnostic-Code": "smtp; 550 5.1.1\n    no such\tuser",
        },
        {"Original-Recipient": "RFC822;<BOB@example.com>", "Action": "delayed", "Status": "4.4.1"},
    )
    alice, bob = parse_bounce(raw)
    assert alice == BounceReport("alice@example.com", "failed", "5.1.1", "550 5.1.1 no such user")
    assert alice.permanent and not alice.transient
    assert bob == BounceReport("bob@example.com", "delayed", "4.4.1", "")
    assert bob.transient and not bob.permanent


def test_top_level_delivery_status_without_per_message_block() -> None:
    msg = status_part({"Final-Recipient": "X@Y.org", "Status": "5.0.0"})
    assert parse_bounce(msg.as_bytes()) == [BounceReport("x@y.org", "", "5.0.0", "")]


def test_recipient_that_is_not_an_address_is_skipped() -> None:
    raw = report({"Final-Recipient": "x400; /C=fr/O=corp/", "Action": "failed", "Status": "5.1.1"})
    assert parse_bounce(raw) == []


def test_diagnostic_is_capped() -> None:
    raw = report({"Final-Recipient": "a@b.org", "Action": "failed", "Diagnostic-Code": "x" * 900})
    assert parse_bounce(raw)[0].diagnostic == "x" * 500


def test_eight_bit_fields_are_read_as_utf8() -> None:
    raw = report({"Final-Recipient": "utf-8; a@b.org", "Action": "failed", "Status": "5.1.1"})
    raw = raw.replace(b"a@b.org", "J\u00fcrgen@B.org".encode()).replace(
        b"Action: failed", b"Action: failed\nDiagnostic-Code: smtp; 550 \xff\xfe bad"
    )
    (only,) = parse_bounce(raw)
    assert only.recipient == "j\u00fcrgen@b.org"
    assert only.diagnostic == "550 \ufffd\ufffd bad"


def test_recipient_that_is_not_utf8_is_skipped() -> None:
    raw = report({"Final-Recipient": "rfc822; a@b.org", "Action": "failed", "Status": "5.1.1"})
    assert parse_bounce(raw.replace(b"a@b.org", b"J\xfcrgen@b.org")) == []


def test_report_nested_beyond_the_depth_limit_is_ignored() -> None:
    def nest(levels: int) -> bytes:
        inner: Message = status_part({"Final-Recipient": "deep@example.com", "Action": "failed"})
        for _ in range(levels):
            outer = MIMEMultipart("mixed")
            outer.attach(inner)
            inner = outer
        return inner.as_bytes()

    assert summary(parse_bounce(nest(3))) == [("deep@example.com", "failed", "")]
    assert parse_bounce(nest(40)) == []


@pytest.mark.parametrize(
    ("action", "status", "permanent", "transient"),
    [
        ("failed", "4.0.0", True, False),
        ("delayed", "5.0.0", False, True),
        ("delivered", "2.0.0", False, False),
        ("", "5.1.1", True, False),
        ("bogus", "4.2.2", False, True),
        ("", "", False, False),
    ],
)
def test_permanence(action: str, status: str, permanent: bool, transient: bool) -> None:
    bounce = BounceReport("a@b.org", action, status, "")
    assert (bounce.permanent, bounce.transient) == (permanent, transient)


def text_bounce(body: str, sender: str = "MAILER-DAEMON@mx.example.net") -> bytes:
    msg = MIMEText(body)
    msg["From"] = sender
    msg["To"] = "bounces+42@lists.example.org"
    msg["Subject"] = "failure notice"
    return msg.as_bytes()


QMAIL = """Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<Carol@Example.NET>:
Sorry, no mailbox here by that name. (#5.1.1)

<dave@example.net>:
192.0.2.7 does not like recipient.
Remote host said: 450 mailbox busy
Giving up on 192.0.2.7.

<erin@example.net>:
This address no longer accepts mail.

--- Below this line is a copy of the message.

To: <frank@example.net>
550 5.1.1 <frank@example.net> quoted from the original
"""


def test_qmail_text_bounce() -> None:
    """flufl.bounce reads qmail's paragraphs ("a permanent error"), never the quoted copy."""
    assert summary(parse_bounce(text_bounce(QMAIL))) == [
        ("carol@example.net", "failed", ""),
        ("dave@example.net", "failed", ""),
        ("erin@example.net", "failed", ""),
    ]


def test_text_bounce_ignores_the_sender_named_in_headers() -> None:
    body = "Remote host said: 553 5.7.1 <bounces+42@lists.example.org>: Sender address rejected\n"
    assert parse_bounce(text_bounce(body)) == []


def test_person_quoting_an_smtp_error_is_not_a_bounce() -> None:
    body = "My server says:\n550 5.1.1 <h@example.org>... User unknown\nAny idea?\n"
    assert parse_bounce(text_bounce(body, sender="Hank <hank@example.org>")) == []


def test_failed_recipients_header_without_reply_codes() -> None:
    msg = Message()
    msg["From"] = "Mail Delivery System <Mailer-Daemon@mx.example.net>"
    msg["To"] = "bounces+42@lists.example.org"
    msg["X-Failed-Recipients"] = "Ivy@Example.org, bounces+42@lists.example.org"
    msg.set_payload("A message that you sent could not be delivered.\n")
    assert parse_bounce(msg.as_bytes()) == [BounceReport("ivy@example.org", "failed", "", "")]
