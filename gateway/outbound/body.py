"""A post's body for its readers: the footer in its text and HTML parts, large attachments
replaced by links.

Signed and encrypted mail is never opened: the footer goes in a part of its own
after it (RFC 1847 signatures cover the bytes of the signed part). Any body the
email package cannot rewrite safely gets the same treatment, so a strange post
is still delivered, unchanged, with its footer.
"""

from __future__ import annotations

import email.message
import email.parser
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from gateway.mail import policy
from gateway.mail.structure import too_complex
from gateway.outbound.mime import CRLF
from gateway.outbound.mime import wrap_with_part

log = logging.getLogger("gateway.relay")

_POLICY = policy.SMTP
# Whose parts must stay byte for byte as they are.
_SEALED_TYPES = frozenset(
    {
        "multipart/signed",
        "multipart/encrypted",
        "application/pkcs7-mime",
        "application/x-pkcs7-mime",
    }
)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Footer:
    text: str
    html: str


# sha256, filename, size -> the text that replaces a large attachment
LinkText = Callable[[str, str, int], str]


def rewrite_body(
    entity: bytes, footer: Footer, max_attachment_size: int, link_text: LinkText
) -> bytes:
    """The MIME entity (Content-* fields, blank line, body) as readers get it.

    An entity past gateway.mail.structure's bounds is never parsed: the stdlib would
    exhaust its stack on it. It goes as it came, like a sealed one.
    """
    if too_complex(entity):
        return wrap_with_part(entity, _footer_part(footer.text))
    try:
        message = email.parser.BytesParser(policy=_POLICY).parsebytes(entity)
        if any(part.get_content_type() in _SEALED_TYPES for part in message.walk()):
            return wrap_with_part(entity, _footer_part(footer.text))
        assert isinstance(message, email.message.EmailMessage)
        _replace_large_attachments(message, max_attachment_size, link_text)
        if not _add_footers(message, footer):
            if not message.is_multipart():
                return wrap_with_part(entity, _footer_part(footer.text))
            message.attach(_footer_message(footer.text))
        return message.as_bytes(policy=_POLICY)
    except Exception as error:  # any body the email package trips on: sent as it came
        log.warning("body kept as it is, footer in a part of its own: %r", error)
        return wrap_with_part(entity, _footer_part(footer.text))


def _add_footers(message: email.message.EmailMessage, footer: Footer) -> bool:
    """Append the footer to the main text and HTML parts; False when there are none."""
    done = False
    for subtype in ("plain", "html"):
        part = message.get_body(preferencelist=(subtype,))
        if part is None or part.get_content_type() != f"text/{subtype}":
            continue
        content = part.get_content()
        assert isinstance(content, str)
        if subtype == "plain":
            content = content.rstrip("\r\n") + "\n\n" + footer.text
        else:
            matches = list(_BODY_END.finditer(content))
            at = matches[-1].start() if matches else len(content)
            content = content[:at] + footer.html + content[at:]
        part.set_content(content, subtype=subtype, charset="utf-8")
        done = True
    return done


def _replace_large_attachments(
    message: email.message.EmailMessage, limit: int, link_text: LinkText
) -> None:
    for part in message.walk():
        if part.is_multipart() or not part.get_filename():
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or len(payload) <= limit:
            continue
        sha256 = hashlib.sha256(payload).hexdigest()
        text = link_text(sha256, part.get_filename() or "", len(payload))
        assert isinstance(part, email.message.EmailMessage)
        part.set_content(text, subtype="plain", charset="utf-8", disposition="inline")


def _footer_message(text: str) -> email.message.EmailMessage:
    part = email.message.EmailMessage(policy=_POLICY)
    part.set_content(text, subtype="plain", charset="utf-8", disposition="inline")
    return part


def _footer_part(text: str) -> bytes:
    return _footer_message(text).as_bytes(policy=_POLICY).rstrip(CRLF)
