"""Creating submissions from the three ways data arrives."""

from __future__ import annotations

import shutil
from collections.abc import Iterable

from django.db import transaction

from process.files import write_atomically
from webapp import jobs
from webapp.models import Submission


def create_submission(
    *,
    source: Submission.Source,
    profile: str,
    sample: bool = False,
    chunks: Iterable[bytes] | None = None,
    name: str = "",
    url: str = "",
) -> Submission:
    """Store the original (if we have it yet), record the submission and queue it."""
    submission = Submission(
        source=source,
        url=url,
        original_name=name[:255],
        profile=profile,
        options={"sample": sample},
    )
    try:
        # Written before the transaction: on SQLite that takes the one write lock, which
        # workers' heartbeats would otherwise wait on for as long as a large copy takes.
        if chunks is not None:
            written = write_atomically(submission.original_path, chunks)
            submission.size, submission.sha256 = written.size, written.sha256
        with transaction.atomic():
            submission.save(force_insert=True)
            jobs.enqueue(submission.id)
    except BaseException:
        shutil.rmtree(submission.files_dir, ignore_errors=True)
        raise
    return submission
