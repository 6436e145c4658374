"""gateway.toml: the shipped example, relative paths, lookup order and every refusal."""

from __future__ import annotations

import dataclasses
import socket
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.settings import SECTIONS
from gateway.settings import Settings
from gateway.settings import SettingsError
from gateway.settings import find_config
from gateway.settings import load_settings
from gateway.settings import settings_from_dict

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLE = PROJECT / "templates" / "config" / "gateway.toml"


# --- the shipped example


def test_example_config_gives_the_documented_defaults() -> None:
    settings = load_settings(EXAMPLE)

    assert settings.path == EXAMPLE
    assert settings.gateway.domain == "lists.example.com"
    assert settings.gateway.data_dir == EXAMPLE.parent / "data"
    assert settings.gateway.database_url == ""
    assert settings.gateway.language == "en"
    assert settings.gateway.allowed_domains == ()
    assert (settings.smtp.host, settings.smtp.port) == ("127.0.0.1", 8025)
    assert settings.relay.backend == "maildir"
    assert settings.digests.timezone == "Europe/Paris"
    assert settings.archive.out_dir == EXAMPLE.parent / "site"
    assert settings.sqlalchemy_url == f"sqlite:///{EXAMPLE.parent / 'data' / 'gateway.sqlite3'}"


def test_example_config_shows_every_key_with_its_default() -> None:
    document = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))

    assert set(document) == set(SECTIONS)
    for name, section_class in SECTIONS.items():
        assert set(document[name]) == {f.name for f in dataclasses.fields(section_class)}, name
    loaded = load_settings(EXAMPLE)
    assert dataclasses.replace(loaded, path=None) == settings_from_dict({}, base_dir=EXAMPLE.parent)


def test_repo_root_config_is_a_copy_of_the_example_that_init_writes() -> None:
    """./gateway.toml is a real file a newcomer can open and edit; `gateway init`
    writes templates/config/gateway.toml. Change both, or this fails."""
    root_config = PROJECT / "gateway.toml"
    assert not root_config.is_symlink()
    assert root_config.read_bytes() == EXAMPLE.read_bytes()


def test_repo_root_config_is_the_example_seen_from_the_repo_root() -> None:
    root_config = PROJECT / "gateway.toml"

    settings = load_settings(root_config)

    assert settings.path == root_config
    assert settings.gateway.data_dir == PROJECT / "data"
    assert settings.archive.out_dir == PROJECT / "site"


def test_settings_built_in_code_have_no_path() -> None:
    settings = settings_from_dict({}, base_dir=Path("/srv/gateway"))

    assert settings.path is None
    assert settings.blob_dir == Path("/srv/gateway/data/blobs")
    assert settings.outbox_dir == Path("/srv/gateway/data/outbox")


# --- relative paths


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A current directory that is not the config file's folder."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, elsewhere: Path) -> None:
    config = tmp_path / "etc" / "gateway.toml"
    config.parent.mkdir()
    config.write_text(
        '[gateway]\ndata_dir = "var/data"\ndatabase_url = "sqlite:///db/store.sqlite3"\n'
        '[archive]\nout_dir = "public"\n',
        encoding="utf-8",
    )

    settings = load_settings(config)

    assert settings.gateway.data_dir == config.parent / "var" / "data"
    assert settings.archive.out_dir == config.parent / "public"
    assert settings.gateway.database_url == f"sqlite:///{config.parent / 'db' / 'store.sqlite3'}"
    assert settings.sqlalchemy_url == settings.gateway.database_url


def test_relative_config_path_is_read_from_the_current_directory(elsewhere: Path) -> None:
    (elsewhere / "gateway.toml").write_text('[gateway]\ndata_dir = "d"\n', encoding="utf-8")

    settings = load_settings("gateway.toml")

    assert settings.path == elsewhere / "gateway.toml"
    assert settings.gateway.data_dir == elsewhere / "d"


@pytest.mark.parametrize(
    "database_url",
    [
        "sqlite:////srv/gateway/store.sqlite3",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg://gateway@db.example.com/gateway",
    ],
)
def test_database_urls_without_a_relative_file_are_kept(tmp_path: Path, database_url: str) -> None:
    settings = settings_from_dict({"gateway": {"database_url": database_url}}, base_dir=tmp_path)

    assert settings.gateway.database_url == database_url


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    document = {"gateway": {"data_dir": "/srv/data"}, "archive": {"out_dir": "/srv/site"}}

    settings = settings_from_dict(document, base_dir=tmp_path)

    assert settings.gateway.data_dir == Path("/srv/data")
    assert settings.archive.out_dir == Path("/srv/site")


def test_symlinked_config_resolves_against_the_symlink_folder(
    tmp_path: Path, elsewhere: Path
) -> None:
    target = tmp_path / "shared" / "gateway.toml"
    target.parent.mkdir()
    target.write_text('[gateway]\ndata_dir = "data"\n', encoding="utf-8")
    link = tmp_path / "site" / "gateway.toml"
    link.parent.mkdir()
    link.symlink_to(target)

    settings = load_settings(link)

    assert settings.path == link
    assert settings.gateway.data_dir == link.parent / "data"


# --- which file


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        ("/etc/a.toml", {"GATEWAY_CONFIG": "/etc/b.toml"}, Path("/etc/a.toml")),
        (Path("rel/a.toml"), {}, Path("rel/a.toml")),
        (None, {"GATEWAY_CONFIG": "/etc/b.toml"}, Path("/etc/b.toml")),
        ("", {"GATEWAY_CONFIG": "/etc/b.toml"}, Path("/etc/b.toml")),
        (None, {"GATEWAY_CONFIG": ""}, Path("gateway.toml")),
        (None, {"HOME": "/root"}, Path("gateway.toml")),
    ],
)
def test_find_config_precedence(
    explicit: str | Path | None, environ: dict[str, str], expected: Path
) -> None:
    assert find_config(explicit, environ) == expected


# --- refusals


@pytest.fixture
def load_toml(tmp_path: Path) -> Callable[[str | bytes], Settings]:
    """Write text (or bytes) as tmp_path/gateway.toml and load it."""

    def load(content: str | bytes) -> Settings:
        path = tmp_path / "gateway.toml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return load_settings(path)

    return load


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"

    with pytest.raises(SettingsError) as caught:
        load_settings(path)

    assert str(caught.value) == f"{path}: configuration file not found"


def test_folder_instead_of_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read") as caught:
        load_settings(tmp_path)

    assert str(caught.value).startswith(f"{tmp_path}: ")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[gateway]\ndomain = "x\n', "invalid TOML"),
        ("[smtp]\nport = 25\nport = 26\n", "invalid TOML"),
        ("[gateway\n", "invalid TOML"),
        (b'[gateway]\ndomain = "caf\xe9.example"\n', "not UTF-8 text"),
    ],
    ids=["unclosed-string", "duplicate-key", "unclosed-table", "latin-1"],
)
def test_unreadable_file_is_named(
    tmp_path: Path,
    load_toml: Callable[[str | bytes], Settings],
    content: str | bytes,
    expected: str,
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_toml(content)

    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'gateway.toml'}: {expected}")


def test_deeply_nested_toml_is_one_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")

    with pytest.raises(SettingsError) as caught:
        load_settings(path)

    assert str(caught.value) == f"{path}: invalid TOML: nested too deeply"


def test_a_huge_or_endless_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_bytes(b"# padding\n" * 200_000)

    with pytest.raises(SettingsError, match="larger than 1048576 bytes"):
        load_settings(path)
    with pytest.raises(SettingsError, match="^/dev/zero: larger than 1048576 bytes"):
        load_settings("/dev/zero")


def test_invalid_toml_says_where(load_toml: Callable[[str | bytes], Settings]) -> None:
    with pytest.raises(SettingsError, match=r"line 3"):
        load_toml("[smtp]\nport = 25\nhost = \n")


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ("[gatway]\n", "[gatway]: unknown section"),
        ("[smtp]\nprot = 25\n", "[smtp] prot: unknown key"),
        ("gateway = 5\n", "gateway: must be a [gateway] table"),
    ],
)
def test_bad_structure_names_file_and_section(
    tmp_path: Path, load_toml: Callable[[str | bytes], Settings], content: str, names: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_toml(content)

    assert str(caught.value).startswith(f"{tmp_path / 'gateway.toml'}: {names}")


@pytest.mark.parametrize(
    ("section", "key", "value", "reason"),
    [
        # types
        ("smtp", "port", '"25"', "expected an integer, got a string ('25')"),
        ("smtp", "max_recipients", "true", "expected an integer, got a boolean (True)"),
        ("relay", "port", "25.0", "expected an integer, got a number (25.0)"),
        ("gateway", "domain", "5", "expected a string, got an integer (5)"),
        ("gateway", "data_dir", "false", "expected a path (string), got a boolean"),
        ("gateway", "allowed_domains", '["example.com", 3]', "expected a list of strings"),
        ("gateway", "allowed_domains", '"example.com"', "expected a list of strings"),
        # values
        ("smtp", "port", "0", "must be a TCP port from 1 to 65535, not 0"),
        ("smtp", "port", "70000", "must be a TCP port from 1 to 65535, not 70000"),
        ("relay", "port", "-1", "must be a TCP port"),
        ("smtp", "max_message_size", "0", "must be from 1024 to 1073741824, not 0"),
        ("smtp", "max_sessions", "0", "must be from 1 to 10000, not 0"),
        ("smtp", "max_data_memory", "99999999999999", "must be from 1048576 to"),
        ("smtp", "max_data_memory", "2000000", "must be at least max_message_size (26214400)"),
        ("actions", "token_days", "99999999999", "must be from 1 to 365, not 99999999999"),
        ("actions", "token_days", "0", "must be from 1 to 365, not 0"),
        ("actions", "replies_per_hour", "-1", "must be from 1 to 10000, not -1"),
        ("relay", "connections", "100000", "must be from 1 to 100, not 100000"),
        ("relay", "idle_seconds", "99999999999", "must be from 1 to 86400"),
        ("delivery", "recipients_per_transaction", "0", "must be from 1 to 10000"),
        ("delivery", "retry_wait_seconds", "99999999999", "must be from 1 to 86400"),
        ("delivery", "retry_hours", "99999999999", "must be from 1 to 720"),
        ("delivery", "max_attachment_size", "99999999999", "must be from 1 to 1073741824"),
        ("delivery", "bounce_threshold", "0", "must be from 1 to 10000"),
        ("delivery", "lease_seconds", "5", "must be from 30 to 86400, not 5"),
        ("gateway", "node_id", '"node 1"', "must be empty (the host name) or a short name"),
        ("gateway", "node_id", '"-x"', "must be empty (the host name) or a short name"),
        ("gateway", "node_id", f'"{"n" * 65}"', "must be empty (the host name) or a short name"),
        ("archive", "rebuild_delay", "99999999999", "must be from 1 to 86400"),
        ("archive", "search_interval", "0", "must be from 1 to 604800"),
        ("adoption", "unanswered_after_hours", "99999999999", "must be from 1 to 8760"),
        ("adoption", "questions_per_day", "1000", "must be from 1 to 100"),
        ("smtp", "host", '"  "', "must not be empty"),
        ("gateway", "language", '"de"', "must be one of 'en', 'fr', not 'de'"),
        ("gateway", "domain", '"lists example"', "'lists example' is not a valid domain"),
        ("relay", "backend", '"x"', "must be one of 'maildir', 'smtp', not 'x'"),
        ("relay", "security", '"ssl"', "must be one of 'none', 'starttls', 'tls', not 'ssl'"),
        ("relay", "password_env", '"1BAD"', "must be an environment variable name"),
        ("relay", "password_env", '"MY-PASS"', "must be an environment variable name"),
        ("digests", "daily", '"25:00"', "must be a time of day as HH:MM, not '25:00'"),
        ("digests", "daily", '"07:60"', "must be a time of day"),
        ("digests", "daily", '"7am"', "must be a time of day"),
        ("digests", "weekly", '"funday 07:00"', "must be a weekday and a time"),
        ("digests", "weekly", '"mon"', "must be a weekday and a time"),
        ("digests", "weekly", '"mon 24:00"', "must be a time of day"),
        ("digests", "timezone", '"Mars/Olympus"', "'Mars/Olympus' is not a known time zone"),
        ("digests", "timezone", '"../etc/passwd"', "'../etc/passwd' is not a known time zone"),
        ("archive", "base_url", '"ftp://x"', "must be an http:// or https:// URL"),
        ("archive", "base_url", '"http://"', "must be an http:// or https:// URL"),
        ("gateway", "database_url", '"not a url"', "'not a url' is not a database URL"),
        ("gateway", "allowed_domains", '["bad domain"]', "'bad domain' is not a valid domain"),
        ("gateway", "automatic_headers", '["X Robot"]', "each item must be a header name"),
        ("gateway", "automatic_headers", '[": yes"]', "each item must be a header name"),
        ("delivery", "dmarc_mitigation", '"rewrite"', "must be one of 'auto', 'always', 'none'"),
        ("delivery", "dmarc_rewrite_domains", '["gmail com"]', "'gmail com' is not a valid"),
        ("dns", "nameservers", '["dns.example.com"]', "each item must be an IP address"),
        ("dns", "nameservers", '["127.0.0.1:53x"]', "each item must be an IP address"),
        ("dns", "nameservers", '["127.0.0.1:70000"]', "each item must be an IP address"),
        ("dns", "nameservers", '["[::1"]', "each item must be an IP address"),
        ("dns", "nameservers", '["[::1]x53"]', "each item must be an IP address"),
        ("dns", "nameservers", '"127.0.0.1"', "expected a list of strings"),
        ("dns", "timeout", "0", "must be from 1 to 60, not 0"),
        ("dns", "timeout", "2.5", "expected an integer, got a number (2.5)"),
    ],
)
def test_bad_setting_names_file_section_and_key(
    tmp_path: Path,
    load_toml: Callable[[str | bytes], Settings],
    section: str,
    key: str,
    value: str,
    reason: str,
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_toml(f"[{section}]\n{key} = {value}\n")

    expected = f"{tmp_path / 'gateway.toml'}: [{section}] {key}: {reason}"
    assert str(caught.value).startswith(expected)


def test_the_node_id_is_the_host_name_unless_one_is_given(tmp_path: Path) -> None:
    assert settings_from_dict({}, base_dir=tmp_path).node_id == socket.gethostname()[:64]
    named = settings_from_dict({"gateway": {"node_id": "node-1.eu"}}, base_dir=tmp_path)
    assert named.node_id == "node-1.eu"


def test_error_from_settings_from_dict_names_the_key_without_a_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from_dict({"smtp": {"port": 0}}, base_dir=tmp_path)

    assert str(caught.value).startswith("[smtp] port: ")


# --- normalizations


@pytest.mark.parametrize(
    ("section", "key", "given", "expected"),
    [
        ("digests", "weekly", "MON 7:00", "mon 07:00"),
        ("digests", "weekly", "  Sun   18:30 ", "sun 18:30"),
        ("digests", "daily", "7:05", "07:05"),
        ("archive", "base_url", "https://example.com/lists", "https://example.com/lists/"),
        ("archive", "base_url", "http://localhost:8000/", "http://localhost:8000/"),
        ("gateway", "allowed_domains", ["Ex.COM", "EU.Ex.org."], ("ex.com", "eu.ex.org")),
        ("gateway", "allowed_domains", ["bücher.example"], ("xn--bcher-kva.example",)),
        ("gateway", "domain", "Lists.Example.COM", "lists.example.com"),
        ("gateway", "language", "fr", "fr"),
        ("relay", "security", "starttls", "starttls"),
        # the old name of "always" (issue 20) still loads
        ("delivery", "dmarc_mitigation", "rewrite-from", "always"),
        ("delivery", "dmarc_mitigation", "none", "none"),
        ("delivery", "dmarc_rewrite_domains", ["GMail.com."], ("gmail.com",)),
        ("dns", "nameservers", ["192.0.2.53", "127.0.0.1:5353"], ("192.0.2.53", "127.0.0.1:5353")),
        ("dns", "nameservers", ["2001:db8::53", "[::1]:5353"], ("2001:db8::53", "[::1]:5353")),
    ],
)
def test_values_are_normalized(
    tmp_path: Path, section: str, key: str, given: object, expected: object
) -> None:
    settings = settings_from_dict({section: {key: given}}, base_dir=tmp_path)

    assert getattr(getattr(settings, section), key) == expected
