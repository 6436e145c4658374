"""Thumbnails of the images attached to public messages, made at build time and kept in
the site beside the attachment (files/ab/<sha256>.thumb.jpg, or .thumb.webp for a
transparent image): a thread page shows them inline, linked to the full image, and
never loads anything from elsewhere.

A thumbnail depends only on the attachment's content, so it is made once: a later
build finds the file and only reads its size. What is not a safe image (too large, a
decompression bomb, truncated or hostile: gateway.mail.images) gets no thumbnail and
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
from gateway.mail.images import SOURCE_LIMIT
from gateway.mail.images import UNREADABLE
from gateway.mail.images import fitted
from gateway.mail.images import is_image
from gateway.mail.images import shrunk

log = logging.getLogger("gateway.archive")

# The size a thumbnail is shown at: it fits a thread's column on a phone (390 px).
BOX = (320, 240)
# Its file may have up to twice as many pixels each way: a JPEG photo is then kept as
# its decoder shrank it (1/2, 1/4 or 1/8: 1024x768 gives 512x384), which halves the
# cost of a thumbnail (no resampling) and keeps it sharp on a phone's denser screen.
SLACK = 2
# A photo's thumbnail is a JPEG: it encodes in a twentieth of WebP's time (0.2 ms),
# which counts when a build makes hundreds. A transparent image's is a WebP, which
# keeps the transparency (method 2 of 0-6: the fastest here, at much the same size).
JPEG_QUALITY = 80
# Pillow's bilinear filter is antialiased when it shrinks: as sharp at this size as
# bicubic, in two thirds of the time (2.4 ms a 1024x768 photo, all told, instead of 3.4).
RESAMPLE = Image.Resampling.BILINEAR
WEBP_QUALITY = 80
WEBP_METHOD = 2


@dataclass(frozen=True)
class SiteThumbnail:
    url: str  # from the site's root
    width: int  # as shown on the page: the file may have more pixels (SLACK)
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
        for extension in urls.THUMBNAIL_FORMATS:
            url = urls.thumbnail(sha256, extension)
            target = self.out.path(url)
            if not os.path.exists(target):
                continue
            try:
                with Image.open(target) as made:
                    size = made.size
            except UNREADABLE:
                return None  # damaged: made again
            return SiteThumbnail(url, *fitted(size, BOX))
        return None

    def _make(self, attachment: SiteAttachment) -> SiteThumbnail | None:
        sha256 = attachment.sha256
        if attachment.size > SOURCE_LIMIT:
            return None
        try:
            picture = shrunk(self.blobs.get(sha256), BOX, RESAMPLE, SLACK)
        except (BlobNotFound, OSError) as error:
            picture, reason = None, str(error)
        else:
            reason = "no readable image"
        if picture is None:
            log.info("no thumbnail for %s (%s): %s", attachment.filename, sha256[:12], reason)
            return None
        data = io.BytesIO()
        if picture.mode == "RGBA":
            picture.save(data, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
            url = urls.thumbnail(sha256, "webp")
        else:
            picture.save(data, "JPEG", quality=JPEG_QUALITY)
            url = urls.thumbnail(sha256, "jpg")
        self.out.write(url, data.getvalue())
        return SiteThumbnail(url, *fitted(picture.size, BOX))
