"""Thumbnails of the images attached to public messages, made at build time and kept in
the site beside the attachment (files/ab/<sha256>.thumb.webp): a thread page shows
them inline, linked to the full image, and never loads anything from elsewhere.

A thumbnail depends only on the attachment's content, so it is made once: a later
build finds the file and only reads its size. What is not a safe image (too large, a
decompression bomb, truncated or hostile: gateway.thumbnails) gets no thumbnail and
keeps its plain link; it never fails the build. Files of attachments that are no
longer public go with them (archive.files.publish_attachments).
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass

from PIL import Image

from archive import urls
from archive.output import SiteOutput
from archive.snapshot import SiteAttachment
from gateway.blobs import BlobNotFound
from gateway.blobs import BlobStore
from gateway.thumbnails import SOURCE_LIMIT
from gateway.thumbnails import UNREADABLE
from gateway.thumbnails import is_image
from gateway.thumbnails import shrunk

log = logging.getLogger("archive")

# Fits a thread's column on a phone (390 px) and stays sharp at twice the density.
BOX = (320, 240)
# WebP: every browser reads it, and it keeps transparency. Method 2 of 0-6 encodes in
# a third of the default's time (4 ms for a 320x240 photo) at much the same size.
QUALITY = 80
METHOD = 2


@dataclass(frozen=True)
class SiteThumbnail:
    url: str  # from the site's root
    width: int
    height: int


class SiteThumbnails:
    """Each image attachment's thumbnail in the site: made if missing, else measured;
    once per build (a failure too)."""

    def __init__(self, out: SiteOutput, blobs: BlobStore) -> None:
        self.out = out
        self.blobs = blobs
        self._known: dict[str, SiteThumbnail | None] = {}

    def of(self, attachment: SiteAttachment) -> SiteThumbnail | None:
        if not is_image(attachment.filename, attachment.content_type):
            return None
        sha256 = attachment.sha256
        if sha256 not in self._known:
            self._known[sha256] = self._find(sha256) or self._make(attachment)
        return self._known[sha256]

    def _find(self, sha256: str) -> SiteThumbnail | None:
        target = self.out.path(urls.thumbnail(sha256))
        if not os.path.exists(target):
            return None
        try:
            with Image.open(target) as made:
                width, height = made.size
        except UNREADABLE:
            return None  # damaged: made again
        return SiteThumbnail(urls.thumbnail(sha256), width, height)

    def _make(self, attachment: SiteAttachment) -> SiteThumbnail | None:
        sha256 = attachment.sha256
        if attachment.size > SOURCE_LIMIT:
            return None
        try:
            picture = shrunk(self.blobs.get(sha256), BOX)
        except (BlobNotFound, OSError) as error:
            picture, reason = None, str(error)
        else:
            reason = "no readable image"
        if picture is None:
            log.info("no thumbnail for %s (%s): %s", attachment.filename, sha256[:12], reason)
            return None
        data = io.BytesIO()
        picture.save(data, "WEBP", quality=QUALITY, method=METHOD)
        self.out.write(urls.thumbnail(sha256), data.getvalue())
        return SiteThumbnail(urls.thumbnail(sha256), picture.width, picture.height)
