"""Images and files on thread pages (archive.thumbnails, archive.filetypes), on a real
store (SQLite and PostgreSQL): image attachments shown as thumbnails made once at build
time and kept beside the file, hostile images left as plain links, and every file
named by a human type and size in the site's language."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from archive import urls
from archive.build import MANIFEST
from archive.build import BuildReport
from archive.build import SiteBuilder
from archive.filetypes import file_type
from archive.output import SiteOutput
from archive.snapshot import SiteAttachment
from archive.thumbnails import BOX
from archive.thumbnails import SiteThumbnails
from gateway.app import App
from gateway.blobs import BlobStore
from gateway.community.communities import CommunityChanges
from gateway.community.communities import create_community
from gateway.community.communities import edit_community
from gateway.store.db import transaction
from gateway.store.models import Policy
from gateway.store.models import Visibility
from tests import mail_samples
from tests.factories import CountingBlobs
from tests.factories import ingest
from tests.factories import new_message_id
from tests.factories import post

EN = {
    "pdf": "PDF", "word": "Word document", "text_document": "Text document",
    "spreadsheet": "Spreadsheet", "presentation": "Presentation", "zip": "ZIP archive",
    "compressed": "Compressed archive", "text": "Text file", "calendar": "Calendar invitation",
    "email": "Email message", "image": "{format} image", "audio": "{format} audio",
    "video": "{format} video", "unknown": "File",
}  # fmt: skip


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), "teal" if mode == "RGB" else 0).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("filename", "content_type", "shown"),
    [
        ("report.pdf", "application/pdf", "PDF"),
        ("report.pdf", "application/octet-stream", "PDF"),
        ("Minutes.DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "Word document"),
        ("budget.xlsx", "application/octet-stream", "Spreadsheet"),
        ("figures.ods", "application/vnd.oasis.opendocument.spreadsheet", "Spreadsheet"),
        ("slides.pptx", "application/vnd.ms-powerpoint", "Presentation"),
        ("all.zip", "application/zip", "ZIP archive"),
        ("logs.tar.gz", "application/gzip", "Compressed archive"),
        ("logo.png", "image/png", "PNG image"),
        ("photo.jpg", "image/jpeg", "JPEG image"),
        ("photo", "image/jpeg", "JPEG image"),
        ("photo.JPG", "application/octet-stream", "JPEG image"),
        ("drawing.svg", "image/svg+xml", "SVG image"),
        ("talk.mp3", "audio/mpeg", "MP3 audio"),
        ("invite.ics", "text/calendar", "Calendar invitation"),
        ("plan.dwg", "application/acad", "DWG"),
        ("blob", "application/x-unknown-thing", "File"),
    ],
)  # fmt: skip
def test_a_file_is_named_by_a_human_type_never_a_mime_type(
    filename: str, content_type: str, shown: str
) -> None:
    assert file_type(filename, content_type, EN) == shown


def test_file_types_in_french_come_from_the_french_labels() -> None:
    import tomllib

    import templates

    french = tomllib.loads((templates.PATH / "archive" / "labels.fr.toml").read_text())
    kinds = french["file_types"]
    assert file_type("r.pdf", "application/pdf", kinds) == "Document PDF"
    assert file_type("logo.png", "image/png", kinds) == "Image PNG"
    assert file_type("a.zip", "application/zip", kinds) == "Archive ZIP"
    english = tomllib.loads((templates.PATH / "archive" / "labels.en.toml").read_text())
    assert english["file_types"] == EN and set(kinds) == set(EN)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n truncated",  # claims to be a PNG
        png(400, 300)[:200],  # cut short in its pixel data
        png(10_000, 5_000, "1"),  # 50 megapixels: a decompression bomb (a small file)
    ],
    ids=["broken", "truncated", "bomb"],
)
def test_a_hostile_image_gets_no_thumbnail(tmp_path: Path, data: bytes) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    sha256 = blobs.put(data)
    out = SiteOutput(tmp_path / "site")
    made = SiteThumbnails(out, blobs).of(
        SiteAttachment("bad.png", "image/png", len(data), sha256, "", False)
    )
    assert made is None
    assert not list((tmp_path / "site").rglob("*.thumb.*"))


def test_a_thumbnail_fits_its_box_keeps_transparency_and_is_made_once(tmp_path: Path) -> None:
    blobs = CountingBlobs(tmp_path / "blobs")
    logo = png(900, 300, "RGBA")
    sha256 = blobs.put(logo)
    attachment = SiteAttachment("logo.png", "image/png", len(logo), sha256, "", False)

    made = SiteThumbnails(SiteOutput(tmp_path / "site"), blobs).of(attachment)
    again = SiteThumbnails(SiteOutput(tmp_path / "site"), blobs).of(attachment)  # next build

    assert made is not None and (made.width, made.height) == (BOX[0], round(BOX[0] / 3))
    with Image.open(tmp_path / "site" / made.url) as thumbnail:
        assert made.url.endswith(".thumb.webp")
        assert thumbnail.format == "WEBP" and thumbnail.size == (made.width, made.height)
        assert thumbnail.mode == "RGBA"
    assert again == made and blobs.reads == [sha256]


def community(app: App, slug: str) -> None:
    with transaction(app.sessions) as session:
        create_community(session, slug, slug.title(), policy=Policy.OPEN)


def build(app: App, site: Path, **options: Any) -> BuildReport:
    return SiteBuilder(app, site, search=False, **options).run()


def test_images_show_as_thumbnails_beside_their_files_and_other_files_by_type(
    app: App, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    community(app, "design")
    photo = mail_samples.picture(1200, 800)
    bomb = png(10_000, 5_000, "1")
    report = b"%PDF-1.4 " + bytes(range(256)) * 164  # 41 KB
    mail = post("Pictures", "See attached.\n", message_id=new_message_id())
    mail.add_attachment(photo, maintype="image", subtype="jpeg", filename="site visit.jpg")
    mail.add_attachment(bomb, maintype="image", subtype="png", filename="huge.png")
    mail.add_attachment(report, maintype="application", subtype="pdf", filename="report.pdf")
    ingest(app, mail)

    build(app, site)

    [page_file] = (site / "t").glob("*/index.html")
    page = page_file.read_text()
    photo_sha = hashlib.sha256(photo).hexdigest()
    thumbnail = site / urls.thumbnail(photo_sha)
    with Image.open(thumbnail) as made:
        # As the JPEG decoder shrank it, at half its size: within twice the box (SLACK).
        assert made.size == (600, 400)
    width, height = BOX[0], round(BOX[0] * 800 / 1200)
    [img] = re.findall(r"<img [^>]*>", page)
    assert f'src="../../{urls.thumbnail(photo_sha)}"' in img
    assert f'width="{width}" height="{height}" alt="site visit.jpg"' in img  # shown in the box
    link = re.search(r'<a class="thumbnail" href="([^"]+)"><img', page)
    assert link and link.group(1) == "../../" + urls.attachment(photo_sha, "site visit.jpg")
    assert re.search(r"JPEG image · [\d.]+ KB", page)
    assert 'huge.png</a> <span class="meta">PNG image · ' in page  # a plain link
    assert not list(site.rglob(f"{hashlib.sha256(bomb).hexdigest()}.thumb.*"))
    assert "PDF · 41.0 KB" in page and "application/pdf" not in page

    made_at = thumbnail.stat().st_mtime_ns
    assert build(app, site, full=True).full
    assert thumbnail.stat().st_mtime_ns == made_at  # not made again

    with transaction(app.sessions) as session:
        edit_community(session, "design", CommunityChanges(visibility=Visibility.PRIVATE))
    build(app, site)
    assert (
        not thumbnail.exists() and not (site / urls.attachment_path(photo_sha, "x")).parent.exists()
    )


@pytest.mark.parametrize("manifest", ["paths and hashes", "paths only (before FORMAT 3)"])
def test_a_file_no_longer_public_goes_with_its_thumbnail(
    app: App, tmp_path: Path, manifest: str
) -> None:
    site = tmp_path / "site"
    community(app, "design")
    photo = mail_samples.picture(600, 400)
    mail = post("Pictures", "See attached.\n", message_id=new_message_id())
    mail.add_attachment(photo, maintype="image", subtype="jpeg", filename="visit.jpg")
    ingest(app, mail)
    build(app, site)
    sha = hashlib.sha256(photo).hexdigest()
    saved = json.loads((site / MANIFEST).read_text())
    assert saved["files"] == {urls.attachment_path(sha, "visit.jpg"): sha}
    assert (site / urls.thumbnail(sha)).exists()
    if manifest.startswith("paths only"):
        (site / MANIFEST).write_text(json.dumps({**saved, "files": list(saved["files"])}))

    with transaction(app.sessions) as session:
        edit_community(session, "design", CommunityChanges(visibility=Visibility.PRIVATE))
    build(app, site)
    assert not (site / urls.attachment_path(sha, "visit.jpg")).exists()
    assert not (site / urls.thumbnail(sha)).exists()
