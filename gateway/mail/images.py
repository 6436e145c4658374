"""Thumbnails of attached images, made with Pillow and shared by the digests (sent in
the mail) and the archive (files beside the attachment): which files are worth trying,
and a picture shrunk to a box, or None for anything that is not a safe image.

Refused without an error: a file larger than SOURCE_LIMIT, a picture of more than
MAX_PIXELS (a decompression bomb: Pillow's own warning is made an error too), and
anything Pillow cannot read (truncated, hostile or not an image at all). SVG is never
tried: it is a document that can carry scripts, not a picture.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

SOURCE_LIMIT = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
# What Pillow raises for a file it cannot read or refuses to.
UNREADABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def is_image(filename: str, content_type: str) -> bool:
    """Worth trying: an image by its type or, sent as octet-stream, by its name."""
    return content_type.lower() in IMAGE_TYPES or filename.lower().endswith(IMAGE_SUFFIXES)


def shrunk(
    data: bytes, box: tuple[int, int], resample: Image.Resampling = Image.Resampling.BICUBIC
) -> Image.Image | None:
    """The picture in `data` fitted inside `box` (RGB, or RGBA when it has
    transparency), or None when it is no safe image."""
    if len(data) > SOURCE_LIMIT:
        return None
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, past its own pixel limit: ours is checked first.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as source:
                width, height = source.size
                if width * height > MAX_PIXELS or not width or not height:
                    return None
                source.draft("RGB", box)  # JPEG: decode at a fraction of the size
                picture = source.convert("RGBA" if has_alpha(source) else "RGB")
    except (*UNREADABLE, Image.DecompressionBombWarning):
        return None
    picture.thumbnail(box, resample)
    return picture


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
