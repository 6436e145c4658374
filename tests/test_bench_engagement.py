"""bench/engagement.py's --sweep counts the corpus's short replies by the gateway's own
rule (gateway.mail.reactions.thanks_or_plus_one on the new text, as the ingest folds
them), so that its default share is what the gateway would fold, not what a regex of
its own would ("Acked-by:" trailers and "Looks good" are posts)."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.bench_scripts import loaded


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    yield from loaded("engagement")


def mail(message_id: str, sender: str, body: str, parent: str = "") -> str:
    thread = f"In-Reply-To: <{parent}>\nReferences: <{parent}>\n" if parent else ""
    return (
        f"From: {sender}\nTo: list@example.org\nSubject: Re: grid\n"
        f"Message-ID: <{message_id}>\n{thread}Content-Type: text/plain; charset=utf-8\n\n"
        f"{body}\n\n> the question\n"
    )


def test_the_sweep_counts_what_the_gateway_folds(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mbox").mkdir()
    box = mailbox.mbox(tmp_path / "mbox" / "list.mbox")
    box.add(mail("q@x", "Allan Smith <allan@x>", "Which grid?"))
    box.add(mail("r1@x", "Fran <fran@x>", "Thank you Allan", "q@x"))
    box.add(mail("r2@x", "Bo <bo@x>", "+1", "q@x"))
    box.add(mail("r3@x", "Joe <joe@x>", "Acked-by: Joe Bloggs <joe@x>", "q@x"))
    box.add(mail("r4@x", "Mel <mel@x>", "Looks good to me.", "q@x"))
    box.add(mail("r5@x", "Cy <cy@x>", "Twelve columns: they divide by 2, 3, 4 and 6.", "q@x"))
    box.close()

    bench.sweep(tmp_path)

    out = capsys.readouterr().out
    assert "2 of 5 replies only thank or +1" in out and "1 thank-you, 1 +1" in out
    assert bench.short_kind("Acked-by: Joe Bloggs <joe@x>", []) is None
    assert bench.short_kind("Merci !", []) == "thanks"
    assert not hasattr(bench, "_PLUS_ONE") and not hasattr(bench, "_THANKS")
    assert bench.SHORT_SHARE == 1 / 476
