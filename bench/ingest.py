"""Benchmark of SMTP ingest: a real `gateway serve` against a bare aiosmtpd that answers 250.

Both servers run as subprocesses; C client threads each hold one smtplib connection
and send their share of N messages over it. For each workload and server it prints
messages/s, p50 and p99 of the time from MAIL FROM to the final reply after DATA,
and the gateway/bare ratio of messages/s. Workloads: (a) 5 KB plain-text mails
(unique Message-IDs, some replies in a few threads), (b) mails with a 1 MB
attachment, (c) a few 25 MB mails to the gateway alone. It also prints the peak
memory (VmHWM) of the `gateway serve` process during the 5 KB and 25 MB runs.

The gateway runs as shipped: SQLite under a temporary folder, synchronous=FULL,
fsynced blobs, so every 250 means the mail is on disk. Message bytes are built
before the clock starts; the clients send them pre-quoted, so the timings are
mostly the servers' (clients and servers share the machine's cores).

    python bench/ingest.py [--messages 2000] [--clients 10] [--attachment-messages 100]
                           [--large-messages 6] [--large-clients 2]
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
import sqlite3
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

DOMAIN = "lists.example.com"
RECIPIENT = f"design@{DOMAIN}"
MAX_MESSAGE_SIZE = 30 * 1024 * 1024  # [smtp] max_message_size, for both servers
THREADS = 8  # conversations in the 5 KB workload; a quarter of its mails are replies
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


def plain_mails(count: int, run: str) -> list[Mail]:
    """About 5 KB each; every fourth one after the first THREADS replies in a conversation."""
    mails, latest = [], {}
    for number in range(count):
        sender = f"person{number % 50}@example.com"
        message_id = f"{run}-plain-{number}@example.com"
        conversation = number % THREADS
        parent = latest.get(conversation) if number % 4 == 0 else None
        if number < THREADS or parent:
            latest[conversation] = message_id
        head = headers(sender, f"Topic {conversation}", message_id, parent)
        head += b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        mails.append(prepare(sender, head + text_body(number, PLAIN_SIZE - len(head))))
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
    """One mail transaction; returns the first reply that is not the expected one, or 250."""
    code, reply = smtp.mail(mail.sender)
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


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def blast(port: int, mails: list[Mail], clients: int) -> Run:
    """Send the mails from `clients` threads, mail i by thread i % clients; time the whole."""
    clients = max(1, min(clients, len(mails)))
    outcome = Outcome()
    start, stop = threading.Barrier(clients + 1), threading.Event()
    threads = [
        threading.Thread(
            target=client, args=(port, mails[c::clients], start, stop, outcome), daemon=True
        )  # fmt: skip
        for c in range(clients)
    ]
    for thread in threads:
        thread.start()
    try:
        start.wait()  # every client is connected and has said EHLO
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def gateway_executable() -> str:
    beside_python = Path(sys.executable).parent / "gateway"
    return str(beside_python) if beside_python.exists() else "gateway"


def timed_gateway(root: Path, config: Path, *args: str) -> tuple[float, float, bytes]:
    """Seconds, peak memory (MB) and standard output of one whole `gateway` command (its
    start-up included); exits with its output when it fails."""
    command = [gateway_executable(), "--config", str(config), *args]
    began = time.perf_counter()
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    if status != 0:
        sys.exit(f"gateway {' '.join(args)} failed: {output.decode(errors='replace')}")
    return seconds, usage.ru_maxrss / 1024, output


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


def wait_ingested(spool: Path) -> float:
    """Seconds until the gateway's pipeline has taken every spooled mail."""
    began = time.perf_counter()
    while True:
        with sqlite3.connect(spool) as connection:
            [[waiting]] = connection.execute("SELECT count(*) FROM inbox").fetchall()
        if not waiting:
            return time.perf_counter() - began
        time.sleep(0.01)


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

PROBLEM = re.compile(r"WARNING|ERROR|Traceback")
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
    options = parser.parse_args()
    # A plain `kill` of the bench also stops the servers and removes the folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    run = f"bench{os.getpid()}-{int(time.time())}"
    print(f"building messages: {options.messages} x 5 KB, {options.attachment_messages} x 1 MB, "
          f"{options.large_messages} x 25 MB ...", flush=True)  # fmt: skip
    warmup = plain_mails(WARMUP_MESSAGES, run + "-warmup")
    plain = plain_mails(options.messages, run)
    attached = attachment_mails(
        options.attachment_messages, run, "attached", ATTACHMENT_SIZE * 78 // 57
    )
    large = attachment_mails(options.large_messages, run, "large", LARGE_SIZE - 2000)

    with tempfile.TemporaryDirectory(prefix="gateway-bench-ingest-") as folder:
        root = Path(folder)
        gateway_port, bare_port = free_port(), free_port()
        config = root / "gateway.toml"
        config.write_text(
            f'[gateway]\ndomain = "{DOMAIN}"\ndata_dir = "data"\n'
            f"[smtp]\nport = {gateway_port}\nmax_message_size = {MAX_MESSAGE_SIZE}\n"
            "[web]\nenabled = false\n"
        )
        gateway_command(config, "init")
        gateway_command(config, "community", "create", "design", "--name", "Design",
                        "--policy", "open")  # fmt: skip
        gateway_cmd = [gateway_executable(), "--config", str(config), "serve"]
        bare_cmd = [sys.executable, "-c", BARE_SERVER, str(bare_port), str(MAX_MESSAGE_SIZE)]
        with (
            server(gateway_cmd, gateway_port, root / "serve.log") as gateway,
            server(bare_cmd, bare_port, root / "bare.log") as bare,
        ):
            print(f"cores: {os.cpu_count()}; clients: {options.clients}; "
                  f"data folder on {filesystem_of(root)} (SQLite synchronous=FULL, fsynced "
                  f"blobs); latency: MAIL FROM to the final reply after DATA")  # fmt: skip
            for port in (bare_port, gateway_port):
                blast(port, warmup, min(options.clients, WARMUP_MESSAGES))
            print(f"gateway memory after start and {WARMUP_MESSAGES} warm-up mails: "
                  f"{memory_mb(gateway.pid, 'VmRSS'):.0f} MB")  # fmt: skip
            print()
            print_header()

            database = root / "data" / "spool.sqlite3"
            wait_ingested(database)
            child = child_pid(gateway.pid, "gateway-ingest")
            peaks: dict[str, tuple[float, float]] = {}
            pipeline: list[tuple[str, int, float]] = []
            exact = True
            workloads = [("5 KB plain text", plain), ("1 MB attachment", attached)]
            ratios = []
            for workload, mails in workloads:
                if not mails:
                    continue
                bare_run = blast(bare_port, mails, options.clients)
                print_run(workload, "bare", bare_run)
                exact = reset_peak_memory(gateway.pid) and reset_peak_memory(child)
                gateway_run = blast(gateway_port, mails, options.clients)
                drained = wait_ingested(database)
                pipeline.append((workload, len(mails), gateway_run.seconds + drained))
                peaks[workload] = (memory_mb(gateway.pid, "VmHWM"), memory_mb(child, "VmHWM"))
                print_run(workload, "gateway", gateway_run)
                ratios.append((workload, gateway_run.rate / bare_run.rate))
            if large:
                exact = reset_peak_memory(gateway.pid) and reset_peak_memory(child)
                large_run = blast(gateway_port, large, options.large_clients)
                drained = wait_ingested(database)
                pipeline.append(("25 MB messages", len(large), large_run.seconds + drained))
                peaks["25 MB messages"] = (
                    memory_mb(gateway.pid, "VmHWM"),
                    memory_mb(child, "VmHWM"),
                )
                print_run("25 MB messages", "gateway", large_run)

            print()
            for workload, ratio in ratios:
                print(f"gateway/bare messages/s, {workload}: {ratio:.2f}")
            print()
            print("The 250 comes once a mail is spooled; the pipeline (parse, thread, store)")
            print("runs behind it. Until every mail of a run was through the pipeline:")
            for workload, count, seconds in pipeline:
                print(f"  {workload}: {count} mails in {seconds:.2f} s, "
                      f"{count / seconds:.1f} mails/s through the whole pipeline")  # fmt: skip
            print()
            since = "during that run" if exact else "since the gateway started"
            print(f"gateway peak memory (VmHWM) {since}:")
            for workload, (smtp_peak, pipeline_peak) in peaks.items():
                print(f"  {workload}: SMTP process {smtp_peak:.0f} MB, "
                      f"pipeline process {pipeline_peak:.0f} MB")  # fmt: skip
            print(f"bare server peak memory (VmHWM) since start: "
                  f"{memory_mb(bare.pid, 'VmHWM'):.0f} MB")  # fmt: skip

        database = root / "data" / "gateway.sqlite3"
        if database.is_file():
            with sqlite3.connect(database) as connection:
                [[stored]] = connection.execute("SELECT count(*) FROM messages").fetchall()
            expected = WARMUP_MESSAGES + len(plain) + len(attached) + len(large)
            print(f"gateway stored {stored} messages (sent {expected}, warm-up included)")
        log = (root / "serve.log").read_text(errors="replace")
        problems = [
            line for line in log.splitlines() if re.search(r"WARNING|ERROR|Traceback", line)
        ]
        if problems:
            print(f"gateway log: {len(problems)} warning/error line(s), the first ones:")
            for line in problems[:5]:
                print(f"  {line[:200]}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the servers are stopped and the folder removed by now
        print("interrupted", file=sys.stderr)
        sys.exit(130)
