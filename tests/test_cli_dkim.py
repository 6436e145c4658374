"""`gateway dkim keygen`: the key files, the configuration it edits, the DNS record it
prints (published by a real DNS server, then used to verify what the key signs), and
`gateway serve` refusing to start on a bad key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.outbound.dkim_config import with_signing
from gateway.outbound.dkim_keys import KeyPair
from gateway.outbound.signing import make_signer
from gateway.settings import load_settings
from tests.conftest import GatewayCli
from tests.signing_keys import Published
from tests.signing_keys import serving
from tests.test_signing import POST

CONFIG = """\
# The gateway of the test: comments everywhere must survive the edit.
[gateway]
domain = "lists.example.com"  # the list domain
data_dir = "data"

[dkim]
# Signing is off until the DNS record is published.
sign = false   # turned on by keygen
# arc stays as it is
arc = false

[archive]
# the site
publish = false
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def cli(config: Path) -> GatewayCli:
    return GatewayCli(config)


def printed_record(output: str) -> tuple[str, str, list[str]]:
    """The record keygen printed: its name, its value, and the zone file's strings."""
    name = re.search(r"^  name:  (\S+)$", output, re.MULTILINE)
    value = re.search(r"^  value: (.+)$", output, re.MULTILINE)
    zone = re.search(r"^(\S+)\. IN TXT \((.*?)\)$", output, re.MULTILINE | re.DOTALL)
    assert name and value and zone, output
    assert zone[1] == name[1]
    return name[1], value[1], re.findall(r'"([^"]*)"', zone[2])


def test_keygen_writes_a_key_that_signs_and_verifies_through_the_printed_record(
    cli: GatewayCli, config: Path, tmp_path: Path
) -> None:
    output = cli("dkim", "keygen").stdout

    private = tmp_path / "dkim" / "gateway.private"
    assert private.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "dkim" / "gateway.public").read_bytes().startswith(b"-----BEGIN PUBLIC")
    name, value, strings = printed_record(output)
    assert name == "gateway._domainkey.lists.example.com"
    assert value.startswith("v=DKIM1; k=rsa; p=MIIB")
    assert "".join(strings) == value and len(strings) == 2
    assert all(len(piece) <= 255 for piece in strings)
    settings = load_settings(config)
    assert (settings.dkim.sign, settings.dkim.selector) == (True, "gateway")
    assert settings.dkim.key_file == private
    # A receiver reading the printed record verifies what the configured key signs.
    signed = make_signer(settings).sign(POST)
    with serving(name, value) as server:
        assert Published(KeyPair(private.read_bytes(), b"", b""), server).verify(signed)


def test_keygen_changes_only_the_dkim_lines_of_the_configuration(
    cli: GatewayCli, config: Path
) -> None:
    cli("dkim", "keygen", "--bits", "1024")

    expected = CONFIG.replace(
        "[dkim]\n", '[dkim]\nselector = "gateway"\nkey_file = "dkim/gateway.private"\n'
    ).replace("sign = false   # turned on by keygen\n", "sign = true\n")
    assert config.read_text(encoding="utf-8") == expected


def test_keygen_adds_the_section_to_a_configuration_without_one(
    tmp_path: Path,
) -> None:
    config = tmp_path / "gateway.toml"
    original = '[gateway]\ndomain = "lists.example.com"  # no newline at the end'
    config.write_text(original, encoding="utf-8")

    GatewayCli(config)("dkim", "keygen", "--selector", "mail2026", "--bits", "1024")

    text = config.read_text(encoding="utf-8")
    assert text == original + (
        '\n\n[dkim]\nsign = true\nselector = "mail2026"\nkey_file = "dkim/mail2026.private"\n'
    )
    assert load_settings(config).dkim.key_file == tmp_path / "dkim" / "mail2026.private"


def test_keygen_refuses_to_overwrite_a_key_without_force(
    cli: GatewayCli, config: Path, tmp_path: Path
) -> None:
    cli("dkim", "keygen", "--bits", "1024")
    private = tmp_path / "dkim" / "gateway.private"
    key, edited = private.read_bytes(), config.read_text()

    error = cli.error("dkim", "keygen", "--bits", "1024")

    assert error == f"Error: {private} already exists; give --force to replace it"
    assert (private.read_bytes(), config.read_text()) == (key, edited)
    cli("dkim", "keygen", "--bits", "1024", "--force")
    assert private.read_bytes() != key
    assert private.stat().st_mode & 0o777 == 0o600


def test_a_new_selector_rotates_the_key_and_keeps_the_old_one(
    cli: GatewayCli, config: Path, tmp_path: Path
) -> None:
    cli("dkim", "keygen", "--bits", "1024")
    cli("dkim", "keygen", "--bits", "1024", "--selector", "2027a")

    settings = load_settings(config)
    assert (settings.dkim.selector, settings.dkim.key_file.name) == ("2027a", "2027a.private")
    assert (tmp_path / "dkim" / "gateway.private").exists()
    assert config.read_text().count("[dkim]") == 1


def test_keygen_refuses_bad_input_and_changes_nothing(
    cli: GatewayCli, config: Path, tmp_path: Path
) -> None:
    assert "--selector" in cli.error("dkim", "keygen", "--selector", "no_underscore", expect=2)
    assert "--bits" in cli.error("dkim", "keygen", "--bits", "512", expect=2)
    dotted = tmp_path / "dotted.toml"
    dotted.write_text('dkim.sign = false\n[gateway]\ndomain = "lists.example.com"\n')
    error = GatewayCli(dotted).error("dkim", "keygen", "--bits", "1024")
    assert error.startswith(f"Error: {dotted}: cannot turn signing on (")
    assert error.endswith(
        'set [dkim] sign = true, selector = "gateway", key_file = '
        + '"dkim/gateway.private" yourself'
    )
    assert not (tmp_path / "dkim").exists()  # no key left behind
    assert config.read_text() == CONFIG


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "[dkim]\nsign = true\n"),
        ("[dkim]\n", "[dkim]\nsign = true\n"),
        (
            "[ dkim ]  # ours\nsign=false\n[x]\nsign = false\n",
            "[ dkim ]  # ours\nsign = true\n[x]\nsign = false\n",
        ),
        ("[dkim]\n[dkim.sub]\nsign = false\n", "[dkim]\nsign = true\n[dkim.sub]\nsign = false\n"),
    ],
    ids=["empty", "empty-section", "spaced-header", "subtable"],
)
def test_with_signing_edits_only_the_dkim_table(text: str, expected: str) -> None:
    assert with_signing(text, {"sign": True}) == expected


def test_serve_with_a_bad_key_stops_at_start_up_naming_the_file(
    cli: GatewayCli, config: Path, tmp_path: Path
) -> None:
    config.write_text(CONFIG.replace("sign = false", "sign = true"), encoding="utf-8")

    error = cli.error("serve", expect=2)

    private = tmp_path / "dkim" / "gateway.private"
    assert error == (
        f"Error: [dkim] key_file: {private}: no such file (`gateway dkim keygen` writes one)"
    )
    private.parent.mkdir()
    private.write_text("-----BEGIN RSA PRIVATE KEY-----\nbroken\n-----END RSA PRIVATE KEY-----\n")
    assert cli.error("serve", expect=2).endswith("not a usable private key (not a PEM key)")
    assert not (tmp_path / "data").exists()  # nothing was started
