"""Queueing and running submissions.

Our Submission row is the source of truth for claim, heartbeat and retries; django-q2
only carries job messages. One function enqueues (``enqueue``), one claims (``claim``).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone
from django_q.exceptions import TimeoutException
from django_q.tasks import async_task
from redis.exceptions import RedisError

from process.context import current_submission, working_on
from process.errors import Unavailable
from process.fetching import queries_left_out
from process.runner import (
    Memo,
    RunResult,
    ending_if_gone,
    forgotten_if_gone,
    run_pipeline,
    step,
)
from process.task import Task
from tasks.profile_schema import refresh_schema
from webapp.models import Submission, TaskResult, TaskRun
from webapp.pipeline import get_pipeline, needed_tasks

logger = logging.getLogger(__name__)
State = Submission.State


def _requeueable(now: timezone.datetime) -> Q:
    """Submissions whose job is missing: never sent, lost in transit, or its worker died."""
    stale = now - timedelta(seconds=settings.ASSAY_STALE_SECONDS)
    lost = now - timedelta(seconds=settings.ASSAY_LOST_JOB_SECONDS)
    due = Q(retry_at__isnull=True) | Q(retry_at__lte=now)
    waiting = Q(state=State.PENDING) & (Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=lost)) & due
    dead = Q(state=State.RUNNING) & (
        Q(heartbeat__lt=stale) | Q(heartbeat__isnull=True, claimed_at__lt=stale)
    )
    return waiting | dead


# A run sent again (its job lost, its worker dead, a retry come due) rather than a new one.
SAME_RUN = Q(run_started_at__isnull=False, state__in=[State.PENDING, State.RUNNING])


def _sending(now: datetime, *, new_run: bool = False) -> dict:
    """The fields a sending sets. A new run (the first, or a finished submission's next)
    starts its clock and progress afresh: the page must not say 12 of 12 meanwhile. The
    same run sent again keeps both, so that its page does not go back to "Not started
    yet, started 0 s ago"."""

    def fresh(value: Any, field: str) -> Any:
        return (
            Value(value) if new_run else Case(When(SAME_RUN, then=F(field)), default=Value(value))
        )

    return {
        "state": State.PENDING,
        "enqueued_at": now,
        "retry_at": None,
        "current_task": "",  # nothing is under way until a worker takes it up
        "run_started_at": fresh(now, "run_started_at"),
        "progress_done": fresh(0, "progress_done"),
        "progress_total": fresh(0, "progress_total"),
    }


def enqueue(submission_id, *, rerun: bool = False, force: bool = False) -> bool:
    """Move the submission to pending and send one job; True if a job was sent.

    Without flags this only re-sends a missing job. ``rerun`` also restarts a finished
    submission (a view found work to do); ``force`` also restarts a failed one.
    Safe to call from many requests at once: the conditional UPDATE lets one through.
    """
    now = timezone.now()
    allowed = _requeueable(now)
    if rerun or force:
        allowed |= Q(state=State.DONE)
    if force:
        allowed |= Q(state=State.FAILED)
    updated = Submission.objects.filter(allowed, id=submission_id, expires_at__gt=now).update(
        **_sending(now)
    )
    if updated:
        transaction.on_commit(lambda: _send(submission_id))
    return bool(updated)


# What sending a job raises when the broker cannot be reached: Redis refusing, timing out
# or gone; the database, for the ORM broker. Anything else is a bug, and is raised.
BROKER_DOWN = (RedisError, OSError, DatabaseError)


def _send(submission_id) -> None:
    try:
        async_task(
            "webapp.jobs.process_submission",
            str(submission_id),
            task_name=f"submission {submission_id}",
            group="submissions",
            cluster=SUBMISSIONS_QUEUE,
        )
    except BROKER_DOWN:  # Redis, say: the upload is kept all the same
        logger.exception("could not queue submission %s; it is sent when next asked", submission_id)
        # Marked as never sent: the next look at it (its page, the API, the sweep) sends it.
        Submission.objects.filter(id=submission_id, state=State.PENDING).update(enqueued_at=None)


# Named each time: left out, django-q2 sends a job to the queue of the process sending
# it, which in a worker of the deferred queue is that one.
SUBMISSIONS_QUEUE = settings.Q_CLUSTER["name"]


def deferred_queue() -> str:
    return settings.ASSAY_DEFERRED_QUEUE or SUBMISSIONS_QUEUE


def refresh_on_view(submission: Submission) -> bool:
    """The results page's check: re-send lost jobs; start needed work. True if enqueued."""
    if submission.state == State.DONE and needed_tasks(submission):
        return enqueue(submission.id, rerun=True)
    return resend_if_lost(submission)


def resend_if_lost(submission: Submission) -> bool:
    """Re-send the job of an unfinished submission whose job or worker is gone."""
    if submission.state not in (State.PENDING, State.RUNNING) or not job_is_missing(submission):
        return False
    return enqueue(submission.id)


def job_is_missing(submission: Submission) -> bool:
    """A cheap, read-only guess at ``_requeueable``, to avoid a write on every poll."""
    now = timezone.now()
    if submission.state == State.RUNNING:
        return not submission.heartbeat_is_fresh()
    if submission.retry_at and submission.retry_at > now:
        return False
    lost = now - timedelta(seconds=settings.ASSAY_LOST_JOB_SECONDS)
    return submission.enqueued_at is None or submission.enqueued_at < lost


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(submission_id, worker: str) -> Submission | None:
    """Atomically take a pending submission; None if another worker has it or it is gone."""
    now = timezone.now()
    # The last sign of life of a worker that died on it: when its open runs ended.
    last_alive = Submission.objects.filter(id=submission_id).values_list("heartbeat", flat=True)
    last_alive = next(iter(last_alive), None)
    # Not before its retry time: a stray job (a broker's second delivery) must wait too.
    due = Q(retry_at__isnull=True) | Q(retry_at__lte=now)
    claimed = Submission.objects.filter(
        due, id=submission_id, state=State.PENDING, expires_at__gt=now
    ).update(state=State.RUNNING, claimed_at=_first_claim(now), claimed_by=worker, heartbeat=now)
    if not claimed:
        return None
    submission = Submission.objects.get(id=submission_id)
    _close_interrupted_runs(submission, main_task_names(), last_alive)
    return submission


def _first_claim(now: datetime) -> Case:
    """The claim's time, unless a worker already took up this run (see ``_sending``)."""
    this_run = Q(claimed_at__gte=F("run_started_at"))
    return Case(When(this_run, then=F("claimed_at")), default=Value(now))


def _progress_at(submission: Submission, waiting: str) -> dict[str, int]:
    """The progress of a run waiting to try ``waiting`` again: at that step, among those
    that apply, as the run counted them."""
    applying = [task.name for task in get_pipeline().applicable(submission)]
    done = applying.index(waiting) if waiting in applying else 0
    return {"progress_done": done, "progress_total": len(applying)}


def main_task_names() -> list[str]:
    """The tasks of the report's pipeline; a deferred task's record is its own business."""
    return [task.name for task in get_pipeline().main]


def _close_interrupted_runs(
    submission: Submission, tasks: list[str], last_alive: datetime | None
) -> None:
    """Runs left 'running' by a worker that died count as failures of their task, ended
    at the worker's last sign of life (not when another found them), if it is known."""
    error = Unavailable(
        "interrupted",
        "The worker processing this step stopped before it finished.",
        hint="This can happen when a file needs more time or memory than Assay allows.",
    )
    if closed := _close_open_runs(submission, tasks, error, ended=last_alive):
        logger.warning(
            "submission %s: the worker running %s stopped before it finished",
            submission.id,
            ", ".join(closed),
        )


def _close_open_runs(
    submission: Submission, tasks: list[str], error: Unavailable, ended: datetime | None = None
) -> dict[str, Unavailable]:
    """End the runs of ``tasks`` still open as failed with ``error``; by task, those ended."""
    closed = {}
    for run in TaskRun.objects.filter(
        submission=submission, task__in=tasks, outcome=TaskRun.Outcome.RUNNING
    ):
        submission.store.fail(run, error, ended=ended)
        closed[run.task] = error
    return closed


def _timed_out(submission: Submission, tasks: list[str]) -> dict[str, Unavailable]:
    """django-q2 stopped the job at ASSAY_JOB_TIMEOUT: the step that was running failed
    so, and says so (a dead worker's would only say it stopped)."""
    minutes = settings.ASSAY_JOB_TIMEOUT / 60
    error = Unavailable(
        "timeout",
        f"This step was stopped: the work on a file may take {minutes:g} minutes at most.",
        hint="A smaller file, or checking a sample of it, may fit in that time.",
    )
    logger.warning("submission %s timed out in %s", submission.id, ", ".join(tasks))
    return _close_open_runs(submission, tasks, error)


def process_submission(submission_id: str) -> str:
    """The django-q2 job: claim, run the pipeline with a heartbeat, settle the state."""
    with working_on(current_submission, str(submission_id)):
        return _process(submission_id)


def _process(submission_id: str) -> str:
    worker = worker_name()
    submission = claim(submission_id, worker)
    if submission is None:
        return "not claimed"
    if _exhausted(submission):
        result = RunResult()  # the interrupted run pushed a task over the limit
    else:
        mine = Submission.objects.filter(id=submission.id, state=State.RUNNING, claimed_by=worker)
        with Heartbeat(mine):
            try:
                refresh_schema(submission.get_profile())
                result = run_pipeline(submission, get_pipeline().main)
            except TimeoutException:
                # Settled now, waiting to try again, rather than left running until the
                # sweep finds it; raised on, as django-q2 then replaces this process. (Out
                # of time between two steps, none failed: the sweep sends it again.)
                if timed_out := _timed_out(submission, main_task_names()):
                    settle(submission, RunResult(failures=timed_out), worker)
                raise
        if result.gone:
            return "gone"  # expired or deleted as it ran: nothing to settle
    return settle(submission, result, worker)


def _exhausted(submission: Submission) -> bool:
    return TaskResult.objects.filter(
        submission=submission,
        task__in=main_task_names(),
        consecutive_failures__gte=settings.ASSAY_MAX_ATTEMPTS,
    ).exists()


def settle(submission: Submission, result: RunResult, worker: str) -> str:
    """Done, failed, or back to pending with a retry time."""
    now = timezone.now()
    fields: dict = {"finished_at": now, "current_task": "", "retry_at": None}
    failures = max((submission.store.failures(name) for name in result.failures), default=0)
    if _exhausted(submission) or result.permanent:
        fields["state"] = State.FAILED
    elif result.failures:
        delay = settings.ASSAY_RETRY_BASE_SECONDS * 2 ** (failures - 1)
        fields.update(
            state=State.PENDING,
            enqueued_at=None,
            retry_at=now + timedelta(seconds=delay),
            # The page shows the step that waits, where it is, as while it ran.
            current_task=(waiting := next(iter(result.failures))),
            **_progress_at(submission, waiting),
        )
    else:
        fields["state"] = State.DONE
    mine = Submission.objects.filter(id=submission.id, state=State.RUNNING, claimed_by=worker)
    if not mine.update(**fields):
        logger.warning("submission %s was re-claimed before %s finished", submission.id, worker)
        return "lost claim"
    logger.info("submission %s %s%s", submission.id, fields["state"], _why(result, fields))
    return fields["state"]


def _why(result: RunResult, fields: dict) -> str:
    """What an operator reading the log needs: which steps failed, how, and what next."""
    said = "; ".join(
        f"{name}: {error.code}: {queries_left_out(error.message)}"
        for name, error in result.failures.items()
    )
    if fields.get("retry_at"):
        said += f"; tried again at {fields['retry_at']:%H:%M:%S}"
    return f" ({said})" if said else ""


class Heartbeat:
    """Beats from a thread, so a long task step still shows its worker is alive."""

    def __init__(self, claimed: QuerySet):
        self.claimed = claimed  # the row(s) this worker holds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="heartbeat")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(settings.ASSAY_HEARTBEAT_SECONDS):
                try:
                    self.claimed.update(heartbeat=timezone.now())
                except DatabaseError:
                    # A busy database (SQLite "locked") must not end the heartbeat: a
                    # silent stop would let another worker take over live work.
                    logger.warning("heartbeat not written; trying again", exc_info=True)
        finally:
            connection.close()


# Deferred tasks: never part of the report's wait; each runs in a job of its own,
# claimed on its TaskResult row, when somebody asks for it.


def request_deferred(submission: Submission, task_name: str) -> bool:
    """Ask for a deferred task's work; many requests send one job. True if one was sent."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.ASSAY_STALE_SECONDS)
    lost = now - timedelta(seconds=settings.ASSAY_LOST_JOB_SECONDS)
    TaskResult.objects.get_or_create(submission=submission, task=task_name)
    free = (
        Q(requested_at__isnull=True)
        | Q(claimed_by="", requested_at__lt=lost)
        | (~Q(claimed_by="") & Q(heartbeat__lt=stale))
    )
    updated = TaskResult.objects.filter(free, submission=submission, task=task_name).update(
        requested_at=now, claimed_by="", heartbeat=None
    )
    if updated:
        sent: list[bool] = []  # filled at once outside a transaction, else at its commit
        transaction.on_commit(lambda: sent.append(_send_deferred(submission.id, task_name)))
        if sent == [False]:
            raise QueueUnavailable("Assay cannot queue work just now; ask again in a minute.")
    return bool(updated)


class QueueUnavailable(Exception):
    """The broker could not be reached: the work asked for was not queued."""


def _send_deferred(submission_id, task_name: str) -> bool:
    try:
        async_task(
            "webapp.jobs.run_deferred",
            str(submission_id),
            task_name,
            task_name=f"{task_name} for {submission_id}",
            group="deferred",
            cluster=deferred_queue(),
        )
    except BROKER_DOWN:  # not asked for, rather than said to be under way
        logger.exception("could not queue %s for submission %s", task_name, submission_id)
        TaskResult.objects.filter(
            submission_id=submission_id, task=task_name, claimed_by=""
        ).update(requested_at=None)
        return False
    return True


def run_deferred(submission_id: str, task_name: str) -> str:
    """The django-q2 job for one deferred task."""
    with working_on(current_submission, str(submission_id)):
        return _run_deferred(submission_id, task_name)


def _run_deferred(submission_id: str, task_name: str) -> str:
    worker = worker_name()
    row = TaskResult.objects.filter(submission_id=submission_id, task=task_name)
    last_alive = next(iter(row.values_list("heartbeat", flat=True)), None)
    if not row.filter(claimed_by="", requested_at__isnull=False).update(
        claimed_by=worker, heartbeat=timezone.now()
    ):
        return "not claimed"
    mine = row.filter(claimed_by=worker)
    submission = None
    try:
        submission = Submission.objects.get(id=submission_id)
        submission.store.worker = worker  # its runs are this worker's, not the report's
        # A run still open here belongs to a worker that died; it counts as a failure.
        _close_interrupted_runs(submission, [task_name], last_alive)
        task = get_pipeline().get(task_name)
        if submission.state == State.DONE and not submission.is_expired:
            with Heartbeat(mine):
                result = RunResult()
                with Memo() as memo, ending_if_gone(submission, task, result):
                    if task.is_applicable(submission):
                        refresh_schema(submission.get_profile())  # as _process does
                        step(task, submission, result, memo)
                forgotten_if_gone(submission, result)
    except TimeoutException:
        if submission is not None:
            _timed_out(submission, [task_name])
        raise
    finally:
        mine.update(requested_at=None, claimed_by="", heartbeat=None)
    return "done"


def deferred_status(submission: Submission, task: Task) -> str:
    """ready | working | failed | available: what the results page shows for the task."""
    row = submission.store.results.get(task.name)
    if row is not None and row.requested_at is not None:
        now = timezone.now()
        stale = now - timedelta(seconds=settings.ASSAY_STALE_SECONDS)
        lost = now - timedelta(seconds=settings.ASSAY_LOST_JOB_SECONDS)
        if row.claimed_by:
            alive = row.heartbeat is not None and row.heartbeat >= stale
        else:
            alive = row.requested_at >= lost
        if alive:
            return "working"
    if not task.is_needed(submission):
        return "ready"
    if row is not None and row.last_outcome == TaskRun.Outcome.FAILED:
        return "failed"
    return "available"


def retry(submission: Submission) -> bool:
    """Try a failed submission again from where it failed (the user's "try again")."""
    with transaction.atomic():
        TaskResult.objects.filter(submission=submission).update(consecutive_failures=0)
        return enqueue(submission.id, force=True)


def reprocess(submission: Submission) -> bool:
    """Forget every cached output and run the whole pipeline again (operators' action).
    False, and nothing forgotten, while a live worker runs it or one of its deferred
    steps: their files must not go from under them."""
    now = timezone.now()
    fresh = now - timedelta(seconds=settings.ASSAY_STALE_SECONDS)
    with transaction.atomic():
        if TaskResult.objects.filter(
            submission=submission, claimed_by__gt="", heartbeat__gte=fresh
        ).exists():
            return False  # a deferred step (the spreadsheets) is being made
        claimed = (
            Submission.objects.filter(id=submission.id, expires_at__gt=now)
            .exclude(state=State.RUNNING, heartbeat__gte=fresh)
            .update(**_sending(now, new_run=True))
        )
        if not claimed:
            return False
        TaskResult.objects.filter(submission=submission).delete()
        # And their files: a deferred step's (the spreadsheets) would still download,
        # while the page offers to make them anew.
        for task in get_pipeline():
            shutil.rmtree(submission.files_dir / task.name, ignore_errors=True)
        transaction.on_commit(lambda: _send(submission.id))
        return True


def sweep() -> int:
    """Periodic: re-send jobs for submissions stuck without one. Returns how many."""
    close_old_connections()
    release_dead_deferred_steps()
    ids = list(
        Submission.objects.filter(
            _requeueable(timezone.now()), expires_at__gt=timezone.now()
        ).values_list("id", flat=True)[:500]
    )
    sent = sum(enqueue(submission_id) for submission_id in ids)
    if sent:
        logger.info("the sweep sent %d job(s) again, lost or stale", sent)
    return sent


def release_dead_deferred_steps() -> int:
    """Deferred steps whose worker died: their runs end as interrupted, and the step is
    no longer said to be under way, so the page offers it again. (Else both stay so until
    somebody asks for it again.)"""
    stale = timezone.now() - timedelta(seconds=settings.ASSAY_STALE_SECONDS)
    dead = TaskResult.objects.filter(claimed_by__gt="", heartbeat__lt=stale)
    released = 0
    for row in dead.select_related("submission")[:500]:
        if TaskResult.objects.filter(
            pk=row.pk, claimed_by=row.claimed_by, heartbeat=row.heartbeat
        ).update(claimed_by="", requested_at=None, heartbeat=None):
            _close_interrupted_runs(row.submission, [row.task], row.heartbeat)
            released += 1
    return released


def expire() -> int:
    """Periodic: delete the files of expired submissions, and old link checks."""
    from webapp.expiry import expire_due, forget_old_link_checks

    expired = expire_due()
    try:
        forget_old_link_checks()
    except OSError:  # a folder it may not read, say: the submissions expired all the same
        logger.exception("old link checks could not be deleted")
    return expired
