"""Benchmark of the ingest pipeline alone: the inbox processor draining a spool filled first.

bench/ingest.py measures the pipeline behind a real SMTP edge, with its clients and the
other processes of `gateway serve` on the same two cores; its sustained rate moves by
30% from one run to the next here, which hides what a change to one stage does. This
bench takes the edge, the clients and the other processes away. N 5 KB mails (those of
bench/ingest.py, a quarter of them replies) are spooled first, through the edge's own
Spool; then

1. the stages of the first batches run one after the other, each timed: the
   claim, the parse with the blobs written ahead, the store (threading and rows), the
   blob sync, the commit and the end of the claim. It prints each one's milliseconds
   per mail, wall and CPU;
2. the inbox processor drains the rest as `gateway serve` runs it (the next batch
   claimed and parsed in a thread while one is stored): mails/s and CPU per mail.

With --reference DIR, a checkout of another revision (`git worktree add DIR REV`),
rounds of the drain alternate between this tree and that one, each in its own process,
and it prints the median ratio: the machine's drift weighs on both alike.

It also prints what making a folder and a 5 KB file costs in the data folder (the
pipeline makes a file per mail, and a folder for most while the store is new): on the
machines here, anything from 25 us to 800 us from one minute to the next.

    python bench/pipeline.py [--messages 4000] [--rounds 3] [--reference DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import DOMAIN  # noqa: E402
from ingest import RECIPIENT  # noqa: E402
from ingest import THREADS  # noqa: E402
from ingest import gateway_command  # noqa: E402
from ingest import plain_raw  # noqa: E402
from nodes import gateway_section  # noqa: E402
from nodes import making_files  # noqa: E402

from gateway.app import App  # noqa: E402
from gateway.app import build_app  # noqa: E402
from gateway.blobs import BlobBatch  # noqa: E402
from gateway.ingest.batch import ingest_mails  # noqa: E402
from gateway.ingest.context import InboundMail  # noqa: E402
from gateway.ingest.parse_workers import parse_with_blobs  # noqa: E402
from gateway.ingest.processor import BATCH  # noqa: E402
from gateway.ingest.processor import InboxProcessor  # noqa: E402
from gateway.ingest.spool import Spool  # noqa: E402
from gateway.ingest.spool_claims import claim_mail  # noqa: E402
from gateway.ingest.spool_claims import finish_mail  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from gateway.store.models import Message  # noqa: E402
from gateway.store.models import utcnow  # noqa: E402

# Batches whose stages are timed one by one (the processor's batch size each), at most.
STAGED = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=4_000, help="5 KB mails per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reference", type=Path, help="a checkout of another revision")
    parser.add_argument("--round", type=Path, help=argparse.SUPPRESS)  # its folder
    parser.add_argument("--stages", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.round:
        print(json.dumps(one_round(options.round, options.messages, options.stages)))
        return
    trees = {"this tree": Path(__file__).resolve().parent.parent}
    if options.reference:
        trees["reference"] = options.reference.resolve()
    rates: dict[str, list[float]] = {name: [] for name in trees}
    print(f"{options.messages} mails of 5 KB per round, spooled first; temporary folder in "
          f"{tempfile.gettempdir()}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as folder:
        for number in range(1, options.rounds + 1):
            # Each tree goes first in every other round; each round has a folder of its
            # own, all removed at the end.
            for name, tree in sorted(trees.items(), reverse=number % 2 == 0):
                round_folder = Path(folder, f"round-{number}-{name.split()[0]}")
                stages = number == 1 and name == "this tree"
                figures = run_round(tree, round_folder, options.messages, stages)
                if "stages" in figures:
                    print_stages(figures)
                rates[name].append(figures["rate"])
                print(f"round {number}, {name:9}: {figures['rate']:7.1f} mails/s, "
                      f"CPU {figures['cpu_ms']:.2f} ms per mail")  # fmt: skip
    for name, values in rates.items():
        print(f"{name}: median {statistics.median(values):.1f} mails/s")
    if options.reference:
        ratios = [a / b for a, b in zip(rates["this tree"], rates["reference"], strict=True)]
        listed = ", ".join(f"{r:.2f}" for r in ratios)
        print(f"this tree / reference: median {statistics.median(ratios):.2f}x (rounds: {listed})")


def run_round(tree: Path, folder: Path, messages: int, stages: bool) -> dict[str, Any]:
    """One round in a process of its own, importing the gateway from `tree`."""
    command = [sys.executable, __file__, "--round", str(folder), "--messages", str(messages)]
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environment["PYTHONPATH"] = str(tree)
    done = subprocess.run(command + ["--stages"] * stages, env=environment, cwd=tree,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"a round failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def print_stages(figures: dict[str, Any]) -> None:
    mails = figures["staged_mails"]
    print(f"stages of {mails} mails in batches run one after the other, ms per mail:")
    print(f"  {'stage':34} {'wall':>6} {'CPU':>6}")
    for stage, (wall, cpu) in figures["stages"].items():
        print(f"  {stage:34} {wall:6.3f} {cpu:6.3f}")
    print(f"the data folder: {figures['files']}")


def one_round(folder: Path, messages: int, stages: bool) -> dict[str, Any]:
    folder.mkdir()
    config = folder / "gateway.toml"
    config.write_text(gateway_section(DOMAIN, "", 1) + "[web]\nenabled = false\n")
    gateway_command(config, "init")
    gateway_command(config, "community", "create", "design", "--name", "Design",
                    "--policy", "open")  # fmt: skip
    app = build_app(load_settings(config))
    try:
        spool = Spool(app.spool_engine, app.blobs)
        spool.start()
        now = dt.datetime.now(dt.UTC)
        waiting = [
            spool.submit(InboundMail(raw, sender, (RECIPIENT,), now, "127.0.0.1"))
            for sender, raw in plain_raw(messages, "pipeline", THREADS)
        ]
        for future in waiting:
            future.result()
        spool.stop()
        figures: dict[str, Any] = {}
        processor = InboxProcessor(app)
        if stages:  # on half the mails at most: the processor drains the rest
            figures.update(staged(app, processor, min(STAGED, messages // (2 * BATCH))))
            figures["files"] = making_files(folder)
        began, cpu = time.perf_counter(), process_cpu()
        drained = 0
        while taken := processor.process_batch():
            drained += taken
        seconds = time.perf_counter() - began
        with app.sessions() as session:
            stored = session.scalar(select(func.count()).select_from(Message))
        if stored != messages:  # a pipeline that loses mail is not measured
            sys.exit(f"{stored} of the {messages} mails spooled were stored")
        figures["rate"] = drained / seconds
        figures["cpu_ms"] = (process_cpu() - cpu) * 1000 / drained
        return figures
    finally:
        app.close()


def staged(app: App, processor: InboxProcessor, batches: int) -> dict[str, Any]:
    """The stages of a few batches, one after the other (what the processor overlaps)."""
    stages = Stages()
    mails = 0
    for _ in range(batches):
        with stages.timing("claim"):
            rows = claim_mail(app.spool_engine, processor.lease, utcnow(), BATCH)
        inbound = [processor._mail(row) for row in rows]
        with stages.timing("parse, blobs written ahead"):
            parsed = [parse_with_blobs(mail.raw, app.blobs) for mail in inbound]
        blobs = BlobBatch(app.blobs)
        blobs.offer(blob for done in parsed for blob in done.blobs)
        with app.sessions() as session:
            session.begin()
            with stages.timing("store (thread, write rows)"):
                ingest_mails(session, blobs, app.settings.gateway, inbound, parsed=parsed)
            with stages.timing("blob sync (syncfs, rename)"):
                blobs.sync()
            with stages.timing("commit"):
                session.commit()
        with stages.timing("finish the claim"):
            finish_mail(app.spool_engine, processor.lease, [row.id for row in rows], {})
        mails += len(rows)
    per_mail = {stage: [1000 * s / mails for s in spent] for stage, spent in stages.spent.items()}
    return {"staged_mails": mails, "stages": per_mail}


class Stages:
    """Wall and CPU seconds spent in each stage, summed over the batches."""

    def __init__(self) -> None:
        self.spent: dict[str, list[float]] = {}

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        yield
        spent = self.spent.setdefault(stage, [0.0, 0.0])
        spent[0] += time.perf_counter() - wall
        spent[1] += time.thread_time() - cpu


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
