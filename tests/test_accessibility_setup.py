"""tests/accessibility.py: axe-core installed from the lock file, or a clear skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import accessibility


def test_the_lock_file_pins_one_axe_core_version_that_package_json_asks_for() -> None:
    manifest = (accessibility.AXE_FOLDER / "package.json").read_text(encoding="utf-8")
    version = accessibility.locked_version()
    assert f'"axe-core": "{version}"' in manifest  # pinned exactly, no range


def test_without_node_or_npm_the_checks_are_skipped_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(accessibility, "AXE_SCRIPT", tmp_path / "axe-core" / "axe.min.js")
    monkeypatch.setattr(accessibility.shutil, "which", lambda name: None)
    with pytest.raises(accessibility.AxeUnavailable, match="node and npm are not installed"):
        accessibility.install_axe()
    with pytest.raises(pytest.skip.Exception, match="node and npm are not installed"):
        accessibility.axe_source()


def test_another_installed_version_than_the_locked_one_is_not_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = tmp_path / "axe-core" / "axe.min.js"
    script.parent.mkdir()
    script.write_text("/* axe */", encoding="utf-8")
    (script.parent / "package.json").write_text('{"version": "1.0.0"}', encoding="utf-8")
    monkeypatch.setattr(accessibility, "AXE_SCRIPT", script)
    assert accessibility.installed_version() == "1.0.0"
    monkeypatch.setattr(accessibility.shutil, "which", lambda name: None)
    with pytest.raises(accessibility.AxeUnavailable):
        accessibility.install_axe()  # it would reinstall, and cannot here
