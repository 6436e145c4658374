"""Mail in, end to end: a real gateway server on loopback, smtplib as the client."""

from __future__ import annotations

import dataclasses
import logging
import smtplib
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from gateway.app import App
from gateway.community.communities import close_community
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.settings import Settings
from gateway.smtp import replies
from gateway.store.db import transaction
from gateway.store.models import ActionMail
from gateway.store.models import Attachment
from gateway.store.models import InboxMail
from gateway.store.models import Message
from gateway.store.models import MessageStatus
from gateway.store.models import Policy
from gateway.store.models import Role
from tests.conftest import RunningGateway
from tests.conftest import crlf
from tests.conftest import wait_for
from tests.corpus import load
from tests.corpus import needs_corpus
from tests.corpus import sample
from tests.factories import post

DOMAIN = "lists.example.com"


def code_of(reply: str) -> str:
    return " ".join(reply.split()[:2])


@pytest.fixture
def seeded(app: App) -> App:
    """Communities design (members), ux (open), news (announce), mod (moderated)."""
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design")
        create_community(session, "ux", "UX", policy=Policy.OPEN)
        news = create_community(session, "news", "News", policy=Policy.ANNOUNCE)
        create_community(session, "mod", "Moderated", policy=Policy.MODERATED)
        create_community(session, "old", "Old")
        close_community(session, "old")
        add_members(session, design, ["alice@example.com", "bob@example.com"])
        add_members(session, news, ["alice@example.com"], role=Role.OWNER)
    return app


@pytest.fixture
def server(seeded: App, settings: Settings) -> RunningGateway:
    running = RunningGateway(settings).start()
    yield running  # type: ignore[misc]
    running.stop()


def stored(app: App) -> list[Message]:
    with transaction(app.read_sessions) as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def count(app: App, model: type) -> int:
    with transaction(app.read_sessions) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# --- the SMTP dialogue


def test_rcpt_accepts_communities_and_actions_and_refuses_the_rest(
    server: RunningGateway,
) -> None:
    with server.client() as smtp:
        smtp.ehlo()
        smtp.mail("alice@example.com")
        assert smtp.rcpt(f"design@{DOMAIN}")[0] == 250
        assert smtp.rcpt(f"Design-Join@{DOMAIN.upper()}")[0] == 250
        assert smtp.rcpt(f"profile@{DOMAIN}")[0] == 250
        assert smtp.rcpt(f"confirm+token123@{DOMAIN}")[0] == 250
        code, text = smtp.rcpt(f"nosuch@{DOMAIN}")
        assert (code, text.decode()) == (
            550,
            replies.UNKNOWN_RECIPIENT.format(address=f"nosuch@{DOMAIN}")[4:],
        )
        code, text = smtp.rcpt(f"nosuch-join@{DOMAIN}")
        assert code == 550 and text.startswith(b"5.1.1")
        code, text = smtp.rcpt("design@elsewhere.org")
        assert code == 550 and text.startswith(b"5.7.1") and b"relaying denied" in text
        code, text = smtp.rcpt(f"old@{DOMAIN}")
        assert code == 550 and text.startswith(b"5.7.1") and b"closed" in text
        assert smtp.rcpt(f"old-leave@{DOMAIN}")[0] == 250  # leaving a closed community works
        assert smtp.rcpt(f"noreply@{DOMAIN}")[0] == 550


def test_a_lookup_that_fails_answers_451_without_its_error_and_the_session_goes_on(
    server: RunningGateway, seeded: App, caplog: pytest.LogCaptureFixture
) -> None:
    """The community lookup at RCPT fails for real: its table is renamed away by another
    connection (on SQLite "no such table", on PostgreSQL "relation does not exist")."""
    with seeded.engine.begin() as connection:
        connection.execute(text("ALTER TABLE communities RENAME TO communities_away"))
    with server.client() as smtp:
        smtp.ehlo()
        smtp.mail("alice@example.com")
        code, reply = smtp.rcpt(f"design@{DOMAIN}")
        assert f"{code} {reply.decode()}" == replies.TEMPORARY_FAILURE
        with seeded.engine.begin() as connection:
            connection.execute(text("ALTER TABLE communities_away RENAME TO communities"))
        assert smtp.rcpt(f"design@{DOMAIN}")[0] == 250
        code, reply = smtp.data(crlf(post().as_bytes()))
        assert f"{code} {reply.decode()}" == replies.ACCEPTED
    [failure] = [r for r in caplog.records if r.name == "gateway.smtp.handler"]
    assert failure.levelname == "ERROR" and failure.exc_info is not None
    assert "communities" in failure.getMessage()  # the log has the error; the sender does not


@contextmanager
def server_with(settings: Settings, **smtp: int) -> Iterator[RunningGateway]:
    """A gateway whose [smtp] section differs from the test settings by `smtp`."""
    changed = dataclasses.replace(settings, smtp=dataclasses.replace(settings.smtp, **smtp))
    server = RunningGateway(changed).start()
    try:
        yield server
    finally:
        server.stop()


def test_too_many_recipients_get_452(seeded: App, settings: Settings) -> None:
    with server_with(settings, max_recipients=2) as server:
        with server.client() as smtp:
            smtp.ehlo()
            smtp.mail("alice@example.com")
            assert smtp.rcpt(f"design@{DOMAIN}")[0] == 250
            assert smtp.rcpt(f"ux@{DOMAIN}")[0] == 250
            code, text = smtp.rcpt(f"news@{DOMAIN}")
            assert code == 452 and text.startswith(b"4.5.3")


def test_size_is_advertised_and_oversized_mail_gets_552(seeded: App, settings: Settings) -> None:
    with server_with(settings, max_message_size=10_000) as server:
        with server.client() as smtp:
            smtp.ehlo()
            assert smtp.esmtp_features["size"] == "10000"
            code, text = smtp.mail("alice@example.com", ["SIZE=20000"])
            assert code == 552 and text.startswith(b"5.3.4")
        reply = server.send(post(body="x" * 20_000).as_bytes(), [f"design@{DOMAIN}"])
        assert code_of(reply) == "552 5.3.4"
        assert stored(seeded) == []
        # The server is still there for the next mail.
        assert code_of(server.send(post().as_bytes(), [f"design@{DOMAIN}"])) == "250 2.0.0"


def test_a_line_past_the_line_limit_gets_500_and_the_session_goes_on(
    server: RunningGateway, seeded: App
) -> None:
    """Read to its end, then refused: nothing stored, the next mail taken."""
    raw = b"From: alice@example.com\nSubject: long\n\n" + b"x" * (64 * 1024 + 10) + b"\n"
    assert code_of(server.send(raw, [f"design@{DOMAIN}"])) == "500 Line"
    assert stored(seeded) == []
    assert server.send(post().as_bytes(), [f"design@{DOMAIN}"]) == replies.ACCEPTED
    assert [m.message_id for m in stored(seeded)] == ["m1@example.com"]


def test_past_max_sessions_a_connection_gets_421_and_the_next_one_is_served(
    seeded: App, settings: Settings
) -> None:
    with server_with(settings, max_sessions=2) as server:
        first, second = server.client(), server.client()
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            server.client()
        assert f"{refused.value.smtp_code} {refused.value.smtp_error.decode()}" == (
            replies.TOO_MANY_CONNECTIONS
        )
        assert first.noop()[0] == 250 and second.noop()[0] == 250  # the others go on
        first.quit()
        wait_for(lambda: _connects(server), what="a session slot to free up")
        second.quit()


def _connects(server: RunningGateway) -> bool:
    try:
        server.client().quit()
    except smtplib.SMTPConnectError:
        return False
    return True


def test_data_past_max_data_memory_gets_452_until_memory_is_free(
    seeded: App, settings: Settings
) -> None:
    mail = crlf(post(body="x" * 1000 + "\n", message_id="first@example.com").as_bytes())
    later = crlf(post(body="y\n", message_id="second@example.com").as_bytes())
    with server_with(settings, max_message_size=1024 * 1024, max_data_memory=1024 * 1024) as server:
        with server.client() as sending, server.client() as waiting:
            for smtp in (sending, waiting):
                smtp.ehlo()
                smtp.mail("alice@example.com")
                smtp.rcpt(f"design@{DOMAIN}")
            assert sending.docmd("DATA")[0] == 354
            sending.send(mail[:500])  # and not finished yet: the budget is taken

            code, text = waiting.docmd("DATA")
            assert f"{code} {text.decode()}" == replies.INSUFFICIENT_STORAGE

            sending.send(mail[500:] + b"\r\n.\r\n")
            assert sending.getreply()[0] == 250
            assert waiting.data(later)[0] == 250  # the same session, once memory is free
        server.settle()
        assert len(stored(seeded)) == 2


def test_mail_that_declares_its_size_reserves_that_and_is_held_to_it(
    seeded: App, settings: Settings
) -> None:
    """Postfix and Exchange declare SIZE=: twenty small mails at once fit a budget of
    one largest mail; a client that declared less than it sends gets 552, not memory."""
    small = crlf(post(body="z\n", message_id="small@example.com").as_bytes())
    limits = {"max_message_size": 2 * 1024 * 1024, "max_data_memory": 2 * 1024 * 1024}
    with server_with(settings, **limits) as server:
        clients = [server.client() for _ in range(20)]
        for smtp in clients:
            smtp.ehlo()
            smtp.mail("alice@example.com", [f"SIZE={len(small)}"])
            smtp.rcpt(f"design@{DOMAIN}")
        assert [smtp.docmd("DATA")[0] for smtp in clients] == [354] * 20
        for smtp in clients:
            smtp.send(small + b".\r\n")
            assert smtp.getreply()[0] == 250
            smtp.close()

        with server.client() as liar:
            liar.ehlo()
            liar.mail("alice@example.com", ["SIZE=100"])
            liar.rcpt(f"design@{DOMAIN}")
            big = crlf(post(body="x" * 200_000 + "\n", message_id="big@example.com").as_bytes())
            code, text = liar.data(big)
            assert (code, text.decode()[:9]) == (552, "5.3.4 Mes"), text
        server.settle()
        assert len(stored(seeded)) == 1  # the small mail (one Message-ID), not the big one


def test_a_session_lost_during_data_gives_its_memory_back(seeded: App, settings: Settings) -> None:
    mail = crlf(post(body="x" * 1000 + "\n").as_bytes())
    with server_with(settings, max_message_size=1024 * 1024, max_data_memory=1024 * 1024) as server:
        lost = server.client()
        lost.ehlo()
        lost.mail("alice@example.com")
        lost.rcpt(f"design@{DOMAIN}")
        assert lost.docmd("DATA")[0] == 354
        lost.send(mail[:500])
        lost.close()  # gone without a word, in the middle of its DATA

        wait_for(lambda: _data_taken(server), what="the lost session's memory to come back")


def test_a_session_reset_during_data_is_logged_as_lost_not_as_an_error(
    seeded: App, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.smtp.handler")
    with server_with(settings) as server:
        lost = server.client()
        lost.ehlo()
        lost.mail("alice@example.com")
        lost.rcpt(f"design@{DOMAIN}")
        assert lost.docmd("DATA")[0] == 354
        lost.send(b"Subject: half\r\n\r\nhalf a mess")
        assert lost.sock is not None
        # Closed with a reset (SO_LINGER 0), not a FIN: the server sees the connection lost.
        lost.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        lost.close()

        wait_for(lambda: "lost during DATA" in caplog.text, what="the lost session's log line")
        assert _data_taken(server)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "half" not in [m.subject for m in stored(seeded)]


def _data_taken(server: RunningGateway) -> bool:
    with server.client() as smtp:
        smtp.ehlo()
        smtp.mail("alice@example.com")
        smtp.rcpt(f"design@{DOMAIN}")
        code, _ = smtp.docmd("DATA")
        if code == 354:
            smtp.send(b".\r\n")
            smtp.getreply()
        return code == 354


# --- what is stored


def test_a_post_is_stored_with_its_raw_bytes(server: RunningGateway, seeded: App) -> None:
    raw = post().as_bytes()
    assert server.send(raw, [f"design@{DOMAIN}"]) == replies.ACCEPTED
    [message] = stored(seeded)
    assert message.message_id == "m1@example.com"
    assert message.status is MessageStatus.PUBLISHED
    assert message.sender_address == "alice@example.com"
    assert "Which blue" in message.body_text
    assert seeded.blobs.get(message.raw_sha256) == crlf(raw)
    assert message.thread_id is not None


def test_lines_with_dots_and_a_mail_past_the_readers_limit_arrive_as_written(
    server: RunningGateway, seeded: App
) -> None:
    """smtplib dot-stuffs the lines that start with one; the stored bytes have them back."""
    body = ".hidden\n..\n.\nEnds with a dot.\n" + "".join(
        f".{n:05} {'x' * 80}\n" for n in range(900)
    )
    raw = post(body=body).as_bytes()
    assert len(raw) > 64 * 1024  # more than the server's reader holds at once
    assert server.send(raw, [f"design@{DOMAIN}"]) == replies.ACCEPTED
    [message] = stored(seeded)
    assert seeded.blobs.get(message.raw_sha256) == crlf(raw)


def test_a_cross_post_is_one_message_in_each_community(server: RunningGateway, seeded: App) -> None:
    raw = post(to=f"design@{DOMAIN}, ux@{DOMAIN}").as_bytes()
    assert server.send(raw, [f"design@{DOMAIN}", f"ux@{DOMAIN}"]) == replies.ACCEPTED
    with transaction(seeded.read_sessions) as session:
        [message] = session.scalars(select(Message)).all()
        assert [c.slug for c in message.communities] == ["design", "ux"]


def test_the_same_message_id_again_is_stored_once(server: RunningGateway, seeded: App) -> None:
    raw = post().as_bytes()
    assert server.send(raw, [f"design@{DOMAIN}"]) == replies.ACCEPTED
    assert server.send(raw, [f"design@{DOMAIN}"]) == replies.ACCEPTED
    # An MTA that split the recipients delivers the second copy to another community.
    assert server.send(raw, [f"ux@{DOMAIN}"]) == replies.ACCEPTED
    assert count(seeded, Message) == 1
    with transaction(seeded.read_sessions) as session:
        [message] = session.scalars(select(Message)).all()
        assert [c.slug for c in message.communities] == ["design", "ux"]


def test_a_reply_before_its_parent_joins_the_thread_when_the_parent_comes(
    server: RunningGateway, seeded: App
) -> None:
    reply = post("Re: Colours", message_id="m2@example.com", parent="m1@example.com")
    assert server.send(reply.as_bytes(), [f"design@{DOMAIN}"]) == replies.ACCEPTED
    assert server.send(post().as_bytes(), [f"design@{DOMAIN}"]) == replies.ACCEPTED
    parent, child = sorted(stored(seeded), key=lambda m: m.message_id)
    assert child.parent_id == parent.id
    assert child.thread_id == parent.thread_id


def test_posting_policies_hold_what_they_must(server: RunningGateway, seeded: App) -> None:
    outsider = "zoe@example.net"
    sent = {
        "m-member": ("alice@example.com", "design"),
        "m-outsider": (outsider, "design"),
        "m-open": (outsider, "ux"),
        "m-owner": ("alice@example.com", "news"),
        "m-announce": ("bob@example.com", "news"),
        "m-moderated": ("alice@example.com", "mod"),
    }
    for message_id, (sender, slug) in sent.items():
        raw = post(message_id=message_id, sender=f"Alice <{sender}>", to=slug).as_bytes()
        server.send(raw, [f"{slug}@{DOMAIN}"], sender=sender)
    status = {m.message_id: m.status.value for m in stored(seeded)}
    assert status == {
        "m-member": "published",
        "m-outsider": "held",
        "m-open": "published",
        "m-owner": "published",
        "m-announce": "held",
        "m-moderated": "held",
    }


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Precedence": "bulk", "Auto_Submitted": "auto-generated"},
        {"X_Autoreply": "yes"},
        {"List_Id": f"Design <design.{DOMAIN}>"},
        {"X_Gateway_Loop": DOMAIN},
    ],
)
def test_automatic_and_looping_mail_is_accepted_but_not_published(
    server: RunningGateway, seeded: App, headers: dict[str, str]
) -> None:
    assert server.send(post(**headers).as_bytes(), [f"design@{DOMAIN}"]) == replies.ACCEPTED
    assert stored(seeded) == []
    with seeded.spool_engine.connect() as connection:  # taken by the pipeline, and dropped
        assert connection.scalar(select(func.count()).select_from(InboxMail)) == 0


def test_a_post_relayed_by_another_list_is_published(server: RunningGateway, seeded: App) -> None:
    relayed = post(Precedence="bulk", List_Id="<announce.example.org>")
    assert server.send(relayed.as_bytes(), [f"design@{DOMAIN}"]) == replies.ACCEPTED
    assert [m.status for m in stored(seeded)] == ["published"]


def test_action_mail_and_delivery_reports_are_recorded(server: RunningGateway, seeded: App) -> None:
    join = post(message_id="join@example.com", to=f"design-join@{DOMAIN}")
    assert server.send(join.as_bytes(), [f"design-join@{DOMAIN}"]) == replies.ACCEPTED
    plain = sample("mime/flanker/bounce/gmail-invalid-address.eml")
    assert code_of(server.send(plain, [f"bounces+abc@{DOMAIN}"], sender="")) == "250 2.0.0"
    # A report sent to a community address is a bounce too, never a post.
    for name in ("gmail-invalid-address.eml", "mailbox-full.eml"):
        report = sample(f"mime/flanker/bounce/{name}")
        assert code_of(server.send(report, [f"design@{DOMAIN}"], sender="")) == "250 2.0.0"
    with transaction(seeded.read_sessions) as session:
        actions = {(a.action, a.token, a.recipient) for a in session.scalars(select(ActionMail))}
    assert actions == {
        ("join", "", f"design-join@{DOMAIN}"),
        ("bounces", "abc", f"bounces+abc@{DOMAIN}"),
        ("bounces", "", f"design@{DOMAIN}"),
    }
    assert stored(seeded) == []


def test_attachments_are_stored_with_safe_names(server: RunningGateway, seeded: App) -> None:
    message = post()
    message.add_attachment(b"root:x:0:0\n", maintype="text", subtype="plain",
                           filename="../../etc/passwd")  # fmt: skip
    message.add_attachment("données".encode(), maintype="application",
                           subtype="octet-stream", filename="résumé été.pdf")  # fmt: skip
    assert server.send(message.as_bytes(), [f"design@{DOMAIN}"]) == replies.ACCEPTED
    with transaction(seeded.read_sessions) as session:
        attachments = session.scalars(select(Attachment).order_by(Attachment.position)).all()
        assert [(a.filename, a.size) for a in attachments] == [
            ("passwd", 11),
            ("résumé été.pdf", len("données".encode())),
        ]
        assert seeded.blobs.get(attachments[0].sha256) == b"root:x:0:0\n"


def test_smtputf8_and_8bit_addresses_are_taken(server: RunningGateway, seeded: App) -> None:
    message = post(body="Bonjour à tous\n", sender="Alice <élodie@exemple.fr>")
    with server.client() as smtp:
        smtp.ehlo()
        assert smtp.has_extn("smtputf8")
        smtp.sendmail("élodie@exemple.fr", [f"ux@{DOMAIN}"], message.as_bytes(),
                      mail_options=["SMTPUTF8"])  # fmt: skip
    server.settle()
    [stored_message] = stored(seeded)
    assert "Bonjour à tous" in stored_message.body_text


def test_a_mail_without_message_id_gets_one(server: RunningGateway, seeded: App) -> None:
    assert server.send(post(message_id=None).as_bytes(), [f"design@{DOMAIN}"]) == replies.ACCEPTED
    [message] = stored(seeded)
    assert message.message_id.startswith("gateway-") and message.message_id.endswith(DOMAIN)


def test_data_without_recipients_and_garbage_commands_keep_the_server_up(
    server: RunningGateway,
) -> None:
    with server.client() as smtp:
        smtp.ehlo()
        assert smtp.docmd("DATA")[0] == 503
        assert smtp.docmd("FROB")[0] == 500
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        with server.client() as smtp:
            smtp.sendmail("a@example.com", [f"nosuch@{DOMAIN}"], b"Subject: x\r\n\r\nx\r\n")
    assert code_of(server.send(post().as_bytes(), [f"design@{DOMAIN}"])) == "250 2.0.0"


@needs_corpus  # its mail is large: not copied to tests/fixtures
def test_a_200_kb_subject_header_is_taken(server: RunningGateway, seeded: App) -> None:
    raw = load("mime/flanker/long-header.eml")
    assert server.send(raw, [f"ux@{DOMAIN}"]) == replies.ACCEPTED
    [message] = stored(seeded)
    assert message.subject.startswith("Die heiße Zypernsonne quälte Max")
    assert len(message.subject) > 100_000


def test_an_rfc_2231_filename_is_decoded(server: RunningGateway, seeded: App) -> None:
    raw = sample("mime/ruby-mail/attachment_emails/attachment_with_quoted_filename.eml")
    assert server.send(raw, [f"ux@{DOMAIN}"]) == replies.ACCEPTED
    with transaction(seeded.read_sessions) as session:
        names = session.scalars(select(Attachment.filename)).all()
    assert "Eelanalüüsi päring.jpg" in names
