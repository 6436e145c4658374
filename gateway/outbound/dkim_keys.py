"""DKIM key pairs for `gateway dkim keygen`: the key files, and the DNS record that
publishes the public key (RFC 6376 section 3.6.1).

Keys are generated with cryptography (no openssl subprocess). The private key is
written as PKCS#1 PEM, which dkimpy, opendkim and openssl all read, with mode
0600 from its first byte: it is the list domain's signing identity.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.errors import GatewayError

KEY_FOLDER = "dkim"
PUBLIC_EXPONENT = 65537
# A zone file's TXT record is a list of strings of at most 255 octets each
# (RFC 1035 section 3.3.14); the DKIM verifier joins them (RFC 6376 section 3.6.2.2).
TXT_STRING_OCTETS = 255


class KeyExists(GatewayError):
    """A key file of that selector is already there, and --force was not given."""


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    public_pem: bytes
    public_der: bytes  # SubjectPublicKeyInfo, what the DNS record's p= holds

    @property
    def txt_value(self) -> str:
        """The TXT record's value: v=DKIM1; k=rsa; p=<base64 of the public key>."""
        return "v=DKIM1; k=rsa; p=" + base64.b64encode(self.public_der).decode("ascii")


def generate(bits: int) -> KeyPair:
    key = rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits)
    public = key.public_key()
    return KeyPair(
        private_pem=pkcs1_pem(key),
        public_pem=public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public_der=public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


def pkcs1_pem(key: rsa.RSAPrivateKey) -> bytes:
    """The private key as the PKCS#1 PEM ("BEGIN RSA PRIVATE KEY") dkimpy parses."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def key_paths(config_folder: Path, selector: str) -> tuple[Path, Path]:
    """Where keygen writes a selector's private and public keys, beside the configuration."""
    folder = config_folder / KEY_FOLDER
    return folder / f"{selector}.private", folder / f"{selector}.public"


def write_key_pair(pair: KeyPair, private: Path, public: Path, force: bool) -> None:
    """Write both files, or neither when one exists and `force` is off."""
    if not force:
        for path in (private, public):
            if path.exists():
                raise KeyExists(f"{path} already exists; give --force to replace it")
    private.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomically(private, pair.private_pem, 0o600)
    write_atomically(public, pair.public_pem, 0o644)


def write_atomically(path: Path, data: bytes, mode: int) -> None:
    """A new file with `mode` from its creation, renamed over `path` once synced."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def record_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


def txt_strings(value: str) -> list[str]:
    """The record's value as the 255-octet strings a zone file needs."""
    data = value.encode("ascii")
    return [
        data[i : i + TXT_STRING_OCTETS].decode("ascii")
        for i in range(0, len(data), TXT_STRING_OCTETS)
    ]
