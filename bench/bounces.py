"""Delivery reports sent to a community address: how many become posts, and how many
have their failed address read.

Each report goes through the real ingest pipeline (SQLite, as shipped) to the address
of an open community, with a null envelope sender as mailers send them; its
Message-ID is replaced by a unique one, so that no report is a duplicate of another.
It prints, per source and in all, the reports published or held as posts (the goal
is 0) and the reports from which gateway.outbound.dsn.parse_bounce reads at least one
failed address, called as bounce handling calls it (bounces to bounces+TOKEN@ are also
matched by their VERP address).

Sources: the hand-written reports of tests/fixtures/bounces (Postfix, Gmail, Exchange
and Outlook, a French Exchange notice, qmail, Exim), the delivery reports of the
shared corpus (tests/fixtures/mail copies them), and every directory given, such as
flufl.bounce's test data (flufl/bounce/tests/data in its repository: 103 reports).

    python bench/bounces.py [DIR...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import tempfile
from pathlib import Path

from gateway.app import build_app
from gateway.app import init_store
from gateway.community.communities import create_community
from gateway.ingest.batch import ingest_now
from gateway.ingest.context import Disposition
from gateway.ingest.context import InboundMail
from gateway.outbound.dsn import parse_bounce
from gateway.settings import settings_from_dict
from gateway.store.db import transaction
from gateway.store.models import Policy

DOMAIN = "lists.example.com"
NOW = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
PROJECT = Path(__file__).resolve().parent.parent
CORPUS_REPORTS = (
    "mime/flanker/bounce",
    "mime/ruby-mail/multipart_report_emails",
)
MESSAGE_ID = re.compile(rb"^message-id:.*(?:\r?\n[ \t].*)*\r?\n", re.IGNORECASE | re.MULTILINE)
POSTS = (Disposition.PUBLISHED, Disposition.HELD)


def with_unique_message_id(raw: bytes, number: int) -> bytes:
    """The report with its Message-ID (if any) replaced by <report-NUMBER@bench.invalid>."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    end = min(ends) if ends else len(raw)
    head = MESSAGE_ID.sub(b"", raw[:end] + b"\n")[:-1]
    return f"Message-ID: <report-{number}@bench.invalid>\r\n".encode() + head + raw[end:]


def sources(directories: list[str]) -> dict[str, list[Path]]:
    found = {"hand-written (tests/fixtures/bounces)": sorted(
        (PROJECT / "tests" / "fixtures" / "bounces").glob("*.eml"))}  # fmt: skip
    fixtures = PROJECT / "tests" / "fixtures" / "mail"
    found["shared corpus reports"] = sorted(
        path for folder in CORPUS_REPORTS for path in (fixtures / folder).glob("*.eml")
    )
    for directory in directories:
        found[directory] = sorted(p for p in Path(directory).iterdir() if p.suffix != ".py")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="*", help="more folders of reports, one a file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = settings_from_dict(
            {"gateway": {"domain": DOMAIN, "data_dir": "data"}}, base_dir=Path(folder)
        )
        init_store(settings)
        app = build_app(settings)
        with transaction(app.sessions) as session:
            create_community(session, "design", "Design", policy=Policy.OPEN)
        number = 0
        totals = [0, 0, 0]
        for name, paths in sources(args.directories).items():
            published = extracted = 0
            for path in paths:
                number += 1
                raw = with_unique_message_id(path.read_bytes(), number)
                mail = InboundMail(raw, "", (f"design@{DOMAIN}",), NOW)
                [outcome] = ingest_now(app, [mail])
                if isinstance(outcome, Exception) or outcome.disposition in POSTS:
                    published += 1
                    print(f"  published: {path}", file=sys.stderr)
                extracted += bool(parse_bounce(raw, null_sender=True))
            totals = [totals[0] + len(paths), totals[1] + published, totals[2] + extracted]
            print(f"{name}: {published}/{len(paths)} published as posts, "
                  f"{extracted}/{len(paths)} with a failed address read")  # fmt: skip
        print(f"all: {totals[1]}/{totals[0]} published as posts, "
              f"{totals[2]}/{totals[0]} with a failed address read")  # fmt: skip
        app.close()


if __name__ == "__main__":
    main()
