"""Previews of an uploaded PDF or image: the first page or the picture, as thumbnails.

Thumbnails are always re-encoded by us (WebP), never the uploaded bytes served back.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from process.errors import BadInput
from process.runner import Inputs
from process.store import Subject
from process.task import Download, Task

DOCUMENTS = {"pdf", "png", "jpeg", "gif", "webp"}
WIDTHS = (200, 800)
WEBP_MAX_SIDE = 16_383
PREVIEW_DPI = 72  # one pixel per PDF point: plenty for an 800 px thumbnail
INFO_KEYS = ("Title", "Author", "Creator", "Producer", "Pages", "Page size", "PDF version")
# Pictures of more pixels than this (some 30 MB once decoded, with the copies that
# thumbnails take) are decoded one at a time, all in one thread: the link checker
# previews several documents at once, and eight pictures near ASSAY_MAX_IMAGE_PIXELS
# took 3.6 GB. One thread, not one lock: the memory a thread frees stays with that
# thread's own pool for its next use, so eight threads taking turns held it all the same.
BIG_PICTURE = 2_000_000


def _big_picture_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="big-picture")


_big_pictures = _big_picture_thread()


def _after_fork() -> None:
    """A forked process has none of its parent's threads, but the pool would think it had."""
    global _big_pictures
    _big_pictures = _big_picture_thread()


os.register_at_fork(after_in_child=_after_fork)


class Preview(Task):
    name = "preview"
    title = "Preview"

    def is_applicable(self, submission: Subject) -> bool:
        return submission.format in DOCUMENTS

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        folder = self.work_dir(submission)
        if submission.format == "pdf":
            return preview_pdf(submission.original_path, folder)
        return preview_image(submission.original_path, folder)

    def downloads(self, submission: Subject) -> list[Download]:
        return [
            # "At most": a smaller picture is not enlarged.
            Download(thumbnail_name(width), f"A preview at most {width} px wide", "image/webp")
            for width in WIDTHS
        ]


def thumbnail_name(width: int) -> str:
    return f"thumbnail-{width}.webp"


def _set_pillows_guard() -> None:
    """Pillow's own guard, set to ours: it refuses an image of more than twice this as
    it opens it, before _check_pixels can (and warns past it, where we refuse anyway).
    Set for every preview, pictures and PDF pages alike: it is global to the process."""
    Image.MAX_IMAGE_PIXELS = settings.ASSAY_MAX_IMAGE_PIXELS


def preview_image(path: Path, folder: Path) -> dict[str, Any]:
    _set_pillows_guard()
    try:
        with Image.open(path) as image:  # reads the header only
            _check_pixels(image.width, image.height, "The image")
            pixels = image.width * image.height
            image.verify()  # reads the whole file: a truncated or corrupt one fails here
        facts = _one_at_a_time(pixels, _thumbnails_of_image, path, folder)
    except Image.DecompressionBombError as exc:  # Pillow's guard, met before ours
        limit = settings.ASSAY_MAX_IMAGE_PIXELS
        raise BadInput(
            "image_too_large",
            f"The image has more than {2 * limit:,} pixels; Assay previews up to {limit:,}.",
            hint="Upload a smaller image.",
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            # The system's own (a full disk, say), not Pillow's about the file: a server
            # problem, recorded and tried again (process/runner.py) as a crash is.
            raise
        said = str(exc).replace(repr(str(path)), "").replace(str(path), "the file").strip()
        if isinstance(exc, UnidentifiedImageError):  # Pillow's words name its path only
            said = "it is damaged, or in a format Assay cannot read"
        raise BadInput(
            "bad_image",
            f"The image could not be read: {said}.",  # not where the server keeps it
            hint="Open it in an image program and save it again.",
        ) from exc
    return {"available": True, **facts}


def preview_pdf(path: Path, folder: Path) -> dict[str, Any]:
    import pdf2image
    from pdf2image.exceptions import (
        PDFInfoNotInstalledError,
        PDFPageCountError,
        PDFPopplerTimeoutError,
        PDFSyntaxError,
    )

    _set_pillows_guard()  # the rendered page is opened by Pillow
    timeout = settings.ASSAY_RENDER_TIMEOUT
    try:
        info = pdf2image.pdfinfo_from_path(str(path), timeout=timeout)
        shown = _one_at_a_time(_check_page_size(info), _thumbnails_of_pdf, path, folder)
    except PDFInfoNotInstalledError:
        # The server's lack, not the user's: say so, and let the rest of the page stand.
        return {
            "available": False,
            "reason": "PDF previews are unavailable on this server: poppler-utils is not "
            "installed.",
        }
    except PDFPopplerTimeoutError as exc:
        raise BadInput(
            "pdf_too_slow",
            f"The PDF took more than {timeout} s to render, so Assay stopped.",
            hint="A PDF that is this slow to open is often damaged or deliberately huge.",
        ) from exc
    except (PDFPageCountError, PDFSyntaxError) as exc:
        raise BadInput(
            "bad_pdf",
            f"The PDF could not be read: {_poppler_says(str(exc))}.",
            hint="Check that the file is a whole, undamaged PDF.",
        ) from exc
    if not shown:
        raise BadInput("bad_pdf", "The PDF has no page to show.")
    facts = {key: str(info[key]) for key in INFO_KEYS if key in info}
    return {"available": True, "kind": "PDF", "pages": int(info.get("Pages", 0)), "info": facts}


def _check_page_size(info: dict[str, Any]) -> float | None:
    """Refuse before rendering a page whose pixels at our resolution would be too many;
    else how many there will be, if poppler says."""
    try:
        width, height = (float(part) for part in str(info["Page size"]).split()[0:3:2])
    except (KeyError, ValueError):
        return None  # poppler will say what is wrong, if anything
    scale = PREVIEW_DPI / 72
    _check_pixels(width * scale, height * scale, "The PDF's first page")
    return width * scale * height * scale


def _one_at_a_time(pixels: float | None, make: Callable[..., Any], *args: Any) -> Any:
    """``make(*args)``, in the big pictures' thread if ``pixels`` (None: not known) are many."""
    if pixels is None or pixels > BIG_PICTURE:
        return _big_pictures.submit(make, *args).result()
    return make(*args)


def _thumbnails_of_image(path: Path, folder: Path) -> dict[str, Any]:
    with Image.open(path) as image:
        facts = {"kind": image.format, "width": image.width, "height": image.height}
        facts["frames"] = getattr(image, "n_frames", 1)
        image.load()
        write_thumbnails(image, folder)
    return facts


def _thumbnails_of_pdf(path: Path, folder: Path) -> bool:
    """Whether there was a first page to show."""
    import pdf2image

    timeout = settings.ASSAY_RENDER_TIMEOUT
    pages = pdf2image.convert_from_path(
        str(path), dpi=PREVIEW_DPI, first_page=1, last_page=1, timeout=timeout
    )
    if pages:
        write_thumbnails(pages[0], folder)
    return bool(pages)


def _check_pixels(width: float, height: float, what: str) -> None:
    limit = settings.ASSAY_MAX_IMAGE_PIXELS
    if width * height > limit:
        raise BadInput(
            "image_too_large",
            f"{what} is {width:.0f} by {height:.0f} pixels; Assay previews up to {limit:,} pixels.",
            hint="Upload a smaller image or a PDF with ordinary page sizes.",
        )


def write_thumbnails(image: Image.Image, folder: Path) -> None:
    """Each width's thumbnail, made by shrinking ``image`` itself, the widest first: a
    copy of a picture near ASSAY_MAX_IMAGE_PIXELS for each width, and one more to convert
    it, took 513 MB where the picture alone took 144."""
    folder.mkdir(parents=True, exist_ok=True)
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB"
    if image.mode != mode:
        image = image.convert(mode)
    for target in sorted(WIDTHS, reverse=True):
        # Never enlarged, and within WebP's 16,383 pixels a side (a long screenshot).
        image.thumbnail((target, WEBP_MAX_SIDE), Image.Resampling.LANCZOS)
        image.save(folder / thumbnail_name(target), "WEBP", quality=80)


def _poppler_says(output: str) -> str:
    """poppler's words, each line once and without its own full stops: it repeats a
    "Syntax Error" line for every object it tried."""
    lines = dict.fromkeys(line.strip().rstrip(".") for line in output.splitlines())
    return "; ".join(line for line in lines if line)
