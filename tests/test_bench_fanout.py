"""bench/fanout.py sends its posts once the archive's first build after the start has
written its pages (its manifest), and says so when that build never ends."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from archive.build import MANIFEST
from tests.bench_scripts import loaded


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    yield from loaded("fanout")


def test_the_bench_waits_for_the_manifest_the_archive_writes_last(bench: ModuleType) -> None:
    assert bench.MANIFEST == MANIFEST


def test_the_posts_wait_until_the_first_build_has_written_its_manifest(
    bench: ModuleType, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    written = threading.Timer(0.5, lambda: (site.mkdir(), (site / MANIFEST).write_text("{}")))
    began = time.monotonic()
    written.start()
    try:
        bench.wait_for_first_build(site, os.getpid(), tmp_path / "serve1.log", timeout=30)
    finally:
        written.cancel()
    assert (site / MANIFEST).exists()
    assert time.monotonic() - began >= 0.5


def test_a_first_build_that_never_ends_stops_the_bench_with_a_reason(
    bench: ModuleType, tmp_path: Path
) -> None:
    with pytest.raises(SystemExit, match="first build did not end within 1 s"):
        bench.wait_for_first_build(
            tmp_path / "site", os.getpid(), tmp_path / "serve1.log", timeout=1
        )


def test_a_gateway_that_stopped_before_its_first_build_stops_the_bench_with_its_log(
    bench: ModuleType, tmp_path: Path
) -> None:
    log = tmp_path / "serve1.log"
    log.write_text("starting\nError: cannot listen on 127.0.0.1:4000 ([web])\n")
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        while not (Path(f"/proc/{ended.pid}/stat").read_text().split(") ")[1].startswith("Z")):
            time.sleep(0.05)  # ended, not reaped yet: as `gateway serve` is until the end
        with pytest.raises(SystemExit, match=r"stopped before its first build: Error: cannot"):
            bench.wait_for_first_build(tmp_path / "site", ended.pid, log, timeout=30)
    finally:
        ended.wait()


def test_the_cores_busy_are_the_machines_busy_share_of_its_cores(bench: ModuleType) -> None:
    """The figure that says whether a run had cores to spare (two nodes on two cores)."""
    cores = os.cpu_count() or 1
    assert (
        bench.cores_busy((10.0, 90.0), (13.0, 91.0)) == f"{cores * 0.75:.2f} of {cores} cores busy"
    )


def test_the_machines_busy_seconds_count_what_this_process_spins(bench: ModuleType) -> None:
    before, began = bench.machine_cpu(), time.process_time()
    while time.process_time() - began < 0.3:
        pass
    assert bench.machine_cpu()[0] - before[0] >= 0.25
