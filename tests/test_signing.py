"""gateway.outbound.signing: DKIM signatures and ARC seals, verified by dkimpy through a
real DNS server (dnsmasq) that publishes the key, as a receiving MTA would check them."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.outbound.dkim_keys import KeyPair
from gateway.outbound.signing import DkimSigner
from gateway.outbound.signing import Signer
from gateway.outbound.signing import SigningKeyError
from gateway.outbound.signing import load_key
from gateway.outbound.signing import make_signer
from gateway.settings import Settings
from gateway.settings import settings_from_dict
from tests.signing_keys import DOMAIN
from tests.signing_keys import SELECTOR
from tests.signing_keys import Published

POST = (
    b"Received: from mx.example.com by lists.example.com; Sat, 5 Dec 2026 10:00:00 +0000\r\n"
    b"Return-Path: <bounces@lists.example.com>\r\n"
    b"From: Alice <alice@example.com>\r\n"
    b"To: Design <design@lists.example.com>\r\n"
    b"Subject: [design] Colours\r\n"
    b"Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n"
    b"Message-ID: <m1@example.com>\r\n"
    b"List-Id: Design <design.lists.example.com>\r\n"
    b"List-Unsubscribe: <https://lists.example.com/u/TOKEN>,\r\n"
    b" <mailto:design-leave@lists.example.com?subject=leave>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"Precedence: list\r\n"
    b"X-Gateway-Loop: lists.example.com\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Which blue do we use? \xc3\xa9t\xc3\xa9\r\n"
)


def signer(pair: KeyPair, **options: object) -> DkimSigner:
    return DkimSigner(DOMAIN, SELECTOR, load_key_bytes(pair), **options)  # type: ignore[arg-type]


def load_key_bytes(pair: KeyPair) -> bytes:
    return pair.private_pem


def signed_fields(message: bytes) -> list[str]:
    """The h= list of the topmost DKIM-Signature."""
    head = message.partition(b"\r\n\r\n")[0].decode()
    signature = head.split("DKIM-Signature:", 1)[1].split("\r\nARC-", 1)[0]
    unfolded = " ".join(signature.split())
    h = unfolded.split(" h=", 1)[1].split(";", 1)[0]
    return [name.strip() for name in h.split(":")]


def test_a_signed_message_verifies_and_signs_only_fields_hops_leave_alone(
    dkim_dns: Published,
) -> None:
    message = signer(dkim_dns.pair).sign(POST)

    assert message.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert message.endswith(POST)
    assert dkim_dns.verify(message)
    fields = signed_fields(message)
    assert fields.count("from") == 2  # over-signed: a second From breaks it
    assert {"list-unsubscribe", "list-unsubscribe-post", "list-id", "subject"} <= set(fields)
    assert {"received", "return-path", "x-gateway-loop"}.isdisjoint(fields)


def test_what_the_mta_adds_keeps_it_valid_and_what_a_forger_changes_breaks_it(
    dkim_dns: Published,
) -> None:
    message = signer(dkim_dns.pair).sign(POST)
    # Hops add trace fields on top, and may refold nothing else (relaxed canonicalization).
    hop = b"Received: from lists.example.com by mx.partner.example; today\r\n"
    assert dkim_dns.verify(hop + b"Return-Path: <x@y>\r\n" + message)
    assert not dkim_dns.verify(message.replace(b"TOKEN", b"OTHER"))  # List-Unsubscribe
    assert not dkim_dns.verify(b"From: Mallory <ceo@example.com>\r\n" + message)
    assert not dkim_dns.verify(message.replace(b"blue", b"red"))


def test_an_8bit_body_and_a_long_folded_header_verify(dkim_dns: Published) -> None:
    long_subject = "Subject: " + " ".join(f"word{i}" for i in range(60))
    folded = long_subject[:70] + "\r\n " + long_subject[71:]
    message = POST.replace(b"Subject: [design] Colours", folded.encode())
    message += "Déjà vu, ça va, ünïcödé\r\n".encode() * 50

    signed = signer(dkim_dns.pair).sign(message)

    assert dkim_dns.verify(signed)


def test_signing_off_sends_the_message_as_it_is() -> None:
    assert Signer().sign(POST, forwarded=True) == POST
    assert isinstance(make_signer(Settings()), Signer)
    assert make_signer(Settings()).sign(POST) == POST


def test_a_message_dkim_cannot_sign_goes_out_unsigned_and_is_logged(
    key_pair: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    without_from = b"To: a@example.com\r\nMessage-ID: <x1@example.com>\r\n\r\nHi\r\n"

    with caplog.at_level(logging.ERROR, logger="gateway.relay"):
        assert signer(key_pair).sign(without_from) == without_from

    assert "<x1@example.com> could not be signed" in caplog.text


# --- ARC


def authentication_results(value: str) -> bytes:
    return f"Authentication-Results: {value}\r\n".encode()


def sealed(pair: KeyPair, message: bytes, authserv_id: str = "") -> bytes:
    return signer(pair, arc_authserv_id=authserv_id).sign(message, forwarded=True)


def test_a_post_is_sealed_with_arc_none_when_no_results_are_trusted(
    dkim_dns: Published,
) -> None:
    # The sender wrote this one: with no authserv-id trusted, it is not carried.
    forged = authentication_results("mx.example.com; dkim=pass header.d=example.com")

    message = sealed(dkim_dns.pair, forged + POST)

    assert message.startswith(b"DKIM-Signature:")
    assert b"\r\nARC-Seal: i=1; cv=none;" in message
    assert dkim_dns.verify(message)
    cv, [arc_set], reason = dkim_dns.arc_verify(message)
    assert (cv, reason) == (b"pass", "success")
    assert arc_set["aar-value"] == b"i=1; lists.example.com; arc=none\r\n"


def test_a_seal_carries_the_results_of_the_trusted_mta(dkim_dns: Published) -> None:
    trusted = authentication_results(
        "mx.example.com; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=example.com"
    )
    other = authentication_results("evil.example; dmarc=pass header.from=example.com")

    message = sealed(dkim_dns.pair, trusted + other + POST, authserv_id="mx.example.com")

    cv, [arc_set], _ = dkim_dns.arc_verify(message)
    assert cv == b"pass"
    aar = bytes(arc_set["aar-value"])  # type: ignore[call-overload]
    assert aar.startswith(b"i=1; mx.example.com;")
    assert b"dkim=pass header.d=example.com" in aar
    assert b"spf=pass" in aar and b"evil" not in aar


def test_a_trusted_mta_without_results_gives_an_arc_none_seal_under_its_id(
    dkim_dns: Published,
) -> None:
    message = sealed(dkim_dns.pair, POST, authserv_id="mx.example.com")

    cv, [arc_set], _ = dkim_dns.arc_verify(message)
    assert cv == b"pass"
    assert arc_set["aar-value"] == b"i=1; mx.example.com; arc=none\r\n"


def test_an_earlier_chain_nobody_vouched_for_is_not_sealed_but_still_signed(
    dkim_dns: Published, caplog: pytest.LogCaptureFixture
) -> None:
    first_hop = sealed(dkim_dns.pair, POST)  # an ARC set from an earlier forwarder
    earlier = first_hop[first_hop.index(b"ARC-Seal:") :]

    with caplog.at_level(logging.INFO, logger="gateway.relay"):
        message = sealed(dkim_dns.pair, earlier)

    assert message.count(b"ARC-Seal:") == 1
    assert dkim_dns.verify(message)
    assert "not sealed" in caplog.text


def test_an_earlier_chain_the_trusted_mta_found_valid_gets_the_next_instance(
    dkim_dns: Published,
) -> None:
    first_hop = sealed(dkim_dns.pair, POST)
    earlier = first_hop[first_hop.index(b"ARC-Seal:") :]
    verdict = authentication_results("mx.example.com; arc=pass; dkim=none")

    message = sealed(dkim_dns.pair, verdict + earlier, authserv_id="mx.example.com")

    assert b"ARC-Seal: i=2; cv=pass;" in message
    cv, sets, _ = dkim_dns.arc_verify(message)
    assert (cv, len(sets)) == (b"pass", 2)


def test_mail_the_gateway_wrote_is_signed_not_sealed(dkim_dns: Published) -> None:
    message = signer(dkim_dns.pair, arc_authserv_id="").sign(POST, forwarded=False)

    assert b"ARC-Seal" not in message
    assert dkim_dns.verify(message)


def test_arc_alone_seals_without_signing(dkim_dns: Published) -> None:
    message = signer(dkim_dns.pair, signs=False, arc_authserv_id="").sign(POST, forwarded=True)

    assert message.startswith(b"ARC-Seal: i=1; cv=none;")
    assert b"DKIM-Signature" not in message
    assert dkim_dns.arc_verify(message)[0] == b"pass"


# --- the key file


def settings_with_key(tmp_path: Path, **dkim: object) -> Settings:
    return settings_from_dict(
        {"gateway": {"domain": DOMAIN}, "dkim": {"sign": True, **dkim}}, base_dir=tmp_path
    )


def test_make_signer_reads_the_key_of_the_configuration_once(
    tmp_path: Path, dkim_dns: Published
) -> None:
    dkim_dns.write_private(tmp_path / "dkim" / "gateway.private")
    made = make_signer(settings_with_key(tmp_path))
    (tmp_path / "dkim" / "gateway.private").unlink()  # read at start-up, not per message

    assert dkim_dns.verify(made.sign(POST))


def test_a_pkcs8_key_as_openssl_writes_it_is_accepted(tmp_path: Path, dkim_dns: Published) -> None:
    key = serialization.load_pem_private_key(dkim_dns.pair.private_pem, password=None)
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "k.pem").write_bytes(pkcs8)

    made = DkimSigner(DOMAIN, SELECTOR, load_key(tmp_path / "k.pem"))

    assert dkim_dns.verify(made.sign(POST))


def ec_key() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "no such file (`gateway dkim keygen` writes one)"),
        (b"not a key\n", "not a usable private key (not a PEM key)"),
        (ec_key, "not an RSA key"),
    ],
    ids=["missing", "garbage", "ec"],
)
def test_a_bad_key_file_is_one_clear_error_naming_it(
    tmp_path: Path, content: object, reason: str
) -> None:
    path = tmp_path / "dkim" / "gateway.private"
    if content is not None:
        path.parent.mkdir()
        path.write_bytes(content() if callable(content) else content)  # type: ignore[arg-type]
    for options in ({}, {"sign": False, "arc": True}):
        settings = settings_with_key(tmp_path, **options)
        with pytest.raises(SigningKeyError) as raised:
            make_signer(settings)
        assert str(raised.value).startswith(f"[dkim] key_file: {path}: {reason}")


def test_an_unreadable_key_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "dkim").mkdir()
    with pytest.raises(SigningKeyError, match=r"dkim: cannot read: Is a directory"):
        make_signer(settings_with_key(tmp_path, key_file="dkim"))  # a folder


def test_dkim_settings_check_their_values(tmp_path: Path) -> None:
    settings = settings_with_key(tmp_path, selector="Mail2026", arc_authserv_id="mx.example.com")
    assert settings.dkim.selector == "mail2026"
    assert settings.dkim.key_file == tmp_path / "dkim" / "gateway.private"
    assert dataclasses.asdict(Settings().dkim)["arc"] is False
    for key, value in (("selector", "bad_selector"), ("arc_authserv_id", "mx example")):
        with pytest.raises(Exception, match=rf"\[dkim\] {key}: must be"):
            settings_with_key(tmp_path, **{key: value})


def test_a_content_signed_again_gets_the_same_signature(dkim_dns: Published) -> None:
    """A post to more members than one delivery round takes is rendered again by the
    next round: it is not signed again (the signature's t= would show a second one)."""
    made = signer(dkim_dns.pair, arc_authserv_id="")
    first = made.sign(POST, forwarded=True, remember=True)
    time.sleep(1.1)

    assert made.sign(POST, forwarded=True, remember=True) == first
    assert made.sign(POST) != first  # the gateway's own mail: not sealed
    assert dkim_dns.verify(first) and dkim_dns.arc_verify(first)[0] == b"pass"
