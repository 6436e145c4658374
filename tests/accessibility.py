"""axe-core and a phone's width, for checking the archive's pages in a real Chromium.

axe-core (the npm package, pinned in tests/axe/package-lock.json) is installed with
`npm ci` the first time it is needed, so the README's test command runs these checks
on a fresh machine; the tests are skipped, with the reason, only when node or npm are
not installed. The site's Content-Security-Policy allows no inline script, so axe's
source is handed to the page through Playwright's evaluate (which the policy does not
govern) and run there with the WCAG 2.0 and 2.1 A and AA rules.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

AXE_FOLDER = Path(__file__).parent / "axe"
AXE_SCRIPT = AXE_FOLDER / "node_modules" / "axe-core" / "axe.min.js"
# The rules a page must pass: WCAG 2.0 and 2.1, levels A and AA, and axe's best practices
# (landmarks, the order of headings, one main heading, every text inside a landmark).
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice")
PHONE_WIDTH = 390  # an iPhone 12 to 15 in portrait, in CSS pixels
PHONE_HEIGHT = 844


class AxeUnavailable(Exception):
    """No node or npm here: the accessibility checks are skipped with this reason."""


def locked_version() -> str:
    """The axe-core version that tests/axe/package-lock.json pins."""
    lock = json.loads((AXE_FOLDER / "package-lock.json").read_text(encoding="utf-8"))
    return str(lock["packages"]["node_modules/axe-core"]["version"])


def installed_version() -> str | None:
    manifest = AXE_SCRIPT.parent / "package.json"
    if not manifest.is_file() or not AXE_SCRIPT.is_file():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])


def install_axe() -> Path:
    """axe-core's browser script, installed from the committed lock file when missing
    (or when another version than the locked one is there)."""
    if installed_version() == locked_version():
        return AXE_SCRIPT
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise AxeUnavailable("accessibility checks skipped: node and npm are not installed")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=AXE_FOLDER,
        check=True,
        timeout=600,
    )
    assert installed_version() == locked_version(), f"npm ci did not install {AXE_SCRIPT}"
    return AXE_SCRIPT


def axe_source() -> str:
    """The script to evaluate in a page; skips the test when it cannot be installed."""
    try:
        return install_axe().read_text(encoding="utf-8")
    except AxeUnavailable as reason:
        pytest.skip(str(reason))


@dataclass(frozen=True)
class Violation:
    """One element that breaks one axe rule, named so a failure message says where."""

    page: str
    rule: str
    impact: str
    target: str
    summary: str

    def __str__(self) -> str:
        return f"{self.page}: {self.rule} ({self.impact}) at {self.target}: {self.summary}"


def axe_violations(page: Any, source: str, name: str) -> list[Violation]:
    """Run axe in `page` (already loaded) and return every violating element."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(source + "\n;0")
    results = page.evaluate(
        """tags => window.axe.run(document, {runOnly: {type: 'tag', values: tags}})
              .then(r => r.violations.map(v => ({
                  id: v.id, impact: v.impact || '',
                  nodes: v.nodes.map(n => ({target: n.target.join(' '),
                                            summary: n.failureSummary || ''}))})))""",
        list(WCAG_TAGS),
    )
    return [
        Violation(
            name, rule["id"], rule["impact"], node["target"], " ".join(node["summary"].split())
        )
        for rule in results
        for node in rule["nodes"]
    ]


@dataclass(frozen=True)
class Width:
    """How wide a page is drawn against the window it is shown in, in CSS pixels."""

    page: str
    scroll: int
    client: int
    widest: str  # the element that reaches furthest right, when the page overflows

    @property
    def overflows(self) -> bool:
        return self.scroll > self.client

    def __str__(self) -> str:
        return f"{self.page}: {self.scroll} px wide in {self.client} px ({self.widest})"


def page_width(page: Any, name: str) -> Width:
    """The document's scroll width against the window's, and what sticks out most."""
    measured = page.evaluate(
        """() => {
            const root = document.documentElement;
            let widest = '', right = root.clientWidth;
            for (const element of document.body.querySelectorAll('*')) {
                const edge = element.getBoundingClientRect().right + window.scrollX;
                if (edge > right + 0.5) {
                    right = edge;
                    const classes = [...element.classList].map(c => '.' + c).join('');
                    const name = element.tagName.toLowerCase() + classes;
                    widest = name + ' (' + Math.round(edge) + ' px)';
                }
            }
            return {scroll: root.scrollWidth, client: root.clientWidth, widest: widest};
        }"""
    )
    return Width(name, measured["scroll"], measured["client"], measured["widest"])
