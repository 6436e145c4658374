"""Benchmark of SMTP ingest: a real `gateway serve` against a bare aiosmtpd that answers 250.

Both servers run as subprocesses; C client threads each hold one smtplib connection
and send their share of N messages over it. For each workload and server it prints
messages/s, p50 and p99 of the time from MAIL FROM to the final reply after DATA,
and the gateway/bare ratio of messages/s. Workloads: (a) 5 KB plain-text mails
(unique Message-IDs, a quarter of them replies in 8 conversations), (b) mails with a 1 MB
attachment, (c) a few 25 MB mails to the gateway alone. It also prints the peak
memory (VmHWM) of the `gateway serve` process during the 5 KB and 25 MB runs, and
the CPU seconds per 1,000 mails of the bare server and of the bench's own clients
(they share the cores with the servers).

The gateway runs as shipped: SQLite under a temporary folder, synchronous=FULL,
fsynced blobs, so every 250 means the mail is on disk. Message bytes are built
before the clock starts; the clients send them pre-quoted, so the timings are
mostly the servers' (clients and servers share the machine's cores).

On PostgreSQL (--database postgresql or both) a throwaway durable server is started
from the installed binaries, and --nodes 1,2,3 runs one, two and three `gateway serve`
nodes on it (one shared data folder, the clients spread over the nodes); SQLite runs
one node. Each run also prints the sustained rate (from the first mail sent until
every mail is stored) and the CPU seconds per 1,000 mails of the gateway's processes
(node 1's also by process: the SMTP edge, the pipeline, the delivery worker, the
archive companion) and PostgreSQL's; a last table compares the configurations (with
--repeat N, the configurations run N times in turn, and the table compares each one's
best run and lists every round's ratio to SQLite: runs here vary by 30%). Then,
under a steady load of half the sustained rate for ten seconds, to a community that
now has a member on instant delivery, it prints the latency from each post's 250 to
its row in the store and to its first delivery at a loopback sink (bench/latency.py),
p50 and p99. First of all, it prints what making a folder and a 5 KB file costs in its
data folder (bench/nodes.py), which every mail's blob pays: on the machines here it
moves tenfold from one minute to the next.

    python bench/ingest.py [--messages 2000] [--clients 10] [--attachment-messages 100]
                           [--large-messages 6] [--large-clients 2]
                           [--database sqlite|postgresql|both] [--nodes 1,2,3]
                           [--repeat 1] [--conversations 8] [--pg-statements]
"""

from __future__ import annotations

import argparse
import base64
import math
import os
import re
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import latency  # noqa: E402
from latency import percentile  # noqa: E402
from nodes import DurablePostgres  # noqa: E402
from nodes import Node  # noqa: E402
from nodes import configurations  # noqa: E402
from nodes import cores_busy  # noqa: E402
from nodes import cpu_by_process  # noqa: E402
from nodes import cpu_seconds  # noqa: E402
from nodes import cpu_shares  # noqa: E402
from nodes import gateway_section  # noqa: E402
from nodes import machine_cpu  # noqa: E402
from nodes import making_files  # noqa: E402
from nodes import parse_databases  # noqa: E402
from nodes import parse_nodes  # noqa: E402
from nodes import postgres_if  # noqa: E402
from nodes import ratio  # noqa: E402
from nodes import start_nodes  # noqa: E402
from nodes import tree_cpu  # noqa: E402

DOMAIN = "lists.example.com"
RECIPIENT = f"design@{DOMAIN}"
MAX_MESSAGE_SIZE = 30 * 1024 * 1024  # [smtp] max_message_size, for both servers
STEADY_SECONDS = 10  # of the steady load that measures latency
# Conversations in the 5 KB workload (--conversations); a quarter of its mails are
# replies. With 8, a reply's parent was sent 8 mails before it: on several nodes, their
# batches take turns on it (gateway.ingest.stages.write_messages).
THREADS = 8
PLAIN_SIZE = 5 * 1024
ATTACHMENT_SIZE = 1024 * 1024
LARGE_SIZE = 25 * 1000 * 1000  # the whole message, attachment base64-encoded
WARMUP_MESSAGES = 20  # per server, before the first timed run, not counted

BARE_SERVER = """
import asyncio, signal, sys
from aiosmtpd.smtp import SMTP

class Handler:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"

async def main(port, limit):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Handler(), hostname="bare.example.com", data_size_limit=limit,
                     enable_SMTPUTF8=True, decode_data=False),
        host="127.0.0.1", port=port)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()

asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


@dataclass(frozen=True)
class Mail:
    sender: str
    payload: bytes  # dot-stuffed, CRLF line ends, ending with CRLF.CRLF: ready to send


@dataclass
class Outcome:
    sent: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, successful mails only
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


# --- the messages, built before anything is timed


def prepare(sender: str, raw: bytes) -> Mail:
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    stuffed = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines)
    return Mail(sender, stuffed + b"\r\n.\r\n")


def headers(sender: str, subject: str, message_id: str, parent: str | None) -> bytes:
    lines = [
        f"From: {sender}",
        f"To: {RECIPIENT}",
        f"Subject: {'Re: ' if parent else ''}{subject}",
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}",
        f"Message-ID: <{message_id}>",
        "MIME-Version: 1.0",
    ]
    if parent:
        lines += [f"In-Reply-To: <{parent}>", f"References: <{parent}>"]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def text_body(number: int, size: int) -> bytes:
    line = f"Line of message {number}: the quick brown fox jumps over the lazy dog.\r\n"
    return (line * (size // len(line) + 1)).encode("ascii")[:size].rsplit(b"\r\n", 1)[0] + b"\r\n"


def plain_mails(count: int, run: str, conversations: int = THREADS) -> list[Mail]:
    """plain_raw's mails, as the clients send them."""
    return [prepare(sender, raw) for sender, raw in plain_raw(count, run, conversations)]


def plain_raw(count: int, run: str, conversations: int = THREADS) -> list[tuple[str, bytes]]:
    """(sender, message) of about 5 KB each; every fourth one after the first
    `conversations` replies in one."""
    mails, latest = [], {}
    for number in range(count):
        sender = f"person{number % 50}@example.com"
        message_id = f"{run}-plain-{number}@example.com"
        conversation = number % conversations
        parent = latest.get(conversation) if number % 4 == 0 else None
        if number < conversations or parent:
            latest[conversation] = message_id
        head = headers(sender, f"Topic {conversation}", message_id, parent)
        head += b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        mails.append((sender, head + text_body(number, PLAIN_SIZE - len(head))))
    return mails


def attachment_mails(count: int, run: str, name: str, encoded_size: int) -> list[Mail]:
    """A short text and one attachment of random bytes, different in each mail."""
    binary_size = encoded_size * 57 // 78  # base64 in 76-character lines with CRLF
    mails = []
    for number in range(count):
        sender = f"person{number % 50}@example.com"
        boundary = f"=={run}-{number}=="
        encoded = base64.encodebytes(os.urandom(binary_size)).replace(b"\n", b"\r\n")
        raw = (
            headers(sender, f"File {number}", f"{run}-{name}-{number}@example.com", None)
            + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'.encode()
            + f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n".encode()
            + text_body(number, 600)
            + f"--{boundary}\r\nContent-Type: application/octet-stream\r\n".encode()
            + b"Content-Transfer-Encoding: base64\r\n"
            + f'Content-Disposition: attachment; filename="data-{number}.bin"\r\n\r\n'.encode()
            + encoded
            + f"--{boundary}--\r\n".encode()
        )
        mails.append(prepare(sender, raw))
    return mails


# --- the clients


def send(smtp: smtplib.SMTP, mail: Mail) -> tuple[int, str]:
    """One mail transaction; returns the first reply that is not the expected one, or 250.
    MAIL FROM declares the size, as MTAs do: the gateway reserves memory for that much."""
    code, reply = smtp.mail(mail.sender, [f"SIZE={len(mail.payload)}"])
    if code != 250:
        return code, f"MAIL: {reply.decode(errors='replace')}"
    code, reply = smtp.rcpt(RECIPIENT)
    if code not in (250, 251):
        return code, f"RCPT: {reply.decode(errors='replace')}"
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        return code, f"DATA: {reply.decode(errors='replace')}"
    smtp.send(mail.payload)
    code, reply = smtp.getreply()
    return code, reply.decode(errors="replace")


def client(
    port: int, mails: list[Mail], start: threading.Barrier, stop: threading.Event, outcome: Outcome
) -> None:
    smtp: smtplib.SMTP | None = None
    try:
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=300)
        smtp.ehlo("bench.example.com")
    except (OSError, smtplib.SMTPException) as error:
        smtp = None
        connect_error = f"connect: {error}"
    start.wait()
    latencies, failures = [], []
    for mail in mails:
        if stop.is_set():
            failures.append("not sent: the bench was interrupted")
            continue
        if smtp is None:
            failures.append(connect_error)
            continue
        began = time.perf_counter()
        try:
            code, reply = send(smtp, mail)
        except (OSError, smtplib.SMTPException) as error:
            failures.append(f"{type(error).__name__}: {error}")
            smtp.close()
            smtp, connect_error = None, "connection lost earlier"
            continue
        if code == 250:
            latencies.append(time.perf_counter() - began)
        else:
            failures.append(f"{code} {reply}")
            try:
                smtp.rset()
            except (OSError, smtplib.SMTPException):
                smtp.close()
                smtp, connect_error = None, "connection lost earlier"
    if smtp is not None:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    with outcome.lock:
        outcome.sent += len(mails)
        outcome.latencies += latencies
        outcome.failures += failures


@dataclass(frozen=True)
class Run:
    messages: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    failures: list[str]
    client_cpu: float = 0.0  # CPU seconds of the bench's client threads


def blast(ports: list[int], mails: list[Mail], clients: int) -> Run:
    """Send the mails from `clients` threads, mail i by thread i % clients, thread c to
    ports[c % len(ports)] (the nodes); time the whole."""
    clients = max(1, min(clients, len(mails)))
    outcome = Outcome()
    start, stop = threading.Barrier(clients + 1), threading.Event()
    threads = [
        threading.Thread(
            target=client,
            args=(ports[c % len(ports)], mails[c::clients], start, stop, outcome),
            daemon=True,
        )  # fmt: skip
        for c in range(clients)
    ]
    for thread in threads:
        thread.start()
    try:
        start.wait()  # every client is connected and has said EHLO
        began, cpu = time.perf_counter(), time.process_time()
        for thread in threads:
            thread.join()
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    finally:
        stop.set()  # on Ctrl-C: each client ends its current mail, then quits
    latencies = sorted(outcome.latencies)
    return Run(
        messages=len(mails),
        seconds=seconds,
        rate=len(latencies) / seconds,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        failures=outcome.failures,
        client_cpu=cpu,
    )


# --- the servers


def wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None:
                output = log.read_text()
                raise SystemExit(f"the server exited {process.returncode}:\n{output}") from None
            time.sleep(0.05)
    raise SystemExit(f"the server did not listen on port {port} in 60 s:\n{log.read_text()}")


# The ports free_port handed out in this run.
_GIVEN_PORTS: set[int] = set()


def free_port() -> int:
    """A port free now and not handed out before in this run: a probe's port, once
    closed, may come back from the next probe before its server binds it (a fan-out's
    gateway once got the sink's port for its web server, and stopped)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port


def gateway_executable() -> str:
    beside_python = Path(sys.executable).parent / "gateway"
    return str(beside_python) if beside_python.exists() else "gateway"


class GatewayRun(NamedTuple):
    seconds: float  # wall clock, start-up included
    cpu: float  # user and system seconds of the command and the children it waited for
    peak: float  # MB
    output: bytes


def run_command(root: Path, config: Path, *args: str) -> GatewayRun:
    """One whole `gateway` command, timed; exits with its output when it fails. It runs
    as installed: with the bytecode of its modules cached (pip compiles it; an editable
    checkout writes it on first use), even where PYTHONDONTWRITEBYTECODE is set."""
    command = [gateway_executable(), "--config", str(config), *args]
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return timed_process(command, root, environment)


def timed_process(
    command: list[str], cwd: Path, environment: dict[str, str] | None = None
) -> GatewayRun:
    """One whole command (a gateway's or a reference's), timed; exits with its output
    when it fails."""
    began = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, env=environment)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    if status != 0:
        sys.exit(f"{' '.join(command)} failed: {output.decode(errors='replace')}")
    return GatewayRun(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output)


def timed_gateway(root: Path, config: Path, *args: str) -> tuple[float, float, bytes]:
    """Seconds, peak memory (MB) and standard output of one whole `gateway` command (its
    start-up included); exits with its output when it fails."""
    run = run_command(root, config, *args)
    return run.seconds, run.peak, run.output


def gateway_command(config: Path, *args: str) -> None:
    subprocess.run([gateway_executable(), "--config", str(config), *args],
                   check=True, capture_output=True, timeout=120)  # fmt: skip


@contextmanager
def server(command: list[str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server in its own session (Ctrl-C reaches only us); SIGTERM it at the end."""
    with log.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
    try:
        wait_for_port(process, port, log)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def memory_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return math.nan


def child_pid(pid: int, name: str) -> int:
    """The `gateway serve` child process with this name (gateway-ingest, gateway-deliver)."""
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        if Path(f"/proc/{child}/comm").read_text().strip() == name:
            return int(child)
    return pid


def wait_ingested(spool: Engine) -> float:
    """Seconds until the gateway's pipeline has taken every spooled mail."""
    began = time.perf_counter()
    while True:
        with spool.connect() as connection:
            waiting = connection.execute(text("SELECT 1 FROM inbox LIMIT 1")).first()
        if waiting is None:
            return time.perf_counter() - began
        time.sleep(0.05)  # a look costs PostgreSQL 0.2 ms; at 10 ms, 700 of them a run


def reset_peak_memory(pid: int) -> bool:
    """Set VmHWM back to the current RSS (Linux 4.0+), so a peak belongs to one run."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def filesystem_of(path: Path) -> str:
    best, kind = "", "?"
    for line in Path("/proc/mounts").read_text().splitlines():
        mount, fstype = line.split()[1:3]
        if str(path.resolve()).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fstype
    return kind


# --- the report

PROBLEM = re.compile(r"WARNING|ERROR|^\w+(\.\w+)*(Error|Exception|Violation|Detected): ")
HEADER = "{:<16} {:<8} {:>8} {:>8} {:>8} {:>11} {:>9} {:>9}"
ROW = "{:<16} {:<8} {:>8} {:>8} {:>8.2f} {:>11.1f} {:>9.1f} {:>9.1f}"


def print_run(workload: str, name: str, run: Run) -> None:
    figures = (run.messages, len(run.failures), run.seconds, run.rate, run.p50_ms, run.p99_ms)
    print(ROW.format(workload, name, *figures))
    if run.failures:
        print(f"  {len(run.failures)} failure(s), the first ones:")
        for failure in run.failures[:5]:
            print(f"    {failure[:200]}")


def print_header() -> None:
    print(HEADER.format("workload", "server", "messages", "failures", "time s", "messages/s",
                        "p50 ms", "p99 ms"))  # fmt: skip


@dataclass(frozen=True)
class Figures:
    """One configuration's 5 KB run: the rates and the CPU cost."""

    ack_rate: float  # mails/s acknowledged (250) by the gateway
    sustained_rate: float  # mails/s from the first mail sent until every one was stored
    cpu_per_1000: float  # CPU seconds of the gateway's processes and PostgreSQL's


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2_000, help="5 KB mails per server")
    parser.add_argument("--clients", type=int, default=10, help="concurrent SMTP clients")
    parser.add_argument("--attachment-messages", type=int, default=100,
                        help="mails with a 1 MB attachment, per server")  # fmt: skip
    parser.add_argument("--large-messages", type=int, default=6,
                        help="25 MB mails, to the gateway only")  # fmt: skip
    parser.add_argument("--large-clients", type=int, default=1,
                        help="concurrent clients for the 25 MB mails")  # fmt: skip
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql or both")
    parser.add_argument("--nodes", default="1",
                        help="node counts to run on PostgreSQL, e.g. 1,2,3")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the configurations this many times, in turn")  # fmt: skip
    parser.add_argument("--conversations", type=int, default=THREADS,
                        help="conversations the 5 KB mails reply in")  # fmt: skip
    parser.add_argument("--pg-statements", action="store_true",
                        help="list PostgreSQL's costliest statements after each run")  # fmt: skip
    options = parser.parse_args()
    if options.repeat < 1:
        parser.error(f"--repeat must be at least 1, not {options.repeat}")
    if options.conversations < 1:
        parser.error(f"--conversations must be at least 1, not {options.conversations}")
    runs = configurations(parse_databases(options.database), parse_nodes(options.nodes))
    # A plain `kill` of the bench also stops the servers and removes the folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    run = f"bench{os.getpid()}-{int(time.time())}"
    print(f"building messages: {options.messages} x 5 KB, {options.attachment_messages} x 1 MB, "
          f"{options.large_messages} x 25 MB ...", flush=True)  # fmt: skip
    warmup = plain_mails(WARMUP_MESSAGES, run + "-warmup", options.conversations)
    plain = plain_mails(options.messages, run, options.conversations)
    attached = attachment_mails(
        options.attachment_messages, run, "attached", ATTACHMENT_SIZE * 78 // 57
    )
    large = attachment_mails(options.large_messages, run, "large", LARGE_SIZE - 2000)
    named = (("5 KB plain text", plain), ("1 MB attachment", attached))
    workloads = [(workload, mails) for workload, mails in named if mails]

    using_postgres = any(database == "postgresql" for database, _ in runs)
    with (
        tempfile.TemporaryDirectory(prefix="gateway-bench-ingest-") as folder,
        postgres_if(using_postgres, options.pg_statements) as postgres,
    ):
        root = Path(folder)
        print(f"cores: {os.cpu_count()}; clients: {options.clients}; data folder on "
              f"{filesystem_of(root)} (SQLite synchronous=FULL, fsynced blobs; PostgreSQL "
              f"with fsync and synchronous_commit on); latency: MAIL FROM to the final reply "
              f"after DATA")  # fmt: skip
        print(f"the data folder now: {making_files(root)}")
        bare_port = free_port()
        bare_cmd = [sys.executable, "-c", BARE_SERVER, str(bare_port), str(MAX_MESSAGE_SIZE)]
        print()
        print_header()
        with server(bare_cmd, bare_port, root / "bare.log") as bare:
            blast([bare_port], warmup, min(options.clients, WARMUP_MESSAGES))
            bare_runs: dict[str, Run] = {}
            bare_cpu: dict[str, float] = {}
            for workload, mails in workloads:
                before = tree_cpu(bare.pid)
                bare_runs[workload] = blast([bare_port], mails, options.clients)
                bare_cpu[workload] = tree_cpu(bare.pid) - before
            for workload, bare_run in bare_runs.items():
                print_run(workload, "bare", bare_run)
            for workload, bare_run in bare_runs.items():
                per_mail = 1000 / bare_run.messages
                print(f"bare server CPU s per 1,000 mails, {workload}: "
                      f"{bare_cpu[workload] * per_mail:.2f} "
                      f"(the bench's clients {bare_run.client_cpu * per_mail:.2f})")  # fmt: skip
            print(f"bare server peak memory (VmHWM) since start: "
                  f"{memory_mb(bare.pid, 'VmHWM'):.0f} MB")  # fmt: skip
        figures: dict[tuple[str, int], list[Figures]] = {}
        for repetition in range(options.repeat):
            for database, nodes in runs:
                url = postgres.fresh_database() if postgres and database == "postgresql" else ""
                print(f"\n=== {database}, {nodes} node{'s' if nodes > 1 else ''}")
                figures.setdefault((database, nodes), []).append(run_gateway(
                    root / f"{database}-{nodes}-{repetition}", url, nodes, options, warmup,
                    workloads, large, bare_runs, postgres,
                ))  # fmt: skip
                if postgres and url:
                    if options.pg_statements:
                        postgres.print_statements(url)
                    postgres.forget(url)
    print_summary(figures)


def run_gateway(
    folder: Path,
    url: str,
    nodes: int,
    options: argparse.Namespace,
    warmup: list[Mail],
    workloads: list[tuple[str, list[Mail]]],
    large: list[Mail],
    bare_runs: dict[str, Run],
    postgres: DurablePostgres | None,
) -> Figures:
    """The workloads sent to `nodes` nodes on one database (SQLite when url is empty),
    the clients spread over them; the figures of the 5 KB one."""
    folder.mkdir()
    cluster = []
    sink_port = free_port()
    for number in range(1, nodes + 1):
        port = free_port()
        config = folder / f"gateway{number}.toml"
        config.write_text(
            gateway_section(DOMAIN, url, number)
            + f"[smtp]\nport = {port}\nmax_message_size = {MAX_MESSAGE_SIZE}\n"
            f'[relay]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {sink_port}\n'
            "[web]\nenabled = false\n"
        )
        cluster.append(Node(config, port))
    gateway_command(cluster[0].config, "init")
    gateway_command(cluster[0].config, "community", "create", "design", "--name", "Design",
                    "--policy", "open")  # fmt: skip
    ports = [node.smtp_port for node in cluster]
    spool = create_engine(url or f"sqlite:///{folder / 'data' / 'spool.sqlite3'}")
    store = create_engine(url or f"sqlite:///{folder / 'data' / 'gateway.sqlite3'}")
    result = Figures(math.nan, math.nan, math.nan)
    sink = latency.Sink(folder / "sink.arrivals")
    sink_command = sink.command(sink_port, folder / "sink.status")
    try:
        with (
            server(sink_command, sink_port, folder / "sink.log"),
            start_nodes(cluster, server, gateway_executable()) as pids,
        ):
            gateway = pids[0]
            measured = pids + ([postgres.postmaster_pid()] if postgres and url else [])
            blast(ports, warmup, min(options.clients, WARMUP_MESSAGES))
            print(f"gateway memory after start and {WARMUP_MESSAGES} warm-up mails: "
                  f"{memory_mb(gateway, 'VmRSS'):.0f} MB (node 1)")  # fmt: skip
            wait_ingested(spool)
            child = child_pid(gateway, "gateway-ingest")
            peaks: dict[str, tuple[float, float]] = {}
            pipeline: list[tuple[str, int, float, float]] = []
            acks: dict[str, float] = {}
            database_cpu: dict[str, float] = {}
            by_process: dict[str, dict[str, float]] = {}  # node 1's processes, by name
            clients_cpu: dict[str, float] = {}
            busy: dict[str, str] = {}  # the machine's cores busy meanwhile
            exact = True
            print_header()
            for workload, mails in workloads:
                exact = reset_peak_memory(gateway) and reset_peak_memory(child)
                cpu_before, gateway_before = cpu_seconds(measured), cpu_seconds(pids)
                by_process_before = cpu_by_process(gateway)
                machine_before = machine_cpu()
                gateway_run = blast(ports, mails, options.clients)
                drained = wait_ingested(spool)
                busy[workload] = cores_busy(machine_before, machine_cpu())
                cpu = cpu_seconds(measured) - cpu_before
                by_process[workload] = subtract(cpu_by_process(gateway), by_process_before)
                database_cpu[workload] = cpu - (cpu_seconds(pids) - gateway_before)
                pipeline.append((workload, len(mails), gateway_run.seconds + drained, cpu))
                peaks[workload] = (memory_mb(gateway, "VmHWM"), memory_mb(child, "VmHWM"))
                print_run(workload, "gateway", gateway_run)
                acks[workload] = gateway_run.rate
                clients_cpu[workload] = gateway_run.client_cpu
                if workload == workloads[0][0]:
                    result = Figures(
                        gateway_run.rate,
                        len(mails) / (gateway_run.seconds + drained),
                        cpu * 1000 / len(mails),
                    )
            if large:
                exact = reset_peak_memory(gateway) and reset_peak_memory(child)
                cpu_before = cpu_seconds(measured)
                large_run = blast(ports, large, options.large_clients)
                drained = wait_ingested(spool)
                cpu = cpu_seconds(measured) - cpu_before
                pipeline.append(("25 MB messages", len(large), large_run.seconds + drained, cpu))
                peaks["25 MB messages"] = (memory_mb(gateway, "VmHWM"), memory_mb(child, "VmHWM"))
                print_run("25 MB messages", "gateway", large_run)

            steady = steady_latency(cluster[0], store, sink, result.sustained_rate / 2)
            print()
            for workload, gateway_rate in acks.items():
                print(f"gateway/bare messages/s, {workload}: "
                      f"{gateway_rate / bare_runs[workload].rate:.2f}")  # fmt: skip
            print()
            print("The 250 comes once a mail is spooled; the pipeline (parse, thread, store)")
            print("runs behind it. From the first mail sent until every mail of a run was")
            print("through the pipeline (sustained), and the CPU seconds of the gateway's")
            print(f"processes{' and PostgreSQL' if url else ''} meanwhile:")
            for workload, count, seconds, cpu in pipeline:
                print(f"  {workload}: {count} mails in {seconds:.2f} s, "
                      f"{count / seconds:.1f} mails/s through the whole pipeline, "
                      f"{cpu * 1000 / count:.1f} CPU s per 1,000 mails"
                      + (f"; machine: {busy[workload]}" if workload in busy else ""))  # fmt: skip
                if url and workload in database_cpu:
                    print(f"    PostgreSQL's share: {database_cpu[workload] * 1000 / count:.1f} "
                          "CPU s per 1,000 mails")  # fmt: skip
                if workload in by_process:
                    print_by_process(by_process[workload], count, nodes, clients_cpu[workload])
            print()
            print_latency(steady)
            print()
            since = "during that run" if exact else "since the gateway started"
            print(f"gateway peak memory (VmHWM) {since}, node 1:")
            for workload, (smtp_peak, pipeline_peak) in peaks.items():
                print(f"  {workload}: SMTP process {smtp_peak:.0f} MB, "
                      f"pipeline process {pipeline_peak:.0f} MB")  # fmt: skip
        with store.connect() as connection:
            stored = connection.execute(text("SELECT count(*) FROM messages")).scalar_one()
        expected = WARMUP_MESSAGES + sum(len(m) for _, m in workloads) + len(large)
        print(f"gateway stored {stored} messages (sent {expected}, warm-up included)")
    finally:
        spool.dispose()
        store.dispose()
    for number in range(1, nodes + 1):
        print_problems(folder / f"serve{number}.log", f"node {number}")
    return result


def steady_latency(
    node: Node, store: Engine, sink: latency.Sink, rate: float
) -> latency.Latency | None:
    """Post-to-inbox latency at `rate` (half the sustained rate) for STEADY_SECONDS, to
    a community that now has one member on instant delivery (node 1 only)."""
    if not rate > 0:
        return None
    gateway_command(node.config, "member", "add", "design", "reader@example.com",
                    "--delivery", "instant")  # fmt: skip
    count = max(50, min(int(rate * STEADY_SECONDS), 5000))
    mails = plain_mails(count, "steady")
    payloads = [(latency.message_id(mail.payload), mail) for mail in mails]
    return latency.measure(
        node.smtp_port, store, sink, payloads, rate, lambda smtp, mail: send(smtp, mail)[0]
    )


def print_latency(figures: latency.Latency | None) -> None:
    if figures is None:
        print("latency: not measured (no sustained rate)")
        return
    print(
        f"Latency under a steady {figures.rate:.0f} mails/s (half the sustained rate), "
        f"{figures.acked} of {figures.sent} mails acknowledged, node 1:"
    )
    print(f"  250 to its row in the store: p50 {figures.stored_p50 * 1000:.0f} ms, "
          f"p99 {figures.stored_p99 * 1000:.0f} ms")  # fmt: skip
    print(f"  250 to its first delivery at the sink: p50 {figures.delivered_p50 * 1000:.0f} ms, "
          f"p99 {figures.delivered_p99 * 1000:.0f} ms")  # fmt: skip
    if figures.missing:
        print(f"  {figures.missing} mail(s) not stored or not delivered within a minute")


def subtract(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {name: seconds - before.get(name, 0.0) for name, seconds in after.items()}


def print_by_process(cpu: dict[str, float], count: int, nodes: int, clients: float) -> None:
    """Node 1's share, by process: the SMTP edge (`gateway`), the pipeline
    (gateway-ingest), the delivery worker and the archive companion; then the
    bench's clients, which share the cores."""
    shares = cpu_shares(cpu, 1000 / count, 2)
    node = f"node 1 (of {nodes})" if nodes > 1 else "by process"
    print(f"    CPU s per 1,000 mails, {node}: {shares}; "
          f"the bench's clients {clients * 1000 / count:.2f}")  # fmt: skip


def print_problems(log: Path, name: str) -> None:
    problems = [
        line for line in log.read_text(errors="replace").splitlines() if PROBLEM.search(line)
    ]
    if problems:
        print(f"gateway log of {name}: {len(problems)} warning/error line(s), the first ones:")
        for line in problems[:5]:
            print(f"  {line[:200]}")


def print_summary(rounds: dict[tuple[str, int], list[Figures]]) -> None:
    """The 5 KB figures of every configuration's best run, with PG 1 node / SQLite and
    N / 1 node; with several rounds, each round's ratio to SQLite too."""
    best = {key: max(runs, key=lambda f: f.sustained_rate) for key, runs in rounds.items()}
    sqlite_figures = best.get(("sqlite", 1))
    repeat = max(len(runs) for runs in rounds.values())
    print(f"\n5 KB plain text, every configuration (sustained: first mail sent to last stored)"
          f"{f', best of {repeat} runs' if repeat > 1 else ''}:")  # fmt: skip
    print(f"{'database':<11} {'nodes':>5} {'ack msg/s':>10} {'sustained':>10} "
          f"{'CPU s/1000':>10} {'vs SQLite':>9} {'vs 1 node':>9}")  # fmt: skip
    for (database, nodes), figure in best.items():
        one_node = best.get((database, 1))
        rate = figure.sustained_rate
        versus_sqlite = ratio(rate, sqlite_figures and sqlite_figures.sustained_rate)
        versus_one = ratio(rate, one_node and one_node.sustained_rate)
        print(f"{database:<11} {nodes:>5} {figure.ack_rate:>10.1f} {rate:>10.1f} "
              f"{figure.cpu_per_1000:>10.1f} {versus_sqlite:>9} {versus_one:>9}")  # fmt: skip
    print("(vs SQLite and vs 1 node: ratios of the sustained rates)")
    sqlite_rounds = rounds.get(("sqlite", 1), [])
    if repeat > 1 and sqlite_rounds:
        for (database, nodes), runs in rounds.items():
            if database == "sqlite":
                continue
            each = [
                run.sustained_rate / sqlite_run.sustained_rate
                for run, sqlite_run in zip(runs, sqlite_rounds, strict=True)
            ]
            print(
                f"{database} {nodes} node(s) / SQLite, round by round: "
                f"{', '.join(f'{r:.2f}' for r in each)} (median {statistics.median(each):.2f})"
            )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the servers are stopped and the folder removed by now
        print("interrupted", file=sys.stderr)
        sys.exit(130)
