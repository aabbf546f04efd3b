from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_q.brokers import get_broker

from process.files import chunks_of
from process.task import Task, applies
from tasks.preview import DOCUMENTS
from webapp import jobs
from webapp.expiry import expire
from webapp.forms import SubmissionForm
from webapp.models import Submission, TaskResult
from webapp.pipeline import get_pipeline, needed_tasks
from webapp.profiles import get_profiles
from webapp.submissions import create_submission

State = Submission.State
logger = logging.getLogger(__name__)
ERRORS_PER_PAGE = 100


def home(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = SubmissionForm(request.POST, request.FILES)
        if form.is_valid():
            return redirect(submit(form))
    else:
        form = SubmissionForm()
    return render(request, "home.html", {"form": form, "examples": home_examples()})


def submit(form: SubmissionForm) -> Submission:
    data = form.cleaned_data
    options = {"source": form.source, "profile": data["profile"], "sample": data["sample"]}
    if form.source == Submission.Source.FILE:
        upload = data["file"]
        return create_submission(chunks=upload.chunks(), name=upload.name, **options)
    if form.source == Submission.Source.TEXT:
        text = data["text"]
        # Named for what it looks like, so that its download opens as such.
        name = "pasted.json" if text.lstrip("\ufeff \t\r\n")[:1] in ("{", "[") else "pasted.txt"
        return create_submission(chunks=[text.encode()], name=name, **options)
    return create_submission(url=data["url"], **options)


def results(request: HttpRequest, submission_id: UUID) -> HttpResponse:
    """DESIGN.md "Results page logic", on every view."""
    submission = get_object_or_404(Submission, id=submission_id)
    if submission.is_expired:
        return expired(request, submission)
    if jobs.refresh_on_view(submission):
        # With a synchronous queue the work has already happened: read it afresh.
        submission = Submission.objects.get(id=submission_id)
    if submission.state in (State.PENDING, State.RUNNING):
        return render(request, "submission/progress.html", progress_context(submission))
    context = {
        "submission": submission,
        "sections": sections(request, submission),
        "summary": summary(submission),
    }
    if submission.state == State.FAILED:
        found = failures(submission)
        context["failures"] = [row for row in found if row["outcome"] == "failed"]
        context["skipped"] = [row["title"] for row in found if row["outcome"] == "skipped"]
        return render(request, "submission/error.html", context)
    return render(request, "submission/results.html", context)


def summary(submission: Submission) -> dict[str, Any]:
    """The top of the results page: the verdict, and what was checked against what."""
    validation = submission.store.output("validate")
    sample = submission.store.output("sample")
    return {
        # Only the first items of a long list were checked: the verdict is the sample's.
        "sample_size": sample.data["sample_size"] if sample and sample.data["sampled"] else None,
        "checked": validation is not None,
        "valid": validation.data["valid"] if validation else None,
        "error_count": validation.data["error_count"] if validation else 0,
        "profile": submission.get_profile(),
        "document": submission.format in DOCUMENTS,
    }


def expired(request: HttpRequest, submission: Submission) -> HttpResponse:
    if submission.state != State.EXPIRED:
        expire(submission)
        submission.refresh_from_db()
    return render(request, "submission/expired.html", {"submission": submission}, status=410)


def post_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A view for a form's button: opened as a page (a link shared, a bookmark), it says
    so and points to where the button is, rather than a blank "405"."""

    @wraps(view)
    def for_the_button(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            return view(request, *args, **kwargs)
        submission_id = kwargs.get("submission_id")
        page = reverse("results", args=[submission_id]) if submission_id else reverse("home")
        response = render(request, "405.html", {"page": page}, status=405)
        response["Allow"] = "POST"
        return response

    return for_the_button


def sections(request: HttpRequest, submission: Submission) -> list[dict[str, Any]]:
    """Each applicable task's own partial, rendered from its cached output."""
    rendered = []
    # Not what a run before a change made (on a failed page): that no longer holds, and
    # its files lead back here (download). A finished page needs nothing: the view has
    # just asked (jobs.refresh_on_view), and would have started the work.
    stale = set() if submission.state == State.DONE else set(needed_tasks(submission))
    for task in get_pipeline().applicable(submission):
        if submission.store.output(task.name) is not None and task not in stale:
            rendered.append(section(request, submission, task))
    if submission.state == State.DONE:
        for task in get_pipeline().applicable(submission, deferred=True):
            status = jobs.deferred_status(submission, task)
            problem = failure_of(submission, task, status)
            rendered.append(section(request, submission, task, status=status, problem=problem))
    return rendered


def last_problem(submission: Submission, task: Task) -> dict[str, Any]:
    """What went wrong the last time a task ran, in the words it gave, and whether it would
    go wrong again: a fault in the data itself, met by this version of the task with these
    inputs (a profile's schema since mended makes it worth asking again)."""
    row = submission.results.filter(task=task.name).select_related("last_run").first()
    run = row.last_run if row else None
    if run is None:
        return {}
    return {
        "message": run.error_message,
        "hint": run.data.get("hint", ""),
        "permanent": bool(run.permanent)
        and run.version == task.version
        and run.fingerprint == (task.input_fingerprint(submission) or ""),
    }


def section(
    request: HttpRequest, submission: Submission, task: Task, **extra: Any
) -> dict[str, Any]:
    context = {
        "submission": submission,
        "task": task,
        "downloads": available_downloads(submission, task),
        **task.get_context(submission),
        **extra,
    }
    fallback = "tasks/_deferred.html" if task.deferred else "tasks/_default.html"
    # With the request, so that a section's form (a deferred task's button) gets its CSRF token.
    html = render_to_string([task.template, fallback], context, request=request)
    return {"name": task.name, "title": task.title, "html": html}


def available_downloads(submission: Submission, task: Task) -> list[dict[str, str]]:
    return [
        {
            "name": item.filename,
            "label": item.label,
            "content_type": item.content_type,
            "url": reverse("download", args=[submission.id, task.name, item.filename]),
        }
        for item in task.downloads(submission)
        if item.listed and task.download_path(submission, item.filename)
    ]


def failures(submission: Submission) -> list[dict[str, Any]]:
    """The steps that failed or were skipped for it, in the pipeline's order: the first
    failure is the cause of what follows."""
    titles = {task.name: task.title for task in get_pipeline().main}
    order = {name: index for index, name in enumerate(titles)}
    rows = TaskResult.objects.filter(
        submission=submission, task__in=titles, last_outcome__in=["failed", "skipped"]
    ).select_related("last_run")
    rows = sorted(rows, key=lambda row: order[row.task])
    return [
        {
            "task": row.task,
            "title": titles.get(row.task, row.task),
            "outcome": row.last_outcome,
            "code": row.last_run.error_code if row.last_run else "",
            "message": row.last_run.error_message if row.last_run else "",
            "hint": row.last_run.data.get("hint", "") if row.last_run else "",
            "permanent": row.last_run.permanent if row.last_run else True,
        }
        for row in rows
    ]


def run_elapsed(submission: Submission) -> int:
    """Seconds this run has taken, until now or until it ended: since a worker first took
    it up, or, until one has, since it was first sent to one (a submission checked again
    counts from then, not from its upload). Sending the same run again (a lost job, a
    retry come due) does not start the count again."""
    started = submission.run_started_at or submission.enqueued_at or submission.created
    if submission.claimed_at and submission.claimed_at >= started:  # taken up in this run
        started = submission.claimed_at
    ended = timezone.now()
    if submission.state in {State.DONE, State.FAILED}:
        ended = submission.finished_at or ended
    elif submission.state == State.EXPIRED:
        finished = submission.finished_at
        # A finish before this run started was an earlier run's: this one expired unended.
        if finished is None or finished < started:
            finished = submission.expired_at
        ended = finished or ended
    return max(0, round((ended - started).total_seconds()))


def worker_quiet_for(submission: Submission) -> int | None:
    """Seconds since the worker on a running submission was last heard from, when that is
    longer than it should be (three heartbeats): it may have stopped, and the sweep then
    sends the work to another once ASSAY_STALE_SECONDS have passed."""
    quiet = submission.heartbeat_age() if submission.state == State.RUNNING else None
    return round(quiet) if quiet and quiet > 3 * settings.ASSAY_HEARTBEAT_SECONDS else None


def progress_context(submission: Submission) -> dict[str, Any]:
    titles = {task.name: task.title for task in get_pipeline()}
    elapsed = run_elapsed(submission)
    return {
        "submission": submission,
        "done": submission.progress_done,
        "total": submission.progress_total,  # 0 until a worker has started
        "current": titles.get(submission.current_task, ""),
        "elapsed": elapsed,
        # Without JavaScript the page reloads itself: often at first, calmer later.
        "reload_seconds": 3 if elapsed < 60 else 15,
        "status_url": reverse("api-submission", args=[submission.id]),
        "retrying": submission.retry_at is not None,
        "quiet_for": worker_quiet_for(submission),
        "waiting_on": waiting_on(submission),
    }


def waiting_on(submission: Submission) -> dict[str, str] | None:
    """While a retry is due: the step that failed for a passing reason, and why."""
    if submission.retry_at is None:
        return None
    failed = [row for row in failures(submission) if row["outcome"] == "failed"]
    # The step the progress shows (the first to fail, in the pipeline's order) first.
    failed.sort(key=lambda row: row["task"] != submission.current_task)
    return {"title": failed[0]["title"], "message": failed[0]["message"]} if failed else None


def original(request: HttpRequest, submission_id: UUID) -> HttpResponse:
    submission = get_object_or_404(Submission, id=submission_id)
    if submission.is_expired:
        return expired(request, submission)
    if not submission.original_path.exists():
        raise Http404("This submission has no file yet.")
    filename = submission.original_name or "data"
    handle = submission.original_path.open("rb")
    return FileResponse(handle, as_attachment=True, filename=filename)


def download(request: HttpRequest, submission_id: UUID, task_name: str, filename: str):
    """A file a task offers; only names the task lists are served, as attachments."""
    submission = get_object_or_404(Submission, id=submission_id)
    if submission.is_expired:
        return expired(request, submission)
    try:
        task = get_pipeline().get(task_name)
    except KeyError:
        raise Http404("No such step.") from None
    path = task.download_path(submission, filename)
    if path is None:
        raise Http404("No such file.")
    if task.is_needed(submission):
        return _made_before_a_change(request, submission, task, filename)
    return FileResponse(path.open("rb"), as_attachment=True, filename=filename)


def _made_before_a_change(
    request: HttpRequest, submission: Submission, task: Task, filename: str
) -> HttpResponse:
    """A file asked for by a link kept from before a change (a new schema, an upgrade): not
    what the step gives now. The results page makes it again, or offers to."""
    if not applies(task, submission):
        raise Http404("No such file: the step that made it no longer applies to this data.")
    stale = FAILED_AGAIN if submission.state == State.FAILED else STALE_FILE
    message = stale.format(filename=filename, title=task.title)
    results = request.build_absolute_uri(submission.get_absolute_url())
    if "text/html" not in request.headers.get("Accept", ""):
        # A script (curl -o report.json): an error it can see, not a page saved as the file.
        body = {"error": {"code": "out_of_date", "message": message, "results": results}}
        return JsonResponse(body, status=409)
    messages.info(request, message)
    return redirect(f"{results}#{task.name}")


STALE_FILE = (
    "{filename} was made before the schema or Assay changed, so it may no longer be right: "
    "get it again from “{title}” below."
)
# Checked again since, and that failed: the page has no such file to offer.
FAILED_AGAIN = (
    "{filename} was made before the schema or Assay changed, and the data could not be "
    "checked again: the page says why."
)


def all_errors(request: HttpRequest, submission_id: UUID) -> HttpResponse:
    """Every stored error, a page at a time."""
    submission = get_object_or_404(Submission, id=submission_id)
    if submission.is_expired:
        return expired(request, submission)
    output = submission.store.output("validate")
    if output is None:
        raise Http404("This submission was not checked against a schema.")
    validate = get_pipeline().get("validate")
    pages = Paginator(validate.errors(submission), ERRORS_PER_PAGE)
    page = pages.get_page(request.GET.get("page"))
    context = {"submission": submission, "page": page, "output": output.data, **summary(submission)}
    return render(request, "submission/errors.html", context)


@post_only
def start_task(request: HttpRequest, submission_id: UUID, task_name: str) -> HttpResponse:
    """The button of a deferred task (spreadsheet downloads, say)."""
    submission = get_object_or_404(Submission, id=submission_id)
    if submission.is_expired:
        return expired(request, submission)
    try:
        task = deferred_task_or_404(submission, task_name)
    except NotNow as exc:  # a page open while the data is checked again, say
        messages.error(request, str(exc))
        return redirect(f"{submission.get_absolute_url()}#{task_name}")
    if jobs.deferred_status(submission, task) != "ready":  # a second click, say
        try:
            jobs.request_deferred(submission, task.name)
        except jobs.QueueUnavailable as exc:
            messages.error(request, str(exc))
    return redirect(f"{submission.get_absolute_url()}#{task.name}")


class NotNow(Http404):
    """The step exists, but this submission cannot have it now (the API says 409)."""


# Why a submission in this state cannot have a deferred step.
NOT_NOW = {
    State.PENDING: "This submission is still being checked: ask again once its report is ready.",
    State.RUNNING: "This submission is still being checked: ask again once its report is ready.",
    State.FAILED: "This submission could not be checked, so there is nothing to make this from.",
    State.EXPIRED: "This submission has expired; its data is gone.",
}


def deferred_task_or_404(submission: Submission, task_name: str) -> Task:
    if task_name not in {task.name for task in get_pipeline().deferred}:
        raise Http404("There is no step of that name to ask for.")
    if submission.is_expired:
        raise NotNow(NOT_NOW[State.EXPIRED])
    if submission.state != State.DONE:
        raise NotNow(NOT_NOW[submission.state])
    for task in get_pipeline().applicable(submission, deferred=True):
        if task.name == task_name:
            if reason := task.unavailable_because(submission) or known_to_fail(
                failure_of(submission, task, jobs.deferred_status(submission, task))
            ):
                raise NotNow(reason)
            return task
    raise NotNow(get_pipeline().get(task_name).inapplicable_because(submission))


def known_to_fail(problem: dict[str, Any]) -> str:
    """Why a step would fail again, given its last failure (see last_problem), if that
    was the data's own; else nothing."""
    if not problem.get("permanent"):
        return ""
    return " ".join(filter(None, [problem["message"], problem["hint"]]))


def failure_of(submission: Submission, task: Task, status: str) -> dict[str, Any]:
    """The last failure of a deferred step whose status is ``status``: none unless failed."""
    return last_problem(submission, task) if status == "failed" else {}


@post_only
def retry(request: HttpRequest, submission_id: UUID) -> HttpResponse:
    submission = get_object_or_404(Submission, id=submission_id)
    if submission.state == State.FAILED and not submission.is_expired:
        jobs.retry(submission)
    return redirect(submission)


def home_examples() -> list[dict[str, Any]]:
    """The "try an example" buttons: every example file of every profile."""
    return [
        {"profile": profile, "index": index, "name": path.name}
        for profile in get_profiles().values()
        for index, path in enumerate(profile.example_paths())
    ]


@post_only
def try_example(request: HttpRequest, profile_name: str, index: int) -> HttpResponse:
    profile = get_profiles().get(profile_name)
    if profile is None or index >= len(profile.examples):
        raise Http404("No such example.")
    path = profile.example_paths()[index]
    with path.open("rb") as handle:
        submission = create_submission(
            source=Submission.Source.FILE,
            profile=profile.name,
            chunks=chunks_of(handle),
            name=path.name,
        )
    return redirect(submission)


def healthz(request: HttpRequest) -> JsonResponse:
    """For orchestrators: 200 when the database and the job broker answer, else 503 and why."""
    checks = {"database": _database_answers(), "broker": _broker_answers()}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )


def _database_answers() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.warning("health check: the database did not answer", exc_info=True)
        return "unreachable"
    return "ok"


def _broker_answers() -> str:
    try:
        answered = get_broker().ping()
    except Exception:  # each broker fails in its own way; any failure means down
        # The details (host names, users) go to the log, not to whoever asks.
        logger.warning("health check: the broker did not answer", exc_info=True)
        return "unreachable"
    return "ok" if answered else "unreachable"
