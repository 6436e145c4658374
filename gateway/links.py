"""The archive's public URLs that mail links to: the contract the site builder follows.

Mail sent today carries these links for years, so they are stable: a page per
community, a page per thread (shared by the communities of a cross-post), and
attachments under their content hash. Page URLs end in "/" (STYLE.md).
"""

from __future__ import annotations

from urllib.parse import quote


def community_url(base_url: str, slug: str) -> str:
    return f"{base_url}c/{slug}/"


def thread_url(base_url: str, thread_id: int) -> str:
    return f"{base_url}t/{thread_id}/"


def message_url(base_url: str, thread_id: int, message_id: int) -> str:
    return f"{thread_url(base_url, thread_id)}#m{message_id}"


def attachment_url(base_url: str, sha256: str, filename: str) -> str:
    """Content-addressed: the same file in many messages is one URL."""
    return f"{base_url}files/{sha256[:2]}/{sha256}/{quote(filename)}"
