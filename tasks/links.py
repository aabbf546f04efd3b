"""Check the documents the data links to: does each link work, what is there, how big.

Each distinct URL is fetched once per submission, and not at all if another submission
checked it recently (ASSAY_LINK_CACHE_HOURS); after that it is asked again with
If-None-Match / If-Modified-Since, and its thumbnail is reused while its content is the
same. Broken links are warnings in the report, not schema errors.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from process.errors import BadInput, TaskError, Unavailable
from process.fetching import FetchLimits, fetch
from process.files import write_atomically
from process.resources import Outcome, call_each
from process.runner import Inputs
from process.store import Subject
from process.task import Download, Task
from tasks.data import is_data
from tasks.preview import preview_image, preview_pdf, thumbnail_name
from tasks.profile_schema import link_patterns
from tasks.scan import load_scan
from tasks.validate import Locator

PREVIEWABLE = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpeg"}
PREVIEWABLE |= {"image/gif": "gif", "image/webp": "webp"}
THUMBNAIL_WIDTH = 200


class CheckLinks(Task):
    name = "links"
    # 2: a port out of range is not a valid URL; 3: a slow host is waited on once, and no
    # link is fetched past ASSAY_LINK_CHECK_SECONDS
    version = 3
    title = "Linked documents"
    requires = ("parse_json",)
    uses_options = ("sample",)

    def is_applicable(self, submission: Subject) -> bool:
        return is_data(submission) and bool(link_patterns(submission))

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        found = load_scan(submission, inputs).links
        urls = list(found.places)
        outcomes = check_all(urls)
        folder = self.work_dir(submission)
        locator = Locator.for_submission(submission)
        rows = []
        for number, url in enumerate(urls):
            outcome = outcomes[url]
            record = outcome.value if outcome.ok else failure(outcome.error)
            pointers = found.places[url]
            rows.append(
                link_row(number, url, record, pointers, found.appears[url], locator, folder)
            )
        return {
            "links": rows,
            "broken": sum(1 for row in rows if not row["ok"]),
            "unchecked": len(found.others),
        }

    def downloads(self, submission: Subject) -> list[Download]:
        folder = submission.files_dir / self.name
        return [
            Download(path.name, "thumbnail", "image/webp", listed=False)
            for path in folder.glob("*.webp")
        ]


@dataclass
class Waiting:
    """What one check of a submission's links waits for, so that hostile links cannot keep
    it past the job's time limit."""

    # When links stop being fetched: 200 links to documents each slow to render would
    # otherwise take up to 200 times ASSAY_RENDER_TIMEOUT.
    deadline: float
    # Hosts that let a link time out: their other links are not waited on. Two at a time,
    # 200 links to one host that never answers took 2,000 s.
    timed_out: set[str] = field(default_factory=set)

    @classmethod
    def from_now(cls) -> Waiting:
        return cls(deadline=time.monotonic() + settings.ASSAY_LINK_CHECK_SECONDS)

    def why_not(self, url: str) -> str | None:
        """Why ``url`` is not to be fetched now, if it is not."""
        if time.monotonic() > self.deadline:
            allowed = settings.ASSAY_LINK_CHECK_SECONDS
            return f"Not checked: the time allowed for checking links ({allowed:,} s) ran out."
        if host_of(url) in self.timed_out:
            return (
                f"Not checked: the server {urlsplit(url).hostname} did not answer in time for "
                "another link, so its other links were not waited for."
            )
        return None


def check_all(urls: list[str]) -> dict[str, Outcome]:
    """Check every URL, a few at a time and at most ASSAY_LINK_PER_HOST per host."""
    waiting = Waiting.from_now()
    return call_each(
        urls,
        lambda url: check_cached(url, waiting),
        concurrency=settings.ASSAY_LINK_CONCURRENCY,
        group=host_of,
        per_group=settings.ASSAY_LINK_PER_HOST,
    )


DEFAULT_PORTS = {"http": 80, "https": 443}


def host_of(url: str) -> str:
    try:
        parts = urlsplit(url)
        # Not the netloc: a user name in it, capitals, or the port a scheme has anyway
        # made the same server another host.
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
        return f"{parts.hostname}:{port}"
    except ValueError:
        return ""  # not a URL at all: its check says so


def _well_formed(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is out of range or not a number
    except ValueError:
        return False
    return bool(parts.hostname)


def link_row(number, url, record, pointers, appears, locator: Locator, folder: Path) -> dict:
    row = {"url": url, **{key: value for key, value in record.items() if key != "thumbnail"}}
    row["places"] = [
        {"path": pointer, "value": None, "source": locator.place(pointer)} for pointer in pointers
    ]
    row["appears"] = appears
    thumbnail = record.get("thumbnail")
    if thumbnail:
        name = f"link-{number}.webp"
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):  # gone with its record: none shown
            shutil.copyfile(thumbnail, folder / name)
            row["thumbnail"] = name
    return row


def failure(error: TaskError | None) -> dict[str, Any]:
    return {
        "ok": False,
        "error": error.message if error else "",
        "code": error.code if error else "",
        # A busy or slow server may answer next time: such a result is not kept for others.
        "transient": bool(error and not error.permanent),
    }


# The cache, shared by every submission and worker: one JSON record per URL.


def cache_folder() -> Path:
    folder = Path(settings.DATA_DIR) / "links"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def forget_old_checks(older_than_seconds: float, now: float | None = None) -> int:
    """Delete the records of links not checked for this long, and the thumbnails no
    record left names: they hold what was found at addresses from uploads, which are
    kept no longer. (A record is written again each time its link is checked, its
    thumbnail only when made.) Returns how many files went."""
    now = now or time.time()
    records = list(cache_folder().glob("*.json"))
    gone = sum(_delete_if_older(path, now - older_than_seconds) for path in records)
    named = {record.get("thumbnail") for record in map(_read_record, records) if record}
    for thumbnail in cache_folder().glob("*.webp"):
        # Unnamed yet, if just made: its record is written after it.
        if str(thumbnail) not in named:
            gone += _delete_if_older(thumbnail, now - THUMBNAIL_BEING_MADE)
    return gone


THUMBNAIL_BEING_MADE = 3600  # seconds: a thumbnail younger than this may await its record


def _delete_if_older(path: Path, cutoff: float) -> bool:
    with contextlib.suppress(FileNotFoundError):  # another worker was there first
        if path.stat().st_mtime < cutoff:
            path.unlink()
            return True
    return False


def check_cached(url: str, waiting: Waiting | None = None) -> dict[str, Any]:
    """The link's record, kept or made now, unless ``waiting`` says not to wait for it (a
    host that timed out, which this link's time-out adds to it; time run out)."""
    key = hashlib.sha256(url.encode()).hexdigest()
    record_path = cache_folder() / f"{key}.json"
    previous = _read_record(record_path)
    fresh = settings.ASSAY_LINK_CACHE_HOURS * 3600
    if previous and time.time() - previous["checked_at"] < fresh:
        return previous
    waiting = waiting or Waiting.from_now()
    if reason := waiting.why_not(url):
        return {**failure(Unavailable("fetch_timeout", reason)), "checked_at": time.time()}
    record = check(url, previous)
    if record.get("code") == "fetch_timeout":
        waiting.timed_out.add(host_of(url))
    if not record.get("transient"):
        write_atomically(record_path, [json.dumps(record).encode()])
    return record


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None  # none yet, or unreadable: check afresh


def check(url: str, previous: dict[str, Any] | None) -> dict[str, Any]:
    """Fetch once (conditionally when checked before) and describe what is there."""
    if not _well_formed(url):
        return {**failure(BadInput("url_invalid", "This is not a valid URL.")), "checked_at": 0}
    headers = {}
    if previous and previous.get("ok"):
        if previous.get("etag"):
            headers["If-None-Match"] = previous["etag"]
        if previous.get("last_modified"):
            headers["If-Modified-Since"] = previous["last_modified"]
    limits = FetchLimits(
        max_bytes=settings.ASSAY_LINK_MAX_BYTES,
        connect_timeout=settings.ASSAY_FETCH_CONNECT_TIMEOUT,
        total_timeout=settings.ASSAY_LINK_TIMEOUT,
        max_redirects=settings.ASSAY_FETCH_MAX_REDIRECTS,
        allow_private=settings.ASSAY_ALLOW_PRIVATE_URLS,
    )
    with tempfile.TemporaryDirectory(dir=settings.DATA_DIR) as scratch:
        try:
            fetched = fetch(url, Path(scratch) / "body", limits, headers)
        except TaskError as error:
            return {**failure(error), "checked_at": time.time()}
        if fetched.status == 304 and previous:
            return {**previous, "checked_at": time.time(), "revalidated": True}
        content_type = fetched.content_type.split(";")[0].strip().lower()
        record = {
            "ok": True,
            "status": fetched.status,
            "final_url": fetched.final_url,
            "redirects": len(fetched.redirects),
            "content_type": content_type,
            "size": fetched.file.size,
            "sha256": fetched.file.sha256,
            "etag": fetched.etag,
            "last_modified": fetched.last_modified,
            "checked_at": time.time(),
        }
        record["thumbnail"] = thumbnail_for(Path(scratch) / "body", content_type, record)
        return record


def thumbnail_for(body: Path, content_type: str, record: dict[str, Any]) -> str:
    """A thumbnail of a PDF or image, kept by content hash so unchanged content reuses it."""
    kind = PREVIEWABLE.get(content_type)
    if kind is None:
        return ""
    target = cache_folder() / f"{record['sha256']}.webp"
    if target.exists():
        return str(target)
    with tempfile.TemporaryDirectory(dir=settings.DATA_DIR) as scratch:
        try:
            made = (
                preview_pdf(body, Path(scratch))
                if kind == "pdf"
                else preview_image(body, Path(scratch))
            )
        except BadInput as error:
            record["preview_error"] = error.message
            return ""
        if not made.get("available"):
            return ""
        thumbnail = Path(scratch) / thumbnail_name(THUMBNAIL_WIDTH)
        write_atomically(target, [thumbnail.read_bytes()])  # never seen half-written
    return str(target)
