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

On PostgreSQL (--database postgresql or both), a throwaway durable server is started
from the installed binaries and --nodes 1,2,3 runs one, two and three `gateway serve`
nodes on it (one shared data folder; post i is sent to node i % N); SQLite runs one
node. Each run also prints the CPU seconds per 100,000 deliveries of the gateway's
processes and PostgreSQL's (node 1's also by process, and the sink's), and a last table
compares the configurations' best runs.

The posts are sent once the archive's first build after the start has written its
pages: that build renders a page for each of the members just imported (24 s of CPU
for 10,000 here), which is not the fan-out's work. Sent at once, the posts shared the
cores with it for their whole run, and with PostgreSQL's share of it on PostgreSQL.

    python bench/fanout.py [--members 1000,10000] [--modes batched,verp,personal] [--posts 100]
                           [--dkim off|on|both] [--repeat 1]
                           [--database sqlite|postgresql|both] [--nodes 1,2,3] [--pg-statements]
                           [--relay-connections N]
"""

from __future__ import annotations

import argparse
import csv
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import child_pid  # noqa: E402
from ingest import free_port  # noqa: E402
from ingest import gateway_command  # noqa: E402
from ingest import gateway_executable  # noqa: E402
from ingest import memory_mb  # noqa: E402
from ingest import server  # noqa: E402
from ingest import subtract  # noqa: E402
from latency import SINK  # noqa: E402
from nodes import DurablePostgres  # noqa: E402
from nodes import Node  # noqa: E402
from nodes import configurations  # noqa: E402
from nodes import cores_busy  # noqa: E402
from nodes import cpu_by_process  # noqa: E402
from nodes import cpu_seconds  # noqa: E402
from nodes import cpu_shares  # noqa: E402
from nodes import gateway_section  # noqa: E402
from nodes import machine_cpu  # noqa: E402
from nodes import parse_databases  # noqa: E402
from nodes import parse_nodes  # noqa: E402
from nodes import postgres_if  # noqa: E402
from nodes import ratio as ratio_text  # noqa: E402
from nodes import running  # noqa: E402
from nodes import start_nodes  # noqa: E402

DOMAIN = "lists.example.com"
POSTER = "poster@example.com"
# archive.build.MANIFEST, written last by a build (not imported: bench/archive.py is
# `archive` on this script's path).
MANIFEST = ".archive-manifest.json"


def configure(
    root: Path,
    smtp_port: int,
    sink_port: int,
    mode: str,
    database_url: str = "",
    node: int = 1,
    connections: int | None = None,
) -> Path:
    """Node `node`'s configuration; `connections` to the relay, or the gateway's default."""
    envelope = "verp" if mode == "verp" else "shared"
    config = root / f"gateway{node}.toml"
    config.write_text(
        gateway_section(DOMAIN, database_url, node) + f"[smtp]\nport = {smtp_port}\n"
        f'[relay]\nbackend = "smtp"\nhost = "127.0.0.1"\nport = {sink_port}\n'
        + (f"connections = {connections}\n" if connections else "")
        + f'[delivery]\nenvelope = "{envelope}"\nrecipients_per_transaction = 100\n'
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


@dataclass(frozen=True)
class Figures:
    rate: float  # deliveries per second
    cpu_per_100k: float  # CPU seconds of the gateway's processes and PostgreSQL's


def run(
    members: int,
    mode: str,
    count: int,
    dkim: bool,
    database: str = "sqlite",
    nodes: int = 1,
    postgres: DurablePostgres | None = None,
    relay_connections: int | None = None,
) -> Figures:
    """One run on `nodes` nodes (post i sent to node i % nodes); its rate and CPU cost."""
    with tempfile.TemporaryDirectory(prefix="fanout-") as folder:
        root = Path(folder)
        url = postgres.fresh_database() if postgres and database == "postgresql" else ""
        sink_port = free_port()
        cluster = [
            Node(configure(root, port, sink_port, mode, url, number, relay_connections), port)
            for number, port in enumerate((free_port() for _ in range(nodes)), 1)
        ]
        config = cluster[0].config
        seed(config, members)
        if dkim:  # a throwaway key; keygen turns signing on in the configuration
            gateway_command(config, "dkim", "keygen", "--bits", "2048")
            key = config.read_text().split("[dkim]", 1)[1]
            for node in cluster[1:]:
                node.config.write_text(node.config.read_text() + "[dkim]" + key)
        status = root / "sink.status"
        sink_command = [sys.executable, str(SINK), str(sink_port), str(status)]
        expected = members * count
        with (
            server(sink_command, sink_port, root / "sink.log") as sink,
            start_nodes(cluster, server, gateway_executable()) as pids,
        ):
            gateway = pids[0]
            wait_for_first_build(root / "site", gateway, root / "serve1.log")
            measured = pids + ([postgres.postmaster_pid()] if postgres and url else [])
            mails = posts(count)
            connections = [smtplib.SMTP("127.0.0.1", n.smtp_port, timeout=120) for n in cluster]
            for smtp in connections:
                smtp.ehlo()
            cpu_before, gateway_before = cpu_seconds(measured), cpu_seconds(pids)
            by_process_before = _by_process(gateway, sink.pid)
            machine_before = machine_cpu()
            for number, mail in enumerate(mails):
                connections[number % nodes].sendmail(POSTER, [f"all@{DOMAIN}"], mail)
                if not number:
                    first_accepted = time.time()
            for smtp in connections:
                smtp.quit()
            deadline = time.monotonic() + 3600
            peaks = {"serve": 0.0, "gateway-ingest": 0.0, "gateway-deliver": 0.0}
            while True:
                for name in peaks:
                    pid = gateway if name == "serve" else child_pid(gateway, name)
                    peaks[name] = max(peaks[name], memory_mb(pid, "VmHWM"))
                delivered, first, last, signed = sink_status(status)
                if delivered >= expected:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"only {delivered} of {expected} deliveries in an hour")
                time.sleep(0.1)
            busy = cores_busy(machine_before, machine_cpu())
            cpu = cpu_seconds(measured) - cpu_before
            by_process = subtract(_by_process(gateway, sink.pid), by_process_before)
            database_cpu = cpu - (cpu_seconds(pids) - gateway_before)
        if postgres and url:
            if postgres.statements:
                postgres.print_statements(url)
            postgres.forget(url)
        elapsed = last - first_accepted
        where = f"{database}, {nodes} node{'s' if nodes > 1 else ''}"
        print(
            f"{members:>7,} members  {mode:<8} {'DKIM' if dkim else 'no DKIM':<7}"
            f"  {count} posts  {expected:>10,} deliveries"
            f"  {elapsed:8.1f} s  {expected / elapsed:>9,.0f} deliveries/s"
            f" (the first after {first - first_accepted:.1f} s)"
            f"  peak MB: serve {peaks['serve']:.0f}, ingest {peaks['gateway-ingest']:.0f},"
            f" deliver {peaks['gateway-deliver']:.0f}; signed transactions {signed:,}"
            f"  [{where}: {cpu * 100_000 / expected:.1f} CPU s per 100,000 deliveries"
            + (f", PostgreSQL's {database_cpu * 100_000 / expected:.1f} of them" if url else "")
            + f"; machine: {busy}]",
            flush=True,
        )
        shares = cpu_shares(by_process, 100_000 / expected, 1)
        print(f"  CPU s per 100,000 deliveries, by process (node 1): {shares}", flush=True)
        if delivered != expected:
            print(f"  !! the sink counted {delivered} deliveries, {expected} expected")
        return Figures(expected / elapsed, cpu * 100_000 / expected)


def wait_for_first_build(site: Path, gateway: int, log: Path, timeout: float = 900) -> None:
    """Until the archive's build at the start has written its pages (its manifest goes
    last) and the site is idle, as it is between two posts of a running gateway. A
    gateway that stopped meanwhile stops the bench, with the last line of its log."""
    deadline = time.monotonic() + timeout
    while not (site / MANIFEST).exists():
        if not running(gateway):
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines() or [""]
            raise SystemExit(f"the gateway stopped before its first build: {lines[-1]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"the archive's first build did not end within {timeout:.0f} s")
        time.sleep(0.2)


def _by_process(gateway: int, sink: int) -> dict[str, float]:
    """CPU seconds of node 1's processes by name, and the sink's: the sink shares the
    cores, and what it takes is what the gateway's processes and the database cannot."""
    found = cpu_by_process(gateway)
    found["sink"] = sum(cpu_by_process(sink).values())
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", default="1000,10000")
    parser.add_argument("--modes", default="batched,verp")
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--dkim", choices=("off", "on", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql or both")
    parser.add_argument("--nodes", default="1", help="node counts to run on PostgreSQL, e.g. 1,2,3")
    parser.add_argument("--relay-connections", type=int, default=None,
                        help="each node's [relay] connections (default: its own)")  # fmt: skip
    parser.add_argument("--pg-statements", action="store_true",
                        help="list PostgreSQL's costliest statements after each run")  # fmt: skip
    options = parser.parse_args()
    runs = configurations(parse_databases(options.database), parse_nodes(options.nodes))
    print(f"python {sys.version.split()[0]}, gateway at {gateway_executable()}; "
          f"cores: {os.cpu_count()}")  # fmt: skip
    signing = {"off": [False], "on": [True], "both": [False, True]}[options.dkim]
    using_postgres = any(database == "postgresql" for database, _ in runs)
    best: dict[tuple[int, str, bool, str, int], Figures] = {}
    with postgres_if(using_postgres, options.pg_statements) as postgres:
        for members in (int(m) for m in options.members.split(",")):
            for mode in options.modes.split(","):
                for repetition in range(options.repeat):
                    for database, nodes in runs:
                        for dkim in signing if repetition % 2 == 0 else signing[::-1]:
                            key = (members, mode, dkim, database, nodes)
                            figures = run(members, mode, options.posts, dkim, database, nodes,
                                          postgres, options.relay_connections)  # fmt: skip
                            if key not in best or figures.rate > best[key].rate:
                                best[key] = figures
                for database, nodes in runs:
                    with_dkim = best.get((members, mode, True, database, nodes))
                    without = best.get((members, mode, False, database, nodes))
                    if with_dkim and without:
                        ratio = with_dkim.rate / without.rate
                        print(
                            f"{members:>7,} members  {mode:<8} {database} {nodes} node(s): best "
                            f"with DKIM / best without: {ratio:.3f}"
                            f" (signing costs {(1 - ratio) * 100:+.1f}%)",
                            flush=True,
                        )
    print_summary(best, options.repeat)


def print_summary(best: dict[tuple[int, str, bool, str, int], Figures], repeat: int) -> None:
    """Every configuration's best run, with PG 1 node / SQLite and N nodes / 1 node."""
    print(f"\nBest of {repeat} run(s) per configuration:")
    print(f"{'members':>8} {'mode':<8} {'DKIM':<4} {'database':<11} {'nodes':>5} "
          f"{'deliveries/s':>12} {'CPU s/100k':>10} {'vs SQLite':>9} {'vs 1 node':>9}")  # fmt: skip
    for (members, mode, dkim, database, nodes), figures in best.items():
        sqlite = best.get((members, mode, dkim, "sqlite", 1))
        one_node = best.get((members, mode, dkim, database, 1))
        versus_sqlite = ratio_text(figures.rate, sqlite and sqlite.rate)
        versus_one = ratio_text(figures.rate, one_node and one_node.rate)
        print(f"{members:>8,} {mode:<8} {'on' if dkim else 'off':<4} {database:<11} {nodes:>5} "
              f"{figures.rate:>12,.0f} {figures.cpu_per_100k:>10.1f} {versus_sqlite:>9} "
              f"{versus_one:>9}")  # fmt: skip


if __name__ == "__main__":
    subprocess.run([gateway_executable(), "--version"], capture_output=True, check=False)
    main()
