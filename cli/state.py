"""What every command shares: the configuration it was given and the app built from it.

Settings are read, and the store opened, only when a command needs them, so that
`gateway --help` and `gateway init` work without a configuration or a database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import click
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.app import build_app
from gateway.settings import Settings
from gateway.settings import find_config
from gateway.settings import load_settings
from gateway.store.db import transaction


@dataclass
class CliState:
    config_option: Path | None
    _settings: Settings | None = field(default=None, init=False)
    _app: App | None = field(default=None, init=False)

    @property
    def config_path(self) -> Path:
        return find_config(self.config_option, os.environ)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = build_app(self.settings)
            click.get_current_context().call_on_close(self._app.close)
        return self._app

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """The command's unit of work: committed if the command succeeds."""
        with transaction(self.app.sessions) as session:
            yield session

    @contextmanager
    def read_transaction(self) -> Iterator[Session]:
        """For commands that only read: never waits for the SMTP server's writes."""
        with transaction(self.app.read_sessions) as session:
            yield session


pass_state = click.make_pass_decorator(CliState)
