"""`gateway import` and `gateway export`: archives in (mbox, gzip, Maildir, .eml, documents),
through the normal ingest stages, and everything back out (mboxrd, JSON)."""

from __future__ import annotations

import datetime as dt
import email
import email.message
import gzip
import hashlib
import json
import mailbox
import os
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select

from gateway.app import App
from gateway.imports.importer import import_mail
from gateway.imports.sources import mbox_messages
from gateway.mail.flowed import LAYOUT_FLAGS
from gateway.store.models import Attachment
from gateway.store.models import Community
from gateway.store.models import Message
from gateway.store.models import MessageCommunity
from gateway.store.models import MessageStatus
from gateway.store.models import Origin
from tests.conftest import GatewayCli
from tests.corpus import CORPUS
from tests.corpus import needs_corpus
from tests.factories import post

FEDORA = CORPUS / "mbox" / "fedora-devel-list-2010-01.mbox"
MAGICK = CORPUS / "mbox" / "mail-box-magick-list-2000.mbox"
SLUG = "dev"

# What gateway.mail.parse takes for an attachment: a named part (a filename, or
# Content-Disposition: attachment), any other leaf that is not a text body, and
# an attached message as one file. Unnamed signature parts of PGP/MIME and S/MIME
# are not files (the fedora list has 19 of them, each "application/pgp-signature").
_BODY_TYPES = frozenset({"text/plain", "text/html"})
_SIGNATURE_TYPES = frozenset(
    {
        "application/pgp-signature",
        "application/pgp-encrypted",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
    }
)
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global", "message/news"})


def _named(part: email.message.Message) -> bool:
    return bool(part.get_filename()) or part.get_content_disposition() == "attachment"


def count_attachments(message: email.message.Message) -> int:
    count = 0
    stack = [message]
    while stack:
        part = stack.pop()
        content_type = part.get_content_type()
        if part.is_multipart():
            if content_type.startswith("message/"):
                count += content_type in _MESSAGE_TYPES or _named(part)
                continue  # the attached message is one file: its parts are not
            stack.extend(p for p in part.get_payload() if isinstance(p, email.message.Message))
            continue
        if _named(part):
            count += 1
        elif not (
            content_type in _BODY_TYPES
            or content_type in _SIGNATURE_TYPES
            or content_type.startswith("multipart/")
        ):
            count += 1
    return count


def stdlib_counts(path: Path) -> tuple[int, int]:
    """(messages, attachments) of an mbox file, as the standard library reads it."""
    box = mailbox.mbox(path, create=False)
    try:
        messages = list(box)
    finally:
        box.close()
    return len(messages), sum(count_attachments(m) for m in messages)


def stored(app: App, slug: str = SLUG) -> dict[str, int]:
    """Messages, threads and attachments stored in the community."""
    with app.read_sessions() as session:
        in_community = (
            select(Message.id)
            .join(MessageCommunity, MessageCommunity.message_id == Message.id)
            .join(Community, Community.id == MessageCommunity.community_id)
            .where(Community.slug == slug)
        )
        ids = list(session.scalars(in_community))
        threads = session.scalar(
            select(func.count(func.distinct(Message.thread_id))).where(Message.id.in_(ids))
        )
        attachments = session.scalar(
            select(func.count()).select_from(Attachment).where(Attachment.message_id.in_(ids))
        )
    return {"messages": len(ids), "threads": threads or 0, "attachments": attachments or 0}


def messages(app: App) -> list[Message]:
    with app.read_sessions() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def create_community(cli: GatewayCli, slug: str = SLUG, *members: str) -> None:
    cli("community", "create", slug, "--name", slug.capitalize())
    if members:
        cli("member", "add", slug, *members)


def import_json(cli: GatewayCli, kind: str, *args: str) -> dict[str, Any]:
    report: dict[str, Any] = cli.json("import", kind, *args, "--quiet")
    return report


def source(report: dict[str, Any], path: Path) -> dict[str, Any]:
    found: list[dict[str, Any]] = [s for s in report["sources"] if s["source"] == str(path)]
    assert len(found) == 1, report
    return found[0]


@needs_corpus
def test_mbox_import_keeps_every_message_attachment_and_date(
    gateway_cli: GatewayCli, app: App
) -> None:
    create_community(gateway_cli, SLUG, "alice@example.com")  # instant delivery

    report = import_json(gateway_cli, "mbox", SLUG, str(FEDORA), str(MAGICK))

    fedora, magick = source(report, FEDORA), source(report, MAGICK)
    assert (fedora["messages"], fedora["imported"], fedora["failed"]) == (292, 292, 0)
    assert (magick["messages"], magick["imported"], magick["failed"]) == (45, 45, 0)
    assert fedora["duplicates"] == magick["duplicates"] == 0
    assert fedora["bytes"] > 0 and report["total"]["imported"] == 337
    fedora_messages, fedora_attachments = stdlib_counts(FEDORA)
    magick_messages, magick_attachments = stdlib_counts(MAGICK)
    assert (fedora_messages, magick_messages) == (292, 45)
    counts = stored(app)
    assert counts["messages"] == fedora_messages + magick_messages
    assert counts["attachments"] == fedora_attachments + magick_attachments
    assert all(m.origin is Origin.IMPORT for m in messages(app))
    assert all(m.status is MessageStatus.PUBLISHED for m in messages(app))

    threads = gateway_cli.json("thread", "list", SLUG)
    assert sum(t["messages"] for t in threads) == 337
    years = {t["last_activity_at"][:4] for t in threads}
    assert {"2010", "2000"} <= years <= {"1999", "2000", "2010"}, years
    fedora_threads = [t for t in threads if t["last_activity_at"].startswith("2010-01")]
    assert sum(t["messages"] for t in fedora_threads) == 292

    assert gateway_cli.json("queue", "list", "--status", "pending") == []
    assert gateway_cli.json("queue", "list") == []


@needs_corpus
def test_importing_again_adds_nothing(gateway_cli: GatewayCli, app: App) -> None:
    create_community(gateway_cli)
    import_json(gateway_cli, "mbox", SLUG, str(FEDORA), str(MAGICK))
    before = stored(app)

    again = import_json(gateway_cli, "mbox", SLUG, str(FEDORA), str(MAGICK))

    assert again["total"]["messages"] == 337
    assert again["total"]["duplicates"] == 337
    assert again["total"]["imported"] == again["total"]["failed"] == 0
    assert stored(app) == before
    assert before["threads"] > 0 and before["attachments"] > 0


@needs_corpus
def test_gzip_compressed_mbox_imports_the_same(
    gateway_cli: GatewayCli, app: App, tmp_path: Path
) -> None:
    compressed = tmp_path / "2010-January.txt.gz"
    compressed.write_bytes(gzip.compress(FEDORA.read_bytes()))
    create_community(gateway_cli)

    report = import_json(gateway_cli, "mbox", SLUG, str(compressed))

    assert report["total"]["messages"] == report["total"]["imported"] == 292
    assert report["total"]["failed"] == 0
    assert stored(app)["attachments"] == stdlib_counts(FEDORA)[1]
    # The very same messages: the plain file brings nothing new.
    plain = import_json(gateway_cli, "mbox", SLUG, str(FEDORA))
    assert plain["total"]["duplicates"] == 292
    assert stored(app)["messages"] == 292


def _separators(data: bytes) -> list[int]:
    """Offsets of the mbox "From " lines (the first line, or after a blank line)."""
    return [m.start(1) for m in re.finditer(rb"(?:^|\n\n)(From )", data)]


@needs_corpus
def test_truncated_mbox_keeps_what_came_before_and_the_partial_message(
    gateway_cli: GatewayCli, app: App, tmp_path: Path
) -> None:
    data = FEDORA.read_bytes()
    starts = _separators(data)
    assert len(starts) == 292
    cut_message = 200
    start, end = starts[cut_message], starts[cut_message + 1]
    body_start = data.index(b"\n", start) + 1
    cut = body_start + (end - body_start) // 2
    partial = data[body_start:cut]
    assert not partial.endswith(b"\n") and b"\n>From " not in partial  # stored as it is
    truncated = tmp_path / "cut.mbox"
    truncated.write_bytes(data[:cut])
    create_community(gateway_cli)

    report = import_json(gateway_cli, "mbox", SLUG, str(truncated))

    total = report["total"]
    assert (total["messages"], total["imported"], total["failed"]) == (201, 201, 0)
    assert stored(app)["messages"] == 201
    digest = hashlib.sha256(partial).hexdigest()
    [last] = [m for m in messages(app) if m.raw_sha256 == digest]
    assert app.blobs.get(digest) == partial
    assert last.status is MessageStatus.PUBLISHED
    # The complete messages before the cut are stored byte for byte too.
    first_body = data[data.index(b"\n", starts[0]) + 1 : starts[1] - 1]
    assert hashlib.sha256(first_body).hexdigest() in {m.raw_sha256 for m in messages(app)}


@needs_corpus
def test_message_without_message_id_is_imported_once(gateway_cli: GatewayCli, app: App) -> None:
    box = mailbox.mbox(MAGICK, create=False)
    without_id = [m for m in box if m.get("Message-ID") is None]
    box.close()
    assert len(without_id) == 1
    create_community(gateway_cli)

    def generated() -> list[Message]:
        return [m for m in messages(app) if m.message_id.startswith("gateway-")]

    import_mail(app, SLUG, [(str(MAGICK), mbox_messages(MAGICK))])
    [first] = generated()
    assert first.subject == " ".join(str(without_id[0]["Subject"]).split())

    [report] = import_mail(app, SLUG, [(str(MAGICK), mbox_messages(MAGICK))])

    assert (report.messages, report.duplicates, report.imported) == (45, 45, 0)
    assert [m.message_id for m in generated()] == [first.message_id]
    assert stored(app)["messages"] == 45


@needs_corpus
def test_odd_mail_imports_without_failure_and_reports_are_skipped(
    gateway_cli: GatewayCli, app: App
) -> None:
    odd = [CORPUS / "mime" / "ruby-mail" / name for name in ("error_emails", "multi_charset")]
    bounces = CORPUS / "mime" / "flanker" / "bounce"
    create_community(gateway_cli)

    report = import_json(gateway_cli, "eml", SLUG, *map(str, odd), str(bounces))

    for folder in odd:
        result = source(report, folder)
        files = [f for f in folder.rglob("*") if f.is_file() and not f.name.startswith(".")]
        assert result["messages"] == len(files)
        assert result["failed"] == result["skipped"] == 0
        assert result["imported"] + result["duplicates"] == result["messages"]
    assert source(report, odd[0])["flagged"] >= 1  # error_emails has unreadable parts
    skipped = source(report, bounces)
    assert skipped["messages"] == len(list(bounces.iterdir())) == skipped["skipped"]
    assert skipped["imported"] == skipped["failed"] == 0
    total = report["total"]
    stored_messages = messages(app)
    assert len(stored_messages) == total["imported"]
    # Flagged: something could not be read (a layout flag such as format=flowed is not).
    assert sum(bool(set(m.flags) - LAYOUT_FLAGS) for m in stored_messages) == total["flagged"]
    # A bad or missing Date never puts a post in the future.
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert all(m.received_at <= tomorrow for m in stored_messages)


@needs_corpus
def test_maildir_import_and_a_folder_that_is_not_one(gateway_cli: GatewayCli, app: App) -> None:
    maildir = CORPUS / "notmuch" / "default"
    files = [f for sub in ("cur", "new") for f in (maildir / sub).iterdir() if f.is_file()]
    create_community(gateway_cli)

    report = import_json(gateway_cli, "maildir", SLUG, str(maildir))

    total = report["total"]
    assert total["messages"] == len(files) > 0
    assert total["failed"] == 0
    assert total["imported"] + total["duplicates"] + total["skipped"] == len(files)
    assert total["imported"] > 0 and stored(app)["messages"] == total["imported"]

    error = gateway_cli.error("import", "maildir", SLUG, str(CORPUS / "mbox"), "--quiet")
    assert "not a Maildir" in error and str(CORPUS / "mbox") in error


def test_documents_become_posts_with_the_file_attached(
    gateway_cli: GatewayCli, app: App, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    (folder / "slides").mkdir(parents=True)
    (folder / ".git").mkdir()
    minutes = folder / "minutes 2021-03.txt"
    minutes.write_text("Present: Alice, Bob.\nDecided: ship it.\n", encoding="utf-8")
    deck = folder / "slides" / "roadmap.pdf"
    deck.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 40)
    (folder / ".hidden.txt").write_text("not for posting", encoding="utf-8")
    (folder / ".git" / "config").write_text("[core]", encoding="utf-8")
    times = {
        minutes: dt.datetime(2021, 3, 4, 12, 30, tzinfo=dt.UTC),
        deck: dt.datetime(2021, 6, 1, 9, 0, tzinfo=dt.UTC),
    }
    for path, when in times.items():
        os.utime(path, (when.timestamp(), when.timestamp()))
    create_community(gateway_cli, SLUG, "alice@example.com")

    args = ("documents", SLUG, str(folder), "--from", "Alice@Example.com")
    report = import_json(gateway_cli, *args)

    assert (report["total"]["messages"], report["total"]["imported"]) == (2, 2)
    threads = {t["subject"]: t for t in gateway_cli.json("thread", "list", SLUG)}
    assert set(threads) == {"minutes 2021-03", "roadmap"}
    for path, when in times.items():
        shown = gateway_cli.json("thread", "show", str(threads[path.stem]["id"]))
        [post] = shown["tree"]
        assert post["from"] == "alice@example.com"
        assert post["subject"] == path.stem
        assert dt.datetime.fromisoformat(post["date"]) == when
        assert dt.datetime.fromisoformat(post["received_at"]) == when
        [attachment] = post["attachments"]
        content = path.read_bytes()
        assert attachment["filename"] == path.name
        assert attachment["size"] == len(content)
        assert attachment["sha256"] == hashlib.sha256(content).hexdigest()
        assert app.blobs.get(attachment["sha256"]) == content
    assert threads["roadmap"]["root_message_id"].startswith("document-")
    assert gateway_cli.json("queue", "list") == []

    again = import_json(gateway_cli, *args)

    assert (again["total"]["imported"], again["total"]["duplicates"]) == (0, 2)
    assert stored(app)["messages"] == 2


def _shape(export: dict[str, Any]) -> tuple[dict[str, Any], set[frozenset[str]]]:
    """Per message what should survive a round trip, and the message ids per thread."""
    per_message = {
        m["message_id"]: (
            m["parent_message_id"],
            m["subject"],
            m["from"],
            m["date"],
            m["raw_sha256"],
            [a["sha256"] for a in m["attachments"]],
        )  # fmt: skip
        for m in export["messages"]
    }
    threads: dict[int, set[str]] = {}
    for m in export["messages"]:
        threads.setdefault(m["thread_id"], set()).add(m["message_id"])
    return per_message, {frozenset(ids) for ids in threads.values()}


@needs_corpus
def test_export_mbox_round_trips_into_an_empty_site(
    gateway_cli: GatewayCli, tmp_path: Path
) -> None:
    create_community(gateway_cli, SLUG, "alice@example.com")
    import_json(gateway_cli, "mbox", SLUG, str(FEDORA), str(MAGICK))
    out = tmp_path / "export.mbox"
    gateway_cli("export", "mbox", SLUG, "--out", str(out))
    first = json.loads(gateway_cli("export", "json", SLUG).stdout)
    assert set(first) == {
        "community", "members", "profiles", "threads", "messages", "reactions", "answers"
    }  # fmt: skip
    assert [m["email"] for m in first["members"]] == ["alice@example.com"]
    assert len(first["messages"]) == 337
    assert out.read_bytes().startswith(b"From ")

    second_dir = tmp_path / "second"
    second_dir.mkdir()
    config = second_dir / "gateway.toml"
    config.write_text(
        '[gateway]\ndata_dir = "data"\ndomain = "lists.example.com"\n', encoding="utf-8"
    )
    second = GatewayCli(config)
    second("db", "upgrade")
    create_community(second)
    report = import_json(second, "mbox", SLUG, str(out))
    assert (report["total"]["imported"], report["total"]["failed"]) == (337, 0)
    copy = json.loads(second("export", "json", SLUG).stdout)

    assert _shape(copy) == _shape(first)
    assert len(copy["threads"]) == len(first["threads"])
    written = tmp_path / "export.json"
    gateway_cli("export", "json", SLUG, "--out", str(written))
    assert json.loads(written.read_text(encoding="utf-8")) == first


@needs_corpus
def test_announce_posts_a_published_summary_to_the_members(
    gateway_cli: GatewayCli, app: App
) -> None:
    create_community(gateway_cli, SLUG, "alice@example.com")  # policy: members only
    gateway_cli("member", "add", SLUG, "bob@example.com", "--delivery", "daily")

    report = import_json(gateway_cli, "mbox", SLUG, str(MAGICK), "--announce")

    assert report["total"]["imported"] == 45
    [summary] = [m for m in messages(app) if m.origin is not Origin.IMPORT]
    assert summary.status is MessageStatus.PUBLISHED
    assert summary.sender_address == "help@lists.example.com"
    assert "45" in summary.subject and "45 messages" in summary.body_text
    assert stored(app)["messages"] == 46
    pending = gateway_cli.json("queue", "list", "--status", "pending")
    assert [(d["recipient"], d["kind"], d["message_id"]) for d in pending] == [
        ("alice@example.com", "post", summary.message_id)
    ]


def test_unknown_community_and_missing_file(gateway_cli: GatewayCli, tmp_path: Path) -> None:
    create_community(gateway_cli)
    mbox = tmp_path / "posts.mbox"
    mbox.write_bytes(b"From alice@example.com Mon Nov  2 09:00:00 2026\n" + post().as_bytes())

    error = gateway_cli.error("import", "mbox", "nope", str(mbox), "--quiet")
    assert "nope" in error
    assert "nope" in gateway_cli.error("export", "mbox", "nope", "--out", str(tmp_path / "x"))
    missing = tmp_path / "missing.mbox"
    error = gateway_cli.error("import", "mbox", SLUG, str(missing), expect=2)
    assert "missing.mbox" in error and "does not exist" in error
    assert gateway_cli.json("thread", "list", SLUG) == []


@pytest.mark.parametrize("compressed", [False, True])
def test_mbox_reader_unquotes_from_lines_and_reads_the_separator_date(
    tmp_path: Path, compressed: bool
) -> None:
    mbox = tmp_path / "small.mbox"
    raw = (
        b"From alice@example.com Tue Jan  5 10:00:00 2010\n"
        b"Subject: one\n\n>From the start\n>>From deeper\nFrom here\n\n"
        b"From bob@example.com Wed Jan  6 11:00:00 2010\nSubject: two\n\nbody\n"
    )
    mbox.write_bytes(gzip.compress(raw) if compressed else raw)

    first, second = mbox_messages(mbox)

    assert first.raw == b"Subject: one\n\nFrom the start\n>From deeper\nFrom here\n"
    assert first.envelope_date == dt.datetime(2010, 1, 5, 10, 0, tzinfo=dt.UTC)
    assert second.raw == b"Subject: two\n\nbody\n"
    assert second.envelope_date == dt.datetime(2010, 1, 6, 11, 0, tzinfo=dt.UTC)
