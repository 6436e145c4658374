"""DMARC policies looked up through a real DNS server (dnsmasq on loopback): the DMARCbis
tree walk, p / sp / np, records that are not DMARC, the TTL cache, a dead resolver; and
which authors' posts go out From their community (gateway.outbound.from_rewriting)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest

from gateway.mail.dmarc import NEGATIVE_SECONDS
from gateway.mail.dmarc import AnswerCache
from gateway.mail.dmarc import DmarcPolicies
from gateway.mail.dmarc import DmarcRecord
from gateway.mail.dmarc import Policy
from gateway.mail.dmarc import organizational_domain
from gateway.mail.dmarc import parse_record
from gateway.mail.dmarc import walk_names
from gateway.outbound.from_rewriting import FromRewriting
from gateway.settings import DeliverySettings
from gateway.settings import DnsSettings
from gateway.settings import Settings
from tests.dns import DnsServer
from tests.dns import DnsUnavailable

# Author domains under test, each with what it publishes. Every other name is NXDOMAIN.
RECORDS = {
    "_dmarc.reject.example": "v=DMARC1; p=reject; rua=mailto:dmarc@reject.example",
    "_dmarc.quarantine.example": "v=DMARC1;p=quarantine",
    "_dmarc.lenient.example": "v=DMARC1; p=none",
    # An organizational domain that is lenient itself but strict for its subdomains:
    # team.parent.example exists (it has a record of its own kind), ghost.parent.example
    # does not.
    "_dmarc.parent.example": "v=DMARC1; p=none; sp=reject; np=quarantine",
    "team.parent.example": "v=spf1 -all",
    # Not DMARC records: an SPF record, a version in the wrong case.
    "_dmarc.spf.reject.example": "v=spf1 -all",
    "_dmarc.lowercase.reject.example": "v=dmarc1; p=none",
    # A public suffix (psd=y) under which corp.psd.example is an organization.
    "_dmarc.psd.example": "v=DMARC1; p=none; psd=y",
    "_dmarc.corp.psd.example": "v=DMARC1; p=quarantine",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsServer]:
    log = tmp_path_factory.mktemp("dns") / "queries.log"
    try:
        with DnsServer(RECORDS, query_log=log) as running:
            yield running
    except DnsUnavailable as reason:
        pytest.skip(f"DMARC lookups not tested: {reason}")


def policies(server: DnsServer, timeout: int = 2) -> DmarcPolicies:
    return DmarcPolicies(DnsSettings(nameservers=(server.address,), timeout=timeout))


def new_queries(server: DnsServer, before: list[str]) -> list[str]:
    return server.queries()[len(before) :]


# --- the walk, the record


def test_the_walk_asks_at_most_eight_names_skipping_the_deepest() -> None:
    # The draft's own example (section 4.10).
    assert walk_names("a.b.c.d.e.f.g.h.i.j.mail.example.com") == [
        "a.b.c.d.e.f.g.h.i.j.mail.example.com",
        "g.h.i.j.mail.example.com",
        "h.i.j.mail.example.com",
        "i.j.mail.example.com",
        "j.mail.example.com",
        "mail.example.com",
        "example.com",
        "com",
    ]
    assert walk_names("a.mail.example.com") == [
        "a.mail.example.com",
        "mail.example.com",
        "example.com",
        "com",
    ]
    assert walk_names("example.com") == ["example.com", "com"]


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        # section 4.10.2's examples, for a.mail.example.com
        ([("mail.example.com", "none"), ("example.com", "none")], "example.com"),
        ([("mail.example.com", "psd=n")], "mail.example.com"),
        ([("com", "psd=y")], "example.com"),
        ([], "a.mail.example.com"),
    ],
)
def test_the_organizational_domain_follows_the_draft(
    found: list[tuple[str, str]], expected: str
) -> None:
    records = [
        (name, DmarcRecord(Policy.NONE, psd=tag[-1] if tag.startswith("psd") else ""))
        for name, tag in found
    ]
    assert organizational_domain("a.mail.example.com", records) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=DMARC1; p=reject", DmarcRecord(Policy.REJECT)),
        (
            "v=DMARC1;p=Quarantine;sp=none;np=reject",
            DmarcRecord(Policy.QUARANTINE, Policy.NONE, Policy.REJECT),
        ),  # fmt: skip
        ("v=DMARC1; rua=mailto:r@example.com", DmarcRecord(Policy.NONE)),  # no p: p=none
        ("v=DMARC1; p=block", DmarcRecord(Policy.NONE)),  # an unknown p: p=none
        ("v=DMARC1; p=reject; sp=maybe", DmarcRecord(Policy.NONE)),  # a bad sp: all p=none
        ("v=DMARC1; p=reject; psd=y; future=1", DmarcRecord(Policy.REJECT, psd="y")),
        ("v=spf1 -all", None),
        ("v=dmarc1; p=reject", None),
        ("p=reject; v=DMARC1", None),
        ("", None),
    ],
)
def test_records_are_read_as_the_draft_says(text: str, expected: DmarcRecord | None) -> None:
    assert parse_record(text) == expected


# --- lookups through the DNS server


@pytest.mark.parametrize(
    ("domain", "policy", "policy_domain"),
    [
        ("reject.example", Policy.REJECT, "reject.example"),
        ("quarantine.example", Policy.QUARANTINE, "quarantine.example"),
        ("lenient.example", Policy.NONE, "lenient.example"),
        # no record of its own: the organizational domain's p applies (no sp, no np)
        ("deep.sub.reject.example", Policy.REJECT, "reject.example"),
        # an existing subdomain: sp; a subdomain that does not exist: np
        ("team.parent.example", Policy.REJECT, "parent.example"),
        ("ghost.parent.example", Policy.QUARANTINE, "parent.example"),
        ("parent.example", Policy.NONE, "parent.example"),
        # records that are not DMARC are passed over, and the walk goes on upwards
        ("spf.reject.example", Policy.REJECT, "reject.example"),
        ("lowercase.reject.example", Policy.REJECT, "reject.example"),
        # psd=y: the organizational domain is the name below it, whose record applies
        ("mail.corp.psd.example", Policy.QUARANTINE, "corp.psd.example"),
        # nothing published anywhere: DMARC does not apply
        ("nowhere.example", None, ""),
    ],
)
def test_the_policy_of_an_author_domain(
    server: DnsServer, domain: str, policy: Policy | None, policy_domain: str
) -> None:
    answer = asyncio.run(policies(server).policy(domain))

    assert not answer.failed, answer.error
    assert (answer.policy, answer.policy_domain) == (policy, policy_domain)


def test_a_long_domain_costs_at_most_eight_queries(server: DnsServer) -> None:
    domain = "a.b.c.d.e.f.g.h.i.j.reject.example"
    before = server.queries()

    answer = asyncio.run(policies(server).policy(domain))

    assert answer.policy is Policy.REJECT
    # reject.example has no psd tag: the walk goes on to the top-level name, the eighth.
    assert new_queries(server, before) == [f"TXT _dmarc.{name}" for name in walk_names(domain)]


def test_answers_are_cached_for_their_ttl(server: DnsServer, tmp_path: Path) -> None:
    with DnsServer(RECORDS, ttl=1, query_log=tmp_path / "queries.log") as short_lived:
        finder = policies(short_lived)
        before = short_lived.queries()
        asyncio.run(finder.policy("reject.example"))
        asyncio.run(finder.policy("reject.example"))
        asyncio.run(finder.policy("team.parent.example"))
        asyncio.run(finder.policy("team.parent.example"))
        within_ttl = new_queries(short_lived, before)
        time.sleep(1.1)
        asyncio.run(finder.policy("reject.example"))
        after_ttl = new_queries(short_lived, before)[len(within_ttl) :]

    assert within_ttl == [
        "TXT _dmarc.reject.example",
        "TXT _dmarc.team.parent.example",
        "TXT _dmarc.parent.example",
        "TXT _dmarc.example",
        "A team.parent.example",  # parent.example has an np: does the author domain exist?
    ]
    assert after_ttl == ["TXT _dmarc.reject.example"]


def test_domains_are_looked_up_together(server: DnsServer) -> None:
    answers = asyncio.run(
        policies(server).policies(["reject.example", "lenient.example", "reject.example"])
    )

    assert {domain: answer.policy for domain, answer in answers.items()} == {
        "reject.example": Policy.REJECT,
        "lenient.example": Policy.NONE,
    }


@pytest.fixture(params=["closed port", "silent server"])
def dead_nameserver(request: pytest.FixtureRequest) -> Iterator[str]:
    """A loopback UDP port nobody answers on: closed (the kernel says so at once), or
    bound by a socket that never reads (the query times out)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        if request.param == "closed port":
            udp.close()
        yield f"127.0.0.1:{port}"


def test_a_dead_resolver_is_a_failure_within_the_timeout_and_remembered(
    dead_nameserver: str, caplog: pytest.LogCaptureFixture
) -> None:
    finder = DmarcPolicies(DnsSettings(nameservers=(dead_nameserver,), timeout=1))
    caplog.set_level(logging.WARNING, logger="gateway.dmarc")

    started = time.monotonic()
    first = asyncio.run(finder.policy("reject.example"))
    elapsed = time.monotonic() - started
    again = asyncio.run(finder.policy("reject.example"))

    assert first.failed and first.policy is None
    # The timeout (1 s), give or take a busy machine; dnspython alone would wait 5 s.
    assert elapsed < 1.9
    assert again.failed
    [line] = [r.getMessage() for r in caplog.records if r.name == "gateway.dmarc"]
    assert line.startswith("DMARC policy of reject.example not found (")


# --- the decision


def rewriting(server: DnsServer, mode: str = "auto", listed: tuple[str, ...] = ()) -> FromRewriting:
    settings = Settings(
        delivery=DeliverySettings(dmarc_mitigation=mode, dmarc_rewrite_domains=listed),
        dns=DnsSettings(nameservers=(server.address,)),
    )
    return FromRewriting(settings)


AUTHORS = [
    "alice@reject.example",
    "quinn@quarantine.example",
    "lena@lenient.example",
    "tom@team.parent.example",
    "nobody@nowhere.example",
    "gail@gmail.com",
    "mo@mail.googlemail.com",
]


def test_auto_rewrites_strict_policies_and_the_listed_domains(server: DnsServer) -> None:
    decisions = asyncio.run(
        rewriting(server, listed=("gmail.com", "googlemail.com")).for_authors(AUTHORS)
    )

    assert {author for author, rewrite in decisions.items() if rewrite} == {
        "alice@reject.example",
        "quinn@quarantine.example",
        "tom@team.parent.example",
        "gail@gmail.com",  # p=none (or nothing at all, here) but listed
        "mo@mail.googlemail.com",  # a subdomain of a listed domain
    }


def test_listed_domains_are_not_looked_up(server: DnsServer) -> None:
    before = server.queries()
    asyncio.run(rewriting(server, listed=("gmail.com",)).for_authors(["gail@gmail.com"]))
    assert new_queries(server, before) == []


def test_an_empty_list_rewrites_by_policy_only(server: DnsServer) -> None:
    decisions = asyncio.run(rewriting(server).for_authors(["gail@gmail.com", "a@reject.example"]))
    assert decisions == {"gail@gmail.com": False, "a@reject.example": True}


def test_a_failed_lookup_rewrites(dead_nameserver: str) -> None:
    settings = Settings(dns=DnsSettings(nameservers=(dead_nameserver,), timeout=1))
    decisions = asyncio.run(FromRewriting(settings).for_authors(["lena@lenient.example"]))
    assert decisions == {"lena@lenient.example": True}


@pytest.mark.parametrize(("mode", "rewritten"), [("always", True), ("none", False)])
def test_always_and_none_ask_no_one(server: DnsServer, mode: str, rewritten: bool) -> None:
    before = server.queries()
    decisions = asyncio.run(rewriting(server, mode).for_authors(AUTHORS))
    assert decisions == dict.fromkeys(AUTHORS, rewritten)
    assert new_queries(server, before) == []


def answer_to(name: str, rcode: str, section: str, record: str) -> dns.resolver.Answer:
    """dnspython's Answer for a response as a server sends it."""
    response = dns.message.from_text(
        f"id 1\nopcode QUERY\nrcode {rcode}\nflags QR AA RD\n"
        f";QUESTION\n{name} IN TXT\n;{section}\n{record}\n"
    )
    assert isinstance(response, dns.message.QueryMessage)
    return dns.resolver.Answer(
        dns.name.from_text(name), dns.rdatatype.TXT, dns.rdataclass.IN, response
    )


def test_negative_answers_are_kept_minutes_however_long_the_soa_says() -> None:
    """dnsmasq sends no SOA with its NXDOMAIN; a real zone's says how long to remember
    the absence, often a day: a domain's first DMARC record would go unseen that long."""
    soa = "example. 86400 IN SOA ns.example. admin.example. 1 7200 3600 1209600 86400"
    missing = answer_to("_dmarc.new.example.", "NXDOMAIN", "AUTHORITY", soa)
    txt = '_dmarc.old.example. 86400 IN TXT "v=DMARC1; p=none"'
    found = answer_to("_dmarc.old.example.", "NOERROR", "ANSWER", txt)
    assert missing.expiration > time.time() + 86000  # what dnspython would keep
    cache = AnswerCache(10)
    for answer in (missing, found):
        cache.put((answer.qname, answer.rdtype, answer.rdclass), answer)

    assert missing.expiration <= time.time() + NEGATIVE_SECONDS
    assert found.expiration > time.time() + 86000  # a record's own TTL is honoured
