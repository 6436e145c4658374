"""The archive's URL scheme: where each page, feed, download and file lives in the site.

The public part of it (communities, threads, attachments) is gateway.links, which mail
already links to; this module adds the pages only the site has. Every path is relative
to the site's root and a page's path ends in "/" (it is written as PATH/index.html), so
the folder can be served from any URL prefix, or opened from disk.
"""

from __future__ import annotations

from urllib.parse import quote

from gateway import links

HOME = ""
PEOPLE = "people/"
SEARCH = "search/"
STATS = "stats/"  # the public communities' participation figures
SITE_FEED = "feed.atom"
STYLESHEET = "static/site.css"
SEARCH_SCRIPT = "static/search.js"
PEOPLE_SCRIPT = "static/people.js"  # the people directory's filter
SEARCH_BUNDLE = "pagefind/"


def community(slug: str, page: int = 1) -> str:
    """A community's thread list; its first page is the URL mail links to."""
    first = links.community_url("", slug)
    return first if page == 1 else f"{first}page/{page}/"


def community_feed(slug: str) -> str:
    return f"{links.community_url('', slug)}feed.atom"


def community_mbox(slug: str) -> str:
    return f"{links.community_url('', slug)}{slug}.mbox"


def thread(thread_id: int) -> str:
    return links.thread_url("", thread_id)


def message(thread_id: int, message_id: int) -> str:
    return links.message_url("", thread_id, message_id)


def thread_mbox(thread_id: int) -> str:
    return f"{links.thread_url('', thread_id)}thread.mbox"


def person(person_id: int) -> str:
    return f"{PEOPLE}{person_id}/"


def expertise(tag: str) -> str:
    """The people directory's anchor for one expertise tag ("who knows about X")."""
    return f"{PEOPLE}#{quote(tag, safe='')}"


def attachment(sha256: str, filename: str) -> str:
    return links.attachment_url("", sha256, filename)


def attachment_path(sha256: str, filename: str) -> str:
    """The file's path in the site (unquoted): files/ab/abcdef.../name."""
    return links.attachment_path(sha256, filename)


def attachment_sha256(path: str) -> str:
    """The blob hash in an attachment_path: only to read a manifest that kept paths alone."""
    return path.split("/")[2]


THUMBNAIL_FORMATS = ("jpg", "webp")  # a photo's, a transparent image's


def thumbnail(sha256: str, extension: str = "jpg") -> str:
    """An image attachment's thumbnail (URL and path), beside the folder of its file:
    the folder holds the published names, so none of them can be this one."""
    return f"files/{sha256[:2]}/{sha256}.thumb.{extension}"


def page_file(url: str) -> str:
    """The file a page URL is written to."""
    return f"{url}index.html" if url == "" or url.endswith("/") else url


def root_from(url: str) -> str:
    """The relative prefix from a page back to the site's root ("../../" for t/5/)."""
    return "../" * url.count("/")


def community_month(slug: str, month: str) -> str:
    """The threads a community started in one month ("2026-11")."""
    return f"{links.community_url('', slug)}{month}/"
