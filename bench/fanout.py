"""Benchmark of instant delivery: posts to a big community, fanned out to a loopback SMTP sink.

A real `gateway serve` (SQLite, as shipped) relays to a minimal sink server in its
own process, which speaks just enough ESMTP (PIPELINING, SIZE, 8BITMIME) to take
mail as fast as a real MTA's front end, and counts the recipients of each
accepted message. For each community size and envelope mode it sends P small
posts over SMTP and prints the time from the first post's 250 to the last
delivery the sink received, deliveries/s, and the peak memory (VmHWM) of the
gateway's processes.

Modes: "batched" ([delivery] envelope = "shared": up to 100 recipients per
transaction) and "verp" (envelope = "verp" with a relay that has no XVERP: one
transaction per recipient, each with its own bounces+alice=example.com@ sender),
and "personal" ([delivery] personal_copies = true: each member's copy has their own
one-click unsubscribe URL, one transaction per recipient; envelope = "shared").

DKIM: with --dkim both (the default) each size and mode runs without and then with
DKIM signing (a throwaway 2048-bit key from `gateway dkim keygen`), and a last line
gives the ratio of the two rates; the sink counts the signed transactions it got.
Runs on a shared 2-core machine vary by 20% from one to the next: --repeat N runs
each N times, alternating, and the ratio compares the best rate of each.

    python bench/fanout.py [--members 1000,10000] [--modes batched,verp,personal] [--posts 100]
                           [--dkim off|on|both] [--repeat 1]
"""

from __future__ import annotations

import argparse
import csv
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import child_pid  # noqa: E402
from ingest import free_port  # noqa: E402
from ingest import gateway_command  # noqa: E402
from ingest import gateway_executable  # noqa: E402
from ingest import memory_mb  # noqa: E402
from ingest import server  # noqa: E402

DOMAIN = "lists.example.com"
POSTER = "poster@example.com"

# The sink: counts recipients per accepted DATA, and writes "delivered first last"
# (epoch seconds) to its status file whenever the count changed, every 20 ms.
SINK = r"""
import asyncio, signal, sys, time

STATUS = sys.argv[2]
state = {"delivered": 0, "first": 0.0, "last": 0.0, "written": -1, "signed": 0}

class Sink(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer, self.in_data, self.recipients = transport, b"", False, 0
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, chunk):
        self.buffer += chunk
        out = []
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    break
                state["signed"] += self.buffer.startswith(b"\r\nDKIM-Signature:")
                self.buffer = self.buffer[end + 5:]
                self.in_data = False
                now = time.time()
                if not state["delivered"]:
                    state["first"] = now
                state["delivered"] += self.recipients
                state["last"] = now
                self.recipients = 0
                out.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                break
            line, self.buffer = self.buffer[:end], self.buffer[end + 2:]
            verb = line[:4].upper()
            if verb == b"EHLO":
                out.append(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n")
            elif verb == b"MAIL":
                self.recipients = 0
                out.append(b"250 2.1.0 Ok\r\n")
            elif verb == b"RCPT":
                self.recipients += 1
                out.append(b"250 2.1.5 Ok\r\n")
            elif verb == b"DATA":
                self.buffer = b"\r\n" + self.buffer  # so a body ending at once is found
                self.in_data = True
                out.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"".join(out) + b"221 2.0.0 Bye\r\n")
                self.transport.close()
                return
            else:
                out.append(b"250 2.0.0 Ok\r\n")
        if out:
            self.transport.write(b"".join(out))

async def report():
    while True:
        await asyncio.sleep(0.02)
        if state["delivered"] != state["written"]:
            state["written"] = state["delivered"]
            with open(STATUS + ".tmp", "w") as f:
                f.write(f'{state["delivered"]} {state["first"]} {state["last"]} {state["signed"]}')
            import os; os.replace(STATUS + ".tmp", STATUS)

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Sink, "127.0.0.1", int(sys.argv[1]))
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    task = asyncio.create_task(report())
    await stop.wait()
    task.cancel()
    server.close()

asyncio.run(main())
"""


def configure(root: Path, smtp_port: int, sink_port: int, mode: str) -> Path:
    envelope = "verp" if mode == "verp" else "shared"
    config = root / "gateway.toml"
    config.write_text(
        f'[gateway]\ndomain = "{DOMAIN}"\ndata_dir = "data"\n'
        f"[smtp]\nport = {smtp_port}\n"
        f'[relay]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {sink_port}\n'
        f'[delivery]\nenvelope = "{envelope}"\nrecipients_per_transaction = 100\n'
        f"personal_copies = {'true' if mode == 'personal' else 'false'}\n"
        f'[web]\nport = {free_port()}\nbase_url = "https://{DOMAIN}/"\n',
        encoding="utf-8",
    )
    return config


def seed(config: Path, members: int) -> None:
    """One community; the poster may post but is not a member, so every post goes to
    exactly `members` people."""
    gateway_command(config, "init")
    gateway_command(config, "community", "create", "all", "--name", "Everyone",
                    "--policy", "open")  # fmt: skip
    table = config.parent / "members.csv"
    with table.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "name"])
        writer.writerows([f"member{n}@example.com", f"Member {n}"] for n in range(members))
    gateway_command(config, "member", "import", "all", str(table))


def posts(count: int) -> list[bytes]:
    body = ("A short post, as most are: a question, a link, a thank-you.\r\n" * 8).encode()
    return [
        b"From: Poster <poster@example.com>\r\n"
        + f"To: all@{DOMAIN}\r\nSubject: Post {n}\r\n".encode()
        + f"Message-ID: <fanout-{n}@example.com>\r\n".encode()
        + b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + body
        for n in range(count)
    ]


def sink_status(path: Path) -> tuple[int, float, float, int]:
    try:
        delivered, first, last, signed = path.read_text().split()
    except (FileNotFoundError, ValueError):
        return 0, 0.0, 0.0, 0
    return int(delivered), float(first), float(last), int(signed)


def run(members: int, mode: str, count: int, dkim: bool) -> float:
    """One run; its rate in deliveries per second."""
    with tempfile.TemporaryDirectory(prefix="fanout-") as folder:
        root = Path(folder)
        smtp_port, sink_port = free_port(), free_port()
        config = configure(root, smtp_port, sink_port, mode)
        seed(config, members)
        if dkim:  # a throwaway key; keygen turns signing on in the configuration
            gateway_command(config, "dkim", "keygen", "--bits", "2048")
        status = root / "sink.status"
        sink_command = [sys.executable, "-c", SINK, str(sink_port), str(status)]
        serve_command = [gateway_executable(), "--config", str(config), "serve"]
        expected = members * count
        with server(sink_command, sink_port, root / "sink.log"):
            with server(serve_command, smtp_port, root / "gateway.log") as gateway:
                mails = posts(count)
                with smtplib.SMTP("127.0.0.1", smtp_port, timeout=120) as smtp:
                    smtp.ehlo()
                    smtp.sendmail(POSTER, [f"all@{DOMAIN}"], mails[0])
                    first_accepted = time.time()
                    for mail in mails[1:]:
                        smtp.sendmail(POSTER, [f"all@{DOMAIN}"], mail)
                deadline = time.monotonic() + 3600
                peaks = {"serve": 0.0, "gateway-ingest": 0.0, "gateway-deliver": 0.0}
                while True:
                    for name in peaks:
                        pid = gateway.pid if name == "serve" else child_pid(gateway.pid, name)
                        peaks[name] = max(peaks[name], memory_mb(pid, "VmHWM"))
                    delivered, _, last, signed = sink_status(status)
                    if delivered >= expected:
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"only {delivered} of {expected} deliveries in an hour")
                    time.sleep(0.1)
        elapsed = last - first_accepted
        print(
            f"{members:>7,} members  {mode:<8} {'DKIM' if dkim else 'no DKIM':<7}"
            f"  {count} posts  {expected:>10,} deliveries"
            f"  {elapsed:8.1f} s  {expected / elapsed:>9,.0f} deliveries/s"
            f"  peak MB: serve {peaks['serve']:.0f}, ingest {peaks['gateway-ingest']:.0f},"
            f" deliver {peaks['gateway-deliver']:.0f}; signed transactions {signed:,}",
            flush=True,
        )
        if delivered != expected:
            print(f"  !! the sink counted {delivered} deliveries, {expected} expected")
        return expected / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", default="1000,10000")
    parser.add_argument("--modes", default="batched,verp")
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--dkim", choices=("off", "on", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=1)
    options = parser.parse_args()
    print(f"python {sys.version.split()[0]}, gateway at {gateway_executable()}")
    signing = {"off": [False], "on": [True], "both": [False, True]}[options.dkim]
    for members in (int(m) for m in options.members.split(",")):
        for mode in options.modes.split(","):
            best = dict.fromkeys(signing, 0.0)
            for repetition in range(options.repeat):
                for dkim in signing if repetition % 2 == 0 else signing[::-1]:
                    best[dkim] = max(best[dkim], run(members, mode, options.posts, dkim))
            if len(best) == 2:
                ratio = best[True] / best[False]
                print(
                    f"{members:>7,} members  {mode:<8} best with DKIM / best without: {ratio:.3f}"
                    f" (signing costs {(1 - ratio) * 100:+.1f}%)",
                    flush=True,
                )


if __name__ == "__main__":
    subprocess.run([gateway_executable(), "--version"], capture_output=True, check=False)
    main()
