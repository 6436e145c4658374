"""A private Postfix for the tests, started from the Debian package's binaries.

It stands where a company MTA stands: in front of the gateway (the list domain is a
relay domain whose transport map points at `gateway serve`) and behind it (the
gateway relays through it; everything that is not the list domain goes on to a
loopback sink, which plays the internet).

How a second instance runs beside the package, without postmulti:

- `postfix -c ROOT/etc start` reads ROOT/etc/main.cf and master.cf only. The
  package's /etc/postfix/main.cf need not exist (Debian's "No configuration"
  leaves none): the rule that a non-default config directory be listed in the
  default main.cf's `alternate_config_directories` is enforced only by the set-gid
  commands (postdrop, postqueue), and these tests hand mail in over SMTP, never
  through them. `postfix` itself must run as root; its daemons drop to the
  `postfix` user and `postdrop` group that the package creates.
- `meta_directory` stays the package's (postfix-files, postfix-script, read at
  start); `queue_directory` and `data_directory` are the instance's own, and
  `postfix start` creates what they need with the right owners.
- ROOT is made with mkdtemp and opened to everyone (0755), not pytest's tmp_path:
  pytest's base folder is 0700 root, and the master opens data/master.lock as the
  `postfix` user, who must reach it.
- Every service runs outside a chroot (master.cf's fifth column `n`), and the
  daemons log through postlogd to ROOT/maillog (`maillog_file`, which Postfix
  accepts only under a `maillog_file_prefixes` entry).
"""

from __future__ import annotations

import os
import shutil
import smtplib
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from tests.postgres import free_port

DOMAIN = "lists.example.com"
HOST = "127.0.0.1"
# Postfix closes a client connection idle this long with "421 4.4.2 ... timeout
# exceeded"; the real default is 300s, short here so that a test can outwait it.
SMTPD_TIMEOUT = 3
# The services a relay-only instance uses; none chrooted, postlogd for the log file.
MASTER_CF = """\
{host}:{port} inet n - n - - smtpd
pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
smtp      unix  - - n -     - smtp
relay     unix  - - n -     - smtp
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class PostfixUnavailable(Exception):
    """The postfix package is not installed, or the tests do not run as root: the Postfix
    tests are skipped with this reason."""


def find_postfix() -> Path:
    """The `postfix` command: on PATH, or where Debian puts it (/usr/sbin, often off PATH)."""
    found = shutil.which("postfix") or shutil.which("postfix", path="/usr/sbin:/usr/bin")
    if found is None:
        raise PostfixUnavailable(
            "the postfix command is not installed; install Debian's 'postfix' package "
            "(.ci/run does)"
        )
    return Path(found)


class PostfixServer:
    """One private instance: `port` takes mail; `start(gateway_port)` routes the list
    domain to the gateway and everything else to `sink_port`.

    `refused` maps recipient addresses to the reply Postfix gives them at RCPT
    (an access map, as a company MTA refuses its unknown users). Without
    `reuse_connections`, every delivery opens its own connection, so the port its log
    line names is the one the mail went to: a connection taken from Postfix's cache is
    logged with the port of the next hop being tried (the cache keeps no port).
    """

    def __init__(
        self,
        sink_port: int,
        refused: Mapping[str, str] | None = None,
        smtpd_timeout: int = SMTPD_TIMEOUT,
        reuse_connections: bool = True,
    ) -> None:
        self.command = find_postfix()
        if os.geteuid() != 0:
            raise PostfixUnavailable(
                "Postfix's master must be started as root: run the tests as root (CI does)"
            )
        self.sink_port = sink_port
        self.refused = dict(refused or {})
        self.smtpd_timeout = smtpd_timeout
        self.reuse_connections = reuse_connections
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="gateway-postfix-"))
        self.root.chmod(0o755)
        self.config = self.root / "etc"
        self.maillog = self.root / "maillog"
        self._master_pid = 0

    def start(self, *gateway_ports: int) -> PostfixServer:
        """Start, relaying the list domain to the gateway on `gateway_ports`: several
        are several nodes, tried in order (a next-hop list, Postfix 3.5 and later)."""
        self._write_config(gateway_ports)
        result = self._postfix("start")
        if result.returncode != 0:
            raise RuntimeError(f"postfix start failed ({result.returncode}):\n{self.log()}")
        pid_file = self.root / "queue" / "pid" / "master.pid"
        self._master_pid = int(pid_file.read_text().split()[0])
        return self

    def stop(self) -> None:
        """Stop the master (it stops its daemons) and wait until it has exited."""
        try:
            if self._master_pid:
                self._postfix("stop")
                deadline = time.monotonic() + 30
                while _alive(self._master_pid):
                    assert time.monotonic() < deadline, "the Postfix master did not exit"
                    time.sleep(0.05)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def idle_connections_closed(self) -> bool:
        """Whether Postfix timed out a client, and no client connection is open now."""
        log = self.log()
        opened, closed = log.count(": connect from "), log.count(": disconnect from ")
        return "timeout after" in log and opened == closed

    def log(self) -> str:
        """Postfix's log so far (every daemon's lines, through postlogd)."""
        return self.maillog.read_text(errors="replace") if self.maillog.exists() else ""

    def send(self, raw: bytes, to: list[str], sender: str = "alice@example.com") -> None:
        """Hand one message to Postfix, as a sender's MTA or mail client does."""
        with smtplib.SMTP(HOST, self.port, timeout=30) as smtp:
            smtp.sendmail(sender, to, raw)

    def _postfix(self, action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.command), "-c", str(self.config), action],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    def _write_config(self, gateway_ports: tuple[int, ...]) -> None:
        self.config.mkdir()
        (self.root / "queue").mkdir()
        transport = self.config / "transport"
        next_hops = ", ".join(f"[{HOST}]:{port}" for port in gateway_ports)
        transport.write_text(f"{DOMAIN} smtp:{next_hops}\n")
        access = self.config / "recipient_access"
        access.write_text("".join(f"{rcpt} {reply}\n" for rcpt, reply in self.refused.items()))
        settings = {
            "compatibility_level": "3.6",
            "meta_directory": _package_default("meta_directory"),
            "queue_directory": f"{self.root}/queue",
            "data_directory": f"{self.root}/data",
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(self.root),
            "myhostname": "mta.example.net",
            "inet_interfaces": HOST,
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            # Nothing is delivered here: the list domain is relayed to the gateway,
            # the rest to the sink.
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "relay_domains": DOMAIN,
            # texthash: read as plain text, no postmap needed.
            "transport_maps": f"texthash:{transport}",
            "relayhost": f"[{HOST}]:{self.sink_port}",
            "smtpd_authorized_verp_clients": "$mynetworks",
            "smtpd_recipient_restrictions": f"check_recipient_access texthash:{access}",
            "smtpd_timeout": f"{self.smtpd_timeout}s",
            "smtp_connect_timeout": "5s",
            "smtp_helo_timeout": "10s",
            "smtp_data_done_timeout": "10s",
            # Mail the gateway answered 4xx is tried again within seconds.
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "smtp_connection_cache_on_demand": "yes" if self.reuse_connections else "no",
        }
        main_cf = "".join(f"{name} = {value}\n" for name, value in settings.items())
        (self.config / "main.cf").write_text(main_cf)
        (self.config / "master.cf").write_text(MASTER_CF.format(host=HOST, port=self.port))


def _package_default(name: str) -> str:
    """A parameter's built-in value (postconf -d), e.g. the package's meta_directory."""
    postconf = shutil.which("postconf") or shutil.which("postconf", path="/usr/sbin:/usr/bin")
    assert postconf is not None, "postconf comes with postfix"
    return subprocess.run(
        [postconf, "-dh", name], capture_output=True, text=True, check=True
    ).stdout.strip()


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie left for init to reap counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
