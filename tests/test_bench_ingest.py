"""bench/ingest.py's --repeat: a count below one is refused before anything starts, and
the summary compares the best runs and lists each round's ratio to SQLite."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.bench_scripts import BENCH
from tests.bench_scripts import loaded

SCRIPT = BENCH / "ingest.py"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    yield from loaded("ingest")


def test_a_repeat_below_one_is_refused_before_anything_starts() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--repeat", "0"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--repeat must be at least 1, not 0" in done.stderr
    assert "building messages" not in done.stdout  # no mail built, no server started


def test_the_summary_compares_the_best_runs_and_lists_each_round(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = bench.Figures
    bench.print_summary(
        {
            ("sqlite", 1): [figures(1000.0, 500.0, 2.0), figures(1000.0, 400.0, 2.0)],
            ("postgresql", 1): [figures(900.0, 300.0, 3.0), figures(900.0, 360.0, 3.0)],
        }
    )
    out = capsys.readouterr().out
    assert "best of 2 runs" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("postgresql ")]
    [postgresql] = [row for row in rows if "round" not in row]
    assert postgresql[3] == "360.0" and postgresql[5] == "0.72"  # the best: 360 / 500
    assert "round by round: 0.60, 0.90 (median 0.75)" in out


def test_free_ports_are_never_handed_out_twice_in_one_run(bench: ModuleType) -> None:
    """A closed probe's port comes back often: 2,000 probes repeat some for sure."""
    ports = [bench.free_port() for _ in range(2000)]
    assert len(set(ports)) == 2000
