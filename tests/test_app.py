"""The composition root: what build_app() and init_store() give the rest of the gateway."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from gateway.app import build_app
from gateway.app import init_store
from gateway.app import make_template_environment
from gateway.settings import settings_from_dict
from gateway.store.migrate import SchemaError
from gateway.store.migrate import head_revision


def test_templates_autoescape_pages_but_not_mail() -> None:
    environment = make_template_environment()
    assert environment.autoescape("archive/thread.html") is True
    assert environment.autoescape("mail/welcome.en.txt") is False


def test_templates_refuse_an_undefined_value() -> None:
    template = make_template_environment().from_string("Hello {{ name }}")
    with pytest.raises(jinja2.UndefinedError):
        template.render()


def test_the_templates_folder_holds_the_example_configuration() -> None:
    environment = make_template_environment()
    assert environment.loader is not None
    text, _, _ = environment.loader.get_source(environment, "config/gateway.toml")
    assert "[gateway]" in text


def test_build_app_refuses_a_missing_sqlite_database_without_creating_it(tmp_path: Path) -> None:
    settings = settings_from_dict({"gateway": {"data_dir": "data"}}, base_dir=tmp_path)
    with pytest.raises(SchemaError, match="gateway init"):
        build_app(settings)
    assert not (tmp_path / "data").exists()


def test_init_store_then_build_app_gives_a_working_store(tmp_path: Path) -> None:
    settings = settings_from_dict({"gateway": {"data_dir": "data"}}, base_dir=tmp_path)
    assert init_store(settings) == head_revision()
    app = build_app(settings)
    try:
        assert app.blobs.root == tmp_path / "data" / "blobs"
        assert app.blobs.root.is_dir()
        sha256 = app.blobs.put(b"raw message")
        assert app.blobs.get(sha256) == b"raw message"
    finally:
        app.close()
