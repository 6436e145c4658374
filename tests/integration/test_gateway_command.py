"""The installed `gateway` command, run as a real subprocess, as an admin would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def gateway_executable() -> str:
    beside_python = Path(sys.executable).parent / "gateway"
    found = str(beside_python) if beside_python.exists() else shutil.which("gateway")
    if found is None:
        pytest.fail("the `gateway` console script is not installed (pip install -e .)")
    return found


def gateway(
    *args: str, cwd: Path, expect: int = 0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    environment.pop("GATEWAY_CONFIG", None)
    result = subprocess.run(
        [gateway_executable(), *args], cwd=cwd, capture_output=True, text=True,
        env=environment, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == expect, (
        f"gateway {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    )
    assert "Traceback" not in result.stderr
    return result


def test_init_then_administer_a_community_end_to_end(tmp_path: Path) -> None:
    gateway("init", cwd=tmp_path)
    assert (tmp_path / "gateway.toml").is_file()
    gateway("community", "create", "design", "--name", "Design", "--kind", "practice",
            cwd=tmp_path)  # fmt: skip
    gateway("member", "add", "design", "Alice@Example.com", "--role", "owner", cwd=tmp_path)
    (tmp_path / "team.csv").write_text("email,name,delivery\nbob@example.com,Bob,daily\n")
    gateway("member", "import", "design", "team.csv", cwd=tmp_path)
    gateway("profile", "set", "bob@example.com", "--expertise", "Figma, accessibility",
            cwd=tmp_path)  # fmt: skip

    members = json.loads(gateway("member", "list", "design", "--json", cwd=tmp_path).stdout)
    assert [(m["email"], m["role"], m["delivery"]) for m in members] == [
        ("alice@example.com", "owner", "instant"),
        ("bob@example.com", "member", "daily"),
    ]
    experts = json.loads(gateway("profile", "find", "figma", "--json", cwd=tmp_path).stdout)
    assert [e["email"] for e in experts] == ["bob@example.com"]
    [listed] = json.loads(gateway("community", "list", "--json", cwd=tmp_path).stdout)
    assert listed["members"] == 2


def test_the_same_commands_work_on_postgresql_through_database_url(
    tmp_path: Path, config_file: Path
) -> None:
    config = ["--config", str(config_file)]
    gateway(*config, "community", "create", "ops", "--name", "Operations", cwd=tmp_path)
    gateway(*config, "member", "add", "ops", "carol@example.com", cwd=tmp_path)
    shown = json.loads(gateway(*config, "community", "show", "ops", "--json", cwd=tmp_path).stdout)
    assert shown["members"] == 1


def test_errors_are_one_line_with_an_exit_code(tmp_path: Path) -> None:
    gateway("init", cwd=tmp_path)
    unknown = gateway("community", "show", "nope", cwd=tmp_path, expect=1)
    assert unknown.stderr.strip() == "Error: no community 'nope' (see `gateway community list`)"
    (tmp_path / "broken.toml").write_text("[smtp]\nport = 'twenty-five'\n")
    broken = gateway("--config", "broken.toml", "community", "list", cwd=tmp_path, expect=2)
    [line] = broken.stderr.strip().splitlines()
    assert "broken.toml" in line and "[smtp] port" in line
    usage = gateway("community", "create", cwd=tmp_path, expect=2)
    assert "Missing argument 'SLUG'" in usage.stderr
