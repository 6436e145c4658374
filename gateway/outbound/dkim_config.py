"""Turning DKIM signing on in a configuration file, as `gateway dkim keygen` does.

The file is the admin's: its comments, order and other values stay as they are.
Only the [dkim] section's `sign`, `selector` and `key_file` lines are written
(replaced where they are, else added under the section's header); a file without
a [dkim] section gets one at its end. The result is checked before it replaces
the file: it must parse, hold those values, and load as settings.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

from gateway.errors import GatewayError
from gateway.outbound.dkim_keys import write_atomically
from gateway.settings import SettingsError
from gateway.settings import settings_from_dict

SECTION = "dkim"
_HEADER = re.compile(r"^\s*\[\s*(?P<name>[^\]\s]+)\s*\]\s*(?:#.*)?$")
_TABLE_START = re.compile(r"^\s*\[")


class ConfigEditError(GatewayError):
    """The configuration file could not be changed safely; it is left as it was."""


def with_signing(text: str, values: dict[str, bool | str]) -> str:
    """`text` with [dkim] holding `values` (key -> TOML boolean or string)."""
    lines = text.splitlines(keepends=True)
    written = {key: f"{key} = {_toml(value)}\n" for key, value in values.items()}
    start = next((i for i, line in enumerate(lines) if _is_header(line, SECTION)), None)
    if start is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        separator = ["\n"] if lines and lines[-1].strip() else []
        return "".join([*lines, *separator, f"[{SECTION}]\n", *written.values()])
    end = next(
        (i for i in range(start + 1, len(lines)) if _TABLE_START.match(lines[i])), len(lines)
    )
    missing = []
    for key, line in written.items():
        found = [i for i in range(start + 1, end) if re.match(rf"^\s*{key}\s*=", lines[i])]
        if found:
            lines[found[0]] = line
        else:
            missing.append(line)
    lines[start + 1 : start + 1] = missing
    return "".join(lines)


def edited_config(config: Path, values: dict[str, bool | str]) -> str:
    """The text `config` would have with [dkim] `values`, checked (it parses, holds them,
    and loads as settings); ConfigEditError when it cannot be edited that way."""
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigEditError(f"{config}: cannot read it: {error}") from None
    edited = with_signing(text, values)
    try:
        document = tomllib.loads(edited)
    except tomllib.TOMLDecodeError as error:
        raise _cannot(config, values, str(error)) from None
    section = document.get(SECTION, {})
    if any(section.get(key) != value for key, value in values.items()):
        raise _cannot(config, values, "its [dkim] keys are written in a way this edit misses")
    folder = Path(os.path.abspath(config)).parent  # as load_settings resolves relative paths
    try:
        settings_from_dict(document, base_dir=folder, path=config)
    except SettingsError as error:
        raise SettingsError(f"{config}: {error}") from None
    return edited


def replace_config(config: Path, text: str) -> None:
    """Write `text` over `config` at once (a reader sees the old file or the new one),
    keeping the file's permissions."""
    write_atomically(config, text.encode("utf-8"), config.stat().st_mode & 0o7777)


def _cannot(config: Path, values: dict[str, bool | str], reason: str) -> ConfigEditError:
    wanted = ", ".join(f"{key} = {_toml(value)}" for key, value in values.items())
    return ConfigEditError(
        f"{config}: cannot turn signing on ({reason}); set [dkim] {wanted} yourself"
    )


def _is_header(line: str, name: str) -> bool:
    match = _HEADER.match(line)
    return match is not None and match["name"] == name


def _toml(value: bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # a JSON string is a TOML basic string
