"""A short fuzz pass in CI: 400 mutated and generated mails through a real `gateway serve`.

bench/fuzz.py does the work (docs/development.md says how to run a long pass); here
its invariants must all hold: every 250 taken by the pipeline, no traceback in the
log, no delivery left "sending", the server still answering, memory bounded.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SEED = 16  # a failure replays with: python bench/fuzz.py --seed 16 --count 400
MAILS = 400
MAX_MB = 1024  # per process; a pass peaks at about 350 (the inbox processor)


def load_fuzz() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_fuzz", ROOT / "bench" / "fuzz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_short_fuzz_pass_keeps_every_invariant(tmp_path: Path) -> None:
    fuzz = load_fuzz()
    report = fuzz.run(MAILS, SEED, tmp_path)
    summary = "\n".join([*report.lines(), *report.traceback_heads])
    assert report.mails == MAILS
    assert len(report.accepted) > MAILS // 2, summary
    assert report.missing == [], summary
    assert report.ingest_failures == 0, summary
    assert report.tracebacks == 0, summary
    assert report.stalled_deliveries == 0, summary
    assert report.unanswered == 0, summary
    assert report.deliveries.get("sent", 0) > 0, summary
    assert max(report.peak_mb.values()) < MAX_MB, summary
