"""Attachments and original messages as downloads: files under content-hashed paths
(named as gateway.links publishes them), and mbox files of a thread or a community."""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping

from archive import urls
from archive.output import SiteOutput
from archive.snapshot import MessageEntry
from gateway.blobs import BlobStore
from gateway.imports.exports import mbox_entry
from gateway.mail.traces import without_recipient_traces


def publish_attachments(
    out: SiteOutput,
    blobs: BlobStore,
    wanted: Mapping[str, str],
    published: Mapping[str, str],
    full: bool,
) -> None:
    """Make the site's files/ hold exactly `wanted` (path -> blob hash): add what is new
        (everything missing, in a full build) and remove what was `published` (path -> blob
    hash, as the manifest kept it) but is no
        longer public, with the thumbnail of a file no public message carries any more
        (archive.thumbnails)."""
    for path, sha256 in wanted.items():
        if (full or path not in published) and blobs.exists(sha256):
            out.install(path, blobs.path(sha256))
    kept = set(wanted.values())
    for path in published.keys() - wanted.keys():
        out.remove(path)
        sha256 = published[path]
        if sha256 not in kept:
            for extension in urls.THUMBNAIL_FORMATS:
                out.remove(urls.thumbnail(sha256, extension))
        out.remove_empty_folders(path)


def mbox(blobs: BlobStore, messages: Iterable[MessageEntry], domain: str) -> bytes:
    """The original messages as an mboxrd file (as `gateway export mbox`), byte for byte
    but for the gateway's addresses among the envelope recipients relays noted
    (gateway.mail.traces: a Bcc'd private community's address may be there)."""
    return b"".join(
        mbox_entry(
            m.sender_address,
            m.received_at,
            without_recipient_traces(blobs.get(m.raw_sha256), domain),
        )
        for m in messages
    )
