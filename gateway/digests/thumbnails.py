"""Small thumbnails of the images attached to a digest's posts, sent inside the digest.

A thumbnail travels in the mail (a cid: part of a multipart/related), never as a
remote image: clients block those, and a remote image would tell who opened the
digest. Each is made once per run (DigestWriter keeps this maker for the run) and
shared by every digest that shows its thread.

Limits, so that a digest stays light: at most THUMBNAILS_PER_THREAD images per
thread, each at most BOX pixels wide and high, and DIGEST_BUDGET bytes of them per
digest (compose.py leaves out the thumbnails of the threads past it). An image Pillow
cannot read, a file larger than SOURCE_LIMIT, or a picture of more than MAX_PIXELS
(a decompression bomb) is skipped without an error: the attachment's link stays.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

from PIL import Image

from gateway.blobs import BlobNotFound
from gateway.blobs import BlobStore
from gateway.outbound.composer import InlineImage

log = logging.getLogger("gateway.digests")

THUMBNAILS_PER_THREAD = 3
BOX = (160, 120)
DIGEST_BUDGET = 300 * 1024
SOURCE_LIMIT = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")


@dataclass(frozen=True)
class Thumbnail:
    image: InlineImage
    width: int
    height: int


def is_image(filename: str, content_type: str) -> bool:
    """Worth trying: an image by its type or, sent as octet-stream, by its name."""
    return content_type.lower() in IMAGE_TYPES or filename.lower().endswith(IMAGE_SUFFIXES)


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
            data = self.blobs.get(sha256)
            return self._thumbnail(sha256, data)
        except (
            BlobNotFound,
            OSError,
            ValueError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ) as error:
            log.info("no thumbnail for %s (%s): %s", filename, sha256[:12], error)
            return None

    def _thumbnail(self, sha256: str, data: bytes) -> Thumbnail | None:
        with warnings.catch_warnings():
            # Pillow warns, then raises, past its own pixel limit: ours is checked first.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as source:
                width, height = source.size
                if width * height > MAX_PIXELS or not width or not height:
                    return None
                source.draft("RGB", BOX)  # JPEG: decode at a fraction of the size
                picture = source.convert("RGBA" if _has_alpha(source) else "RGB")
        picture.thumbnail(BOX)
        out = io.BytesIO()
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


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
