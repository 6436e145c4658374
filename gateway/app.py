"""The composition root: builds the engine, sessions, blob store and templates from settings.

Nothing in the gateway builds these on import; `gateway serve`, the CLI and the
tests call build_app() (or init_store()) with the settings they have.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

import templates

if TYPE_CHECKING:
    import jinja2

    from gateway.relay.envelope import Relay
from gateway.blobs import BlobStore
from gateway.ingest.spool_file import prepare_spool_file
from gateway.settings import Settings
from gateway.store import migrate
from gateway.store.db import make_engine
from gateway.store.db import make_sessionmaker
from gateway.store.db import sqlite_file


def make_template_environment() -> jinja2.Environment:
    """One environment for every mail and page; HTML pages are autoescaped, mail is text."""
    import jinja2

    from gateway.outbound import mail_style
    from gateway.outbound import text_html
    from gateway.outbound import wording

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates.PATH),
        # Compiled templates kept between runs (in the temporary folder, per user):
        # compiling the archive's pages costs a short `gateway archive build` 0.1 s.
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "xml")),
        keep_trailing_newline=True,
        # Templates change only with an upgrade, which restarts the process; checking
        # each file's date at every render cost a full build 13,000 system calls.
        auto_reload=False,
    )
    # Dates, times, durations and plurals in the reader's language and zone.
    wording.register(environment)
    # The mail's HTML: the one style's declarations (`style.LINK`) and linkify, set once.
    environment.globals["style"] = mail_style.as_dict()
    environment.globals["linkify"] = text_html.linkify
    return environment


@dataclass
class App:
    settings: Settings
    engine: Engine
    # The spool's database: the store's engine with PostgreSQL, its own file with SQLite.
    spool_engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    blobs: BlobStore

    @functools.cached_property
    def templates(self) -> jinja2.Environment:
        """Built on first use: the SMTP server never renders anything."""
        return make_template_environment()

    def close(self) -> None:
        self.engine.dispose()
        if self.spool_engine is not self.engine:
            self.spool_engine.dispose()


def prepare_data_dir(settings: Settings) -> None:
    settings.gateway.data_dir.mkdir(parents=True, exist_ok=True)
    settings.blob_dir.mkdir(parents=True, exist_ok=True)


def init_store(settings: Settings) -> str:
    """Create the data folder and bring the database to the newest schema; return its revision."""
    prepare_data_dir(settings)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        migrate.upgrade(engine)
        revision = migrate.current_revision(engine)
    finally:
        engine.dispose()
    assert revision is not None
    return revision


def build_app(settings: Settings) -> App:
    """Everything a command needs; raises SchemaError if the database needs migrating."""
    database = sqlite_file(settings.sqlalchemy_url)
    if database is not None and not database.exists():
        raise migrate.SchemaError(f"no database at {database}: run `gateway init` first")
    engine = make_engine(settings.sqlalchemy_url)
    try:
        migrate.check_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    if settings.spool_url == settings.sqlalchemy_url:
        spool_engine = engine
    else:
        spool_engine = make_engine(settings.spool_url)
        prepare_spool_file(spool_engine)
    return App(
        settings=settings,
        engine=engine,
        spool_engine=spool_engine,
        sessions=make_sessionmaker(engine),
        read_sessions=make_sessionmaker(engine, read_only=True),
        blobs=BlobStore(settings.blob_dir),
    )


def make_relay(settings: Settings) -> Relay:
    """The way out chosen in [relay]: the company MTA, or the outbox Maildir. (Imported
    here: the commands that send nothing start without asyncio and mailbox.)"""
    if settings.relay.backend == "smtp":
        from gateway.relay.mta import MtaRelay

        return MtaRelay(settings.relay, helo_name=settings.gateway.domain)
    from gateway.relay.maildir import MaildirRelay

    return MaildirRelay(settings.outbox_dir, settings.gateway.domain)
