"""Uploaded PDFs and images: a preview of the first page or the picture, safely made."""

from __future__ import annotations

import io
import re
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from process.errors import BadInput
from tasks.preview import preview_image
from tests.conftest import submission_from
from webapp.models import Submission

pytestmark = pytest.mark.django_db(transaction=True)


def picture(width: int, height: int, kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def pdf(pages: int, width: int = 612, height: int = 792) -> bytes:
    buffer = io.BytesIO()
    first, *rest = [Image.new("RGB", (width, height), (255, 255, 255)) for _ in range(pages)]
    first.save(buffer, "PDF", save_all=True, append_images=rest, resolution=72)
    return buffer.getvalue()


def send(client, name: str, content: bytes) -> tuple[Submission, str]:
    response = client.post("/", {"file": SimpleUploadedFile(name, content)})
    submission = submission_from(response)
    page = client.get(submission.get_absolute_url())
    assert page.status_code == 200
    submission.refresh_from_db()
    return submission, page.content.decode()


def thumbnail(client, submission: Submission, width: int) -> Image.Image:
    response = client.get(f"/s/{submission.id}/files/preview/thumbnail-{width}.webp")
    assert response.status_code == 200
    return Image.open(io.BytesIO(b"".join(response.streaming_content)))


@pytest.mark.parametrize(
    ("kind", "name", "label"),
    [("PNG", "a.png", "PNG"), ("JPEG", "a.jpg", "JPEG"), ("WEBP", "a.webp", "WEBP")],
)
def test_an_image_gets_thumbnails_200_and_800_pixels_wide(client, kind, name, label):
    submission, page = send(client, name, picture(1000, 500, kind))
    assert submission.state == "done"
    assert f"{label} image, 1000 \u00d7 500 pixels" in page
    assert '<img src="/s/' in page
    assert f"A {submission.format.upper()} file: documents and images are previewed" in page
    sizes = {width: thumbnail(client, submission, width) for width in (200, 800)}
    assert {width: image.size for width, image in sizes.items()} == {
        200: (200, 100),
        800: (800, 400),
    }
    assert all(image.format == "WEBP" for image in sizes.values())  # re-encoded by us


def test_a_small_image_is_not_enlarged_and_frames_are_counted(client):
    buffer = io.BytesIO()
    frames = [Image.new("RGB", (120, 60), colour) for colour in ("red", "blue")]
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    submission, page = send(client, "a.gif", buffer.getvalue())
    assert "GIF image, 120 \u00d7 60 pixels, 2 frames" in page
    assert thumbnail(client, submission, 800).size == (120, 60)


def test_a_pdf_of_one_page_is_not_said_to_have_a_first(client):
    _, page = send(client, "a.pdf", pdf(1))
    assert "Its only page." in page and "first" not in page.split("<figcaption>")[1][:40]


def test_a_pdf_shows_its_first_page_and_page_count(client):
    submission, page = send(client, "a.pdf", pdf(3))
    assert submission.state == "done"
    assert "The first of 3 pages." in page
    assert re.search(r"<dt>Page size</dt><dd>612 x 792 pts", page)
    assert thumbnail(client, submission, 200).size == (200, 259)
    assert thumbnail(client, submission, 800).size == (612, 792)  # 72 dpi, never enlarged


def test_without_poppler_the_page_says_previews_are_unavailable(client, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pdfinfo, no pdftoppm
    submission, page = send(client, "a.pdf", pdf(1))
    assert submission.state == "done"
    assert "PDF previews are unavailable on this server: poppler-utils is not installed." in page


def test_a_damaged_pdf_is_explained_and_kept(client):
    content = b"%PDF-1.4\nthis is not really a PDF\n"
    submission, page = send(client, "bad.pdf", content)
    assert submission.state == "failed"
    said = re.search(r"The PDF could not be read: ([^<]*)", page)[1]
    lines = said.split("; ")
    assert len(lines) == len(set(lines))  # poppler says each thing many times
    assert "Syntax Error" in said and "\n" not in said and ".." not in said
    original = client.get(f"/s/{submission.id}/original")
    assert b"".join(original.streaming_content) == content


def slow_pdf(strokes: int) -> bytes:
    """A small PDF whose one page draws ``strokes`` lines: poppler takes about a minute
    per million, so the file is a few hundred kB and its page hangs a renderer."""
    drawing = zlib.compress(b"0 0 m 100 100 l S\n" * strokes)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%b\nendstream" % (len(drawing), drawing),
    ]
    document, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(document))
        document += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    table = len(document)
    document += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    document += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    document += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    document += b"startxref\n%d\n%%%%EOF\n" % table
    return bytes(document)


def test_a_pdf_too_slow_to_render_is_stopped_explained_and_kept(client, settings):
    settings.ASSAY_RENDER_TIMEOUT = 1
    content = slow_pdf(1_000_000)
    submission, page = send(client, "slow.pdf", content)
    assert submission.state == "failed"
    assert "The PDF took more than 1 s to render, so Assay stopped." in page
    original = client.get(f"/s/{submission.id}/original")
    assert b"".join(original.streaming_content) == content


def test_too_many_pixels_are_refused_before_decoding(client, settings):
    settings.ASSAY_MAX_IMAGE_PIXELS = 10_000
    submission, page = send(client, "big.png", picture(200, 100, "PNG"))
    assert submission.state == "failed"
    assert "The image is 200 by 100 pixels; Assay previews up to 10,000 pixels." in page
    _, pdf_page = send(client, "big.pdf", pdf(1))
    assert "first page is 612 by 792 pixels" in pdf_page


def test_a_picture_past_pillow_s_own_guard_is_refused_in_our_words(client, settings):
    # Pillow refuses an image over twice its limit (set to ours) as it opens it, before
    # our check can measure it: its words (a "decompression bomb DOS attack") stay out.
    settings.ASSAY_MAX_IMAGE_PIXELS = 1_000
    submission, page = send(client, "big.png", picture(100, 100, "PNG"))
    assert submission.state == "failed"
    assert "The image has more than 2,000 pixels; Assay previews up to 1,000." in page
    assert "DOS" not in page
    assert client.get(f"/s/{submission.id}/original").status_code == 200


def test_a_truncated_image_is_explained(client):
    submission, page = send(client, "cut.png", picture(300, 300, "PNG")[:200])
    assert submission.state == "failed"
    assert "The image could not be read" in page


def test_an_image_pillow_cannot_read_is_said_without_where_the_server_keeps_it(tmp_path):
    path = tmp_path / "original" / "data"
    path.parent.mkdir()
    path.write_bytes(b"not an image at all")
    with pytest.raises(BadInput) as refused:
        preview_image(path, tmp_path / "preview")
    assert refused.value.message == (
        "The image could not be read: it is damaged, or in a format Assay cannot read."
    )


def test_a_server_fault_in_writing_the_preview_is_not_blamed_on_the_image(tmp_path):
    path = tmp_path / "original" / "data"
    path.parent.mkdir()
    path.write_bytes(picture(300, 300, "PNG"))
    blocked = tmp_path / "preview"
    blocked.write_text("a file where the folder of previews goes")  # as a full disk fails
    with pytest.raises(OSError) as failed:
        preview_image(path, blocked)
    assert not isinstance(failed.value, BadInput) and failed.value.errno is not None


def test_a_long_screenshot_is_previewed_within_webp_limits(client):
    submission, _ = send(client, "long.png", picture(800, 20_000, "PNG"))
    assert submission.state == "done"
    assert thumbnail(client, submission, 800).size == (655, 16_383)


def test_the_preview_downloads_say_what_they_are_and_that_their_width_is_at_most(client):
    from webapp.pipeline import get_pipeline

    labels = [download.label for download in get_pipeline().get("preview").downloads(None)]
    assert labels == ["A preview at most 200 px wide", "A preview at most 800 px wide"]
