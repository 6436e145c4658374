"""Small thumbnails of the images attached to a digest's posts, sent inside the digest.

A thumbnail travels in the mail (a cid: part of a multipart/related), never as a
remote image: clients block those, and a remote image would tell who opened the
digest. Each is made once per run (DigestWriter keeps this maker for the run) and
shared by every digest that shows its thread.

Limits, so that a digest stays light: at most THUMBNAILS_PER_THREAD images per
thread, each at most BOX pixels wide and high, and DIGEST_BUDGET bytes of them per
digest (compose.py leaves out the thumbnails of the threads past it). What is not a
safe image (gateway.mail.images: too large, a decompression bomb, unreadable) is
skipped without an error: the attachment's link stays.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from gateway.blobs import BlobNotFound
from gateway.blobs import BlobStore
from gateway.mail.images import SOURCE_LIMIT
from gateway.mail.images import shrunk
from gateway.outbound.composer import InlineImage

log = logging.getLogger("gateway.digests")

THUMBNAILS_PER_THREAD = 3
BOX = (160, 120)
DIGEST_BUDGET = 300 * 1024


@dataclass(frozen=True)
class Thumbnail:
    image: InlineImage
    width: int
    height: int


class Thumbnails:
    """Makes each attachment's thumbnail once, and remembers the ones it could not."""

    def __init__(self, blobs: BlobStore, domain: str) -> None:
        self.blobs = blobs
        self.domain = domain
        self._made: dict[str, Thumbnail | None] = {}

    def of(self, sha256: str, filename: str, size: int) -> Thumbnail | None:
        if sha256 not in self._made:
            self._made[sha256] = self._make(sha256, filename, size)
        return self._made[sha256]

    def _make(self, sha256: str, filename: str, size: int) -> Thumbnail | None:
        if size > SOURCE_LIMIT:
            return None
        try:
            picture = shrunk(self.blobs.get(sha256), BOX)
        except (BlobNotFound, OSError) as error:
            log.info("no thumbnail for %s (%s): %s", filename, sha256[:12], error)
            return None
        if picture is None:
            log.info("no thumbnail for %s (%s): not a readable image", filename, sha256[:12])
            return None
        out = io.BytesIO()
        # Mail clients read PNG and JPEG everywhere; WebP not yet.
        if picture.mode == "RGBA":
            picture.save(out, "PNG", optimize=True)
            mime_type, extension = "image/png", "png"
        else:
            picture.save(out, "JPEG", quality=80, optimize=True)
            mime_type, extension = "image/jpeg", "jpg"
        image = InlineImage(
            content_id=f"thumb.{sha256[:20]}@{self.domain}",
            data=out.getvalue(),
            mime_type=mime_type,
            filename=f"thumbnail-{sha256[:12]}.{extension}",
        )
        return Thumbnail(image, picture.width, picture.height)
