"""Digests end to end: posts sent over SMTP to a real gateway, `gateway digest run`, the
delivery worker writing the digest to the outbox; the command's previews and JSON; and a
`gateway digest run` killed with SIGKILL mid-run, then run again: every member gets
exactly one digest."""

from __future__ import annotations

import datetime as dt
import email
import email.message
import email.policy
import mailbox
import signal
import sqlite3
import subprocess
import time
import zoneinfo
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select

from gateway.app import App
from gateway.app import build_app
from gateway.community.communities import create_community
from gateway.community.communities import get_community
from gateway.community.members import add_members
from gateway.community.people import ProfileChanges
from gateway.community.people import set_profile
from gateway.digests import runner
from gateway.digests.periods import latest_due
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import InboundMail
from gateway.settings import Settings
from gateway.settings import load_settings
from gateway.store.db import transaction
from gateway.store.models import Cadence
from gateway.store.models import Delivery
from gateway.store.models import DeliveryMode
from gateway.store.models import DeliveryStatus
from gateway.store.models import DigestRun
from gateway.store.models import Role
from gateway.store.models import utcnow
from tests.conftest import GatewayCli
from tests.conftest import running
from tests.conftest import wait_for
from tests.factories import raw_post
from tests.integration.test_durability import site
from tests.integration.test_gateway_command import gateway
from tests.integration.test_gateway_command import gateway_executable
from tests.received import parse_mail
from tests.received import plain_text

DOMAIN = "lists.example.com"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


def seed(app: App) -> None:
    """design: alice (owner) and carol get every post, bob a daily digest."""
    with transaction(app.sessions) as session:
        design = create_community(session, "design", "Design")
        add_members(session, design, ["alice@example.com"], role=Role.OWNER)
        add_members(session, design, ["carol@example.com"])
        add_members(session, design, ["bob@example.com"], delivery=DeliveryMode.DAILY)
        set_profile(session, "bob@example.com", ProfileChanges(name="Bob Durand"))


def deliveries(app: App) -> list[tuple[str, str, DeliveryStatus]]:
    with transaction(app.read_sessions) as session:
        rows = session.execute(
            select(Delivery.recipient, Delivery.kind, Delivery.status).order_by(Delivery.id)
        )
        return [(row.recipient, row.kind, row.status) for row in rows]


def digest_runs(app: App) -> list[tuple[str, str, int | None]]:
    with transaction(app.read_sessions) as session:
        rows = session.execute(
            select(DigestRun.period, DigestRun.status, DigestRun.delivery_id).order_by(DigestRun.id)
        )
        return [(row.period, row.status, row.delivery_id) for row in rows]


def outbox_for(settings: Settings, recipient: str) -> list[email.message.EmailMessage]:
    # The relay creates the Maildir at start: tmp, then new, then cur.
    if not all((settings.outbox_dir / part).is_dir() for part in ("tmp", "new", "cur")):
        return []
    outbox = mailbox.Maildir(settings.outbox_dir, create=False)
    return [
        parse_mail(outbox.get_bytes(key))
        for key in outbox.keys()
        if outbox.get_message(key)["Delivered-To"] == recipient
    ]


def test_a_digest_of_posts_sent_over_smtp_is_delivered_once(
    app: App, settings: Settings, gateway_cli: GatewayCli
) -> None:
    seed(app)
    # The gateway's scheduler runs the digests due now at start-up; the posts come
    # after that, so they are news for the next daily digest, due tomorrow at 07:00,
    # whose window starts where the start-up run's ended.
    with running(settings) as server:
        # Its start-up run records bob's digest of the current period: nothing new.
        wait_for(lambda: len(digest_runs(app)) == 1, what="the start-up digest run")
        [(_, status, delivery_id)] = before = digest_runs(app)
        assert (status, delivery_id) == ("empty", None)
        first = raw_post(
            "Colours", "Which blue do we use for the buttons?\n", message_id="m1@example.com"
        )
        assert server.send(first, [f"design@{DOMAIN}"]).startswith("250")
        reply = raw_post(
            "Re: Colours",
            "The darker one, as in the brand book.\n\n"
            "On Thu, 26 Nov 2026, Alice <alice@example.com> wrote:\n"
            "> Which blue do we use for the buttons?\n",
            message_id="m2@example.com",
            sender="Carol <carol@example.com>",
            parent="m1@example.com",
        )
        assert server.send(reply, [f"design@{DOMAIN}"], "carol@example.com").startswith("250")
        fonts = raw_post(
            "Fonts", "Inter or Source Sans for the intranet?\n", message_id="m3@example.com"
        )
        assert server.send(fonts, [f"design@{DOMAIN}"]).startswith("250")
        wait_for(
            lambda: (
                len(deliveries(app)) == 3
                and {status for *_, status in deliveries(app)} == {DeliveryStatus.SENT}
            ),
            what="the posts' copies",
        )
        assert sorted(recipient for recipient, _, _ in deliveries(app)) == [
            "alice@example.com",  # carol's reply
            "carol@example.com",
            "carol@example.com",
        ]
        next_due = latest_due(Cadence.DAILY, utcnow(), "", settings.digests).at + DAY
        at = (next_due + 30 * dt.timedelta(minutes=1)).astimezone(PARIS).isoformat()
        period = next_due.astimezone(PARIS).date().isoformat()

        # A dry run and a preview show the digest and record nothing.
        dry = gateway_cli("digest", "run", "daily", "--at", at, "--dry-run").stdout
        assert "bob@example.com" in dry and period in dry
        assert "1 would be queued if run without --dry-run, 0 with nothing new" in dry
        preview = gateway_cli("digest", "run", "daily", "--at", at, "--to", "Bob@Example.com")
        assert preview.stdout.startswith(
            "Subject: Your daily digest: 3 new messages in Design\n\nHello Bob Durand,"
        )
        assert digest_runs(app) == before
        assert [kind for _, kind, _ in deliveries(app)] == ["post"] * 3

        result = gateway_cli("digest", "run", "daily", "--at", at).stdout
        assert "1 queued, 0 with nothing new, 0 already sent by another run." in result
        [row] = [line.split() for line in result.splitlines() if "bob@example.com" in line]
        assert row == ["bob@example.com", period, "3", "queued"]
        # Queued as of --at (tomorrow): made due now, the running worker sends it.
        assert "1 deliveries will be tried now." in gateway_cli("queue", "retry").stdout
        wait_for(lambda: len(outbox_for(settings, "bob@example.com")) == 1, what="the digest")
        wait_for(lambda: deliveries(app)[-1][2] is DeliveryStatus.SENT, what="its record")

        again = gateway_cli("digest", "run", "daily", "--at", at).stdout
        assert "No daily digest is due: every one was already sent." in again
        assert "0 queued, 0 with nothing new, 0 already sent by another run." in again
        assert gateway_cli.json("digest", "run", "daily", "--at", at) == []
        assert [kind for _, kind, _ in deliveries(app)].count("digest") == 1

    [digest] = outbox_for(settings, "bob@example.com")
    assert digest["Subject"] == "Your daily digest: 3 new messages in Design"
    assert digest["To"] == "Bob Durand <bob@example.com>"
    assert digest["List-Unsubscribe"].startswith(f"<{settings.web.base_url}u/")
    assert digest["List-Unsubscribe"].endswith(f">, <mailto:design-nomail@{DOMAIN}?subject=nomail>")
    assert digest.get_content_type() == "multipart/alternative"
    text = plain_text(digest)
    assert "=== Design (design@lists.example.com) ===" in text
    assert "* Colours - 2 new messages" in text
    assert "  - Alice: Which blue do we use for the buttons?" in text
    assert "  - Carol: The darker one, as in the brand book.\n" in text
    assert "* Fonts - 1 new message" in text
    assert "  - Alice: Inter or Source Sans for the intranet?" in text
    assert "wrote:" not in text and "> Which blue" not in text
    html = digest.get_body(preferencelist=("html",))
    assert html is not None and "Inter or Source Sans for the intranet?" in html.get_content()
    # Only the digest for bob: no post copies.
    assert len(outbox_for(settings, "bob@example.com")) == 1
    [*_, (run_period, status, delivery_id)] = digest_runs(app)
    assert (run_period, status) == (period, "queued") and delivery_id is not None
    with transaction(app.read_sessions) as session:
        sent = session.get_one(Delivery, delivery_id)
        assert (sent.recipient, sent.kind, sent.status) == ("bob@example.com", "digest", "sent")
        assert sent.content is None  # dropped once sent


# --- the command's previews and JSON, on a store filled through the Python API

DUE = dt.datetime(2026, 11, 26, 6, 0, tzinfo=dt.UTC)  # Thursday 07:00 in Paris
AT = "2026-11-26T07:30:00+01:00"


def ingest(
    app: App, subject: str, received_at: dt.datetime, sender: str = "alice@example.com"
) -> None:
    message_id = f"{subject.lower().replace(' ', '-')}@example.com"
    raw = raw_post(subject, f"About {subject}.\n", message_id=message_id)
    mail = InboundMail(raw, sender, (f"design@{DOMAIN}",), received_at)
    [outcome] = ingest_now(app, [mail])
    assert not isinstance(outcome, Exception) and outcome.disposition == "published"


def count_runs(app: App) -> int:
    with transaction(app.read_sessions) as session:
        return session.scalar(select(func.count()).select_from(DigestRun)) or 0


def test_the_digest_command_previews_without_recording_and_reports_json(
    app: App, gateway_cli: GatewayCli
) -> None:
    seed(app)
    with transaction(app.sessions) as session:
        add_members(
            session,
            get_community(session, "design"),
            ["dan@example.com"],
            delivery=DeliveryMode.DAILY,
        )
    ingest(app, "Colours", DUE - 3 * HOUR)
    ingest(app, "Fonts", DUE - 2 * HOUR)
    ingest(app, "Later", DUE + HOUR)

    dry = gateway_cli("digest", "run", "daily", "--at", AT, "--dry-run").stdout
    lines = dry.splitlines()
    assert lines[0].split() == ["EMAIL", "PERIOD", "MESSAGES", "STATUS"]
    assert ["bob@example.com", "2026-11-26", "2", "queued"] in [line.split() for line in lines]
    assert "2 would be queued if run without --dry-run, 0 with nothing new, 0 already sent" in dry
    assert count_runs(app) == 0

    preview = gateway_cli("digest", "run", "daily", "--at", AT, "--to", "bob@example.com").stdout
    assert preview.startswith("Subject: Your daily digest: 2 new messages in Design\n\n")
    assert "Hello Bob Durand," in preview and "About Colours." in preview
    assert "About Later." not in preview
    assert count_runs(app) == 0
    nobody = gateway_cli.error("digest", "run", "daily", "--at", AT, "--to", "alice@example.com")
    assert nobody == "Error: alice@example.com gets no daily digest (see `gateway profile show`)"
    assert "is not an email address" in gateway_cli.error(
        "digest", "run", "daily", "--to", "not an address"
    )
    # Before the first post, bob's digest had nothing new.
    early = gateway_cli("digest", "run", "daily", "--at", "2026-11-25T07:00:00+01:00",
                        "--to", "bob@example.com").stdout  # fmt: skip
    assert early == "Nothing new for bob@example.com in the daily digest of 2026-11-25.\n"
    assert count_runs(app) == 0

    report = gateway_cli.json("digest", "run", "daily", "--at", AT)
    assert report == [
        {
            "email": "bob@example.com",
            "period": "2026-11-26",
            "messages": 2,
            "status": "queued",
            "subject": "Your daily digest: 2 new messages in Design",
        },
        {
            "email": "dan@example.com",
            "period": "2026-11-26",
            "messages": 2,
            "status": "queued",
            "subject": "Your daily digest: 2 new messages in Design",
        },
    ]
    assert count_runs(app) == 2
    assert gateway_cli.json("digest", "run", "daily", "--at", AT) == []
    # A preview of a digest already sent still shows it, and records nothing more.
    again = gateway_cli("digest", "run", "daily", "--at", AT, "--to", "bob@example.com").stdout
    assert again.startswith("Subject: Your daily digest: 2 new messages in Design")
    assert count_runs(app) == 2
    assert "No weekly digest is due" in gateway_cli("digest", "run", "weekly", "--at", AT).stdout


def test_the_digest_command_refuses_bad_input(gateway_cli: GatewayCli) -> None:
    assert "has no UTC offset" in gateway_cli.error(
        "digest", "run", "daily", "--at", "2026-11-26T07:30", expect=2
    )
    assert "is not an ISO time" in gateway_cli.error(
        "digest", "run", "daily", "--at", "tomorrow", expect=2
    )
    assert "'monthly' is not one of" in gateway_cli.error("digest", "run", "monthly", expect=2)


# --- a run killed with SIGKILL, then run again


def sqlite_count(database: Path, query: str) -> int:
    try:
        with sqlite3.connect(database, timeout=5) as connection:
            return int(connection.execute(query).fetchone()[0])
    except sqlite3.OperationalError:
        return -1  # busy for a moment: ask again


# Enough for several transactions (runner.CHUNK digests each) of a fraction of a second.
MEMBERS = 2000
RUNS = "SELECT count(*) FROM digest_runs"
DIGESTS = "SELECT count(*) FROM deliveries WHERE kind = 'digest'"


def test_a_digest_run_killed_midway_then_run_again_queues_each_digest_once(
    tmp_path: Path,
) -> None:
    members = MEMBERS
    config, _, _ = site(tmp_path)
    csv = tmp_path / "members.csv"
    csv.write_text(
        "email,delivery\n" + "".join(f"member{n}@example.com,daily\n" for n in range(members)),
        encoding="utf-8",
    )
    gateway("--config", str(config), "member", "import", "design", str(csv), cwd=tmp_path)
    app = build_app(load_settings(config))
    try:
        for n in range(3):
            ingest(app, f"Topic {n}", DUE - (n + 1) * HOUR, sender=f"member{n}@example.com")
    finally:
        app.close()
    database = tmp_path / "data" / "gateway.sqlite3"
    command = [gateway_executable(), "--config", str(config), "digest", "run", "daily", "--at", AT]

    log = tmp_path / "run.log"
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(command, cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if sqlite_count(database, RUNS) > 0:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    process.wait(30)
    assert process.returncode == -signal.SIGKILL, f"not killed in time:\n{log.read_text()}"
    committed = sqlite_count(database, RUNS)
    print(f"killed with {committed} of {members} digests recorded")
    assert 0 < committed < members
    # Each chunk is one transaction: its runs and their mail, all or nothing.
    assert committed % runner.CHUNK == 0
    assert sqlite_count(database, DIGESTS) == committed

    result = gateway("--config", str(config), "digest", "run", "daily", "--at", AT, cwd=tmp_path)
    assert f"{members - committed} queued, 0 with nothing new, 0 already sent" in result.stdout

    with sqlite3.connect(database) as connection:
        per_person = connection.execute(
            "SELECT p.address, count(r.id), count(d.id) FROM people p"
            " LEFT JOIN digest_runs r ON r.person_id = p.id AND r.period = '2026-11-26'"
            " LEFT JOIN deliveries d ON d.id = r.delivery_id AND d.kind = 'digest'"
            "  AND d.person_id = p.id AND d.recipient = p.address"
            " GROUP BY p.address"
        ).fetchall()
        digests_per_person = dict(
            connection.execute(
                "SELECT person_id, count(*) FROM deliveries WHERE kind = 'digest'"
                " GROUP BY person_id"
            ).fetchall()
        )
        empty_content = connection.execute(
            "SELECT count(*) FROM deliveries WHERE kind = 'digest' AND content IS NULL"
        ).fetchone()[0]
    assert len(per_person) == members
    assert {(runs, mails) for _, runs, mails in per_person} == {(1, 1)}
    assert len(digests_per_person) == members and set(digests_per_person.values()) == {1}
    assert empty_content == 0
    assert sqlite_count(database, RUNS) == members
    assert sqlite_count(database, DIGESTS) == members
    again = gateway("--config", str(config), "digest", "run", "daily", "--at", AT, cwd=tmp_path)
    assert "0 queued" in again.stdout
    assert sqlite_count(database, DIGESTS) == members
