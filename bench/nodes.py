"""What the ingest and fan-out benches share to run on SQLite or on PostgreSQL with N nodes.

A throwaway PostgreSQL server started from the installed binaries (the tests' helper,
tests/postgres.py, but durable: fsync, synchronous_commit and full-page writes on, as
a production server runs, so that its figures compare with SQLite's synchronous=FULL),
a fresh database per run, N `gateway serve` nodes on it with their own node_id and
ports and one shared data folder, and the CPU seconds that the gateway's processes
and PostgreSQL's spent during a run (from /proc: a process's own time plus that of
its children it has reaped, so exited PostgreSQL backends count too), and what making
a file costs in the data folder, which every mail's blob pays.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import ExitStack
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.postgres import DB_USER  # noqa: E402
from tests.postgres import PostgresServer  # noqa: E402
from tests.postgres import find_bindir  # noqa: E402

DATABASES = ("sqlite", "postgresql")
_databases = itertools.count()


def parse_databases(value: str) -> list[str]:
    """--database sqlite|postgresql|both, as a list."""
    if value == "both":
        return list(DATABASES)
    if value not in DATABASES:
        raise SystemExit(f"--database must be sqlite, postgresql or both, not {value!r}")
    return [value]


def parse_nodes(value: str) -> list[int]:
    """--nodes 1,2,3, as a list of positive counts."""
    counts = [int(n) for n in value.split(",") if n.strip()]
    if not counts or min(counts) < 1:
        raise SystemExit(f"--nodes must list node counts of at least 1, not {value!r}")
    return counts


def configurations(databases: list[str], nodes: list[int]) -> list[tuple[str, int]]:
    """(database, nodes) to run: SQLite with one node only (one writer per file)."""
    runs = []
    for database in databases:
        for count in nodes:
            if database == "sqlite" and count > 1:
                print(f"(SQLite runs one node only: {count} nodes skipped)")
                continue
            runs.append((database, count))
    return runs


class DurablePostgres(PostgresServer):
    """The tests' throwaway server, with the durability settings of a real one;
    `statements`: with pg_stat_statements loaded, to list the costly statements."""

    statements = False

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", DB_USER,
                  "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8")  # fmt: skip
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c max_connections=200 -c shared_buffers=256MB"
        )
        if self.statements:
            options += " -c shared_preload_libraries=pg_stat_statements"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")  # fmt: skip

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def fresh_database(self) -> str:
        """A new empty database's SQLAlchemy URL."""
        name = f"bench_{os.getpid()}_{next(_databases)}"
        self.execute(f"CREATE DATABASE {name}")
        if self.statements:
            self.execute_in(name, "CREATE EXTENSION pg_stat_statements")
        return self.url(name)

    def forget(self, url: str) -> None:
        """Drop a run's database and write out the pages it left in memory, so that the
        next run pays nothing for this one: a VACUUM ANALYZE of a fan-out's 200,000
        copies came 30 s after its run, and the next checkpoint writes its pages."""
        self.execute(f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)")
        self.execute("CHECKPOINT")

    def execute_in(self, database: str, sql: str) -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=DB_USER, dbname=database,
                             autocommit=True) as connection:  # fmt: skip
            cursor = connection.execute(sql)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def print_statements(self, url: str, top: int = 12) -> None:
        """The statements that took the most time in the database of `url`."""
        database = url.rsplit("/", 1)[1]
        rows = self.execute_in(
            database,
            "SELECT round(total_exec_time)::int, calls, rows, left(regexp_replace(query, "
            "'\\s+', ' ', 'g'), 150) FROM pg_stat_statements WHERE dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "ORDER BY total_exec_time DESC "
            f"LIMIT {top}",
        )
        print("  PostgreSQL statements by total time (ms, calls, rows, statement):")
        for total, calls, count, query in rows:
            print(f"    {total:>7} {calls:>7} {count:>8}  {query}")


@contextmanager
def postgres_if(needed: bool, statements: bool = False) -> Iterator[DurablePostgres | None]:
    """A durable server for the run when PostgreSQL is among the databases."""
    if not needed:
        yield None
        return
    server = DurablePostgres(find_bindir())
    server.statements = statements
    server.start()
    try:
        yield server
    finally:
        server.stop()


def gateway_section(domain: str, database_url: str, node: int) -> str:
    """The [gateway] table of node `node` (numbered from 1): one data folder for all."""
    lines = [f'domain = "{domain}"', 'data_dir = "data"', f'node_id = "node{node}"']
    if database_url:
        lines.append(f'database_url = "{database_url}"')
    return "[gateway]\n" + "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Node:
    config: Path
    smtp_port: int


@contextmanager
def start_nodes(
    nodes: list[Node],
    start: Callable[[list[str], int, Path], object],
    executable: str,
) -> Iterator[list[int]]:
    """`gateway serve` for each node (start: the bench's server() context manager);
    yields their process ids."""
    with ExitStack() as stack:
        pids = []
        for number, node in enumerate(nodes, 1):
            command = [executable, "--config", str(node.config), "serve"]
            log = node.config.parent / f"serve{number}.log"
            process = stack.enter_context(start(command, node.smtp_port, log))  # type: ignore[arg-type]
            pids.append(process.pid)
        yield pids


TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name (state first); none once gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return stat[stat.rindex(")") + 2 :].split()


def _process_cpu(pid: int) -> float:
    """utime + stime + cutime + cstime of one process, in seconds (0 once it is gone)."""
    fields = _stat_fields(pid)
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS if fields else 0.0


def running(pid: int) -> bool:
    """Whether the process is there and not ended (a zombie waiting to be reaped)."""
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] != "Z"


def _children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found = []
    for task in tasks:
        try:
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its descendants, living and reaped."""
    return sum(cpu_by_process(pid).values())


def cpu_seconds(pids: list[int]) -> float:
    return sum(tree_cpu(pid) for pid in pids)


def cpu_by_process(pid: int) -> dict[str, float]:
    """CPU seconds of a process and each of its descendants, by the name `ps` shows
    (`gateway serve`'s children name themselves: gateway-ingest, gateway-deliver...)."""
    found: dict[str, float] = {}
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            name = Path(f"/proc/{current}/comm").read_text().strip()
        except OSError:
            continue
        found[name] = found.get(name, 0.0) + _process_cpu(current)
        pending += _children(current)
    return found


def machine_cpu() -> tuple[float, float]:
    """The machine's busy and idle CPU seconds since boot, all cores (/proc/stat's first
    line; iowait counts as idle): with cores_busy, whether a run had cores to spare."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / TICKS, idle / TICKS


def cores_busy(before: tuple[float, float], after: tuple[float, float]) -> str:
    """ "N.NN of C cores busy" between two machine_cpu() readings: every process's work,
    the bench's own and other users' of a shared machine included."""
    busy, idle = after[0] - before[0], after[1] - before[1]
    cores = os.cpu_count() or 1
    share = busy / (busy + idle) if busy + idle > 0 else 0.0
    return f"{cores * share:.2f} of {cores} cores busy"


def cpu_shares(cpu: dict[str, float], scale: float, digits: int) -> str:
    """ "name seconds, ..." for the processes that took CPU, the largest first, each
    scaled (per 1,000 mails, per 100,000 deliveries)."""
    return ", ".join(
        f"{name} {seconds * scale:.{digits}f}"
        for name, seconds in sorted(cpu.items(), key=lambda item: -item[1])
        if seconds > 0
    )


def ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}" if base else "-"


def making_files(folder: Path, count: int = 500) -> str:
    """What making a folder and a 5 KB file costs in `folder`, as the gateway does for
    each mail's blob. On the machines here it moved between 25 us and 800 us from one
    minute to the next, the machine otherwise idle: a figure for the disk's state."""
    where = folder / "making-files"
    where.mkdir()
    began = time.perf_counter()
    for number in range(count):
        (where / str(number)).mkdir()
    made = time.perf_counter()
    for number in range(count):
        (where / str(number) / "blob").write_bytes(b"x" * 5120)
    ended = time.perf_counter()
    shutil.rmtree(where)
    return (f"{(made - began) * 1e6 / count:.0f} us to make a folder, "
            f"{(ended - made) * 1e6 / count:.0f} us to make a 5 KB file")  # fmt: skip
