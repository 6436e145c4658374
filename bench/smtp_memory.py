"""Benchmark of the SMTP process's memory under sessions that send DATA and never finish.

A real `gateway serve` (SQLite, as shipped) is sent, by 40 sessions one after the
other, 20 MiB of DATA each, never ended by its final dot; the sessions stay open. It
prints the resident memory (VmRSS) of the SMTP process before and after each round,
its peak (VmHWM), and the replies the sessions got (354: the data was taken in;
452 4.3.1: refused by [smtp] max_data_memory; 421 4.7.0: by [smtp] max_sessions).
With --unbounded both caps are set as high as the settings allow, which is how the
gateway behaved before them (issue 16, item 6: 124 MB to 989 MB).

    python bench/smtp_memory.py [--sessions 40] [--mib 20] [--rounds 3] [--unbounded]
"""

from __future__ import annotations

import argparse
import collections
import socket
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(PROJECT))

from ingest import free_port  # noqa: E402
from ingest import gateway_command  # noqa: E402
from ingest import gateway_executable  # noqa: E402
from ingest import memory_mb  # noqa: E402
from ingest import server  # noqa: E402

DOMAIN = "lists.example.com"
LINE = b"x" * 998 + b"\r\n"


def configure(root: Path, port: int, unbounded: bool) -> Path:
    limits = "max_sessions = 10000\nmax_data_memory = 68719476736\n" if unbounded else ""
    config = root / "gateway.toml"
    config.write_text(
        f'[gateway]\ndomain = "{DOMAIN}"\ndata_dir = "data"\n'
        f"[smtp]\nport = {port}\n{limits}"
        "[archive]\npublish = false\n[web]\nenabled = false\n",
        encoding="utf-8",
    )
    return config


def reply(connection: socket.socket) -> str:
    """One SMTP reply (its last line), read byte by byte: the bench sends no pipelining."""
    data = b""
    while True:
        chunk = connection.recv(4096)
        if not chunk:
            return data.decode(errors="replace").strip() or "closed"
        data += chunk
        lines = data.split(b"\r\n")
        if len(lines) > 1 and len(lines[-2]) >= 4 and lines[-2][3:4] == b" ":
            return lines[-2].decode(errors="replace")


def unfinished_session(port: int, mib: int) -> tuple[socket.socket, str]:
    """A session that sends `mib` MiB of DATA and no final dot; its DATA reply code."""
    connection = socket.create_connection(("127.0.0.1", port))
    greeting = reply(connection)
    if not greeting.startswith("220"):
        return connection, greeting.split(" ")[0]
    for command in (b"EHLO bench.example", b"MAIL FROM:<alice@example.com>",
                    f"RCPT TO:<all@{DOMAIN}>".encode()):  # fmt: skip
        connection.sendall(command + b"\r\n")
        reply(connection)
    connection.sendall(b"DATA\r\n")
    answer = reply(connection)
    if answer.startswith("354"):
        chunk = LINE * 1024  # about 1 MiB
        for _ in range(mib):
            connection.sendall(chunk)
    return connection, answer.split(" ")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--mib", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--unbounded", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smtp-memory-") as folder:
        root = Path(folder)
        port = free_port()
        config = configure(root, port, options.unbounded)
        gateway_command(config, "init")
        gateway_command(config, "community", "create", "all", "--name", "All",
                        "--policy", "open")  # fmt: skip
        command = [gateway_executable(), "--config", str(config), "serve"]
        with server(command, port, root / "serve.log") as process:
            time.sleep(2)  # let start-up settle
            caps = "unbounded" if options.unbounded else "as shipped"
            print(f"caps {caps}: {options.sessions} sessions x {options.mib} MiB, unfinished")
            print(f"idle: VmRSS {memory_mb(process.pid, 'VmRSS'):.0f} MB")
            for round_number in range(1, options.rounds + 1):
                sessions = [unfinished_session(port, options.mib) for _ in range(options.sessions)]
                time.sleep(1)  # the server reads what is still in its socket buffers
                codes = collections.Counter(answer for _, answer in sessions)
                answers = ", ".join(f"{code} x{n}" for code, n in sorted(codes.items()))
                print(f"round {round_number}: VmRSS {memory_mb(process.pid, 'VmRSS'):.0f} MB, "
                      f"peak VmHWM {memory_mb(process.pid, 'VmHWM'):.0f} MB; "
                      f"answers {answers}")  # fmt: skip
                for connection, _ in sessions:
                    connection.close()
                time.sleep(2)
                print(f"  after closing: VmRSS {memory_mb(process.pid, 'VmRSS'):.0f} MB")


if __name__ == "__main__":
    main()
