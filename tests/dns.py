"""A real DNS server for the tests: dnsmasq from Debian, on a loopback port, serving TXT records.

It answers only what it is given (no upstream, no /etc/hosts): every other name
is NXDOMAIN, as a domain that publishes nothing. Point `[dns] nameservers` at
`server.address` ("127.0.0.1:PORT"). dnsmasq is in Debian's `dnsmasq-base`.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

from tests.postgres import free_port


class DnsUnavailable(Exception):
    """No dnsmasq here: the tests that need a DNS server are skipped with this reason."""


def find_dnsmasq() -> str:
    path = shutil.which("dnsmasq") or (
        "/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq") else ""
    )
    if not path:
        raise DnsUnavailable("dnsmasq is not installed (Debian package 'dnsmasq-base')")
    return path


class DnsServer:
    """dnsmasq serving `txt` (name -> one string or several), with a TTL of `ttl` seconds.

    With `query_log` (a file path), dnsmasq notes every query it gets there: queries()."""

    def __init__(
        self,
        txt: Mapping[str, str | Sequence[str]],
        ttl: int = 300,
        binary: str = "",
        query_log: Path | None = None,
    ) -> None:
        self.binary = binary or find_dnsmasq()
        self.txt = dict(txt)
        self.ttl = ttl
        self.query_log = query_log
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port(udp=True)  # dnsmasq listens on UDP and TCP
        command = [
            self.binary,
            "--keep-in-foreground",
            "--no-daemon",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--local=/#/",  # every name not given here is answered NXDOMAIN, not forwarded
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            f"--port={self.port}",
            f"--local-ttl={self.ttl}",
            f"--user={getpass.getuser()}",  # dnsmasq drops to 'nobody' otherwise
            "--pid-file=",
        ]
        if self.query_log is not None:
            command += ["--log-queries", f"--log-facility={self.query_log}"]
        for name, value in self.txt.items():
            strings = [value] if isinstance(value, str) else list(value)
            # dnsmasq splits a TXT record at commas into strings; a DKIM key is one long
            # string, given as its 255-octet pieces (RFC 7208 3.3: they are concatenated).
            pieces = [chunk for text in strings for chunk in txt_pieces(text)]
            command.append("--txt-record=" + ",".join([name, *(_quoted(p) for p in pieces)]))
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        query = dns.message.make_query("ready.invalid.", dns.rdatatype.TXT)
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise DnsUnavailable(f"dnsmasq exited: {error.strip()}")
            try:
                dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.2)
                return
            except (dns.exception.Timeout, OSError):
                time.sleep(0.05)
        raise DnsUnavailable("dnsmasq did not answer within 10 s")

    def queries(self) -> list[str]:
        """The queries asked so far, as "TYPE name" ("TXT _dmarc.example.com"), in order."""
        assert self.query_log is not None, "start the server with a query_log"
        if not self.query_log.exists():
            return []
        text = self.query_log.read_text(encoding="utf-8", errors="replace")
        return [f"{kind} {name}" for kind, name in re.findall(r"query\[(\w+)\] (\S+) from", text)]

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None

    def __enter__(self) -> DnsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def txt_pieces(text: str) -> list[str]:
    """A TXT value as strings of at most 255 octets (a DKIM key is longer)."""
    return [text[i : i + 255] for i in range(0, len(text), 255)] or [""]


def _quoted(text: str) -> str:
    if "," in text or '"' in text:
        if '"' in text:
            raise ValueError(f"a TXT string with a double quote is not supported: {text!r}")
        return f'"{text}"'
    return text
