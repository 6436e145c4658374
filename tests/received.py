"""Reading the mail the gateway sends: the bytes parsed, and the text a reader sees."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage


def parse_mail(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def plain_text(message: EmailMessage) -> str:
    """The text/plain body, decoded, with LF line ends (decoded quoted-printable keeps CRLFs)."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")
