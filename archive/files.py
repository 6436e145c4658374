"""Attachments and original messages as downloads: files under content-hashed paths
(named as gateway.links publishes them), and mbox files of a thread or a community."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence

from archive import urls
from archive.output import SiteOutput
from archive.snapshot import MessageEntry
from gateway.blobs import BlobStore
from gateway.mail.mboxrd import mbox_entry
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


# What a build knows of an mbox it wrote: how many messages, a digest of their ids in
# order, and the file's size (a build that stopped after appending leaves another).
MboxState = tuple[int, str, int]


def mbox_state(out: SiteOutput, relative: str, messages: Sequence[MessageEntry]) -> MboxState:
    """The state of the mbox at `relative` holding `messages`, as written."""
    return len(messages), _ids_digest(messages), os.path.getsize(out.path(relative))


def write_mbox(
    out: SiteOutput,
    relative: str,
    blobs: BlobStore,
    messages: Sequence[MessageEntry],
    domain: str,
    before: Sequence[object] | None,
) -> None:
    """Write a community's mbox: when the messages it held (`before`, its MboxState as
    the manifest kept it) are still its first ones, only the new ones are appended. A
    reply at the end of a year of mail then reads one blob, not every one."""
    if before and _still_first(out, relative, messages, before):
        count = int(str(before[0]))
        if count < len(messages):
            out.append(relative, mbox(blobs, messages[count:], domain))
        else:
            out.counts.unchanged += 1
        return
    out.write(relative, mbox(blobs, messages, domain))


def _still_first(
    out: SiteOutput, relative: str, messages: Sequence[MessageEntry], before: Sequence[object]
) -> bool:
    count, digest, size = before
    if not isinstance(count, int) or not 0 < count <= len(messages):
        return False
    try:
        if os.path.getsize(out.path(relative)) != size:
            return False
    except OSError:
        return False
    return _ids_digest(messages[:count]) == digest


def _ids_digest(messages: Sequence[MessageEntry]) -> str:
    ids = ",".join(str(m.id) for m in messages).encode()
    return hashlib.blake2b(ids, digest_size=10).hexdigest()


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
