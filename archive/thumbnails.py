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
from gateway.mail.images import is_image
from gateway.mail.images import shrunk

log = logging.getLogger("gateway.archive")

# Fits a thread's column on a phone (390 px) and stays sharp at twice the density.
BOX = (320, 240)
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
        for extension in urls.THUMBNAIL_FORMATS:
            url = urls.thumbnail(sha256, extension)
            target = self.out.path(url)
            if not os.path.exists(target):
                continue
            try:
                with Image.open(target) as made:
                    width, height = made.size
            except UNREADABLE:
                return None  # damaged: made again
            return SiteThumbnail(url, width, height)
        return None

    def _make(self, attachment: SiteAttachment) -> SiteThumbnail | None:
        sha256 = attachment.sha256
        if attachment.size > SOURCE_LIMIT:
            return None
        try:
            picture = shrunk(self.blobs.get(sha256), BOX, RESAMPLE)
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
        return SiteThumbnail(url, picture.width, picture.height)
