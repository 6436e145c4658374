"""Typed settings: gateway.toml read once into frozen dataclasses.

Components receive the section they need as an argument; nothing else in the
gateway reads the configuration file or the environment (DESIGN.md, principle 6).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tomllib
import typing
import zoneinfo
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gateway.mail.addresses import AddressError
from gateway.mail.addresses import normalize_domain

CONFIG_ENV = "GATEWAY_CONFIG"
DEFAULT_CONFIG_NAME = "gateway.toml"
SQLITE_FILE_NAME = "gateway.sqlite3"

# A configuration is a few kilobytes; a larger file is a mistake (or /dev/zero).
MAX_CONFIG_BYTES = 1024 * 1024

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class SettingsError(Exception):
    """The configuration cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class GatewaySettings:
    domain: str = "lists.example.com"
    data_dir: Path = Path("data")
    database_url: str = ""
    language: str = "en"
    # The display name of the gateway's own mail ("Community gateway <help@domain>"),
    # and the name of a digest of several communities ("Community gateway digest").
    name: str = "Community gateway"
    allowed_domains: tuple[str, ...] = ()
    # Markers of automatic mail besides those the gateway knows (gateway.mail.headers):
    # "Name" (any value) or "Name: value". Posts with one are discarded; action mail
    # with one is neither answered nor acted on.
    automatic_headers: tuple[str, ...] = ()
    # This node's name in the claims it takes (deliveries sending, their lease): empty is
    # the host name. Keep it when the node restarts, so that it resumes its own rows.
    node_id: str = ""


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 8025
    max_message_size: int = 25 * 1024 * 1024
    max_recipients: int = 100
    # Sessions open at once; one more is answered 421 4.7.0 and closed.
    max_sessions: int = 100
    # Bytes the messages arriving at once may hold in memory. Each DATA reserves
    # max_message_size; one that does not fit is answered 452 4.3.1 (tried again later).
    max_data_memory: int = 256 * 1024 * 1024


@dataclass(frozen=True)
class RelaySettings:
    backend: str = "maildir"
    host: str = "localhost"
    port: int = 25
    security: str = "none"
    username: str = ""
    password_env: str = "GATEWAY_RELAY_PASSWORD"
    # Persistent connections used in parallel. A connection waits for its transaction's
    # record before the next (the crash window): eight keep the relay busy meanwhile
    # (bench/fanout.py: a quarter faster than four on PostgreSQL, a tenth on SQLite).
    connections: int = 8
    # A connection idle longer than this is closed (QUIT) before it carries mail, and
    # a new one opened: keep it below the MTA's own idle timeout (Postfix smtpd_timeout,
    # 300 s), past which the MTA closes it with a "421 ... timeout exceeded".
    idle_seconds: int = 60


# Free-mail providers whose records say p=none but whose own inboxes junk or refuse
# their users' mail when it comes From them through someone else's servers (Gmail's
# and Yahoo's sender rules of 2024, Outlook's of 2025): rewritten whatever DNS says.
FREE_MAIL_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "icloud.com",
    "me.com",
    "yahoo.com",
    "aol.com",
)


@dataclass(frozen=True)
class DeliverySettings:
    # "verp": each recipient's own envelope sender, bounces+alice=example.com@domain
    # (one recipient per transaction, unless the relay offers XVERP); "shared":
    # recipients share transactions and bounces are matched by their report.
    envelope: str = "verp"
    recipients_per_transaction: int = 100
    # A temporary failure is tried again after retry_wait_seconds, then after
    # twice as long each time (at most an hour apart), for retry_hours.
    retry_wait_seconds: int = 60
    retry_hours: int = 72
    # Larger attachments are replaced by a link to their archived copy.
    max_attachment_size: int = 10 * 1024 * 1024
    # Posts whose From would fail the author domain's DMARC policy go out From
    # "Name via Community <slug@domain>" (gateway.outbound.from_rewriting): "auto" when
    # the policy is quarantine or reject, or the domain is in dmarc_rewrite_domains, or
    # the lookup failed; "always" for every post; "none" never. "rewrite-from", the
    # old name of "always", still loads.
    dmarc_mitigation: str = "auto"
    dmarc_rewrite_domains: tuple[str, ...] = FREE_MAIL_DOMAINS
    # Bounce points: a permanent failure counts 2, a temporary one 1; at this
    # score the membership's mail is stopped and the owners are told.
    bounce_threshold: int = 10
    # Each member's copy of a post is their own, with their one-click unsubscribe URL
    # (gateway.outbound.one_click): one transaction and one signature per recipient.
    personal_copies: bool = False
    # A node's claim on the deliveries it is sending lasts this long, renewed while it
    # sends; a claim not renewed (its node died) is taken over by another node.
    lease_seconds: int = 300


@dataclass(frozen=True)
class DnsSettings:
    # Resolvers for the DMARC lookups (gateway.mail.dmarc): IP addresses, each "host"
    # or "host:port" ("[::1]:53" for IPv6 with a port); empty: the system's.
    nameservers: tuple[str, ...] = ()
    # Seconds one lookup may take, retries included; past it the lookup has failed.
    timeout: int = 2


@dataclass(frozen=True)
class DigestSettings:
    daily: str = "07:00"
    weekly: str = "mon 07:00"
    timezone: str = "Europe/Paris"


@dataclass(frozen=True)
class ArchiveSettings:
    out_dir: Path = Path("site")
    base_url: str = "http://localhost:8000/"
    # `gateway serve` updates the site: it looks for new posts every rebuild_delay
    # seconds and rebuilds the search index at most every search_interval seconds.
    publish: bool = True
    rebuild_delay: int = 5
    search_interval: int = 300
    search: bool = True
    # Whether person pages show "Write to <name>" for people who did not choose
    # (profile@ "Write to: on|off|default", `gateway profile set --write-to`).
    show_write_to: bool = True


@dataclass(frozen=True)
class ActionSettings:
    # Confirmation and moderation tokens (confirm+TOKEN@) expire after this many days.
    token_days: int = 7
    # Most answers the email actions send one address in an hour; past it, silence.
    replies_per_hour: int = 10
    # SMTP peers (IP addresses) that check senders: a change on someone's behalf
    # (leave, delivery, mute, profile) through one of them takes effect without a
    # confirmation when it vouches for the From (gateway.actions.on_behalf).
    trusted_relays: tuple[str, ...] = ()


@dataclass(frozen=True)
class AdoptionSettings:
    # A question with no reply after this many hours is offered, in daily digests, to
    # the members whose expertise matches it; at most questions_per_day a digest.
    unanswered_after_hours: int = 48
    questions_per_day: int = 3
    # The monthly mails (the owners' report, each member's "your network") go out on
    # this day of the month, at the daily digest's time.
    monthly_day: int = 1
    owner_report: bool = True
    network_mail: bool = True


@dataclass(frozen=True)
class WebSettings:
    # `gateway serve` answers HTTP here (gateway.web): one-click unsubscribe (RFC 8058)
    # and, with serve_archive, the archive's folder. Mail links to base_url.
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str = "http://localhost:8080/"
    serve_archive: bool = False
    # An unsubscribe link works this many days after its mail was written.
    unsubscribe_days: int = 90


@dataclass(frozen=True)
class DkimSettings:
    # Sign every outgoing mail with the key of [gateway] domain (gateway.outbound.signing).
    sign: bool = False
    selector: str = "gateway"
    key_file: Path = Path("dkim/gateway.private")
    # Seal each member's copy of a post with an ARC set, with the same key and selector.
    arc: bool = False
    # The authserv-id of the company MTA whose Authentication-Results the seal carries;
    # empty: none is trusted, and the seal says only arc=none, under [gateway] domain.
    arc_authserv_id: str = ""


@dataclass(frozen=True)
class Settings:
    """The whole configuration. `path` is the file it came from (None when built in code)."""

    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    relay: RelaySettings = field(default_factory=RelaySettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    digests: DigestSettings = field(default_factory=DigestSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    actions: ActionSettings = field(default_factory=ActionSettings)
    adoption: AdoptionSettings = field(default_factory=AdoptionSettings)
    dns: DnsSettings = field(default_factory=DnsSettings)
    web: WebSettings = field(default_factory=WebSettings)
    dkim: DkimSettings = field(default_factory=DkimSettings)
    path: Path | None = None

    @property
    def sqlalchemy_url(self) -> str:
        """The store's URL: database_url, or SQLite under data_dir when it is empty."""
        if self.gateway.database_url:
            return self.gateway.database_url
        return f"sqlite:///{self.gateway.data_dir / SQLITE_FILE_NAME}"

    @property
    def spool_url(self) -> str:
        """Where accepted mail waits for the pipeline (gateway.ingest.spool).

        With SQLite, a database file of its own: SQLite has one writer per file,
        and the SMTP sessions must not queue behind the pipeline's transactions.
        PostgreSQL locks rows, so there the spool is a table of the store.
        """
        if self.gateway.database_url and not self.gateway.database_url.startswith("sqlite"):
            return self.gateway.database_url
        return f"sqlite:///{self.gateway.data_dir / 'spool.sqlite3'}"

    @property
    def node_id(self) -> str:
        """This node's name in its claims: [gateway] node_id, else the host name."""
        return self.gateway.node_id or host_node_id()

    @property
    def blob_dir(self) -> Path:
        return self.gateway.data_dir / "blobs"

    @property
    def outbox_dir(self) -> Path:
        return self.gateway.data_dir / "outbox"


SECTIONS: dict[str, type] = {
    "gateway": GatewaySettings,
    "smtp": SmtpSettings,
    "relay": RelaySettings,
    "delivery": DeliverySettings,
    "digests": DigestSettings,
    "archive": ArchiveSettings,
    "actions": ActionSettings,
    "adoption": AdoptionSettings,
    "dns": DnsSettings,
    "web": WebSettings,
    "dkim": DkimSettings,
}


# --- value checks: each takes the typed value and returns it (normalized) or raises ValueError


def _one_of(*choices: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(map(repr, choices))}, not {value!r}")
        return value

    return check


def _display_name(value: str) -> str:
    """A name for the From of mail: one printable line, not empty, short."""
    value = " ".join(value.split())
    if not value or len(value) > 64 or not value.isprintable():
        raise ValueError(f"must be a name of 1 to 64 printable characters, not {value!r}")
    return value


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"must be a TCP port from 1 to 65535, not {value}")
    return value


def _between(low: int, high: int) -> Callable[[int], int]:
    """A whole number from `low` to `high`: beyond, a value breaks what uses it (a token
    lifetime past year 9999, a size no machine holds) long after the file was read."""

    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high}, not {value}")
        return value

    return check


KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
HOUR = 3600
DAY = 24 * HOUR


def _not_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _domain(value: str) -> str:
    try:
        return normalize_domain(value)
    except AddressError as error:
        raise ValueError(str(error)) from None


def _domains(value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_domain(item) for item in value)


def _header_markers(value: tuple[str, ...]) -> tuple[str, ...]:
    for marker in value:
        name = marker.partition(":")[0].strip()
        if not re.fullmatch(r"[!-9;-~]+", name):
            raise ValueError(
                f"each item must be a header name or 'Name: value' (e.g. 'X-Robot'), not {marker!r}"
            )
    return tuple(value)


# A node id: a short token, shown by `gateway queue list` and stored with each claim.
NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _node_id(value: str) -> str:
    if value and not NODE_ID.fullmatch(value):
        raise ValueError(
            f"must be empty (the host name) or a short name of letters, digits, '.', '_'"
            f" and '-' (at most 64), such as 'node-1', not {value!r}"
        )
    return value


def host_node_id() -> str:
    """The host name as a node id (its first 64 characters)."""
    return socket.gethostname()[:64] or "localhost"


def _database_url(value: str) -> str:
    if not value:
        return value
    try:
        make_url(value)
    except ArgumentError:
        raise ValueError(
            f"{value!r} is not a database URL (e.g. 'postgresql+psycopg://user@host/db')"
        ) from None
    return value


def _time_of_day(value: str) -> str:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"must be a time of day as HH:MM, not {value!r}")
    return f"{int(match[1]):02d}:{match[2]}"


def _day_and_time(value: str) -> str:
    parts = value.strip().lower().split()
    if len(parts) != 2 or parts[0] not in WEEKDAYS:
        raise ValueError(f"must be a weekday and a time such as 'mon 07:00', not {value!r}")
    return f"{parts[0]} {_time_of_day(parts[1])}"


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known time zone (e.g. 'Europe/Paris')") from None
    return value


def _day_of_month(value: int) -> int:
    if not 1 <= value <= 28:
        raise ValueError(
            f"must be a day of the month from 1 to 28 (every month has it), not {value}"
        )
    return value


def _env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(f"must be an environment variable name, not {value!r}")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http:// or https:// URL, not {value!r}")
    return value if value.endswith("/") else value + "/"


def _dmarc_mitigation(value: str) -> str:
    # "rewrite-from" rewrote every post: the old name of "always".
    return "always" if value == "rewrite-from" else _one_of("auto", "always", "none")(value)


def _nameservers(value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        try:
            nameserver_address(item)
        except ValueError:
            raise ValueError(
                f"each item must be an IP address, or one with a port"
                f" ('192.0.2.53:5353', '[2001:db8::53]:53'), not {item!r}"
            ) from None
    return tuple(value)


def nameserver_address(value: str) -> tuple[str, int]:
    """(IP address, port) of a [dns] nameservers item: "host", "host:port", "[v6]:port"."""
    host, port = value.strip(), 53
    if host.startswith("["):
        host, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(value)
        if rest:
            port = int(rest[1:])
    elif host.count(":") == 1:
        host, _, number = host.partition(":")
        port = int(number)  # ValueError when it is not a number
    ipaddress.ip_address(host)
    _port(port)
    return host, port


def _dns_labels(value: str) -> str:
    """A DKIM selector: one or more DNS labels (RFC 6376 section 3.1)."""
    label = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    if not re.fullmatch(rf"{label}(?:\.{label})*", value.lower()):
        raise ValueError(f"must be DNS labels such as 'gateway' or 'mail2026', not {value!r}")
    return value.lower()


def _authserv_id(value: str) -> str:
    """An authserv-id as Authentication-Results headers carry it (RFC 8601 section 2.5)."""
    if value and not re.fullmatch(r"[!#-'*-:<-\[\]-~]+", value):
        raise ValueError(f"must be an authserv-id such as 'mx.example.com', not {value!r}")
    return value


CHECKS: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("gateway", "domain"): _domain,
    ("gateway", "database_url"): _database_url,
    ("gateway", "language"): _one_of("en", "fr"),
    ("gateway", "name"): _display_name,
    ("gateway", "allowed_domains"): _domains,
    ("gateway", "automatic_headers"): _header_markers,
    ("gateway", "node_id"): _node_id,
    ("smtp", "host"): _not_empty,
    ("smtp", "port"): _port,
    ("smtp", "max_message_size"): _between(KIB, GIB),
    ("smtp", "max_recipients"): _between(1, 10_000),
    ("smtp", "max_sessions"): _between(1, 10_000),
    ("smtp", "max_data_memory"): _between(MIB, 64 * GIB),
    ("relay", "backend"): _one_of("maildir", "smtp"),
    ("relay", "host"): _not_empty,
    ("relay", "port"): _port,
    ("relay", "security"): _one_of("none", "starttls", "tls"),
    ("relay", "password_env"): _env_name,
    ("relay", "connections"): _between(1, 100),
    ("relay", "idle_seconds"): _between(1, DAY),
    ("delivery", "envelope"): _one_of("verp", "shared"),
    ("delivery", "recipients_per_transaction"): _between(1, 10_000),
    ("delivery", "retry_wait_seconds"): _between(1, DAY),
    ("delivery", "retry_hours"): _between(1, 30 * 24),
    ("delivery", "max_attachment_size"): _between(1, GIB),
    ("delivery", "dmarc_mitigation"): _dmarc_mitigation,
    ("delivery", "dmarc_rewrite_domains"): _domains,
    ("delivery", "bounce_threshold"): _between(1, 10_000),
    ("delivery", "lease_seconds"): _between(30, DAY),
    ("digests", "daily"): _time_of_day,
    ("digests", "weekly"): _day_and_time,
    ("digests", "timezone"): _timezone,
    ("archive", "base_url"): _http_url,
    ("archive", "rebuild_delay"): _between(1, DAY),
    ("archive", "search_interval"): _between(1, 7 * DAY),
    ("actions", "token_days"): _between(1, 365),
    ("actions", "replies_per_hour"): _between(1, 10_000),
    ("adoption", "unanswered_after_hours"): _between(1, 365 * 24),
    ("adoption", "questions_per_day"): _between(1, 100),
    ("adoption", "monthly_day"): _day_of_month,
    ("dns", "nameservers"): _nameservers,
    ("dns", "timeout"): _between(1, 60),
    ("web", "host"): _not_empty,
    ("web", "port"): _port,
    ("web", "base_url"): _http_url,
    ("web", "unsubscribe_days"): _between(1, 3650),
    ("dkim", "selector"): _dns_labels,
    ("dkim", "arc_authserv_id"): _authserv_id,
}


# --- loading


def find_config(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
    """The configuration file to read: --config, else $GATEWAY_CONFIG, else ./gateway.toml."""
    if explicit:
        return Path(explicit)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return Path(DEFAULT_CONFIG_NAME)


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and check a configuration file; raise SettingsError naming the file and key."""
    # abspath, not resolve(): a symlinked gateway.toml keeps its own folder as the base.
    path = Path(os.path.abspath(path))
    try:
        with path.open("rb") as file:  # read bounded: it may be /dev/zero or a FIFO
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise SettingsError(f"{path}: configuration file not found") from None
    except OSError as error:
        raise SettingsError(f"{path}: cannot read: {error.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise SettingsError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes, not a configuration")
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SettingsError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: invalid TOML: {error}") from None
    except RecursionError:
        # tomllib recurses into nested arrays and inline tables (5,000 levels crash it).
        raise SettingsError(f"{path}: invalid TOML: nested too deeply") from None
    try:
        return settings_from_dict(document, base_dir=path.parent, path=path)
    except SettingsError as error:
        raise SettingsError(f"{path}: {error}") from None


def settings_from_dict(
    document: Mapping[str, Any], base_dir: Path, path: Path | None = None
) -> Settings:
    """Build Settings from parsed TOML; relative paths resolve against base_dir."""
    unknown = sorted(set(document) - set(SECTIONS))
    if unknown:
        raise SettingsError(f"[{unknown[0]}]: unknown section (known: {', '.join(SECTIONS)})")
    sections: dict[str, Any] = {}
    for name, section_class in SECTIONS.items():
        table = document.get(name, {})
        if not isinstance(table, dict):
            raise SettingsError(f"{name}: must be a [{name}] table")
        sections[name] = _build_section(name, section_class, table, base_dir)
    return Settings(**sections, path=path)


def _build_section(name: str, section_class: type, table: dict[str, Any], base_dir: Path) -> Any:
    hints = typing.get_type_hints(section_class)
    known = {f.name for f in fields(section_class)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise SettingsError(
            f"[{name}] {unknown[0]}: unknown key (known: {', '.join(sorted(known))})"
        )
    values: dict[str, Any] = {}
    for item in fields(section_class):
        value = table.get(item.name, getattr(section_class(), item.name))
        try:
            value = _coerce(value, hints[item.name], base_dir)
            check = CHECKS.get((name, item.name))
            values[item.name] = check(value) if check else value
        except ValueError as error:
            raise SettingsError(f"[{name}] {item.name}: {error}") from None
    if name == "smtp" and values["max_data_memory"] < values["max_message_size"]:
        raise SettingsError(
            f"[smtp] max_data_memory: must be at least max_message_size"
            f" ({values['max_message_size']}), not {values['max_data_memory']}"
        )
    if name == "gateway":
        values["database_url"] = _resolve_sqlite_path(values["database_url"], base_dir)
    return section_class(**values)


def _coerce(value: Any, expected: Any, base_dir: Path) -> Any:
    """Check a TOML value against the field's declared type; paths become absolute."""
    if expected is Path:
        if isinstance(value, Path):
            return value if value.is_absolute() else base_dir / value
        return base_dir / _expect(value, str, "a path (string)")
    if expected is str:
        return _expect(value, str, "a string")
    if expected is int:
        return _expect(value, int, "an integer")
    if expected is bool:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_describe(value)}")
        return value
    if typing.get_origin(expected) is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"expected a list of strings, got {_describe(value)}")
        return tuple(value)
    raise TypeError(f"unsupported settings type {expected!r}")


def _expect(value: Any, kind: type, description: str) -> Any:
    # bool is an int in Python but never what a user means by a port or a size.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"expected {description}, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }
    return f"{names.get(type(value), type(value).__name__)} ({value!r})"


def _resolve_sqlite_path(url: str, base_dir: Path) -> str:
    """Make a relative SQLite file path in database_url relative to the config folder."""
    if not url:
        return url
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if Path(database).is_absolute() or database.startswith("file:"):
        return url
    return parsed.set(database=str(base_dir / database)).render_as_string(hide_password=False)
