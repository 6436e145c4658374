"""The DMARC policy an author's domain publishes, found in DNS as DMARCbis says.

DMARCbis is draft-ietf-dmarc-dmarcbis-41 (published as RFC 9989); the sections cited
below are its: 4.7 (the record), 4.10 (the DNS Tree Walk), 4.10.1 (policy discovery),
4.10.2 (the Organizational Domain). No public-suffix list: the walk replaces it.

The delivery worker asks, before rendering a post, whether its author's domain
would have receivers quarantine or reject mail From it that its own servers did
not send (gateway.outbound.from_rewriting). The answer comes from dnspython's
async resolver, pointed at `[dns] nameservers`, with a cache that honours each
answer's TTL (dnspython's own, negative answers kept a few minutes at most) and
a cache of failures: a domain whose lookup failed is not asked again for
FAILURE_SECONDS, so a dead resolver costs one timeout a minute, not one a round.

A lookup takes at most `[dns] timeout` seconds in all; a timeout, a SERVFAIL or a
missing resolver is an answer of its own (`PolicyAnswer.error`), never an
exception, so the caller decides what a failure means.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdtypes.ANY.TXT
import dns.resolver

from gateway.settings import DnsSettings
from gateway.settings import nameserver_address

log = logging.getLogger("gateway.dmarc")

# draft-ietf-dmarc-dmarcbis-41 (RFC 9989) section 4.10: a walk asks at most eight
# names, so an author domain of a hundred labels costs no more than one of eight.
MAX_QUERIES = 8
# Negative answers (no such name, no record) are kept at most this long, whatever the
# SOA says: a domain that publishes its first record is seen within minutes.
NEGATIVE_SECONDS = 300
# A failed lookup is not tried again for this long; meanwhile it stays failed.
FAILURE_SECONDS = 60
CACHE_ENTRIES = 10_000


class Policy(enum.StrEnum):
    """A Domain Owner Assessment Policy (section 4.7, tag "p")."""

    NONE = "none"
    QUARANTINE = "quarantine"
    REJECT = "reject"


@dataclass(frozen=True)
class DmarcRecord:
    """The tags of a DMARC Policy Record that say what applies to whom."""

    p: Policy
    sp: Policy | None = None  # existing subdomains of the domain that publishes it
    np: Policy | None = None  # subdomains that do not exist
    psd: str = ""  # "y": a public suffix; "n": an organizational domain; "": unsaid


@dataclass(frozen=True)
class PolicyAnswer:
    """What applies to mail From `domain`: `policy` None when no DMARC record does
    (the mechanism does not apply); `error` set when the lookup failed."""

    domain: str
    policy: Policy | None = None
    policy_domain: str = ""  # the domain whose record applies
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error)


def parse_record(text: str) -> DmarcRecord | None:
    """A TXT string as a DMARC record, or None when it is not one (section 4.7: it
    starts with v=DMARC1). A missing or unknown p counts as p=none, and so does the
    whole record when its sp or np is unknown (section 4.10.1)."""
    version, *others = text.split(";")
    name, _, value = version.partition("=")
    if name.strip().lower() != "v" or value.strip() != "DMARC1":
        return None
    tags: dict[str, str] = {}
    for item in others:  # items that are not tag=value are ignored, as unknown tags are
        name, equals, value = item.partition("=")
        if equals:
            tags.setdefault(name.strip().lower(), value.strip())
    psd = tags.get("psd", "").lower()
    psd = psd if psd in ("y", "n") else ""
    policies = {name: _policy(tags[name]) for name in ("p", "sp", "np") if name in tags}
    if policies.get("sp", Policy.NONE) is None or policies.get("np", Policy.NONE) is None:
        return DmarcRecord(Policy.NONE, psd=psd)
    return DmarcRecord(
        p=policies.get("p") or Policy.NONE,
        sp=policies.get("sp"),
        np=policies.get("np"),
        psd=psd,
    )


def _policy(value: str) -> Policy | None:
    try:
        return Policy(value.lower())
    except ValueError:
        return None


def walk_names(domain: str) -> list[str]:
    """The names the DNS Tree Walk asks for `domain`, in order (section 4.10, steps 3 to
    7): the domain, then its parents down to the top-level one, skipping the deepest
    so that a domain of more than eight labels is asked at most eight names."""
    labels = domain.rstrip(".").split(".")
    names = [domain]
    for kept in range(min(len(labels) - 1, MAX_QUERIES - 1), 0, -1):
        names.append(".".join(labels[-kept:]))
    return names


def organizational_domain(author: str, found: list[tuple[str, DmarcRecord]]) -> str:
    """The Organizational Domain among the records a walk found, longest name first
    (section 4.10.2): one with psd=n; or the name one label below one with psd=y;
    else the one with the fewest labels; the author domain when none was found."""
    if not found:
        return author
    name, record = found[-1]  # a walk stops at the first psd=y or psd=n
    if record.psd == "n":
        return name
    if record.psd == "y" and name != author:
        labels = author.split(".")
        return ".".join(labels[-(name.count(".") + 2) :])
    return name


class AnswerCache(dns.resolver.LRUCache):
    """dnspython's cache (it honours each answer's TTL), with negative answers kept at
    most NEGATIVE_SECONDS: dnspython keeps them for the SOA's minimum, often a day."""

    def put(self, key: dns.resolver.CacheKey, value: dns.resolver.Answer) -> None:
        if value.rrset is None:
            value.expiration = min(value.expiration, time.time() + NEGATIVE_SECONDS)
        super().put(key, value)


class DmarcPolicies:
    """Finds the DMARC policy of author domains; built once, its caches kept."""

    def __init__(self, settings: DnsSettings) -> None:
        self.timeout = settings.timeout
        self._failed_until: dict[str, float] = {}
        self._resolver: dns.asyncresolver.Resolver | None = None
        self._no_resolver = ""
        try:
            self._resolver = _resolver(settings)
        except dns.exception.DNSException as error:  # no nameserver in /etc/resolv.conf
            self._no_resolver = f"no resolver: {error}"

    async def policies(self, domains: Iterable[str]) -> dict[str, PolicyAnswer]:
        """The policy of each domain, looked up concurrently."""
        unique = sorted(set(domains))
        answers = await asyncio.gather(*(self.policy(domain) for domain in unique))
        return dict(zip(unique, answers, strict=True))

    async def policy(self, domain: str) -> PolicyAnswer:
        """The policy applying to mail From `domain`, within `timeout` seconds."""
        now = time.monotonic()
        if self._failed_until.get(domain, 0.0) > now:
            return PolicyAnswer(domain, error="failed less than a minute ago")
        if self._resolver is None:
            return self._failed(domain, self._no_resolver, now)
        try:
            async with asyncio.timeout(self.timeout):
                return await self._discover(self._resolver, domain)
        except (dns.exception.DNSException, TimeoutError, ValueError) as error:
            return self._failed(domain, _describe(error, self.timeout), now)

    def _failed(self, domain: str, reason: str, now: float) -> PolicyAnswer:
        log.warning(
            "DMARC policy of %s not found (%s); taken as strict for %d s",
            domain,
            reason,
            FAILURE_SECONDS,
        )
        if len(self._failed_until) >= CACHE_ENTRIES:
            self._failed_until = {d: t for d, t in self._failed_until.items() if t > now}
        self._failed_until[domain] = now + FAILURE_SECONDS
        return PolicyAnswer(domain, error=reason)

    async def _discover(self, resolver: dns.asyncresolver.Resolver, domain: str) -> PolicyAnswer:
        """DMARC Policy Discovery (section 4.10.1): the Author Domain's own record; else
        that of its Organizational Domain, else of its Public Suffix Domain, found by
        the DNS Tree Walk from its parent; their sp (np when the author domain does not
        exist) applies to it, or p when they have none."""
        names = walk_names(domain)
        own = await _record(resolver, names[0])
        if own is not None:
            return PolicyAnswer(domain, own.p, domain)
        found: list[tuple[str, DmarcRecord]] = []
        for name in names[1:]:
            record = await _record(resolver, name)
            if record is not None:
                found.append((name, record))
                if record.psd:
                    break
        if not found:
            return PolicyAnswer(domain)
        records = dict(found)
        organizational = organizational_domain(domain, found)
        name = organizational if organizational in records else found[-1][0]
        record = records[name]
        policy = record.sp or record.p
        if record.np is not None and not await _exists(resolver, domain):
            policy = record.np
        return PolicyAnswer(domain, policy, name)


def _resolver(settings: DnsSettings) -> dns.asyncresolver.Resolver:
    """dnspython's async resolver on [dns] nameservers (the system's when empty),
    giving up on a query after `timeout` seconds, retries included."""
    if settings.nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(host, port)
            for host, port in map(nameserver_address, settings.nameservers)
        ]
    else:
        resolver = dns.asyncresolver.Resolver()  # /etc/resolv.conf
    resolver.lifetime = float(settings.timeout)
    resolver.cache = AnswerCache(CACHE_ENTRIES)
    return resolver


def _describe(error: BaseException, timeout: int) -> str:
    if isinstance(error, TimeoutError | dns.exception.Timeout):
        return f"no answer within {timeout} s"
    return str(error) or type(error).__name__


async def _record(resolver: dns.asyncresolver.Resolver, name: str) -> DmarcRecord | None:
    """The one DMARC record at _dmarc.<name>; None for none, or for several
    (section 4.10, step 2: they are all discarded)."""
    try:
        answer = await resolver.resolve(f"_dmarc.{name}.", "TXT", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return None
    texts = [
        b"".join(rdata.strings).decode("utf-8", "replace")
        for rdata in answer.rrset or ()
        if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
    ]
    records = [record for record in map(parse_record, texts) if record is not None]
    return records[0] if len(records) == 1 else None


async def _exists(resolver: dns.asyncresolver.Resolver, name: str) -> bool:
    """Whether a name exists (section 3.2.13, RFC 8020): anything but NXDOMAIN."""
    try:
        await resolver.resolve(f"{name}.", "A", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return False
    return True
