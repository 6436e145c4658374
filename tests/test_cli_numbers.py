"""Numbers on the command line and in the configuration, out of range: one line saying
what is wrong and exit 2, never a traceback (issue 16, item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import GatewayCli

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    "args",
    [
        ("thread", "show", HUGE),
        ("thread", "show", "0"),
        ("thread", "list", "design", "--limit", HUGE),
        ("thread", "list", "design", "--limit", "-1"),
        ("queue", "list", "--limit", HUGE),
        ("queue", "retry", "99999999999999999999"),
        ("inbox", "discarded", "--limit", HUGE),
        ("inbox", "discarded", "--limit", "-1"),
        ("inbox", "retry", HUGE),
        ("held", "approve", HUGE),
        ("held", "reject", HUGE),
        ("experts", "design", "--limit", HUGE),
        ("suggest", "alice@example.com", "--limit", "-5"),
    ],
    ids=" ".join,
)
def test_an_integer_out_of_range_is_a_usage_error(
    gateway_cli: GatewayCli, args: tuple[str]
) -> None:
    message = gateway_cli.error(*args, expect=2)
    assert "is not in the range" in message, message


def test_a_configuration_nested_too_deeply_is_one_line_naming_the_file(
    gateway_cli: GatewayCli, tmp_path: Path
) -> None:
    config = tmp_path / "nested.toml"
    config.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    gateway_cli.config = config

    message = gateway_cli.error("thread", "show", "1", expect=2)

    assert message.endswith(f"{config}: invalid TOML: nested too deeply"), message
