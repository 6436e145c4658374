"""The archive's public URLs that mail links to: the contract the site builder follows.

Mail sent today carries these links for years, so they are stable: a page per
community, a page per thread (shared by the communities of a cross-post), and
attachments under their content hash. Page URLs end in "/" (STYLE.md).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote

from gateway.mail.filenames import safe_filename

# A static web server picks a file's type from its extension, so a name a browser
# would run as a page of the archive's origin (.html, .svg...) is published with
# ".download" appended: it is then offered as a download, never shown.
ACTIVE_EXTENSIONS = frozenset(
    {
        ".htm", ".html", ".shtml", ".xht", ".xhtml", ".xml", ".xsl", ".xslt", ".svg",
        ".svgz", ".js", ".mjs", ".css", ".mht", ".mhtml", ".hta", ".swf", ".wasm",
        ".appcache", ".manifest", ".webmanifest", ".php", ".cgi", ".pl", ".asp",
    }
)  # fmt: skip


def community_url(base_url: str, slug: str) -> str:
    return f"{base_url}c/{slug}/"


def thread_url(base_url: str, thread_id: int) -> str:
    return f"{base_url}t/{thread_id}/"


def message_url(base_url: str, thread_id: int, message_id: int) -> str:
    return f"{thread_url(base_url, thread_id)}#m{message_id}"


def attachment_url(base_url: str, sha256: str, filename: str) -> str:
    """Content-addressed: the same file in many messages is one URL."""
    return f"{base_url}{attachment_path(sha256, filename, quoted=True)}"


def attachment_path(sha256: str, filename: str, quoted: bool = False) -> str:
    name = published_filename(filename)
    return f"files/{sha256[:2]}/{sha256}/{quote(name) if quoted else name}"


def published_filename(filename: str) -> str:
    """The name an attachment is published under: safe in a path and in a browser."""
    name = safe_filename(filename)
    if PurePosixPath(name.lower()).suffix in ACTIVE_EXTENSIONS:
        name = f"{name}.download"
    return name
