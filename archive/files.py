"""Attachments and original messages as downloads: files under content-hashed paths
(named as gateway.links publishes them), and mbox files of a thread or a community."""

from __future__ import annotations

from collections.abc import Iterable

from archive import urls
from archive.output import SiteOutput
from archive.snapshot import MessageEntry
from archive.snapshot import SiteAttachment
from gateway.blobs import BlobStore
from gateway.imports.exports import mbox_entry


def install_attachments(
    out: SiteOutput, blobs: BlobStore, attachments: Iterable[SiteAttachment]
) -> None:
    for attachment in attachments:
        if blobs.exists(attachment.sha256):
            path = urls.attachment_path(attachment.sha256, attachment.filename)
            out.install(path, blobs.path(attachment.sha256))


def mbox(blobs: BlobStore, messages: Iterable[MessageEntry]) -> bytes:
    """The original messages, byte for byte, as an mboxrd file (as `gateway export mbox`)."""
    return b"".join(
        mbox_entry(m.sender_address, m.received_at, blobs.get(m.raw_sha256)) for m in messages
    )
