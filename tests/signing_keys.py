"""DKIM keys for the tests, published by the real DNS server of tests/dns.py, and the
dkimpy verifiers that read them from it (nothing else answers those names)."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dkim
import dns.exception
import dns.rdatatype
import dns.resolver
import pytest

from gateway.outbound.dkim_keys import KeyPair
from gateway.outbound.dkim_keys import record_name
from tests.dns import DnsServer
from tests.dns import DnsUnavailable

DOMAIN = "lists.example.com"
SELECTOR = "gateway"


def lookup_through(server: DnsServer) -> Callable[..., bytes | None]:
    """A dkimpy `dnsfunc` that asks `server` only: the TXT strings of a name, joined."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = server.port

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        try:
            answer = resolver.resolve(
                name.decode("ascii"), dns.rdatatype.TXT, lifetime=timeout, search=False
            )
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except dns.exception.Timeout as error:
            raise dkim.DnsTimeoutError(str(error)) from None
        return b"".join(b"".join(record.strings) for record in answer)

    return lookup


@dataclass(frozen=True)
class Published:
    """A key pair whose public half the DNS server publishes for SELECTOR at DOMAIN."""

    pair: KeyPair
    server: DnsServer

    def verify(self, message: bytes) -> bool:
        return bool(dkim.verify(message, dnsfunc=lookup_through(self.server)))

    def arc_verify(self, message: bytes) -> tuple[bytes, list[dict[str, object]], str]:
        result: tuple[bytes, list[dict[str, object]], str] = dkim.arc_verify(
            message, dnsfunc=lookup_through(self.server)
        )
        return result

    def write_private(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.pair.private_pem)
        path.chmod(0o600)
        return path


@contextmanager
def serving(name: str, value: str) -> Iterator[DnsServer]:
    """dnsmasq publishing one TXT record; the test is skipped without dnsmasq."""
    try:
        server = DnsServer({name: value})
        server.start()
    except DnsUnavailable as reason:
        pytest.skip(f"DKIM verification through DNS skipped: {reason}")
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def published(pair: KeyPair, selector: str = SELECTOR) -> Iterator[DnsServer]:
    """The public key of `pair` published at <selector>._domainkey.DOMAIN."""
    with serving(record_name(selector, DOMAIN), pair.txt_value) as server:
        yield server
