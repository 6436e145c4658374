"""`gateway init`, `gateway db`, and how the CLI answers a missing or broken configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from click.testing import Result

import templates
from cli.main import main
from gateway.settings import load_settings
from gateway.store import migrate
from gateway.store.db import make_engine
from gateway.store.migrate import head_revision
from tests.conftest import GatewayCli

SHIPPED_CONFIG = templates.PATH / "config" / "gateway.toml"
CHECKOUT_CONFIG = Path(__file__).resolve().parent.parent / "gateway.toml"
HEAD = head_revision()


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(main, list(args), prog_name="gateway")


def assert_clean_failure(result: Result, exit_code: int) -> str:
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    return line


def test_init_writes_the_shipped_config_and_creates_the_database(tmp_path: Path) -> None:
    result = run("init", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    config = tmp_path / "site" / "gateway.toml"
    assert config.read_text() == SHIPPED_CONFIG.read_text()
    assert (tmp_path / "site" / "data" / "gateway.sqlite3").is_file()
    assert (tmp_path / "site" / "data" / "blobs").is_dir()
    assert f"Wrote the example configuration to {config}" in result.stdout
    assert f"Created the database sqlite:///{tmp_path / 'site' / 'data'}" in result.stdout
    assert f"revision {HEAD}" in result.stdout
    assert f"`gateway --config {config} serve`" in result.stdout
    assert f"gateway --config {config} community create design" in result.stdout
    # The database is ready: commands work straight away.
    listed = run("--config", str(config), "community", "list", "--json")
    assert listed.exit_code == 0 and listed.stdout.strip() == "[]"


def test_init_again_keeps_the_configuration_and_the_data(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    assert run("init", str(tmp_path)).exit_code == 0
    config.write_text(
        config.read_text().replace('domain = "lists.example.com"', 'domain = "groups.example.org"')
    )
    assert run("--config", str(config), "community", "create", "ux", "--name", "UX").exit_code == 0
    again = run("init", str(tmp_path))
    assert again.exit_code == 0
    assert f"Using the configuration {config}, which was already there" in again.stdout
    assert f"already at revision {HEAD}" in again.stdout
    assert "groups.example.org" in config.read_text()
    shown = run("--config", str(config), "community", "show", "ux", "--json")
    assert '"address": "ux@groups.example.org"' in shown.stdout


def test_init_in_a_fresh_checkout_explains_the_configuration_it_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clone has ./gateway.toml already: init leaves it alone and says so."""
    (tmp_path / "gateway.toml").write_bytes(CHECKOUT_CONFIG.read_bytes())
    monkeypatch.chdir(tmp_path)
    result = run("init", env={"GATEWAY_CONFIG": ""})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "gateway.toml").read_bytes() == CHECKOUT_CONFIG.read_bytes()
    lines = result.stdout.splitlines()
    assert (
        lines[0] == "Using the configuration gateway.toml, which was already there: left as it is."
    )
    assert lines[1].startswith(f"Created the database sqlite:///{tmp_path / 'data'}")
    assert f"revision {HEAD}" in lines[1]
    assert lines[2].startswith(
        "Next: `gateway serve` takes mail in on 127.0.0.1:8025"
        " (and answers unsubscribe links on 127.0.0.1:8080) until Ctrl-C"
    )
    assert "from a second terminal in this folder" in lines[2]
    assert lines[3:] == [
        "  gateway community create design --name Design",
        "  gateway member add design alice@example.com --role owner",
    ]


def test_init_says_which_revisions_it_migrated_from_and_to(tmp_path: Path) -> None:
    assert run("init", str(tmp_path)).exit_code == 0
    settings = load_settings(tmp_path / "gateway.toml")
    previous = f"{int(HEAD) - 1:04d}"
    engine = make_engine(settings.sqlalchemy_url)
    try:
        migrate.downgrade(engine, previous)
    finally:
        engine.dispose()
    result = run("init", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert f"from revision {previous} to {HEAD}" in result.stdout


def test_init_without_a_folder_uses_gateway_config_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere" / "gw.toml"
    result = run("init", env={"GATEWAY_CONFIG": str(config)})
    assert result.exit_code == 0, result.output
    assert config.is_file()
    assert (tmp_path / "elsewhere" / "data" / "gateway.sqlite3").is_file()


def test_init_without_anything_writes_gateway_toml_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("init", env={"GATEWAY_CONFIG": ""})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "gateway.toml").is_file()
    assert (tmp_path / "data" / "gateway.sqlite3").is_file()


def test_init_refuses_both_a_folder_and_config(tmp_path: Path) -> None:
    result = run("--config", str(tmp_path / "a.toml"), "init", str(tmp_path))
    assert result.exit_code == 2
    assert "either --config or DIRECTORY" in result.stderr
    assert not (tmp_path / "gateway.toml").exists()


def test_init_migrates_the_configured_database_on_each_backend(gateway_cli: GatewayCli) -> None:
    result = gateway_cli("init")
    assert "which was already there: left as it is" in result.stdout
    assert f"revision {HEAD}" in result.stdout
    assert gateway_cli("db", "status").stdout.count(HEAD) == 2


def test_a_command_before_init_says_to_run_init_and_creates_nothing(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[gateway]\ndata_dir = "data"\n')
    line = assert_clean_failure(run("--config", str(config), "community", "list"), 1)
    assert "gateway init" in line
    assert not (tmp_path / "data").exists()


def test_db_upgrade_creates_then_keeps_the_schema(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[gateway]\ndata_dir = "data"\n')
    before = assert_clean_failure(run("--config", str(config), "db", "status"), 1)
    assert "no database" in before
    first = run("--config", str(config), "db", "upgrade")
    assert first.exit_code == 0 and HEAD in first.stdout
    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    status = run("--config", str(config), "db", "status")
    assert status.exit_code == 0
    assert "gateway db upgrade" not in status.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[gateway\n", "invalid TOML"),
        ("[smtp]\nport = 'abc'\n", "[smtp] port: expected an integer"),
        ("[smtp]\nprot = 25\n", "[smtp] prot: unknown key"),
        ("[smpt]\nport = 25\n", "[smpt]: unknown section"),
        ("[gateway]\nlanguage = 'de'\n", "[gateway] language: must be one of"),
        ("[digests]\ntimezone = 'Mars/Olympus'\n", "[digests] timezone:"),
        ("[relay]\nbackend = 'pigeon'\n", "[relay] backend:"),
    ],
)
def test_a_broken_config_is_one_line_naming_file_and_key_with_exit_2(
    tmp_path: Path, content: str, expected: str
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(content)
    line = assert_clean_failure(run("--config", str(config), "community", "list"), 2)
    assert str(config) in line
    assert expected in line


def test_a_missing_config_is_one_line_with_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    line = assert_clean_failure(run("--config", str(missing), "member", "list", "x"), 2)
    assert str(missing) in line and "not found" in line
    line = assert_clean_failure(run("community", "list", env={"GATEWAY_CONFIG": str(missing)}), 2)
    assert str(missing) in line


def test_help_and_version_need_no_configuration(tmp_path: Path) -> None:
    help_result = run("--help", env={"GATEWAY_CONFIG": str(tmp_path / "nope.toml")})
    assert help_result.exit_code == 0
    for noun in ("init", "db", "community", "member", "profile"):
        assert noun in help_result.stdout
    assert run("--version").exit_code == 0
