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
    data: bytes,
    box: tuple[int, int],
    resample: Image.Resampling = Image.Resampling.BICUBIC,
    slack: float = 1.0,
) -> Image.Image | None:
    """The picture in `data` fitted inside `box` (RGB, or RGBA when it has
    transparency), or None when it is no safe image. With a `slack` above 1, a picture
    that decodes within `slack` times the box is kept as it decoded (a JPEG decoded
    at 1/2, 1/4 or 1/8 of its size), without resampling: see fitted() for its size
    on a page."""
    if len(data) > SOURCE_LIMIT:
        return None
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, past its own pixel limit: ours is checked first.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # No `with`: closing the file would close the picture too, and a copy of a
            # decoded photo costs a tenth of a thumbnail.
            source = Image.open(io.BytesIO(data))
            width, height = source.size
            if width * height > MAX_PIXELS or not width or not height:
                return None
            source.draft("RGB", box)  # JPEG: decode at a fraction of the size
            mode = "RGBA" if has_alpha(source) else "RGB"
            picture = source if source.mode == mode else source.convert(mode)
            picture.load()
    except (*UNREADABLE, Image.DecompressionBombWarning):
        return None
    if picture.width > box[0] * slack or picture.height > box[1] * slack:
        picture.thumbnail(box, resample)
    return picture


def fitted(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The size a picture of `size` is shown at inside `box` (never enlarged), as
    Pillow's thumbnail() rounds it."""
    width, height = size
    if width <= box[0] and height <= box[1]:
        return width, height
    scale = min(box[0] / width, box[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
