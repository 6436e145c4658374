"""Signing what leaves: one DKIM signature per rendered message, and an ARC seal on posts.

The worker calls sign() once per distinct content, before the relay's payload()
(which dot-stuffs), so every envelope of a content shares one signature and
fan-out pays for one RSA signature per post, not per member. The key is read and
checked once, when the signer is made; `gateway serve` makes one before it
listens, so a missing or bad key stops it at start-up with a message naming the
file (SigningKeyError), not at the first delivery.

Only the header fields that the relay and the MTAs after it leave alone are
signed (SIGNED_FIELDS): never Received, Return-Path or other trace fields, which
every hop adds to. From is signed once more than it occurs, so that a second From
cannot be added without breaking the signature (RFC 6376 section 8.15).

dkimpy does the signing and sealing; this module is its one seam.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import authres
import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.outbound.dkim_keys import pkcs1_pem
from gateway.outbound.mime import CRLF
from gateway.outbound.mime import Field
from gateway.outbound.mime import split_message
from gateway.settings import Settings
from gateway.settings import SettingsError

log = logging.getLogger("gateway.relay")

# Lowercase, as dkimpy compares them. List-Unsubscribe and List-Unsubscribe-Post must
# be signed for one-click unsubscribe to be honoured (RFC 8058 section 4).
SIGNED_FIELDS = frozenset(
    {
        b"from",
        b"to",
        b"cc",
        b"subject",
        b"date",
        b"message-id",
        b"in-reply-to",
        b"references",
        b"reply-to",
        b"sender",
        b"list-id",
        b"list-post",
        b"list-help",
        b"list-subscribe",
        b"list-unsubscribe",
        b"list-unsubscribe-post",
        b"list-archive",
        b"list-owner",
        b"mime-version",
        b"content-type",
        b"content-transfer-encoding",
        b"auto-submitted",
        b"precedence",
    }
)
OVER_SIGNED = frozenset({b"from"})
CANONICALIZATION = (b"relaxed", b"relaxed")
RECENT_CONTENTS = 16  # signatures kept, to sign a content again the same way
MIN_KEY_BITS = 1024  # RFC 8301 section 3.2: shorter keys are not to be trusted
AUTHENTICATION_RESULTS = "authentication-results"
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*?)\r?$", re.IGNORECASE | re.MULTILINE)


class SigningKeyError(SettingsError):
    """The [dkim] key file is missing, unreadable or not an RSA private key."""


def load_key(path: Path) -> bytes:
    """The RSA private key of `path`, as the PKCS#1 PEM that dkimpy reads.

    Any PEM private key cryptography reads is accepted (PKCS#1 or PKCS#8, as
    `gateway dkim keygen`, openssl or opendkim-genkey write them), then written
    again the one way dkimpy parses.
    """
    where = f"[dkim] key_file: {path}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SigningKeyError(f"{where}: no such file (`gateway dkim keygen` writes one)") from None
    except OSError as error:
        raise SigningKeyError(f"{where}: cannot read: {error.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        reason = "encrypted with a passphrase" if isinstance(error, TypeError) else "not a PEM key"
        raise SigningKeyError(f"{where}: not a usable private key ({reason})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SigningKeyError(f"{where}: not an RSA key (DKIM with rsa-sha256 needs one)")
    if key.key_size < MIN_KEY_BITS:
        raise SigningKeyError(f"{where}: {key.key_size} bits, fewer than {MIN_KEY_BITS}")
    return pkcs1_pem(key)


class Signer:
    """Signs a whole message (CRLF lines); this one, signing off, returns it unchanged."""

    def sign(self, message: bytes, forwarded: bool = False, remember: bool = False) -> bytes:
        """The message as it is sent. `forwarded`: a member's copy of a post (the mail
        the gateway relays, which an ARC seal is for), not mail the gateway wrote.
        `remember`: a content the next round may send again (a post's shared copy), whose
        signature is kept; not a digest or a personal copy, which never come back."""
        return message


@dataclass(frozen=True)
class DkimSigner(Signer):
    """Signs with the key of the list domain when `signs`; seals posts with ARC when
    `arc_authserv_id` is not None ("" when no incoming Authentication-Results are trusted)."""

    domain: str
    selector: str
    key: bytes  # PKCS#1 PEM (load_key)
    signs: bool = True
    arc_authserv_id: str | None = None
    # The fields put on top of the latest contents: a post to more members than a
    # delivery round takes is rendered again by the next round, and signed only once.
    _recent: OrderedDict[tuple[bool, bytes], bytes] = field(
        default_factory=OrderedDict, compare=False, repr=False
    )

    def sign(self, message: bytes, forwarded: bool = False, remember: bool = False) -> bytes:
        """Never raises for a message: one dkimpy cannot seal or sign (it would be
        malformed) is logged and goes out without, since a post unsigned beats a post
        lost (and an exception here would fail the whole delivery round)."""
        if not remember:
            return self._sign(message, forwarded)
        content = (forwarded, hashlib.sha256(message).digest())
        if content in self._recent:
            self._recent.move_to_end(content)
            return self._recent[content] + message
        signed = self._sign(message, forwarded)
        self._recent[content] = signed[: len(signed) - len(message)]
        if len(self._recent) > RECENT_CONTENTS:
            self._recent.popitem(last=False)
        return signed

    def _sign(self, message: bytes, forwarded: bool) -> bytes:
        if forwarded and self.arc_authserv_id is not None:
            try:
                message = self._seal(message)
            except Exception:
                log.exception("message %s could not be sealed (ARC)", _message_id(message))
        if not self.signs:
            return message
        try:
            signer = _prepared(dkim.DKIM(message, linesep=CRLF))
            signature: bytes = signer.sign(
                self.selector.encode("ascii"),
                self.domain.encode("ascii"),
                self.key,
                canonicalize=CANONICALIZATION,
            )
        except Exception as error:
            log.error("message %s could not be signed: %r", _message_id(message), error)
            return message
        return signature + message

    def _seal(self, message: bytes) -> bytes:
        """The message with an ARC set on top (RFC 8617), or as it is when a chain it
        already carries was not found valid by the trusted MTA (dkimpy ends the chain).

        The ARC-Authentication-Results copy the topmost Authentication-Results of the
        trusted authserv-id; without one, they say arc=none: the gateway saw no chain,
        and the seal (cv=none, instance 1) still verifies.
        """
        fields, body = split_message(message)
        trusted = _trusted_results(fields, self.arc_authserv_id) if self.arc_authserv_id else None
        if trusted is None:
            srv_id = self.arc_authserv_id or self.domain
            results = f"{srv_id}; arc=none".encode("ascii")
        else:
            srv_id, results = trusted
        # dkimpy reads the results from the message's own Authentication-Results fields:
        # it is handed only the one chosen (none of them is signed, so the copy without
        # the others gives the same signatures).
        kept = [f.raw for f in fields if f.name != AUTHENTICATION_RESULTS]
        stated = b"Authentication-Results: " + results + CRLF
        sealer = _prepared(dkim.ARC(b"".join([stated, *kept, CRLF, body]), linesep=CRLF))
        arc_set: list[bytes] = sealer.sign(
            self.selector.encode("ascii"),
            self.domain.encode("ascii"),
            self.key,
            srv_id.encode("utf-8"),
        )
        if not arc_set:
            log.info(
                "message %s came with an ARC chain no trusted results vouch for: not sealed",
                _message_id(message),
            )
        return b"".join(arc_set) + message


def _prepared(signer: dkim.DomainSigner) -> dkim.DomainSigner:
    """A dkimpy signer that signs SIGNED_FIELDS present in the message, From once more."""
    signer.should_sign = set(SIGNED_FIELDS)
    signer.frozen_sign = set(OVER_SIGNED)
    return signer


def _trusted_results(fields: list[Field], authserv_id: str) -> tuple[str, bytes] | None:
    """The topmost Authentication-Results of `authserv_id`, if any: its authserv-id as
    written, and its value unfolded (dkimpy folds what it writes)."""
    for item in fields:
        if item.name != AUTHENTICATION_RESULTS:
            continue
        value = item.raw.partition(b":")[2].strip()
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(value.decode("utf-8"))
        except (authres.AuthResError, UnicodeDecodeError):
            continue
        if parsed.authserv_id.lower() == authserv_id.lower():
            return parsed.authserv_id, b" ".join(value.split())
    return None


def _message_id(message: bytes) -> str:
    head = message.partition(b"\r\n\r\n")[0]
    match = _MESSAGE_ID.search(head)
    return match[1].decode("ascii", "replace").strip() if match else "(no Message-ID)"


def make_signer(settings: Settings) -> Signer:
    """The signer [dkim] asks for: DKIM and ARC with the key read now, or none."""
    section = settings.dkim
    if not section.sign and not section.arc:
        return Signer()
    return DkimSigner(
        domain=settings.gateway.domain,
        selector=section.selector,
        key=load_key(section.key_file),
        signs=section.sign,
        arc_authserv_id=section.arc_authserv_id if section.arc else None,
    )
