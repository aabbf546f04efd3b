"""Deleting the files of old submissions; their metadata rows stay for the record."""

from __future__ import annotations

import shutil
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webapp.models import Submission


def expire(submission: Submission, now: datetime | None = None) -> None:
    """Delete the submission's files and what its steps kept of the data (errors quoting
    values, links, counted values); its record and the record of each run stay."""
    now = now or timezone.now()
    shutil.rmtree(submission.files_dir, ignore_errors=True)
    with transaction.atomic():
        Submission.objects.filter(id=submission.id).update(
            state=Submission.State.EXPIRED,
            expired_at=now,
            expires_at=min(submission.expires_at, now),
            current_task="",
            retry_at=None,  # nothing is tried again once the data is gone
        )
        submission.store.forget_data()


def expire_due(now: datetime | None = None) -> int:
    """Expire every submission whose time has come. Returns how many."""
    now = now or timezone.now()
    due = Submission.objects.filter(expires_at__lte=now).exclude(state=Submission.State.EXPIRED)
    count = 0
    for submission in due.iterator():
        expire(submission, now)
        count += 1
    return count


def forget_old_link_checks() -> int:
    """Link checks outlive no submission: those not made again for as long as a
    submission is kept go. Returns how many files went."""
    from tasks.links import forget_old_checks

    return forget_old_checks(settings.ASSAY_EXPIRE_DAYS * 24 * 3600)


def forget_files(sender: Any, instance: Submission, **kwargs: Any) -> None:
    """When a submission's record is deleted, delete its files: nothing would ever expire
    them. After the deletion commits, so that a rolled-back one loses nothing."""
    files = instance.files_dir
    transaction.on_commit(lambda: shutil.rmtree(files, ignore_errors=True))
