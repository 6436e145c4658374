"""The search index: Pagefind (the PyPI package and its bundled binary) run over the
thread and people pages, swapped into place whole, so that the site is never without an index
while it is rebuilt.

Pagefind re-indexes every page each time (about 500 pages/s and 1.1 GB for 3,000
pages on this machine: DESIGN.md, "Known costs"), so `gateway serve` runs it at most
every [archive] search_interval seconds, not after each post.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from archive import urls

# Thread pages and people's pages are indexed: every post is on a thread page, and
# people are found by their expertise, interests, department and bio ("who knows X").
# Lists would only repeat them (the people directory has no data-pagefind-body).
INDEXED = "{t,people}/**/*.html"
BUNDLE = urls.SEARCH_BUNDLE.rstrip("/")


class SearchIndexError(RuntimeError):
    """Pagefind is missing or failed; the message carries what it printed."""


def build_search_index(site: Path, language: str) -> None:
    fresh = site / f".{BUNDLE}-new"
    old = site / f".{BUNDLE}-old"
    for leftover in (fresh, old):
        shutil.rmtree(leftover, ignore_errors=True)
    command = [
        sys.executable, "-m", "pagefind", "--site", str(site), "--glob", INDEXED,
        "--output-path", str(fresh), "--force-language", language, "--quiet",
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        raise SearchIndexError(f"cannot run Pagefind: {error}") from None
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip().splitlines()
        detail = output[-1] if output else f"exit code {result.returncode}"
        raise SearchIndexError(f"Pagefind failed: {detail}")
    current = site / BUNDLE
    if current.exists():
        current.rename(old)
    fresh.rename(current)
    shutil.rmtree(old, ignore_errors=True)
