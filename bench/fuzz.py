"""Fuzz a real `gateway serve` with mutated and generated mail, and check its invariants.

Mail comes from the corpus (GATEWAY_CORPUS, else ../shared/corpus beside the
checkout, else tests/fixtures/mail), mutated (flipped and inserted bytes, cuts,
splices, repeated lines, NULs, bogus charsets, broken boundaries, huge lines), and
from generators (deep nesting, thousands of parts, enclosed-mail chains, broken
and huge headers, bad charsets, NULs, long lines). Each mail goes over SMTP to a
community, an action address or the bounce address, from an envelope sender of
its own, so the log line of its ingest names it. Copies go to the outbox Maildir.

Invariants checked, and counted in the report:
- every mail answered 250 was taken by the pipeline (a `disposition=` log line
  that is not "failed") and none is left in the inbox;
- no traceback in the log;
- no delivery left "sending" once the gateway is idle (no round stalled);
- the server still answers (EHLO) after every mail it did not answer 250 and at the end;
- peak memory (VmHWM, with RSS sampled twice a second) of each process, reported.

A fixed seed makes a run repeatable: mail N of a seed is always the same bytes,
so `--only N` replays one. A short pass runs in CI (tests/integration/test_fuzz.py);
a long one by hand:

    python bench/fuzz.py --count 5000 --seed 16 [--keep DIR] [--only N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import smtplib
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import free_port  # noqa: E402
from ingest import gateway_command  # noqa: E402
from ingest import gateway_executable  # noqa: E402
from ingest import server  # noqa: E402

DOMAIN = "lists.example.com"
ROOT = Path(__file__).resolve().parent.parent
MEMBERS = ("ann@example.com", "ben@example.com", "cat@example.com")
# Where the mails go: mostly posts, some actions, some bounces, some nowhere.
RECIPIENTS = (
    (f"design@{DOMAIN}", 70),
    (f"design-join@{DOMAIN}", 5),
    (f"design-leave@{DOMAIN}", 3),
    (f"help@{DOMAIN}", 5),
    (f"design-profile@{DOMAIN}", 3),
    (f"bounces+ann=example.com@{DOMAIN}", 10),
    (f"nobody@{DOMAIN}", 4),
)
STALL_TIMEOUT = 120.0  # seconds without progress after which the gateway is stalled
# A delivery a node claimed and has not recorded yet: shown as "sending".
IN_FLIGHT = "status = 'pending' AND claimed_by IS NOT NULL"
_DISPOSITION = re.compile(r" from=(\S+) .*?disposition=(\w+)")


def corpus_files() -> list[Path]:
    """Every mail of the corpus, or of the test fixtures when there is none."""
    candidates = [os.environ.get("GATEWAY_CORPUS", ""), str(ROOT.parent / "shared" / "corpus")]
    for folder in [Path(c) for c in candidates if c] + [ROOT / "tests" / "fixtures" / "mail"]:
        if folder.is_dir():
            files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".md")
            if files:
                return files
    return []


# Generated mail


def _head(rng: random.Random, number: int, extra: bytes = b"") -> bytes:
    return (
        b"From: Fuzz <fuzz%d@example.net>\r\nTo: design@" % number
        + DOMAIN.encode()
        + b"\r\nSubject: fuzz %d\r\nMessage-ID: <fuzz-%d-%d@example.net>\r\n"
        % (number, number, rng.randrange(10**6))
        + b"MIME-Version: 1.0\r\n"
        + extra
    )


def deep_nesting(rng: random.Random, number: int) -> bytes:
    depth = rng.choice((40, 300, 600, 1000, 2500))
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
        for n in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % n for n in reversed(range(depth)))
    if rng.random() < 0.3:
        closing = b""  # never closed
    return _head(rng, number) + opening + b"Content-Type: text/plain\r\n\r\ndeep\r\n" + closing


def enclosed_chain(rng: random.Random, number: int) -> bytes:
    depth = rng.choice((50, 500, 1500))
    return (
        _head(rng, number)
        + b"Content-Type: message/rfc822\r\n\r\n" * depth
        + b"Subject: inner\r\n\r\nbottom\r\n"
    )


def many_parts(rng: random.Random, number: int) -> bytes:
    count = rng.choice((500, 3000, 12000))
    kind = rng.choice((b"text/plain", b"text/html", b"image/png", b"message/rfc822"))
    part = b"--p\r\nContent-Type: " + kind + b'; name="a.txt"\r\n\r\nx\r\n'
    return (
        _head(rng, number, b'Content-Type: multipart/mixed; boundary="p"\r\n\r\n')
        + part * count
        + b"--p--\r\n"
    )


def broken_headers(rng: random.Random, number: int) -> bytes:
    junk = [
        b"NoColonHere",
        b": empty name",
        b"\xff\xfe\xfd: 8-bit name",
        b" continuation first",
        b"Content-Type: multipart/mixed; boundary=",
        b'Content-Type: text/plain; charset="\x00"',
        b"From: <<<@@@>>>",
        b"Date: Mon, 99 Foo 99999 99:99:99 +9999",
        b"Subject: =?utf-8?B?====?= =?x-unknown?Q?=FF?=",
        b"Content-Transfer-Encoding: base64",
        b"References: " + b"<a@b> " * 2000,
    ]
    lines = [rng.choice(junk) for _ in range(rng.randrange(1, 30))]
    return _head(rng, number) + b"\r\n".join(lines) + b"\r\n\r\nbody\r\n"


def huge_header(rng: random.Random, number: int) -> bytes:
    if rng.random() < 0.5:
        extra = b"X-Big: " + b"a" * rng.choice((2000, 100_000, 1_000_000)) + b"\r\n"
    else:
        extra = b"".join(b"X-Many-%d: v\r\n" % n for n in range(rng.choice((1000, 20_000))))
    return _head(rng, number, extra) + b"\r\nbody\r\n"


def bad_charset(rng: random.Random, number: int) -> bytes:
    charset = rng.choice((b"x-bogus", b"utf-7", b"\xff\xfe", b"", b"iso-2022-jp", b"utf-32"))
    body = bytes(rng.randrange(256) for _ in range(rng.randrange(10, 3000)))
    subtype = rng.choice((b"plain", b"html"))
    header = b'Content-Type: text/%s; charset="%s"\r\n' % (subtype, charset)
    return _head(rng, number, header) + b"\r\n" + body


def nuls(rng: random.Random, number: int) -> bytes:
    return _head(rng, number, b"X-Nul: a\x00b\r\n") + b"\r\n" + b"\x00text\x00" * 500


def long_lines(rng: random.Random, number: int) -> bytes:
    line = b"x" * rng.choice((990, 1000, 100_000, 2_000_000))
    return _head(rng, number, b"Content-Type: text/html\r\n") + b"\r\n<p>" + line + b"</p>\r\n"


def random_bytes(rng: random.Random, number: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 5000)))


GENERATORS: tuple[Callable[[random.Random, int], bytes], ...] = (
    deep_nesting,
    enclosed_chain,
    many_parts,
    broken_headers,
    huge_header,
    bad_charset,
    nuls,
    long_lines,
    random_bytes,
)


# Mutations of corpus mail


def mutate(rng: random.Random, raw: bytes, other: bytes) -> bytes:
    """One to three random mutations of `raw` (`other`: another mail to splice in)."""
    data = bytearray(raw)
    for _ in range(rng.randrange(1, 4)):
        data = bytearray(rng.choice(MUTATIONS)(rng, bytes(data), other))
    return bytes(data[: 3 * 1024 * 1024])


def _at(rng: random.Random, data: bytes) -> int:
    return rng.randrange(len(data) + 1)


def flip(rng: random.Random, data: bytes, other: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randrange(1, 40)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def cut(rng: random.Random, data: bytes, other: bytes) -> bytes:
    return data[: _at(rng, data)]


def splice(rng: random.Random, data: bytes, other: bytes) -> bytes:
    at = _at(rng, data)
    start = _at(rng, other)
    return data[:at] + other[start : start + rng.randrange(1, 20_000)] + data[at:]


def repeat_line(rng: random.Random, data: bytes, other: bytes) -> bytes:
    lines = data.split(b"\n")
    at = rng.randrange(len(lines))
    lines[at:at] = [lines[at]] * rng.choice((10, 300, 3000))
    return b"\n".join(lines)


def insert_nuls(rng: random.Random, data: bytes, other: bytes) -> bytes:
    at = _at(rng, data)
    return data[:at] + b"\x00" * rng.randrange(1, 100) + data[at:]


def bogus_charset(rng: random.Random, data: bytes, other: bytes) -> bytes:
    name = rng.choice((b"x-bogus", b"\xff", b"utf-7", b"unicode-1-1-utf-7", b""))
    return re.sub(rb"(?i)charset=\"?[\w-]+\"?", b'charset="' + name + b'"', data)


def break_boundaries(rng: random.Random, data: bytes, other: bytes) -> bytes:
    if rng.random() < 0.5:
        return re.sub(rb"(?m)^--([^\r\n]+)--", b"--\\1", data)  # never closed
    return re.sub(rb"(?i)boundary=\"?([^\"\s;]+)", b'boundary="\\1x', data)


def huge_line(rng: random.Random, data: bytes, other: bytes) -> bytes:
    at = _at(rng, data)
    return data[:at] + b"y" * rng.choice((900, 990, 5000, 500_000)) + data[at:]


def header_chaos(rng: random.Random, data: bytes, other: bytes) -> bytes:
    junk = rng.choice((b"\xff\xfe: x\r\n", b"Content-Type: multipart/x\r\n", b": \r\n", b" \r\n"))
    return junk * rng.randrange(1, 50) + data


MUTATIONS: tuple[Callable[[random.Random, bytes, bytes], bytes], ...] = (
    flip,
    cut,
    splice,
    repeat_line,
    insert_nuls,
    bogus_charset,
    break_boundaries,
    huge_line,
    header_chaos,
)


@dataclass(frozen=True)
class Case:
    number: int
    kind: str
    recipient: str
    raw: bytes

    @property
    def sender(self) -> str:
        return f"fuzz-{self.number}@fuzz.example"


def case(seed: int, number: int, corpus: list[bytes]) -> Case:
    """Mail `number` of a run: the same bytes for the same seed, whatever ran before."""
    rng = random.Random(f"{seed}:{number}")
    addresses, weights = zip(*RECIPIENTS, strict=True)
    recipient = rng.choices(addresses, weights)[0]
    if corpus and rng.random() < 0.6:
        raw = mutate(rng, rng.choice(corpus), rng.choice(corpus))
        return Case(number, "corpus", recipient, raw)
    generator = rng.choice(GENERATORS)
    return Case(number, generator.__name__, recipient, generator(rng, number))


# The run


@dataclass
class Report:
    seed: int
    mails: int = 0
    replies: Counter[str] = field(default_factory=Counter)  # "250", "5xx"...
    accepted: list[str] = field(default_factory=list)  # envelope senders answered 250
    stored: int = 0
    missing: list[str] = field(default_factory=list)
    ingest_failures: int = 0
    tracebacks: int = 0
    traceback_heads: list[str] = field(default_factory=list)
    stalled_deliveries: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)
    unanswered: int = 0
    peak_mb: dict[str, float] = field(default_factory=dict)
    seconds_sending: float = 0.0
    seconds_to_idle: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"seed {self.seed}: {self.mails} mails sent in {self.seconds_sending:.0f} s, "
            f"idle {self.seconds_to_idle:.0f} s later",
            f"replies: {dict(sorted(self.replies.items()))}",
            f"250s stored: {self.stored} of {len(self.accepted)} (missing {len(self.missing)})",
            f"left in the inbox: {self.ingest_failures}",
            f"tracebacks: {self.tracebacks}",
            f"stalled deliveries: {self.stalled_deliveries} (deliveries {self.deliveries})",
            f"server unanswering checks: {self.unanswered}",
            "peak memory (MB): "
            + ", ".join(f"{name} {mb:.0f}" for name, mb in sorted(self.peak_mb.items())),
        ]

    @property
    def ok(self) -> bool:
        return not (
            self.missing
            or self.ingest_failures
            or self.tracebacks
            or self.stalled_deliveries
            or self.unanswered
        )


class MemoryWatch:
    """Peak memory of a process and its descendants, by process name."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sample()
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def sample(self) -> None:
        for pid in self._tree(self.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                name = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            for key in ("VmHWM", "VmRSS"):
                found = re.search(rf"^{key}:\s+(\d+)", status, re.MULTILINE)
                if found:
                    mb = int(found.group(1)) / 1024
                    self.peaks[name] = max(self.peaks.get(name, 0.0), mb)

    def _tree(self, pid: int) -> Iterator[int]:
        yield pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return
        for child in children:
            yield from self._tree(int(child))


def setup(folder: Path) -> tuple[Path, int]:
    port = free_port()
    config = folder / "gateway.toml"
    config.write_text(
        f'[gateway]\ndata_dir = "data"\ndomain = "{DOMAIN}"\n[smtp]\nport = {port}\n'
        "[web]\nenabled = false\n"
    )
    gateway_command(config, "init")
    gateway_command(config, "community", "create", "design", "--name", "Design",
                    "--policy", "open")  # fmt: skip
    members = folder / "members.csv"
    members.write_text("email\n" + "\n".join(MEMBERS) + "\n", encoding="utf-8")
    gateway_command(config, "member", "import", "design", str(members))
    return config, port


def send(port: int, item: Case) -> str:
    """The reply code class to one mail ("250", "5xx", "4xx" or "error")."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
            smtp.ehlo()
            smtp.mail(item.sender)
            code, text = smtp.rcpt(item.recipient)
            if code >= 300:
                return f"{code} {_enhanced(text)} at RCPT"
            code, text = smtp.data(item.raw)
            if code >= 300:
                return f"{code} {_enhanced(text)}"
    except smtplib.SMTPResponseException as error:
        return f"{error.smtp_code} {_enhanced(error.smtp_error)}"
    except (smtplib.SMTPException, OSError) as error:
        return f"error {type(error).__name__}"
    return "250"


def _enhanced(text: bytes) -> str:
    """The enhanced status code of a reply (5.6.0), or its first word."""
    words = text.decode(errors="replace").split()
    return words[0] if words else ""


def answering(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            return smtp.ehlo()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _count(database: Path, query: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as connection:
        return int(connection.execute(query).fetchone()[0])


def wait_idle(data: Path) -> None:
    """Until the inbox holds only failed mail and no delivery is claimed or due, for 3 s.

    Gives up after STALL_TIMEOUT seconds without progress (a stalled round or ingest),
    however long a backlog takes to drain while it moves.
    """
    last: tuple[int, int] | None = None
    moved_at = time.monotonic()
    quiet_since: float | None = None
    while time.monotonic() - moved_at < STALL_TIMEOUT:
        waiting = _count(data / "spool.sqlite3", "SELECT count(*) FROM inbox WHERE attempts = 0")
        busy = _count(
            data / "gateway.sqlite3",
            "SELECT count(*) FROM deliveries WHERE status = 'pending' AND "
            "(claimed_by IS NOT NULL OR next_attempt_at <= datetime('now'))",
        )
        done = _count(data / "gateway.sqlite3", "SELECT count(*) FROM deliveries WHERE "
                      "claimed_by IS NULL")  # fmt: skip
        if (waiting, done) != last:
            last, moved_at = (waiting, done), time.monotonic()
        if waiting or busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 3:
            return
        time.sleep(0.5)


def run(count: int, seed: int, folder: Path, only: int | None = None) -> Report:
    """Send `count` fuzzed mails (or mail `only` alone) to a fresh gateway in `folder`."""
    corpus = [path.read_bytes() for path in corpus_files()]
    config, port = setup(folder)
    log = folder / "serve.log"
    report = Report(seed)
    started = time.monotonic()
    numbers = [only] if only is not None else range(count)
    command = [gateway_executable(), "--config", str(config), "serve"]
    with server(command, port, log) as process, MemoryWatch(process.pid) as memory:
        for number in numbers:
            item = case(seed, number, corpus)
            reply = send(port, item)
            report.mails += 1
            report.replies[reply] += 1
            if reply == "250":
                report.accepted.append(item.sender)
            elif not answering(port):
                report.unanswered += 1
                print(f"mail {number} ({item.kind}): the server stopped answering", flush=True)
        sent_at = time.monotonic()
        report.seconds_sending = sent_at - started
        wait_idle(folder / "data")
        if not answering(port):
            report.unanswered += 1
        data = folder / "data"
        report.stalled_deliveries = _count(
            data / "gateway.sqlite3", f"SELECT count(*) FROM deliveries WHERE {IN_FLIGHT}"
        )
        report.ingest_failures = _count(data / "spool.sqlite3", "SELECT count(*) FROM inbox")
        report.seconds_to_idle = time.monotonic() - sent_at
        with sqlite3.connect(f"file:{data / 'gateway.sqlite3'}?mode=ro", uri=True) as db:
            report.deliveries = dict(
                db.execute("SELECT status, count(*) FROM deliveries GROUP BY status").fetchall()
            )
    report.peak_mb = memory.peaks
    text = log.read_text(errors="replace")
    taken = {m.group(1).lower() for m in _DISPOSITION.finditer(text) if m.group(2) != "failed"}
    report.missing = [sender for sender in report.accepted if sender not in taken]
    report.stored = len(report.accepted) - len(report.missing)
    heads = [m.start() for m in re.finditer(r"Traceback \(most recent call last\)", text)]
    report.tracebacks = len(heads)
    report.traceback_heads = [text[max(0, at - 300) : at + 1500] for at in heads[:3]]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--only", type=int, help="replay mail N of the seed alone")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        report = run(args.count, args.seed, args.keep, args.only)
    else:
        with tempfile.TemporaryDirectory() as folder:
            report = run(args.count, args.seed, Path(folder), args.only)
    if args.json:
        print(json.dumps({k: v for k, v in vars(report).items() if k != "accepted"}, indent=2))
    else:
        print("\n".join(report.lines()))
        for head in report.traceback_heads:
            print("---\n" + head)
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
