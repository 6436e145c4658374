"""Thumbnails of attached images in the HTML digest (gateway.digests.thumbnails): small,
sent in the mail by cid, made once per run, a few per thread and a budget per
digest, linked only in public communities; what Pillow cannot read is skipped."""

from __future__ import annotations

import dataclasses
import email
import email.message
import email.policy
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from gateway import links
from gateway.app import make_template_environment
from gateway.blobs import BlobStore
from gateway.digests import compose
from gateway.digests.news import FileLink
from gateway.digests.thumbnails import BOX
from gateway.digests.thumbnails import THUMBNAILS_PER_THREAD
from gateway.digests.thumbnails import Thumbnails
from tests import mail_samples
from tests.factories import CountingBlobs
from tests.test_mail_html import settings_for

DOMAIN = mail_samples.DOMAIN


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, "PNG")
    return out.getvalue()


def test_a_thumbnail_fits_its_box_and_is_made_once(tmp_path: Path) -> None:
    blobs = CountingBlobs(tmp_path)
    photo = mail_samples.picture(1200, 800)
    sha256 = blobs.put(photo)
    thumbnails = Thumbnails(blobs, DOMAIN)
    made = thumbnails.of(sha256, "photo.jpg", len(photo))
    assert made is not None
    assert (made.width, made.height) == (BOX[0], round(BOX[0] * 800 / 1200))
    assert made.image.mime_type == "image/jpeg" and len(made.image.data) < len(photo) // 5
    with Image.open(io.BytesIO(made.image.data)) as image:
        assert image.size == (made.width, made.height)
    assert made.image.content_id == f"thumb.{sha256[:20]}@{DOMAIN}"
    assert thumbnails.of(sha256, "photo.jpg", len(photo)) is made
    assert blobs.reads == [sha256]  # once per run, whatever the number of digests


def test_a_transparent_image_stays_a_png(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    logo = png(400, 400, "RGBA")
    made = Thumbnails(blobs, DOMAIN).of(blobs.put(logo), "logo.png", len(logo))
    assert made is not None and made.image.mime_type == "image/png"


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n truncated",  # claims to be a PNG
        b"%PDF-1.7 not an image",
        png(10_000, 5_000, "1"),  # 50 megapixels: a decompression bomb (a small file)
    ],
    ids=["broken", "not-an-image", "bomb"],
)
def test_what_pillow_cannot_or_should_not_read_is_skipped(tmp_path: Path, data: bytes) -> None:
    blobs = BlobStore(tmp_path)
    assert Thumbnails(blobs, DOMAIN).of(blobs.put(data), "image.png", len(data)) is None


def test_a_missing_blob_or_a_huge_file_is_skipped(tmp_path: Path) -> None:
    thumbnails = Thumbnails(BlobStore(tmp_path), DOMAIN)
    assert thumbnails.of("0" * 64, "gone.jpg", 1000) is None
    assert thumbnails.of("1" * 64, "huge.jpg", 50 * 1024 * 1024) is None


def parse(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def sample_digest(tmp_path: Path, files: int = 2):  # type: ignore[no-untyped-def]
    settings = settings_for("en", tmp_path)
    blobs = BlobStore(tmp_path / "blobs")
    writer, digest, names = mail_samples.digest(settings, make_template_environment(), blobs)
    thread = digest.sections[0].threads[0]
    for number in range(files - 2):
        data = mail_samples.picture(300 + number, 200, seed=number % 3)
        sha256 = blobs.put(data)
        name = f"photo-{number}.jpg"
        url = links.attachment_url(settings.archive.base_url, sha256, name)
        thread.files.append(FileLink(name, url, len(data), sha256, "image/jpeg"))
    return writer, digest, names


def test_the_digest_carries_its_thumbnails_by_cid_in_a_related_part(tmp_path: Path) -> None:
    writer, digest, names = sample_digest(tmp_path)
    _, raw = writer.mail(digest, names, mail_samples.NOW)
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    text, related = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    assert related.get_param("type") == "text/html"
    html, *images = related.iter_parts()
    assert html.get_content_type() == "text/html"
    assert [image.get_content_type() for image in images] == ["image/jpeg", "image/jpeg"]
    content = html.get_content()
    for image in images:
        cid = str(image["Content-ID"]).strip("<>")
        assert f'src="cid:{cid}"' in content
        assert image.get_content_disposition() == "inline"
    # Linked to the attachment in the archive (a public community), not for capture.png.
    thread = digest.sections[0].threads[0]
    for file in thread.files[:2]:
        assert re.search(rf'<a href="{re.escape(file.url)}"[^>]*><img src="cid:', content)
    assert content.count("<img ") == 2  # the broken capture.png is only a link


def test_a_few_per_thread_and_a_budget_per_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, digest, names = sample_digest(tmp_path, files=6)
    parts = writer.parts(digest, names)
    assert parts.html is not None and parts.html.count("<img ") == THUMBNAILS_PER_THREAD
    assert len(parts.images) == THUMBNAILS_PER_THREAD
    # A budget below the thread's thumbnails: the thread is shown without them.
    monkeypatch.setattr(compose, "DIGEST_BUDGET", sum(len(i.data) for i in parts.images) - 1)
    lean = writer.parts(digest, names)
    assert lean.images == () and lean.html is not None and "<img " not in lean.html
    assert "atelier-tableau-blanc.jpg" in lean.html  # the files' links stay


def test_no_link_around_a_thumbnail_in_a_private_community(tmp_path: Path) -> None:
    writer, digest, names = sample_digest(tmp_path)
    section = digest.sections[0]
    private = dataclasses.replace(section.community, public=False)
    digest = dataclasses.replace(digest, sections=[dataclasses.replace(section, community=private)])
    writer.new_window({private.id: private})
    parts = writer.parts(digest, names)
    assert parts.html is not None and parts.html.count("<img ") == 2
    assert not re.search(r"<a [^>]*><img ", parts.html)
