"""bench/pipeline.py end to end on a few hundred mails: the stages of one batch are timed,
every mail spooled is stored (the bench checks it), and the rounds alternate with the
reference checkout, here this tree itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.bench_scripts import BENCH

STAGES = (
    "claim",
    "parse, blobs written ahead",
    "store (thread, write rows)",
    "blob sync (syncfs, rename)",
    "commit",
    "finish the claim",
)


def test_a_small_run_times_each_stage_and_compares_with_the_reference(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "pipeline.py"), "--messages", "300", "--rounds", "2",
         "--reference", str(BENCH.parent)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "TMPDIR": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "stages of 128 mails in batches run one after the other, ms per mail:" in lines
    timed = {line.split("  ")[1].strip() for line in lines if line.startswith("  ") and "." in line}
    assert set(STAGES) <= timed
    rounds = [line for line in lines if line.startswith("round ")]
    assert [line.split(":")[0] for line in rounds] == [
        "round 1, reference",
        "round 1, this tree",
        "round 2, this tree",
        "round 2, reference",
    ]
    assert any(line.startswith("this tree / reference: median ") for line in lines)
    assert list(tmp_path.iterdir()) == []  # the rounds' folders are removed
