"""`gateway archive build` through the real CLI: its report, its options and its errors."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import GatewayCli

REPORT_KEYS = {
    "site", "full", "threads", "communities", "people", "written", "unchanged", "removed",
    "files", "search_index", "seconds",
}  # fmt: skip


def test_a_first_build_then_an_update_that_finds_nothing_new(
    gateway_cli: GatewayCli, tmp_path: Path
) -> None:
    gateway_cli("community", "create", "design", "--name", "Design")
    site = tmp_path / "out"

    first = gateway_cli.json("archive", "build", "--out", str(site), "--no-search")
    again = gateway_cli("archive", "build", "--out", str(site), "--no-search").stdout

    assert set(first) == REPORT_KEYS
    assert first["full"] is True and first["communities"] == 1 and first["written"] > 0
    assert (site / "c" / "design" / "index.html").is_file()
    assert "update: 0 threads, 0 communities, 0 people rendered; 0 files written" in again


def test_the_site_goes_to_the_configured_folder_by_default(gateway_cli: GatewayCli) -> None:
    report = gateway_cli.json("archive", "build", "--no-search")
    assert report["site"] == str(gateway_cli.config.parent / "site")
    assert (gateway_cli.config.parent / "site" / "index.html").is_file()


def test_mistakes_get_one_clear_line(gateway_cli: GatewayCli, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    assert "No such option '--fast'" in gateway_cli.error("archive", "build", "--fast", expect=2)
    assert "is a file" in gateway_cli.error("archive", "build", "--out", str(blocker), expect=2)
    message = gateway_cli.error("archive", "build", "--out", str(blocker / "site"))
    assert str(blocker) in message and "Not a directory" in message
