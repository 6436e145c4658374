"""Mail out, end to end: posts sent over SMTP to a real gateway, delivered to a real SMTP
sink (aiosmtpd on loopback) or to the outbox Maildir."""

from __future__ import annotations

import dataclasses
import email
import email.message
import email.policy
import mailbox
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.communities import get_community
from gateway.community.members import add_members
from gateway.community.members import get_membership
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Delivery
from gateway.store.models import DeliveryMode
from gateway.store.models import DeliveryStatus
from gateway.store.models import Policy
from gateway.store.models import Role
from tests.conftest import RunningGateway
from tests.conftest import running
from tests.conftest import wait_for
from tests.corpus import sample
from tests.factories import post
from tests.received import parse_mail
from tests.sink import Sink

DOMAIN = "lists.example.com"
HOST = "127.0.0.1"


def relayed(settings: Settings, port: int, **delivery: Any) -> Settings:
    """The test settings, sending through the sink, retrying after a second."""
    return dataclasses.replace(
        settings,
        relay=dataclasses.replace(settings.relay, backend="smtp", host=HOST, port=port),
        delivery=dataclasses.replace(settings.delivery, retry_wait_seconds=1, **delivery),
    )


@pytest.fixture
def seeded(app: App) -> App:
    """design: alice (owner, the poster), bob, carol instant, dave daily, erin no mail;
    ops (open to anyone's posts): bob and frank."""
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design")
        ops = create_community(session, "ops", "Operations", subject_prefix="", policy=Policy.OPEN)
        add_members(session, design, ["alice@example.com"], role=Role.OWNER)
        add_members(session, design, ["bob@example.com", "carol@example.com"])
        add_members(session, design, ["dave@example.com"], delivery=DeliveryMode.DAILY)
        add_members(session, design, ["erin@example.com"], delivery=DeliveryMode.NONE)
        add_members(session, ops, ["bob@example.com", "frank@example.com"])
    return app


@pytest.fixture
def gateway(seeded: App, settings: Settings, sink: tuple[Sink, int]) -> Iterator[RunningGateway]:
    with running(relayed(settings, sink[1])) as server:
        yield server


def deliveries(app: App) -> list[Delivery]:
    with transaction(app.read_sessions) as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.recipient, Delivery.id)))


def settled(app: App) -> bool:
    """Every delivery sent or failed for good."""
    return all(d.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED) for d in deliveries(app))


def copies_to(sink: Sink, recipient: str) -> list[email.message.EmailMessage]:
    return [parse_mail(data) for _, rcpt, data in sink.copies() if rcpt == recipient]


def test_a_post_reaches_each_instant_member_once_with_list_headers(
    gateway: RunningGateway, seeded: App, sink: tuple[Sink, int]
) -> None:
    handler, _ = sink
    reply = gateway.send(post().as_bytes(), [f"design@{DOMAIN}"])
    assert reply.startswith("250")
    wait_for(lambda: len(handler.copies()) == 2)
    wait_for(lambda: settled(seeded))
    copies = handler.copies()
    # Not to the sender, not to daily or no-mail members; VERP: one transaction each.
    assert sorted((sender, rcpt) for sender, rcpt, _ in copies) == [
        (f"bounces+bob=example.com@{DOMAIN}", "bob@example.com"),
        (f"bounces+carol=example.com@{DOMAIN}", "carol@example.com"),
    ]
    [message] = copies_to(handler, "bob@example.com")
    assert message["List-Id"] == f"Design <design.{DOMAIN}>"
    assert message["List-Post"] == f"<mailto:design@{DOMAIN}>"
    assert message["List-Unsubscribe"] == f"<mailto:design-leave@{DOMAIN}?subject=leave>"
    assert message["List-Subscribe"] == f"<mailto:design-join@{DOMAIN}?subject=join>"
    assert message["List-Help"] == f"<mailto:design-help@{DOMAIN}?subject=help>"
    assert message["Precedence"] == "list"
    assert message["X-Gateway-Loop"] == DOMAIN
    assert message["From"] == "Alice <alice@example.com>"
    assert message["To"] == f"Design <design@{DOMAIN}>"
    assert message["Reply-To"] == f"Design <design@{DOMAIN}>"
    assert message["Subject"] == "[design] Colours"
    assert message["Message-ID"] == "<m1@example.com>"
    [thread_id] = {d.message_id for d in deliveries(seeded)}
    assert message["List-Archive"].startswith("<http://localhost:8000/t/")
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert text.startswith("Which blue do we use?")
    assert f"mailto:design-daily@{DOMAIN}?subject=daily" in text
    assert f"mailto:design-leave@{DOMAIN}?subject=leave" in text
    assert {d.status for d in deliveries(seeded)} == {DeliveryStatus.SENT}
    assert thread_id is not None


def test_a_reply_keeps_its_threading_headers_and_one_prefix(
    gateway: RunningGateway, seeded: App, sink: tuple[Sink, int]
) -> None:
    handler, _ = sink
    gateway.send(post().as_bytes(), [f"design@{DOMAIN}"])
    reply = post("Re: [design] Colours", message_id="m2@example.com", parent="m1@example.com")
    gateway.send(reply.as_bytes(), [f"design@{DOMAIN}"])
    wait_for(lambda: len(copies_to(handler, "carol@example.com")) == 2)
    second = copies_to(handler, "carol@example.com")[1]
    assert second["Subject"] == "Re: [design] Colours"
    assert second["In-Reply-To"] == "<m1@example.com>"
    assert second["References"] == "<m1@example.com>"


def test_a_cross_post_reaches_a_member_of_both_communities_once(
    gateway: RunningGateway, seeded: App, sink: tuple[Sink, int]
) -> None:
    handler, _ = sink
    to = [f"design@{DOMAIN}", f"ops@{DOMAIN}"]
    assert gateway.send(post().as_bytes(), to).startswith("250")
    wait_for(lambda: settled(seeded) and len(deliveries(seeded)) == 3)
    recipients = sorted(rcpt for _, rcpt, _ in handler.copies())
    assert recipients == ["bob@example.com", "carol@example.com", "frank@example.com"]
    [for_frank] = copies_to(handler, "frank@example.com")
    assert for_frank["List-Id"] == f"Operations <ops.{DOMAIN}>"
    assert for_frank["Subject"] == "Colours"  # ops has no prefix
    body = for_frank.get_body(preferencelist=("plain",))
    assert body is not None
    assert f"Also posted in: Design (design@{DOMAIN})" in body.get_content()


def test_own_posts_come_back_only_to_who_asked(
    seeded: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    with transaction(seeded.sessions) as session:
        design = create_community(session, "team", "Team")
        [membership] = add_members(session, design, ["alice@example.com"])
        membership.own_posts = True
    with running(relayed(settings, port)) as server:
        server.send(post().as_bytes(), [f"team@{DOMAIN}"])
        wait_for(lambda: len(handler.copies()) == 1)
    assert [rcpt for _, rcpt, _ in handler.copies()] == ["alice@example.com"]


def test_a_temporary_failure_is_retried_and_a_permanent_one_recorded(
    gateway: RunningGateway, seeded: App, sink: tuple[Sink, int]
) -> None:
    handler, _ = sink
    handler.rcpt_script["bob@example.com"] = ["451 4.3.0 try again later"]
    handler.rcpt_replies["carol@example.com"] = "550 5.1.1 no such user"
    gateway.send(post().as_bytes(), [f"design@{DOMAIN}"])
    wait_for(lambda: settled(seeded), timeout=60)
    bob, carol = deliveries(seeded)
    assert (bob.recipient, bob.status, bob.attempts) == ("bob@example.com", "sent", 2)
    assert (carol.recipient, carol.status, carol.attempts) == ("carol@example.com", "failed", 1)
    assert carol.last_error == "550 5.1.1 no such user"
    assert [rcpt for _, rcpt, _ in handler.copies()] == ["bob@example.com"]


@pytest.mark.parametrize(
    ("mta_idle_timeout", "idle_seconds"),
    [(1.0, 60), (0.0, 1)],
    ids=["the-mta-hangs-up-first", "idle-seconds-first"],
)
def test_a_post_after_an_idle_spell_leaves_at_once_with_one_attempt(
    seeded: App,
    settings: Settings,
    sink: tuple[Sink, int],
    mta_idle_timeout: float,
    idle_seconds: int,
) -> None:
    """Six members fill the four pooled connections; then they idle until the MTA hangs
    up on them (as Postfix after smtpd_timeout, here 1 s, before the relay's 60 s), or
    past [relay] idle_seconds (1 s, the MTA never hanging up). The next post goes out
    at once: every copy once, each delivery sent on its first attempt."""
    handler, port = sink
    handler.idle_timeout = mta_idle_timeout
    members = [f"m{n}@example.com" for n in range(4)]
    with transaction(seeded.sessions) as session:
        add_members(session, get_community(session, "design"), members)
    recipients = sorted(["bob@example.com", "carol@example.com", *members])
    test_settings = relayed(settings, port)
    test_settings = dataclasses.replace(
        test_settings,
        relay=dataclasses.replace(test_settings.relay, idle_seconds=idle_seconds, connections=4),
    )
    with running(test_settings) as server:
        server.send(post(message_id="before@example.com").as_bytes(), [f"design@{DOMAIN}"])
        wait_for(lambda: len(handler.copies()) == 6 and settled(seeded))
        assert handler.sessions >= test_settings.relay.connections  # all of them carried mail
        if mta_idle_timeout:
            wait_for(lambda: handler.timeouts == handler.sessions, what="the MTA to hang up")
        else:
            time.sleep(idle_seconds + 0.5)
        stale = handler.sessions
        server.send(post(message_id="after@example.com").as_bytes(), [f"design@{DOMAIN}"])
        wait_for(lambda: len(handler.copies()) == 12 and settled(seeded))
        quits_before_stop = handler.quits
    assert sorted(rcpt for _, rcpt, _ in handler.copies()) == sorted(recipients * 2)
    assert {(d.status, d.attempts) for d in deliveries(seeded)} == {(DeliveryStatus.SENT, 1)}
    # The second post found every pooled connection dead or too idle, and opened new ones.
    assert handler.sessions >= stale + test_settings.relay.connections
    if not mta_idle_timeout:
        assert (handler.timeouts, quits_before_stop) == (0, stale)  # closed before reuse
    # Every connection the MTA did not hang up on ended with QUIT, the last ones at stop.
    assert handler.quits + handler.timeouts == handler.sessions


def test_shared_transactions_and_xverp(
    seeded: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    """With XVERP the MTA writes each VERP sender: recipients share one transaction."""
    handler, port = sink
    handler.xverp = True
    with running(relayed(settings, port)) as server:
        server.send(post().as_bytes(), [f"design@{DOMAIN}"])
        wait_for(lambda: len(handler.copies()) == 2)
    [(sender, recipients, _)] = handler.received
    assert sender == f"bounces@{DOMAIN}"
    assert sorted(recipients) == ["bob@example.com", "carol@example.com"]
    assert all("XVERP" in options for options in handler.mail_options)


def test_shared_envelope_without_verp(
    seeded: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    with running(relayed(settings, port, envelope="shared")) as server:
        server.send(post().as_bytes(), [f"design@{DOMAIN}"])
        wait_for(lambda: len(handler.copies()) == 2)
    [(sender, recipients, _)] = handler.received
    assert sender == f"bounces@{DOMAIN}" and len(recipients) == 2
    assert all("XVERP" not in options for options in handler.mail_options)


def test_attachments_are_kept_or_linked_by_size(
    seeded: App, settings: Settings, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    message = post()
    message.add_attachment(b"small" * 10, maintype="text", subtype="plain", filename="notes.txt")
    message.add_attachment(
        b"\x00large" * 1000, maintype="application", subtype="pdf", filename="plan.pdf"
    )
    with running(relayed(settings, port, max_attachment_size=1000)) as server:
        server.send(message.as_bytes(), [f"design@{DOMAIN}"])
        wait_for(lambda: len(handler.copies()) == 2)
    [copy] = copies_to(handler, "bob@example.com")
    attachments = {part.get_filename(): part for part in copy.iter_attachments()}
    assert attachments["notes.txt"].get_content() == "small" * 10
    assert "plan.pdf" not in attachments
    texts = [p.get_content() for p in copy.walk() if p.get_content_type() == "text/plain"]
    [link] = [t for t in texts if "plan.pdf" in t]
    assert "http://localhost:8000/files/" in link and "/plan.pdf" in link


def test_a_signed_post_keeps_its_signed_part_byte_for_byte(
    gateway: RunningGateway, seeded: App, sink: tuple[Sink, int]
) -> None:
    handler, _ = sink
    raw = signed_corpus_mail()
    gateway.send(raw, [f"design@{DOMAIN}"], sender="alice@example.com")
    wait_for(lambda: len(copies_to(handler, "bob@example.com")) == 1)
    [(_, _, data)] = [c for c in handler.copies() if c[1] == "bob@example.com"]
    signed = signed_entity(raw)
    assert signed in data.replace(b"\r\n", b"\n")
    message = parse_mail(data)
    assert message.get_content_type() == "multipart/mixed"
    parts = list(message.iter_parts())
    assert parts[0].get_content_type() == "multipart/signed"
    assert f"design-leave@{DOMAIN}" in parts[-1].get_content()


def signed_corpus_mail() -> bytes:
    """A real PGP/MIME signed mail from the corpus, as if alice had sent it."""
    raw = sample("notmuch/protected-headers/simple-signed-mail.eml")
    return raw.replace(b"From: test_suite@notmuchmail.org", b"From: alice@example.com", 1)


def signed_entity(raw: bytes) -> bytes:
    """The signed entity: its Content-Type field through the closing boundary."""
    start = raw.index(b"Content-Type: multipart/signed")
    return raw[start:].replace(b"\r\n", b"\n").rstrip(b"\n")


def test_the_maildir_relay_writes_what_each_member_would_receive(
    seeded: App, settings: Settings
) -> None:
    with running(settings) as server:  # the default relay: the outbox Maildir
        server.send(post().as_bytes(), [f"design@{DOMAIN}"])
        wait_for(lambda: settled(seeded) and bool(deliveries(seeded)))
    outbox = mailbox.Maildir(settings.outbox_dir, create=False)
    messages = sorted(outbox, key=lambda m: str(m["Delivered-To"]))
    assert [m["Delivered-To"] for m in messages] == ["bob@example.com", "carol@example.com"]
    assert messages[0]["Return-Path"] == f"<bounces+bob=example.com@{DOMAIN}>"
    assert messages[0]["Subject"] == "[design] Colours"


def test_queue_commands_show_and_push_deliveries(
    seeded: App, settings: Settings, sink: tuple[Sink, int], tmp_path: Path
) -> None:
    from tests.conftest import GatewayCli

    handler, port = sink
    handler.rcpt_replies["carol@example.com"] = "550 5.1.1 no such user"
    with running(relayed(settings, port)) as server:
        server.send(post().as_bytes(), [f"design@{DOMAIN}"])
        wait_for(lambda: settled(seeded) and len(deliveries(seeded)) == 2)
        config = tmp_path / "cli.toml"
        config.write_text(
            f'[gateway]\ndata_dir = "data"\ndatabase_url = "{settings.sqlalchemy_url}"\n'
            f'domain = "{DOMAIN}"\n',
            encoding="utf-8",
        )
        cli = GatewayCli(config)
        [failed] = cli.json("queue", "list")
        assert failed["recipient"] == "carol@example.com"
        assert failed["status"] == "failed" and failed["message_id"] == "m1@example.com"
        assert failed["last_error"] == "550 5.1.1 no such user"
        sent = cli.json("queue", "list", "--status", "sent")
        assert [row["recipient"] for row in sent] == ["bob@example.com"]
        del handler.rcpt_replies["carol@example.com"]
        assert "1 deliveries will be tried now" in cli("queue", "retry", str(failed["id"])).stdout
        wait_for(lambda: len(copies_to(handler, "carol@example.com")) == 1)
        # The sink has the copy before the worker records it as sent: wait for the record.
        wait_for(lambda: settled(seeded), what="carol's copy recorded")
        assert cli.json("queue", "list") == []
        assert "are not pending, failed or stranded" in cli.error(
            "queue", "retry", str(sent[0]["id"])
        )


def test_a_bounce_raises_the_score_and_stops_mail_past_the_threshold(
    gateway: RunningGateway, seeded: App, sink: tuple[Sink, int]
) -> None:
    handler, _ = sink
    dsn = sample("mime/flanker/bounce/mailbox-full.eml")
    for number in range(5):  # a permanent failure counts 2; the threshold is 10
        # Five reports about five posts: each has its own Message-ID.
        report = dsn.replace(b"<20110729080856.AAB7C", f"<{number}.".encode(), 1)
        reply = gateway.send(report, [f"bounces+bob=example.com@{DOMAIN}"], sender="")
        assert reply.startswith("250")
    wait_for(lambda: stopped(seeded, "bob@example.com"), what="the membership to stop")
    wait_for(lambda: len(copies_to(handler, "alice@example.com")) == 1, what="the owner notice")
    [notice] = copies_to(handler, "alice@example.com")
    assert "bob@example.com" in notice["Subject"]
    assert notice["Auto-Submitted"] == "auto-generated"
    gateway.send(post().as_bytes(), [f"design@{DOMAIN}"])
    wait_for(lambda: settled(seeded) and len(copies_to(handler, "carol@example.com")) == 1)
    assert copies_to(handler, "bob@example.com") == []


def test_a_relay_refusing_a_member_raises_the_score_until_mail_stops(
    gateway: RunningGateway, seeded: App, sink: tuple[Sink, int]
) -> None:
    """The company MTA refuses carol at RCPT, as most MTAs refuse unknown users: each
    refusal counts like a permanent bounce (2 points; the threshold is 10)."""
    handler, _ = sink
    handler.rcpt_replies["carol@example.com"] = "550 5.1.1 <carol@example.com>: User unknown"
    for number in range(5):
        reply = gateway.send(post(message_id=f"p{number}@example.com").as_bytes(),
                             [f"design@{DOMAIN}"])  # fmt: skip
        assert reply.startswith("250")
        wait_for(lambda: settled(seeded), what="the post's deliveries to settle")
    wait_for(lambda: stopped(seeded, "carol@example.com"), what="the membership to stop")
    wait_for(lambda: len(copies_to(handler, "alice@example.com")) == 1, what="the owner notice")
    [notice] = copies_to(handler, "alice@example.com")
    assert "carol@example.com" in notice["Subject"]
    assert "5.1.1" in notice.get_body(preferencelist=("plain",)).get_content()
    gateway.send(post(message_id="after@example.com").as_bytes(), [f"design@{DOMAIN}"])
    wait_for(lambda: settled(seeded) and len(copies_to(handler, "bob@example.com")) == 6)
    assert not [d for d in deliveries(seeded) if d.recipient == "carol@example.com"
                and d.status is DeliveryStatus.PENDING]  # fmt: skip
    carol = [d for d in deliveries(seeded) if d.recipient == "carol@example.com"]
    assert len(carol) == 5  # none for the post after her mail stopped


def stopped(app: App, address: str) -> bool:
    with transaction(app.read_sessions) as session:
        design = get_community(session, "design")
        membership = get_membership(session, design, address)
        return membership.disabled_at is not None and membership.bounce_score >= 10
