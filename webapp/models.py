from __future__ import annotations

import uuid
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone

from process.fetching import without_password
from process.profiles import Profile


def default_expiry() -> timezone.datetime:
    return timezone.now() + timedelta(days=settings.ASSAY_EXPIRE_DAYS)


class Submission(models.Model):
    """One upload. Knowing its id is what grants access to it (a capability URL)."""

    class Source(models.TextChoices):
        FILE = "file", "File"
        URL = "url", "URL"
        TEXT = "text", "Pasted text"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=8, choices=Source.choices)
    url = models.URLField(max_length=2000, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    format = models.CharField(max_length=16, blank=True, db_index=True)
    profile = models.CharField(max_length=64)
    options = models.JSONField(default=dict, blank=True)

    state = models.CharField(
        max_length=8, choices=State.choices, default=State.PENDING, db_index=True
    )
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    current_task = models.CharField(max_length=64, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)  # the job's last sending
    # When this run of the pipeline was first sent: kept when its job is sent again (a
    # lost job, a retry come due), so that its page goes on counting from there.
    run_started_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)  # first taken up in this run
    claimed_by = models.CharField(max_length=128, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    created = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(default=default_expiry, db_index=True)
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["state", "heartbeat"])]

    def __str__(self) -> str:
        return f"{self.original_name or without_password(self.url) or self.id} ({self.state})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("results", args=[self.id])

    @property
    def files_dir(self) -> Path:
        return Path(settings.MEDIA_ROOT) / str(self.id)

    @property
    def original_path(self) -> Path:
        return self.files_dir / "original" / "data"

    @property
    def has_original(self) -> bool:
        return bool(self.sha256) and self.original_path.exists()

    def get_profile(self) -> Profile:
        from webapp.profiles import get_profile

        return get_profile(self.profile)

    @property
    def profile_fingerprint(self) -> str:
        from tasks.profile_schema import schema_fingerprint

        return schema_fingerprint(self.get_profile())

    @cached_property
    def store(self):  # -> webapp.store.DatabaseStore
        from webapp.store import DatabaseStore

        return DatabaseStore(self)

    @property
    def is_expired(self) -> bool:
        return self.state == self.State.EXPIRED or self.expires_at <= timezone.now()

    def is_gone(self) -> bool:
        """Expired or deleted since this object was loaded (its files are then gone)."""
        return not Submission.objects.filter(id=self.id).exclude(state=self.State.EXPIRED).exists()

    def heartbeat_age(self) -> float | None:
        """Seconds since its worker was last heard from; None if none has been."""
        if self.heartbeat is None:
            return None
        return (timezone.now() - self.heartbeat).total_seconds()

    def heartbeat_is_fresh(self) -> bool:
        age = self.heartbeat_age()
        return age is not None and age < settings.ASSAY_STALE_SECONDS


class TaskRun(models.Model):
    """One execution of one task on one submission. Append-only history."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        OK = "ok", "OK"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="runs")
    task = models.CharField(max_length=64, db_index=True)
    version = models.PositiveIntegerField()
    fingerprint = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, db_index=True)
    started = models.DateTimeField(default=timezone.now, db_index=True)
    finished = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds.")
    error_code = models.CharField(max_length=64, blank=True, db_index=True)
    error_message = models.TextField(blank=True)
    permanent = models.BooleanField(null=True, blank=True)
    traceback = models.TextField(blank=True)
    worker = models.CharField(max_length=128, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started", "-id"]

    def __str__(self) -> str:
        return f"{self.task} v{self.version} {self.outcome}"


class TaskResult(models.Model):
    """The latest outcome of a task on a submission, and the output of its last success."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="results")
    task = models.CharField(max_length=64)
    last_outcome = models.CharField(max_length=8, choices=TaskRun.Outcome.choices, blank=True)
    last_run = models.ForeignKey(TaskRun, null=True, on_delete=models.SET_NULL, related_name="+")
    consecutive_failures = models.PositiveIntegerField(default=0, db_index=True)
    updated = models.DateTimeField(auto_now=True)
    # Filled by the latest successful run only; kept when a later run fails.
    version = models.PositiveIntegerField(null=True, blank=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    output_hash = models.CharField(max_length=64, blank=True)
    output = models.JSONField(null=True, blank=True)
    # Deferred tasks run in jobs of their own; their claim lives here, not on Submission.
    requested_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=128, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["submission", "task"], name="one_result_per_task")
        ]

    def __str__(self) -> str:
        return f"{self.task}: {self.last_outcome}"
