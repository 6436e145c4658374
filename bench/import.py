"""Benchmark of `gateway import mbox`: an archive of 50,000 generated messages, imported by
the real command into SQLite (as shipped), with its peak memory.

The mbox is written to a temporary folder first (a list archive: two thirds
replies with In-Reply-To and References, 5 % with a 20 KB attachment, ~3 KB
messages); the command then runs as a subprocess, and the figures are its wall
time, messages/s and peak resident memory (its max RSS, from the kernel).

The reference is public-inbox (Debian's `public-inbox`), the archiver of the Linux
kernel's lists: the same mbox imported into a new v2 inbox with its full Xapian
index (`public-inbox-init -V2 -L full`, then its InboxWritable->import_mbox, which
stores and indexes each message as it goes: what scripts/import_vger_from_mbox
does), timed as a whole command in the same run. Without public-inbox the
reference is skipped with a note.

    python bench/import.py [--messages 50000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import gateway_executable  # noqa: E402
from ingest import timed_process  # noqa: E402

START = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
LIST_ADDRESS = "list@lists.example.org"
# public-inbox's own mbox import (scripts/import_vger_from_mbox, without its vger filter).
PUBLIC_INBOX_IMPORT = r"""
use v5.12;
use PublicInbox::InboxWritable;
my ($dir, $address, $mbox) = @ARGV;
my $inbox = PublicInbox::Inbox->new({inboxdir => $dir, name => 'bench', version => 2,
                                     address => [$address], indexlevel => 'full'});
$inbox = PublicInbox::InboxWritable->new($inbox);
open(my $file, '<', $mbox) or die "$mbox: $!";
$inbox->import_mbox($file, 'mboxrd');
"""


def write_mbox(path: Path, count: int) -> int:
    """Write `count` messages; return the file's size."""
    rng = random.Random(1)
    recent: list[tuple[str, str]] = []
    with path.open("wb") as out:
        for n in range(count):
            sender = f"user{rng.randrange(800)}@example.com"
            date = START + dt.timedelta(minutes=10 * n)
            message = EmailMessage()
            message["From"] = f"User {sender.split('@')[0]} <{sender}>"
            message["To"] = LIST_ADDRESS
            message["Date"] = email.utils.format_datetime(date)
            message["Message-ID"] = f"<msg{n}@example.com>"
            if recent and rng.random() < 0.66:
                parent, topic = rng.choice(recent[-100:])
                message["Subject"] = f"Re: {topic}"
                message["In-Reply-To"] = f"<{parent}>"
                message["References"] = f"<{parent}>"
            else:
                topic = f"Topic {n}"
                message["Subject"] = topic
            recent.append((f"msg{n}@example.com", topic))
            message.set_content("A line of a typical list message, give or take.\n" * 50)
            if rng.random() < 0.05:
                message.add_attachment(rng.randbytes(20_000), maintype="application",
                                       subtype="pdf", filename=f"doc{n}.pdf")  # fmt: skip
            body = message.as_bytes().replace(b"\nFrom ", b"\n>From ")
            stamp = date.strftime("%a %b %d %H:%M:%S %Y")
            out.write(f"From {sender} {stamp}\n".encode() + body + b"\n\n")
    return path.stat().st_size


def gateway(config: Path, *args: str) -> None:
    subprocess.run([gateway_executable(), "--config", str(config), *args], check=True,
                   capture_output=True, timeout=3600)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="import-") as folder:
        root = Path(folder)
        archive = root / "archive.mbox"
        began = time.perf_counter()
        size = write_mbox(archive, options.messages)
        print(f"mbox: {options.messages:,} messages, {size / 1e6:.0f} MB,"
              f" written in {time.perf_counter() - began:.1f} s")  # fmt: skip
        config = root / "gateway.toml"
        config.write_text('[gateway]\ndata_dir = "data"\n', encoding="utf-8")
        gateway(config, "init")
        gateway(config, "community", "create", "list", "--name", "List")
        began = time.perf_counter()
        gateway(config, "import", "mbox", "list", str(archive), "--quiet")
        elapsed = time.perf_counter() - began
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"gateway import mbox: {elapsed:.1f} s, {options.messages / elapsed:,.0f} messages/s,"
              f" peak memory {peak:.0f} MB")  # fmt: skip
        began = time.perf_counter()
        gateway(config, "import", "mbox", "list", str(archive), "--quiet")
        again = time.perf_counter() - began
        print(f"the same import again (all duplicates): {again:.1f} s,"
              f" {options.messages / again:,.0f} messages/s")  # fmt: skip
        if not shutil.which("public-inbox-init"):
            print("public-inbox reference skipped: it is not installed (apt install public-inbox)")
            return
        reference = public_inbox_import(root, archive)
        print(
            f"public-inbox import and index (v2, full): {reference:.1f} s, "
            f"{options.messages / reference:,.0f} messages/s "
            f"(gateway import / public-inbox: {reference / elapsed:.2f}x the rate)"
        )


def public_inbox_import(root: Path, archive: Path) -> float:
    """Seconds public-inbox takes to import and index `archive` into a new inbox."""
    environment = {**os.environ, "PI_CONFIG": str(root / "public-inbox.config")}
    inbox = root / "public-inbox"
    subprocess.run(["public-inbox-init", "-V2", "-L", "full", "bench", str(inbox),
                    "https://lists.example.org/bench/", LIST_ADDRESS], check=True,
                   capture_output=True, env=environment, timeout=600)  # fmt: skip
    command = ["perl", "-e", PUBLIC_INBOX_IMPORT, str(inbox), LIST_ADDRESS, str(archive)]
    return timed_process(command, root, environment).seconds


if __name__ == "__main__":
    main()
