"""The archive's public URLs that mail links to: the contract the site builder follows.

Mail sent today carries these links for years, so they are stable: a page per
community, a page per thread (shared by the communities of a cross-post), and
attachments under their content hash. Page URLs end in "/" (STYLE.md).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import quote

from gateway.mail.filenames import safe_filename

# A static web server picks a file's type from its extension, and a browser runs what
# is typed as HTML, XML (any +xml type, which may carry XHTML and its script), SVG or
# script as a page of the archive's origin: `report.xhtm` and `process.xpdl` do. So
# only these extensions, whose types are safe to show or are offered as downloads by
# Python's mimetypes and nginx's default mime.types alike, are published as they are;
# every other name gets ".download" appended, an extension no server maps to a type,
# so it is served as application/octet-stream (tests/test_archive_pages.py checks the
# list against both tables).
SAFE_EXTENSIONS = frozenset(
    {
        # images shown inline (never SVG)
        ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".ico", ".tif", ".tiff", ".avif",
        # documents
        ".pdf", ".txt", ".csv", ".rtf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx",
        ".odt", ".ods", ".odp", ".ics", ".vcf",
        # archives
        ".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".tar",
        # audio and video
        ".mp3", ".m4a", ".ogg", ".oga", ".wav", ".flac", ".mp4", ".m4v", ".mov", ".webm",
        ".avi", ".mpeg", ".mpg",
    }
)  # fmt: skip


def community_url(base_url: str, slug: str) -> str:
    return f"{base_url}c/{slug}/"


def thread_url(base_url: str, thread_id: int) -> str:
    return f"{base_url}t/{thread_id}/"


def thread_ids_in(base_url: str, text: str) -> list[int]:
    """The thread numbers of the archive links (thread_url) a text holds, in order."""
    pattern = re.escape(f"{base_url}t/") + "([0-9]{1,18})/"
    return [int(found) for found in re.findall(pattern, text)]


def message_url(base_url: str, thread_id: int, message_id: int) -> str:
    return f"{thread_url(base_url, thread_id)}#m{message_id}"


def attachment_url(base_url: str, sha256: str, filename: str) -> str:
    """Content-addressed: the same file in many messages is one URL."""
    return f"{base_url}{attachment_path(sha256, filename, quoted=True)}"


def attachment_path(sha256: str, filename: str, quoted: bool = False) -> str:
    name = published_filename(filename)
    return f"files/{sha256[:2]}/{sha256}/{quote(name) if quoted else name}"


def published_filename(filename: str) -> str:
    """The name an attachment is published under: safe in a path and in a browser.

    A name without an extension is served as application/octet-stream already."""
    name = safe_filename(filename)
    suffix = PurePosixPath(name.lower()).suffix
    if suffix and suffix not in SAFE_EXTENSIONS:
        name = f"{name}.download"
    return name
