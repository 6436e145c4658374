"""`gateway archive build` through the real CLI: its report, its options and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_a_failing_search_index_says_so_and_keeps_the_pages(
    gateway_cli: GatewayCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway_cli("community", "create", "design", "--name", "Design")
    mail = tmp_path / "post.eml"
    mail.write_bytes(b"From: a@example.com\nMessage-ID: <p1@example.com>\nSubject: Hi\n\nHello\n")
    gateway_cli("import", "eml", "design", str(mail), "--quiet")
    site = tmp_path / "out"
    gateway_cli.json("archive", "build", "--out", str(site), "--no-search")
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", "/bin/false")  # a broken Pagefind

    message = gateway_cli.error("archive", "build", "--out", str(site))

    assert message == "Error: Pagefind failed: exit code 1"
    assert list((site / "t").glob("*/index.html"))  # the pages were written
    monkeypatch.delenv("PAGEFIND_BINARY_PATH")
    report = gateway_cli.json("archive", "build", "--out", str(site))
    assert report["search_index"] is True and report["threads"] == 0  # nothing redone
    assert (site / "pagefind" / "pagefind-ui.js").is_file()


def test_a_damaged_manifest_makes_a_full_build(gateway_cli: GatewayCli, tmp_path: Path) -> None:
    gateway_cli("community", "create", "design", "--name", "Design")
    site = tmp_path / "out"
    gateway_cli.json("archive", "build", "--out", str(site), "--no-search")
    (site / ".archive-manifest.json").write_text("{not json")

    report = gateway_cli.json("archive", "build", "--out", str(site), "--no-search")

    assert report["full"] is True and report["communities"] == 1
    assert (site / "c" / "design" / "index.html").is_file()
