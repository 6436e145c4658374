"""The part of a mail its sender wrote now: quoted replies and signatures left out.

Profile lines and a moderator's reason are read from it, so that a reply quoting
the gateway's own answer never re-applies what it quoted.
"""

from __future__ import annotations

import re

# Lines that open the quoted part of a reply, in the clients' common forms.
_QUOTE_OPENERS = re.compile(
    r"^\s*(?:"
    r"On .+wrote\s*:|Le .+a écrit\s*:|-+\s*Original Message\s*-+|-+\s*Message d'origine\s*-+"
    r"|_{10,}|(?:From|De)\s*:.+"
    r")\s*$",
    re.IGNORECASE,
)
SIGNATURE = "-- "


def own_lines(body: str) -> list[str]:
    """The lines written by the sender: up to the first quote opener or signature,
    without '>' quoted lines."""
    lines: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if line == SIGNATURE or line.rstrip() == "--" or _QUOTE_OPENERS.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        lines.append(line.rstrip())
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    return lines


def own_text(body: str) -> str:
    return "\n".join(own_lines(body))
