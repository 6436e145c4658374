"""Benchmark of the foundation: CSV imports into the store, and blob writes.

Prints rows/s for `member import` and `profile import` of a generated CSV, blobs/s
for the blob store (new content and repeated content), and the peak memory of the
process. Runs on SQLite in a temporary folder unless --database-url names another
(empty or migrated) database.

    python bench/store.py [--rows 20000] [--blobs 2000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gateway.app import build_app
from gateway.app import init_store
from gateway.blobs import BlobStore
from gateway.community.communities import create_community
from gateway.community.communities import get_community
from gateway.community.members import import_members
from gateway.community.people import import_profiles
from gateway.settings import settings_from_dict
from gateway.store.db import transaction

DEPARTMENTS = ["Design", "Finance", "Legal", "Operations", "Research", "Sales"]
SKILLS = ["UX", "accessibility", "SQL", "contracts", "logistics", "pricing", "Python", "audit"]


def write_members_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,role,delivery\n")
        for i in range(rows):
            delivery = ("instant", "daily", "weekly")[i % 3]
            out.write(f"person{i}@example.com,Person {i},member,{delivery}\n")


def write_profiles_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("email;name;department;expertise;interests;phone\n")
        for i in range(rows):
            skills = f"{SKILLS[i % 8]}, {SKILLS[(i * 3) % 8]}"
            out.write(
                f"person{i}@example.com;Person {i};{DEPARTMENTS[i % 6]};{skills};"
                f"{SKILLS[(i + 5) % 8]};+33 1 00 00 {i % 100:02d}\n"
            )


def timed(label: str, count: int, unit: str, work: Callable[[], object]) -> None:
    start = time.perf_counter()
    work()
    elapsed = time.perf_counter() - start
    print(f"{label:<36} {count:>7} {unit} in {elapsed:6.2f} s  {count / elapsed:10.0f} {unit}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--blobs", type=int, default=2_000)
    parser.add_argument("--database-url", default="")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as folder:
        root = Path(folder)
        settings = settings_from_dict(
            {"gateway": {"data_dir": "data", "database_url": options.database_url}}, root
        )
        init_store(settings)
        app = build_app(settings)
        print(f"database: {app.engine.dialect.name}; rows: {options.rows}; cores: {os.cpu_count()}")
        with transaction(app.sessions) as session:
            create_community(session, "bench", "Bench")
        members_csv, profiles_csv = root / "members.csv", root / "profiles.csv"
        write_members_csv(members_csv, options.rows)
        write_profiles_csv(profiles_csv, options.rows)

        def import_members_file() -> None:
            with transaction(app.sessions) as session:
                import_members(session, get_community(session, "bench"), members_csv)

        def import_profiles_file() -> None:
            with transaction(app.sessions) as session:
                import_profiles(session, profiles_csv)

        timed("member import (new members)", options.rows, "rows", import_members_file)
        timed("member import (again, no change)", options.rows, "rows", import_members_file)
        timed("profile import (tags, departments)", options.rows, "rows", import_profiles_file)

        blobs = BlobStore(root / "blobs")
        payloads = [os.urandom(64) * 160 for _ in range(options.blobs)]  # about 10 KB each
        timed("blob put (new, fsynced)", options.blobs, "blobs",
              lambda: [blobs.put(p) for p in payloads])  # fmt: skip
        timed("blob put (same content again)", options.blobs, "blobs",
              lambda: [blobs.put(p) for p in payloads])  # fmt: skip
        app.close()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
