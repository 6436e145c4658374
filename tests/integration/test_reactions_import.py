"""Reactions through `gateway import` and `gateway export mbox`: an archive's RFC 9078 and
Gmail reaction mails become reactions (source import, raw kept), its thank-you replies stay
posts, and the exported mbox gives the reaction mails back so that another site built from
it has the same reactions."""

from __future__ import annotations

import mailbox
from pathlib import Path

from sqlalchemy import select

from gateway.app import App
from gateway.app import build_app
from gateway.settings import load_settings
from gateway.store.models import Message
from gateway.store.models import Person
from gateway.store.models import Reaction
from tests.conftest import GatewayCli
from tests.factories import as_bytes
from tests.factories import post

FIXTURES = Path(__file__).parent.parent / "fixtures" / "reactions"
THUMBS_UP = "\U0001f44d"


def history(path: Path) -> Path:
    """An mbox as a list server archives it: a question, a Gmail reaction to it, an
    RFC 9078 reaction, a thank-you reply and an answer."""
    question = post("Planning", "When is lot 3 due?\n", message_id="planning-1@example.org",
                    sender="Alice Martin <alice@example.org>",
                    Date="Tue, 03 Mar 2026 10:12:00 +0100")  # fmt: skip
    rfc9078 = post("Re: Planning", "\U0001f389\n", message_id="r1@example.org",
                   sender="Bob <bob@example.org>", parent="planning-1@example.org",
                   Date="Tue, 03 Mar 2026 10:30:00 +0100")  # fmt: skip
    rfc9078.replace_header("Content-Type", 'text/plain; charset="utf-8"')
    rfc9078["Content-Disposition"] = "reaction"
    thanks = post("Re: Planning", "Thanks!\n", message_id="t1@example.org",
                  sender="Carol <carol@example.org>", parent="planning-1@example.org",
                  Date="Tue, 03 Mar 2026 11:00:00 +0100")  # fmt: skip
    answer = post("Re: Planning", "The 20th.\n", message_id="a1@example.org",
                  sender="Hugo <hugo@example.com>", parent="planning-1@example.org",
                  Date="Tue, 03 Mar 2026 12:00:00 +0100")  # fmt: skip
    box = mailbox.mbox(path)
    for raw in (
        as_bytes(question),
        (FIXTURES / "gmail-reaction.eml").read_bytes(),
        as_bytes(rfc9078),
        as_bytes(thanks),
        as_bytes(answer),
    ):
        box.add(mailbox.mboxMessage(raw))
    box.close()
    return path


def stored(app: App) -> tuple[list[str], list[tuple[str, str, str]]]:
    """(Message-IDs of the posts, (person, emoji, source) of the reactions)."""
    with app.read_sessions() as session:
        posts = sorted(session.scalars(select(Message.message_id)))
        reactions = sorted(
            (address, emoji, source.value)
            for address, emoji, source in session.execute(
                select(Person.address, Reaction.emoji, Reaction.source).join(
                    Person, Person.id == Reaction.person_id
                )
            )
        )
    return posts, reactions


def test_an_archives_reaction_mails_are_reactions_and_come_back_out(
    gateway_cli: GatewayCli, app: App, tmp_path: Path
) -> None:
    gateway_cli("community", "create", "design", "--name", "Design")
    archive = history(tmp_path / "design.mbox")

    report = gateway_cli.json("import", "mbox", "design", str(archive), "--quiet")

    total = report["total"]
    assert (total["messages"], total["imported"], total["reactions"]) == (5, 3, 2)
    assert (total["skipped"], total["failed"]) == (0, 0)
    posts, reactions = stored(app)
    assert posts == ["a1@example.org", "planning-1@example.org", "t1@example.org"]
    assert reactions == [
        ("alice@example.com", THUMBS_UP, "import"),
        ("bob@example.org", "\U0001f389", "import"),
    ]
    assert gateway_cli.json("queue", "list") == []  # history notifies no one
    again = gateway_cli.json("import", "mbox", "design", str(archive), "--quiet")
    assert (again["total"]["duplicates"], again["total"]["reactions"]) == (5, 0)
    assert stored(app) == (posts, reactions)

    out = tmp_path / "export.mbox"
    gateway_cli("export", "mbox", "design", "--out", str(out))
    exported = mailbox.mbox(out)
    ids = [m["Message-ID"] for m in exported]
    exported.close()
    assert len(ids) == 5 and ids[-2:] == [
        "<r1@example.org>",
        "<CAFx7Rk2pT9vQ0yW3s+Zr1cL8mE4nH6uJ5aB0dK2fG7hJ9iL@mail.gmail.com>",
    ]  # the reaction mails after the posts, oldest first (by their Date), as they came
    assert (FIXTURES / "gmail-reaction.eml").read_bytes().replace(b"\r\n", b"\n") in (
        out.read_bytes()
    )

    second_dir = tmp_path / "second"
    second_dir.mkdir()
    config = second_dir / "gateway.toml"
    config.write_text(
        '[gateway]\ndata_dir = "data"\ndomain = "lists.example.com"\n', encoding="utf-8"
    )
    second = GatewayCli(config)
    second("db", "upgrade")
    second("community", "create", "design", "--name", "Design")
    copy = second.json("import", "mbox", "design", str(out), "--quiet")
    assert (copy["total"]["imported"], copy["total"]["reactions"]) == (3, 2)
    second_app = build_app(load_settings(config))
    try:
        assert stored(second_app) == (posts, reactions)
    finally:
        second_app.close()


def test_a_reaction_before_its_message_is_unmatched_then_recorded_by_importing_again(
    gateway_cli: GatewayCli, app: App, tmp_path: Path
) -> None:
    gateway_cli("community", "create", "design", "--name", "Design")
    full = history(tmp_path / "design.mbox")
    source = mailbox.mbox(full)
    first, rest = tmp_path / "1-reaction.mbox", tmp_path / "2-posts.mbox"
    early, later = mailbox.mbox(first), mailbox.mbox(rest)
    for message in source:
        (early if message["Message-ID"] == "<r1@example.org>" else later).add(message)
    for box in (source, early, later):
        box.close()

    report = gateway_cli.json("import", "mbox", "design", str(first), str(rest), "--quiet")

    total = report["total"]
    assert (total["reactions"], total["reactions_unmatched"], total["skipped"]) == (1, 1, 0)
    again = gateway_cli("import", "mbox", "design", str(first), str(rest), "--quiet").stdout
    assert "UNMATCHED" in again and "importing again" not in again
    assert stored(app)[1] == [
        ("alice@example.com", THUMBS_UP, "import"),
        ("bob@example.org", "\U0001f389", "import"),
    ]  # the second import recorded it
