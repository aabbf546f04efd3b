"""The database side of the pipeline: task records and cached outputs for one submission."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from process.errors import TaskError
from process.fingerprint import stable_hash
from process.store import Output
from webapp.models import Submission, TaskResult, TaskRun

FACTS = {"size", "sha256", "format", "original_name"}
MAX_RECORDED_DATA = 4000  # characters of output kept on each TaskRun for operators


class DatabaseStore:
    """Implements ``process.store.Store`` over TaskRun and TaskResult rows."""

    def __init__(self, submission: Submission):
        self.submission = submission
        self._results: dict[str, TaskResult] | None = None
        # Who runs the tasks: the submission's claimer, or the worker of a deferred step.
        self.worker: str | None = None

    @property
    def _worker(self) -> str:
        return self.worker or self.submission.claimed_by

    @property
    def results(self) -> dict[str, TaskResult]:
        if self._results is None:
            rows = TaskResult.objects.filter(submission=self.submission)
            self._results = {row.task: row for row in rows}
        return self._results

    def output(self, task: str) -> Output | None:
        row = self.results.get(task)
        if row is None or row.output is None:
            return None
        return Output(task, row.version or 0, row.fingerprint, row.output_hash, row.output)

    def failures(self, task: str) -> int:
        row = self.results.get(task)
        return row.consecutive_failures if row else 0

    def begin(self, task: str, version: int, fingerprint: str) -> TaskRun:
        return TaskRun.objects.create(
            submission=self.submission,
            task=task,
            version=version,
            fingerprint=fingerprint,
            outcome=TaskRun.Outcome.RUNNING,
            worker=self._worker,
        )

    def succeed(self, run: TaskRun, data: dict[str, Any]) -> None:
        _finish(run, TaskRun.Outcome.OK, data=_small(data))
        self._save_result(
            run,
            consecutive_failures=0,
            version=run.version,
            fingerprint=run.fingerprint,
            output_hash=stable_hash(data),
            output=data,
        )

    def fail(
        self, run: TaskRun, error: TaskError, traceback: str = "", ended: datetime | None = None
    ) -> None:
        """``ended``: when it stopped, if not now (a dead worker's last sign of life)."""
        _finish(
            run,
            TaskRun.Outcome.FAILED,
            ended=ended,
            error_code=error.code,
            error_message=error.message,
            permanent=error.permanent,
            traceback=traceback,
            data={"hint": error.hint} if error.hint else {},
        )
        # Only the worker that claimed the submission writes here, so read-then-write is safe.
        self._save_result(run, consecutive_failures=self.failures(run.task) + 1)

    def skip(self, task: str, version: int, reason: str) -> None:
        now = timezone.now()
        run = TaskRun.objects.create(
            submission=self.submission,
            task=task,
            version=version,
            outcome=TaskRun.Outcome.SKIPPED,
            started=now,
            finished=now,
            duration=0,
            error_message=reason,
            worker=self._worker,
        )
        self._save_result(run)

    def still_holds(self, task: str) -> None:
        row = self.results.get(task)
        if row is None or row.last_outcome == TaskRun.Outcome.OK:
            return  # the common case: nothing to write
        # The run that made the output, if its record is still kept.
        made = (
            TaskRun.objects.filter(
                submission=self.submission,
                task=task,
                outcome=TaskRun.Outcome.OK,
                fingerprint=row.fingerprint,
            )
            .order_by("-started")
            .first()
        )
        row.last_outcome, row.last_run, row.consecutive_failures = TaskRun.Outcome.OK, made, 0
        row.save(update_fields=["last_outcome", "last_run", "consecutive_failures", "updated"])

    def progress(self, done: int, total: int, current: str) -> bool:
        now = timezone.now()
        still_here = Submission.objects.filter(id=self.submission.id).exclude(
            state=Submission.State.EXPIRED
        )
        return bool(
            still_here.update(
                progress_done=done, progress_total=total, current_task=current, heartbeat=now
            )
        )

    def forget_data(self) -> None:
        with transaction.atomic():
            TaskResult.objects.filter(submission_id=self.submission.id).update(output=None)
            # A run that succeeded keeps the start of its output; a failed one its hint.
            TaskRun.objects.filter(
                submission_id=self.submission.id, outcome=TaskRun.Outcome.OK
            ).update(data={})

    def set_facts(self, **facts: Any) -> None:
        unknown = set(facts) - FACTS
        if unknown:
            raise ValueError(f"unknown submission facts: {', '.join(sorted(unknown))}")
        Submission.objects.filter(id=self.submission.id).update(**facts)
        for key, value in facts.items():
            setattr(self.submission, key, value)

    def _save_result(self, run: TaskRun, **fields: Any) -> None:
        TaskResult.objects.update_or_create(
            submission=self.submission,
            task=run.task,
            defaults={"last_outcome": run.outcome, "last_run": run, **fields},
        )
        self.results[run.task] = TaskResult.objects.get(submission=self.submission, task=run.task)


def _finish(run: TaskRun, outcome: str, ended: datetime | None = None, **fields: Any) -> None:
    run.finished = max(ended, run.started) if ended else timezone.now()
    run.duration = (run.finished - run.started).total_seconds()
    run.outcome = outcome
    for key, value in fields.items():
        setattr(run, key, value)
    run.save()


def _small(data: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(data, default=str))
    return data if size <= MAX_RECORDED_DATA else {"truncated": True, "characters": size}
