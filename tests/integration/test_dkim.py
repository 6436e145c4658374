"""Signed mail end to end: a real `gateway serve` with [dkim] on sends every kind of mail
to a loopback SMTP sink, and each verifies against the key a real DNS server publishes
(dkimpy as a receiver, and opendkim-testmsg where it works); posts carry an ARC seal."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.app import App
from gateway.community.communities import create_community
from gateway.community.members import add_members
from gateway.digests.runner import run_digests
from gateway.outbound.dkim_keys import record_name
from gateway.settings import DkimSettings
from gateway.settings import Settings
from gateway.store.db import transaction
from gateway.store.models import Cadence
from gateway.store.models import DeliveryMode
from gateway.store.models import Policy
from gateway.store.models import Role
from gateway.store.models import utcnow
from tests.conftest import RunningGateway
from tests.conftest import running
from tests.conftest import wait_for
from tests.dns import txt_pieces
from tests.received import parse_mail
from tests.signing_keys import DOMAIN
from tests.signing_keys import SELECTOR
from tests.signing_keys import Published
from tests.sink import Sink

HOST = "127.0.0.1"
MTA = "mx.example.com"  # the company MTA, whose Authentication-Results are trusted

# A post as the company MTA hands it over: its own Authentication-Results on top, an
# 8-bit UTF-8 body, and a References field folded over several lines.
POST = (
    f"Authentication-Results: {MTA}; dkim=pass header.d=example.com;\r\n"
    " spf=pass smtp.mailfrom=alice@example.com\r\n"
    "Received: from laptop.example.com by mx.example.com; Sat, 5 Dec 2026 10:00:00 +0000\r\n"
    "From: Alice <alice@example.com>\r\n"
    f"To: design@{DOMAIN}\r\n"
    "Subject: Couleurs de l'été\r\n"
    "Message-ID: <dkim-post@example.com>\r\n"
    "References: "
    + "\r\n ".join(f"<thread-{i}-with-a-long-message-id@example.com>" for i in range(8))
    + "\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Quel bleu choisit-on ? Déjà vu, ça va.\r\n"
).encode()


def held_post(sender: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: board@{DOMAIN}\r\nSubject: Budget\r\n"
        "Message-ID: <dkim-held@example.com>\r\n\r\nThe figures.\r\n"
    ).encode()


@pytest.fixture
def seeded(app: App) -> App:
    """design: alice (owner), bob (instant), dave (daily); board (moderated): mona."""
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design")
        board = create_community(session, "board", "Board", policy=Policy.MODERATED)
        add_members(session, design, ["alice@example.com"], role=Role.OWNER)
        add_members(session, design, ["bob@example.com"])
        add_members(session, design, ["dave@example.com"], delivery=DeliveryMode.DAILY)
        add_members(session, board, ["mona@example.com"], role=Role.MODERATOR)
    return app


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """One-click links on https (a TLS proxy in front of [web]): mail then carries
    List-Unsubscribe-Post, which the signature must cover."""
    return dataclasses.replace(
        settings, web=dataclasses.replace(settings.web, base_url=f"https://{DOMAIN}/")
    )


def signing(settings: Settings, port: int, key_file: Path, **delivery: Any) -> Settings:
    """Relaying to the sink, signing and sealing."""
    return dataclasses.replace(
        settings,
        relay=dataclasses.replace(settings.relay, backend="smtp", host=HOST, port=port),
        delivery=dataclasses.replace(settings.delivery, **delivery),
        dkim=DkimSettings(sign=True, key_file=key_file, arc=True, arc_authserv_id=MTA),
    )


def signed_fields(data: bytes) -> list[str]:
    """The h= tag of the topmost DKIM-Signature."""
    signature = " ".join(str(parse_mail(data)["DKIM-Signature"]).split())
    return [name.strip() for name in signature.split(" h=", 1)[1].split(";", 1)[0].split(":")]


@pytest.fixture
def gateway(
    seeded: App,
    settings: Settings,
    sink: tuple[Sink, int],
    dkim_dns: Published,
    tmp_path: Path,
) -> Iterator[RunningGateway]:
    key_file = dkim_dns.write_private(tmp_path / "dkim" / "gateway.private")
    with running(signing(settings, sink[1], key_file)) as server:
        yield server


def received_by(sink: Sink, recipient: str, count: int = 1) -> list[bytes]:
    def found() -> list[bytes]:
        return [data for _, rcpt, data in sink.copies() if rcpt == recipient]

    wait_for(lambda: len(found()) >= count, what=f"{count} mail(s) to {recipient}")
    return found()


def test_every_kind_of_mail_arrives_signed_and_verifies(
    gateway: RunningGateway, seeded: App, sink: tuple[Sink, int], dkim_dns: Published
) -> None:
    handler, _ = sink
    assert gateway.send(POST, [f"design@{DOMAIN}"]).startswith("250")
    assert (
        gateway.send(b"Subject: help\r\n\r\n", [f"help@{DOMAIN}"], "zoe@example.com")[:3] == "250"
    )
    reply = gateway.send(held_post("yves@example.com"), [f"board@{DOMAIN}"], "yves@example.com")
    assert reply.startswith("250")
    [post_copy] = received_by(handler, "bob@example.com")
    [help_answer] = received_by(handler, "zoe@example.com")
    [held_notice] = received_by(handler, "mona@example.com")
    [held_receipt] = received_by(handler, "yves@example.com")
    now = utcnow()
    report = run_digests(seeded, Cadence.DAILY, now + dt.timedelta(days=1), until=now)
    assert [p.status for p in report.planned] == ["queued"]
    [digest] = received_by(handler, "dave@example.com")
    mails = {
        "post": post_copy,
        "help": help_answer,
        "held notice": held_notice,
        "held receipt": held_receipt,
        "digest": digest,
    }

    for kind, data in mails.items():
        assert data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;"), kind
        message = parse_mail(data)
        assert f"d={DOMAIN};" in str(message["DKIM-Signature"]), kind
        assert dkim_dns.verify(data), kind
        # The gateway's own mail is signed, not sealed: only the forwarded post is.
        assert ("ARC-Seal" in message) == (kind == "post"), kind
    # RFC 8058 section 4: the one-click fields are covered by the signature.
    assert parse_mail(digest)["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert {"list-unsubscribe", "list-unsubscribe-post"} <= set(signed_fields(digest))
    assert "Déjà vu, ça va." in post_copy.decode()  # the 8-bit body went out as it came
    cv, [arc_set], reason = dkim_dns.arc_verify(post_copy)
    assert (cv, reason) == (b"pass", "success")
    assert (
        b" ".join(bytes(arc_set["aar-value"]).split())
        == (  # type: ignore[call-overload]
            f"i=1; {MTA}; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=alice@example.com"
        ).encode()
    )


def test_personal_copies_are_each_signed_and_sealed(
    seeded: App,
    settings: Settings,
    sink: tuple[Sink, int],
    dkim_dns: Published,
    tmp_path: Path,
) -> None:
    """With [delivery] personal_copies each member's copy has its own one-click URL: each
    is signed (and sealed) on its own, and each verifies."""
    handler, port = sink
    key_file = dkim_dns.write_private(tmp_path / "dkim" / "gateway.private")
    personal = signing(settings, port, key_file, personal_copies=True, envelope="shared")
    with running(personal) as server:
        assert server.send(POST, [f"design@{DOMAIN}"]).startswith("250")
        [bob] = received_by(handler, "bob@example.com")

    unsubscribe = str(parse_mail(bob)["List-Unsubscribe"])
    assert f"<https://{DOMAIN}/u/" in unsubscribe
    assert {"list-unsubscribe", "list-unsubscribe-post"} <= set(signed_fields(bob))
    assert dkim_dns.verify(bob)
    assert dkim_dns.arc_verify(bob)[0] == b"pass"
    assert not dkim_dns.verify(bob.replace(b"/u/", b"/x/", 1))  # another member's URL


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_opendkim_verifies_what_the_gateway_signs(
    gateway: RunningGateway, sink: tuple[Sink, int], dkim_dns: Published, tmp_path: Path
) -> None:
    """opendkim-testmsg asks the system's resolver (port 53 of /etc/resolv.conf): it runs
    in its own network and mount namespaces (root), beside a dnsmasq on port 53 there."""
    testmsg = shutil.which("opendkim-testmsg") or "/usr/sbin/opendkim-testmsg"
    if not Path(testmsg).exists():
        pytest.skip("opendkim-testmsg is not installed (Debian package 'opendkim-tools')")
    unsigned = tmp_path / "probe.eml"
    # A whole message: opendkim-testmsg 2.11 fails on some very short ones ("dkim_chunk():
    # Syntax error" for a From, a Subject and one word).
    unsigned.write_bytes(
        b"From: a@example.com\nTo: b@example.com\nSubject: probe\n"
        b"Date: Sat, 05 Dec 2026 10:00:00 +0000\nMessage-ID: <probe@example.com>\n\nprobe\n"
    )
    probe_key = dkim_dns.write_private(tmp_path / "probe.private")
    probe = _run([testmsg, "-d", DOMAIN, "-s", SELECTOR, "-k", str(probe_key)], unsigned)
    if probe.returncode != 0:
        pytest.skip(
            "opendkim-testmsg cannot process any message here, not even sign one itself "
            f"({probe.stderr.strip()})"
        )
    if not (shutil.which("unshare") and shutil.which("ip")) or _not_root():
        pytest.skip("opendkim-testmsg needs root, unshare and ip to reach a test DNS server")
    assert gateway.send(POST, [f"design@{DOMAIN}"]).startswith("250")
    [data] = received_by(sink[0], "bob@example.com")
    message = tmp_path / "signed.eml"
    message.write_bytes(data.replace(b"\r\n", b"\n"))
    tampered = tmp_path / "tampered.eml"
    tampered.write_bytes(message.read_bytes().replace(b"Quel bleu", b"Quel vert", 1))
    (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    script = (
        'ip link set lo up && mount --bind "$1" /etc/resolv.conf && '
        '{ "$2" --keep-in-foreground --no-daemon --conf-file=/dev/null --no-resolv '
        "--no-hosts --local=/#/ --listen-address=127.0.0.1 --bind-interfaces --port=53 "
        '--user=root --pid-file= "--txt-record=$3" >/dev/null 2>&1 & } && dns=$! && '
        'sleep 0.5 && "$4" < "$5"; status=$?; kill "$dns"; exit $status'
    )  # dnsmasq's output goes nowhere: an open pipe would keep run() waiting
    record = ",".join([record_name(SELECTOR, DOMAIN), *txt_pieces(dkim_dns.pair.txt_value)])
    dnsmasq = dkim_dns.server.binary

    def opendkim_verify(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["unshare", "--mount", "--net", "sh", "-c", script, "sh",
             str(tmp_path / "resolv.conf"), dnsmasq, record, testmsg, str(path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    verified = opendkim_verify(message)
    assert verified.returncode == 0, verified.stderr
    refused = opendkim_verify(tampered)
    assert refused.returncode != 0 and "signature" in refused.stderr.lower(), refused.stderr


def _run(command: list[str], stdin: Path) -> subprocess.CompletedProcess[str]:
    with stdin.open("rb") as file:
        return subprocess.run(command, stdin=file, capture_output=True, text=True, timeout=30)


def _not_root() -> bool:
    return os.geteuid() != 0
