"""The part of a mail its sender wrote now: quoted replies and signatures left out
(gateway.mail.trim, the one set of reply rules).

Profile lines and a moderator's reason are read from it, so that a reply quoting
the gateway's own answer never re-applies what it quoted: a mail that is all quotes
gives no lines here, where the archive and digests would show it whole.
"""

from __future__ import annotations

from gateway.mail.trim import trim_text


def own_text(body: str) -> str:
    """The words written by the sender, without blank lines at either end."""
    return trim_text(body, whole_if_empty=False).new_text


def own_lines(body: str) -> list[str]:
    text = own_text(body)
    return text.split("\n") if text else []
