"""Benchmark of the archive: the static site of 10,000 messages in 50 communities.

The store is built through the gateway's API (SQLite, as shipped), not SMTP: P people
(members, some with expertise), then M messages over the past year in C communities,
a third starting threads and the rest replying, some in HTML, one in ten with an
attachment (half of them photos, JPEG 1024x768, whose thumbnails the build makes).
Then, each as a whole `gateway archive build` command (start-up included), it prints
the time, the CPU seconds (the search indexer's included), pages/s and peak memory of:
a full build without the search index, a full build with it, and an update after one
new reply (without the index). For the update, it also prints the builder's own time
and what importing its modules costs in a process that does nothing else: the rest of
the whole command's time is start-up.

The reference is MHonArc (Debian's `mhonarc`), the mail archiver public lists have
long used, on the same 10,000 messages: one archive made from an mbox of all of them
(indexes paged by 100, as the gateway's community pages), then `mhonarc -add` of the
same reply, timed as a whole command like the gateway's update. Without mhonarc
installed, the reference is skipped with a note.

    python bench/archive.py [--messages 10000] [--communities 50] [--people 2000]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import io
import json
import random
import shutil
import sys
import tempfile
import time
from email.utils import format_datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import GatewayRun  # noqa: E402
from ingest import run_command  # noqa: E402
from ingest import timed_process  # noqa: E402
from PIL import Image  # noqa: E402
from PIL import ImageDraw  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlalchemy import select  # noqa: E402

from gateway.app import App  # noqa: E402
from gateway.app import build_app  # noqa: E402
from gateway.app import init_store  # noqa: E402
from gateway.community.communities import create_community  # noqa: E402
from gateway.ingest.batch import ingest_now  # noqa: E402
from gateway.ingest.context import InboundMail  # noqa: E402
from gateway.mail.mboxrd import mbox_entry  # noqa: E402
from gateway.settings import settings_from_dict  # noqa: E402
from gateway.store.db import transaction  # noqa: E402
from gateway.store.models import Kind  # noqa: E402
from gateway.store.models import Membership  # noqa: E402
from gateway.store.models import Message  # noqa: E402
from gateway.store.models import Person  # noqa: E402
from gateway.store.models import PersonTag  # noqa: E402
from gateway.store.models import Policy  # noqa: E402
from gateway.store.models import TagKind  # noqa: E402
from gateway.store.sql import chunks  # noqa: E402

DOMAIN = "lists.example.com"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
WORDS = (
    "budget", "pricing", "design", "release", "accessibility", "hiring", "security",
    "roadmap", "customer", "migration", "api", "onboarding", "metrics", "training",
)  # fmt: skip
# What `gateway archive build` imports for an update: its start-up, timed on its own.
UPDATE_IMPORTS = "import cli.main, cli.archive, archive.build, gateway.mail.sanitize"
CONFIG = """[gateway]
domain = "{domain}"
data_dir = "data"
[archive]
out_dir = "site"
"""


def write_config(root: Path) -> Path:
    config = root / "gateway.toml"
    config.write_text(CONFIG.format(domain=DOMAIN))
    return config


def build_store(root: Path, people: int, communities: int, messages: int) -> App:
    settings = settings_from_dict(
        {"gateway": {"domain": DOMAIN, "data_dir": "data"}}, base_dir=root
    )
    init_store(settings)
    app = build_app(settings)
    rng = random.Random(11)
    kinds = list(Kind)
    with transaction(app.sessions) as session:
        ids = [
            create_community(
                session, f"c{n}", f"Community {n}", kind=kinds[n % len(kinds)],
                description=f"Everything about {WORDS[n % len(WORDS)]}.", policy=Policy.OPEN,
            ).id
            for n in range(communities)
        ]  # fmt: skip
        session.execute(
            insert(Person),
            [
                {"address": f"p{n}@example.com", "name": f"Person {n}", "bio": "",
                 "department": f"Dept {n % 12}", "timezone": "", "created_at": NOW,
                 "updated_at": NOW}
                for n in range(people)
            ],
        )  # fmt: skip
        person_ids = list(session.scalars(select(Person.id).order_by(Person.id)))
        rows, tags = [], []
        for person_id in person_ids:
            for community_id in rng.sample(ids, rng.randint(1, 4)):
                rows.append({"person_id": person_id, "community_id": community_id,
                             "role": "member", "delivery": "daily", "own_posts": False,
                             "bounce_score": 0, "joined_at": NOW})  # fmt: skip
            if rng.random() < 0.4:
                for position, word in enumerate(rng.sample(WORDS, 2)):
                    tags.append({"person_id": person_id, "kind": TagKind.EXPERTISE.value,
                                 "tag": word, "label": word, "position": position})  # fmt: skip
        session.execute(insert(Membership), rows)
        session.execute(insert(PersonTag), tags)
    mails = [mail(rng, n, people, communities, messages) for n in range(messages)]
    for batch in chunks(mails, 500):
        ingest_now(app, [m for m in batch if m is not None])
    return app


_roots: list[tuple[str, str, int]] = []


def mail(rng: random.Random, n: int, people: int, communities: int, total: int) -> InboundMail:
    received = NOW - dt.timedelta(days=365) + dt.timedelta(seconds=n * 365 * 86400 / total)
    sender = f"p{rng.randrange(people)}@example.com"
    if _roots and rng.random() < 0.66:
        parent, subject, community = rng.choice(_roots[-300:])
        head = f"Subject: Re: {subject}\r\nIn-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n"
    else:
        community = rng.randrange(communities)
        subject = f"About {rng.choice(WORDS)} {n}"
        head = f"Subject: {subject}\r\n"
        _roots.append((f"a{n}@example.com", subject, community))
    text = f"A post about {rng.choice(WORDS)} and {rng.choice(WORDS)}, number {n}.\r\n" * 8
    text += "\r\nOn Monday, someone wrote:\r\n> quoted text\r\n> more quoted\r\n> and more\r\n"
    head = (
        f"From: Person <{sender}>\r\nDate: {format_datetime(received)}\r\n"
        f"Message-ID: <a{n}@example.com>\r\nMIME-Version: 1.0\r\n{head}"
    )
    if n % 20 == 0:
        data = base64.encodebytes(photo(rng)).decode().replace("\n", "\r\n")
        body = (
            'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
            "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n--b\r\n"
            f'Content-Type: image/jpeg; name="photo-{n}.jpg"\r\n'
            f'Content-Disposition: attachment; filename="photo-{n}.jpg"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{data}\r\n--b--\r\n"
        )
    elif n % 10 == 0:
        blob = rng.randbytes(20_000).hex()
        body = (
            'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
            "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n--b\r\n"
            f'Content-Type: application/pdf; name="report-{n}.pdf"\r\n'
            f'Content-Disposition: attachment; filename="report-{n}.pdf"\r\n'
            f"Content-Transfer-Encoding: 7bit\r\n\r\n{blob}\r\n--b--\r\n"
        )
    elif n % 10 == 1:
        html = "".join(f"<p>{line}</p>" for line in text.splitlines() if line)
        body = (
            'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
            "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n--b\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n--b--\r\n"
        )
    else:
        body = "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text
    return InboundMail((head + body).encode(), sender, (f"c{community}@{DOMAIN}",), received)


def photo(rng: random.Random) -> bytes:
    """A photo-like JPEG of its own (a gradient and a few shapes), as phones attach them."""
    image = Image.linear_gradient("L").resize((1024, 768)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.randrange(900), rng.randrange(650)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x, y, x + rng.randint(40, 200), y + rng.randint(40, 200)), fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def timed_build(root: Path, config: Path, *args: str) -> tuple[GatewayRun, dict[str, Any]]:
    """One whole `gateway archive build`, timed, with its JSON report."""
    run = run_command(root, config, "archive", "build", "--json", *args)
    return run, json.loads(run.output)


def report(label: str, run: GatewayRun, result: dict[str, Any]) -> None:
    # Pages rendered: threads, communities (their first list page), people, and the
    # home page, the people directory and the search page.
    pages = result["threads"] + result["communities"] + result["people"] + 3
    print(
        f"{label:<34} {run.seconds:6.2f} s  {run.cpu:6.2f} s CPU  {pages:>6,} pages  "
        f"{pages / run.seconds:7,.0f} pages/s  {result['written']:>6,} files written  "
        f"peak {run.peak:4.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--communities", type=int, default=50)
    parser.add_argument("--people", type=int, default=2_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as folder:
        root = Path(folder)
        began = time.perf_counter()
        app = build_store(root, options.people, options.communities, options.messages)
        config = write_config(root)
        print(
            f"store: {options.messages:,} messages, {options.communities} communities, "
            f"{options.people:,} people, built in {time.perf_counter() - began:.1f} s"
        )
        run, result = timed_build(root, config, "--full", "--no-search")
        report("full build, no search index", run, result)
        print(f"  ({result['threads']:,} thread pages, {result['files']:,} attachments)")
        run, result = timed_build(root, config, "--full", "--out", "site-searched")
        report("full build with search index", run, result)
        everything = every_message(root, app) if shutil.which("mhonarc") else None
        parent, subject, community = _roots[len(_roots) // 2]
        reply = (
            f"From: p1@example.com\r\nDate: {format_datetime(NOW)}\r\n"
            f"Message-ID: <late-reply@example.com>\r\n"
            f"Subject: Re: {subject}\r\nIn-Reply-To: <{parent}>\r\n\r\nOne more thought.\r\n"
        ).encode()
        ingest_now(app, [InboundMail(reply, "p1@example.com", (f"c{community}@{DOMAIN}",), NOW)])
        run, result = timed_build(root, config, "--no-search")
        report("update after one reply, no search", run, result)
        imports = timed_process([sys.executable, "-c", UPDATE_IMPORTS], root)
        print(
            f"  (the build itself {result['seconds']:.2f} s; importing its modules alone "
            f"takes {imports.seconds:.2f} s, {imports.cpu:.2f} s CPU)"
        )
        if everything is None:
            print("MHonArc reference skipped: mhonarc is not installed (apt install mhonarc)")
        else:
            mhonarc_reference(root, everything, reply, run)
        app.close()


def every_message(root: Path, app: App) -> Path:
    """The store's messages in one mbox, in the order they came: MHonArc's input."""
    path = root / "all.mbox"
    with path.open("wb") as out, transaction(app.read_sessions) as session:
        rows = session.execute(
            select(Message.sender_address, Message.received_at, Message.raw_sha256).order_by(
                Message.id
            )
        )
        for sender, received_at, sha256 in rows:
            out.write(mbox_entry(sender, received_at, app.blobs.get(sha256)))
    return path


def mhonarc_reference(root: Path, everything: Path, reply: bytes, update: GatewayRun) -> None:
    """MHonArc's archive of the same messages, then its `-add` of the same reply."""
    added, folder = root / "reply.mbox", root / "mhonarc"
    added.write_bytes(mbox_entry("p1@example.com", NOW, reply))
    folder.mkdir()
    options = ["-quiet", "-outdir", str(folder)]
    paged = ["-multipg", "-idxsize", "100"]
    full = timed_process(["mhonarc", *options, *paged, str(everything)], root)
    add = timed_process(["mhonarc", "-add", *options, str(added)], root)
    print(f"{'MHonArc, full archive':<34} {full.seconds:6.2f} s  {full.cpu:6.2f} s CPU")
    print(
        f"{'MHonArc, -add of the same reply':<34} {add.seconds:6.2f} s  {add.cpu:6.2f} s CPU  "
        f"(gateway update / mhonarc -add: {update.seconds / add.seconds:.2f}x the time)"
    )


if __name__ == "__main__":
    main()
