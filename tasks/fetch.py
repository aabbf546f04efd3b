"""Download the data behind a submitted URL; it becomes the submission's original."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from process.fetching import FetchLimits, fetch, without_password
from process.runner import Inputs
from process.store import Subject
from process.task import Task


class FetchURL(Task):
    name = "fetch"
    title = "Download the URL"

    def is_applicable(self, submission: Subject) -> bool:
        return submission.source == "url"

    def depends_on(self, submission: Subject) -> dict[str, Any]:
        # The content is what this task produces, so only the URL decides its input.
        return {"url": submission.url}

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        fetched = fetch(submission.url, submission.original_path, limits_from_settings())
        submission.store.set_facts(
            size=fetched.file.size, sha256=fetched.file.sha256, original_name=fetched.filename
        )
        return {  # kept for operators too: no password in it (the submission keeps it)
            "url": without_password(fetched.url),
            "final_url": without_password(fetched.final_url),
            "redirects": [without_password(url) for url in fetched.redirects],
            "status": fetched.status,
            "content_type": fetched.content_type,
            "size": fetched.file.size,
            "sha256": fetched.file.sha256,
        }


def limits_from_settings() -> FetchLimits:
    return FetchLimits(
        max_bytes=settings.ASSAY_MAX_DOWNLOAD_BYTES,
        connect_timeout=settings.ASSAY_FETCH_CONNECT_TIMEOUT,
        total_timeout=settings.ASSAY_FETCH_TIMEOUT,
        max_redirects=settings.ASSAY_FETCH_MAX_REDIRECTS,
        allow_private=settings.ASSAY_ALLOW_PRIVATE_URLS,
    )
