"""The Maildir relay: each outgoing copy becomes a file in <data_dir>/outbox.

The default on a single machine: a new user sees exactly what each member would
receive (with Return-Path and Delivered-To, as a local delivery would add them)
without configuring a mail server. `mutt -f data/outbox` reads it.
"""

from __future__ import annotations

import asyncio
import mailbox
from pathlib import Path

from gateway.relay.envelope import Envelope
from gateway.relay.envelope import Reply
from gateway.relay.envelope import verp_address


class MaildirRelay:
    def __init__(self, path: Path, domain: str) -> None:
        self.path = path
        self.domain = domain
        self._maildir: mailbox.Maildir | None = None

    @property
    def xverp(self) -> bool:
        return True  # each file gets its recipient's own Return-Path

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._maildir = mailbox.Maildir(self.path, create=True)

    def payload(self, message: bytes) -> bytes:
        """The message as a Maildir file holds it: LF line ends, ending in one."""
        lines = message.replace(b"\r\n", b"\n")
        return lines if lines.endswith(b"\n") else lines + b"\n"

    async def send(self, envelope: Envelope) -> list[Reply]:
        return await asyncio.to_thread(self._write, envelope)

    async def close(self) -> None:
        self._maildir = None

    def _write(self, envelope: Envelope) -> list[Reply]:
        assert self._maildir is not None, "start() first"
        replies = []
        for recipient in envelope.recipients:
            sender = verp_address(recipient, self.domain) if envelope.xverp else envelope.sender
            head = f"Return-Path: <{sender}>\nDelivered-To: {recipient}\n".encode()
            key = self._maildir.add(head + envelope.payload)
            replies.append(Reply(250, f"2.0.0 written to {self.path.name}/new/{key}"))
        return replies
