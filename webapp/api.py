"""The JSON API (DESIGN.md "Public interfaces"): the same submissions, for scripts.

No cookies are used, so CSRF does not apply; browsers on other origins may call it only
when ASSAY_API_CORS_ORIGINS lists them. webapp/openapi.py describes every response here,
and the tests check each one against that description.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from functools import wraps
from html import unescape
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.html import strip_tags
from django.views.decorators.csrf import csrf_exempt

from process.task import Task
from tasks.preview import DOCUMENTS
from webapp import jobs
from webapp.forms import SubmissionForm
from webapp.models import Submission
from webapp.openapi import openapi_document
from webapp.pipeline import get_pipeline
from webapp.profiles import get_profiles
from webapp.templatetags.assay import size
from webapp.views import (
    NotNow,
    available_downloads,
    deferred_task_or_404,
    failure_of,
    failures,
    known_to_fail,
    run_elapsed,
    submit,
    waiting_on,
    worker_quiet_for,
)

logger = logging.getLogger(__name__)

State = Submission.State
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
# Room for the multipart framing and the other fields around the largest file allowed.
BODY_SLACK_BYTES = 64 * 1024


def error(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, **extra}}, status=status)


def api_view(*methods: str) -> Callable:
    """JSON errors for wrong methods, CORS for the allowed origins, no CSRF."""
    if "GET" in methods:  # what may be read may be asked for its headers alone
        methods = (*methods, "HEAD")

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "OPTIONS":
                response: HttpResponse = HttpResponse(status=204)
                response["Allow"] = ", ".join([*methods, "OPTIONS"])
            elif request.method not in methods:
                response = error(405, "method_not_allowed", f"Use {' or '.join(methods)}.")
                response["Allow"] = ", ".join([*methods, "OPTIONS"])
            else:
                response = view(request, *args, **kwargs)
            return with_cors(request, response, methods)

        return wrapped

    return decorate


def with_cors(request: HttpRequest, response: HttpResponse, methods: tuple[str, ...]):
    # Whatever the origin: a shared cache must not give one origin's answer to another.
    patch_vary_headers(response, ["Origin"])
    origin = request.headers.get("Origin")
    if origin and origin in settings.ASSAY_API_CORS_ORIGINS:
        response["Access-Control-Allow-Origin"] = origin
        # A page's script may read these only if told it may: the new submission's
        # address, and how long to wait after a 429.
        response["Access-Control-Expose-Headers"] = "Location, Retry-After"
        if request.method == "OPTIONS":
            response["Access-Control-Allow-Methods"] = ", ".join([*methods, "OPTIONS"])
            response["Access-Control-Allow-Headers"] = "Content-Type"
            response["Access-Control-Max-Age"] = "3600"
    return response


@api_view("POST")
def submissions(request: HttpRequest) -> HttpResponse:
    # Counted first: every refusal counts, so a script stuck in a loop is slowed down.
    refusal = rate_limited(request) or too_large(request) or unsupported_type(request)
    if refusal is not None:
        return refusal
    try:
        form = submission_form(request)
    except RequestDataTooBig:
        form = SubmissionForm(data={})
        form.refuse_body()
    except MultiPartParserError as exc:
        return error(400, "invalid_body", f"The multipart body cannot be read: {exc}")
    except (TooManyFieldsSent, TooManyFilesSent):
        return error(
            400,
            "invalid_body",
            "The body has more parts than a submission needs: send one file, url or text, "
            "and at most a profile and sample.",
        )
    except WrongField as exc:
        return error(400, "invalid", str(exc), field=exc.field)
    except ValueError as exc:
        return error(400, "invalid_json", f"The body is not a JSON object: {exc}")
    except RecursionError:
        return error(400, "invalid_json", "The body is nested too deeply to read.")
    if not form.is_valid():
        return form_error(form)
    submission = submit(form)
    submission.refresh_from_db()
    body = {
        "id": str(submission.id),
        "state": public_state(submission),
        "links": links(request, submission),
    }
    response = JsonResponse(body, status=201)
    response["Location"] = body["links"]["self"]
    return response


def too_large(request: HttpRequest) -> JsonResponse | None:
    """Refuse an over-size body from its Content-Length, before reading any of it."""
    limit = settings.ASSAY_MAX_UPLOAD_BYTES + BODY_SLACK_BYTES
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return error(400, "bad_length", "The Content-Length header is not a number.")
    if length <= limit:
        return None
    return error(
        413,
        "too_large",
        f"The request is {size(length)}; files up to "
        f"{size(settings.ASSAY_MAX_UPLOAD_BYTES)} are accepted.",
        limit=settings.ASSAY_MAX_UPLOAD_BYTES,
    )


def unsupported_type(request: HttpRequest) -> JsonResponse | None:
    if request.content_type in (*FORM_TYPES, "application/json"):
        return None
    return error(
        415,
        "unsupported_media_type",
        f"The body is {request.content_type or 'of no type'}; send multipart/form-data "
        "(for a file), a form, or JSON.",
    )


def client_address(request: HttpRequest) -> str:
    """The address of whoever sent the request, past ASSAY_TRUSTED_PROXIES proxies.

    Entries further left than the trusted proxies' own were written by the client, who may
    write anything there, so they are never read."""
    proxies = settings.ASSAY_TRUSTED_PROXIES
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if proxies and len(forwarded) >= proxies and forwarded[-proxies]:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def rate_limited(request: HttpRequest) -> JsonResponse | None:
    """A fixed one-minute window per client address, counted in Django's cache."""
    now = time.time()
    window = int(now // 60)
    key = f"assay:api-posts:{client_address(request)}:{window}"
    try:
        count = _counted(key)
    except jobs.BROKER_DOWN:  # the cache is down (Redis, say): take it, uncounted
        logger.exception("the API's rate limit cannot be counted; the request is let through")
        return None
    limit = settings.ASSAY_API_SUBMISSIONS_PER_MINUTE
    if count <= limit:
        return None
    wait = max(1, int((window + 1) * 60 - now))
    response = error(
        429,
        "rate_limited",
        f"At most {limit} submissions a minute, refused ones included; try again in {wait} s.",
    )
    response["Retry-After"] = str(wait)
    return response


def _counted(key: str) -> int:
    cache.add(key, 0, timeout=120)
    try:
        return cache.incr(key)
    except ValueError:  # the key was evicted between add and incr: count afresh
        cache.set(key, 1, timeout=120)
        return 1


def _kind(value: Any) -> str:
    kinds = {dict: "an object", list: "a list", bool: "true or false", type(None): "null"}
    return kinds.get(type(value), "a number")


class WrongField(ValueError):
    """A field of a JSON body that is there but of the wrong kind: the body itself is fine."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def submission_form(request: HttpRequest) -> SubmissionForm:
    if request.content_type != "application/json":
        _check_parts(request)
        return SubmissionForm(request.POST, request.FILES)
    body = json.loads(request.body or b"null")
    if not isinstance(body, dict):
        raise ValueError('expected an object such as {"url": "https://..."}')
    _refuse_unknown(body, JSON_FIELDS)
    fields = {name: body[name] for name in ("url", "text", "profile") if name in body}
    for name, value in fields.items():
        if not isinstance(value, str):
            raise WrongField(name, f"“{name}” must be a string, not {_kind(value)}.")
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone "\\ud800": JSON allows it, text has none
            raise WrongField(name, f"“{name}” holds a lone surrogate, which is not text.") from None
    if "sample" in body:
        if not isinstance(body["sample"], bool):
            raise WrongField("sample", "“sample” must be true or false.")
        fields["sample"] = body["sample"]
    return SubmissionForm(fields)


JSON_FIELDS = ("url", "text", "profile", "sample")
FORM_FIELDS = ("file", *JSON_FIELDS)


def _refuse_unknown(names: Any, known: tuple[str, ...]) -> None:
    """A field the API does not read, refused rather than left out: a misspelt "profle"
    would otherwise check the data against the default profile, and say nothing."""
    unknown = [name for name in names if name not in known]
    if not unknown:
        return
    name = unknown[0]
    if name == "file":  # in a JSON body
        raise WrongField(
            name,
            "A file cannot be sent in JSON: send it as multipart (curl -F file=@data.json), "
            "or send its text as “text”.",
        )
    raise WrongField(
        name,
        f"“{name}” is not a field of a submission, which has {_either(known)}.",
    )


def _either(known: tuple[str, ...]) -> str:
    quoted = [f"“{name}”" for name in known]
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def _check_parts(request: HttpRequest) -> None:
    """A form's fields sent as the wrong kind of part: a file where text is read, say
    (curl's -F text=@data.json, which means -F 'text=<data.json'); or a field it does
    not read."""
    _refuse_unknown([*request.POST, *request.FILES], FORM_FIELDS)
    for name in ("text", "url", "profile", "sample"):
        if name in request.FILES and name not in request.POST:
            raise WrongField(
                name,
                f"“{name}” was sent as a file, and is read as text: send a file as “file” "
                f"(curl -F file=@data.json), or a file's text as “{name}” "
                f"(curl -F '{name}=<data.json').",
            )
    if "file" in request.POST and "file" not in request.FILES:
        raise WrongField(
            "file", "“file” was sent as text: send it as a file (curl -F file=@data.json)."
        )
    if len(request.FILES.getlist("file")) > 1:  # the form would take the last, unsaid
        raise WrongField("file", "Several files were sent as “file”: send one a submission.")


def form_error(form: SubmissionForm) -> JsonResponse:
    """The first problem with the submission, with a code scripts can branch on."""
    for field, errors in form.errors.as_data().items():
        for problem in errors:
            code = problem.code or "invalid"
            if field == "profile" and code == "invalid_choice":
                code = "unknown_profile"
            elif field == "url" and code in ("invalid", "max_length"):
                code = "invalid_url"
            elif field == "file" and code == "empty":
                code = "empty_file"
            elif code not in {"too_large", "no_source", "two_sources", "invalid_url"}:
                code = "invalid"
            message = " ".join(problem.messages)
            extra = {"field": field} if field != "__all__" else {}
            if code == "too_large":
                limit_name = "ASSAY_MAX_TEXT_BYTES" if field == "text" else "ASSAY_MAX_UPLOAD_BYTES"
                extra["limit"] = getattr(settings, limit_name)
            return error(400, code, message, **extra)
    return error(400, "invalid", "The submission is not valid.")


@api_view("GET")
def submission_status(request: HttpRequest, submission_id: UUID) -> JsonResponse:
    """The small status document the progress page polls."""
    submission = Submission.objects.filter(id=submission_id).first()
    if submission is None:
        return not_found()
    if not submission.is_expired and jobs.resend_if_lost(submission):
        submission = Submission.objects.get(id=submission_id)
    body = status_document(request, submission)
    return JsonResponse(body, status=410 if submission.is_expired else 200)


@api_view("GET")
def report(request: HttpRequest, submission_id: UUID) -> HttpResponse:
    """The report document once done; the status while work is under way."""
    submission = Submission.objects.filter(id=submission_id).first()
    if submission is None:
        return not_found()
    if submission.is_expired:
        return JsonResponse(status_document(request, submission), status=410)
    if jobs.refresh_on_view(submission):
        submission = Submission.objects.get(id=submission_id)
    if submission.state in (State.PENDING, State.RUNNING):
        return JsonResponse(status_document(request, submission), status=202)
    if submission.state == State.FAILED:
        return error(
            422,
            "not_processed",
            "The data could not be checked; the failures say why.",
            failures=[
                _failure(row)
                for row in failures(submission)
                if row["outcome"] == "failed"  # not the steps skipped because of them
            ],
        )
    path = get_pipeline().get("report").download_path(submission, "report.json")
    results_url = request.build_absolute_uri(reverse("results", args=[submission.id]))
    if path is None:
        return error(404, "no_report", no_report_reason(submission), results=results_url)
    return FileResponse(path.open("rb"), content_type="application/json")


@api_view("POST")
def start_task(request: HttpRequest, submission_id: UUID, task_name: str) -> JsonResponse:
    """Ask for a deferred task; 202 with its status, which the status document then follows."""
    submission = Submission.objects.filter(id=submission_id).first()
    if submission is None:
        return not_found()
    if submission.is_expired:
        return error(410, "expired", "This submission has expired; its data is gone.")
    try:
        task = deferred_task_or_404(submission, task_name)
    except NotNow as exc:
        return error(409, "not_available", str(exc))
    except Http404 as exc:
        return error(404, "not_found", str(exc))
    if jobs.deferred_status(submission, task) == "ready":  # done: nothing to ask for
        return JsonResponse({"name": task.name, "status": "ready"})
    try:
        jobs.request_deferred(submission, task.name)
    except jobs.QueueUnavailable as exc:
        response = error(503, "queue_unavailable", str(exc))
        response["Retry-After"] = "60"
        return response
    status = jobs.deferred_status(Submission.objects.get(id=submission_id), task)
    return JsonResponse({"name": task.name, "status": status}, status=202)


def _failure(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{key: row[key] for key in ("task", "title", "code", "message", "hint")},
        # The data's own fault, met again if tried again; else it may pass, and the
        # error page offers to try again.
        "permanent": bool(row["permanent"]),
    }


# Why a submission in this state has nothing to try again.
BEING_CHECKED = "This submission is being checked: there is nothing to try again."
NOTHING_TO_RETRY = {
    State.PENDING: BEING_CHECKED,
    State.RUNNING: BEING_CHECKED,
    State.DONE: "This submission was checked: there is nothing to try again.",
}


@api_view("POST")
def retry(request: HttpRequest, submission_id: UUID) -> JsonResponse:
    """The error page's "Try again now": a failed submission, checked again from the step
    that failed; 202 with the status, which then follows it."""
    submission = Submission.objects.filter(id=submission_id).first()
    if submission is None:
        return not_found()
    if submission.is_expired:
        return error(410, "expired", "This submission has expired; its data is gone.")
    if submission.state != State.FAILED:
        return error(409, "not_failed", NOTHING_TO_RETRY[submission.state])
    # False if a run was already queued (another request's, say): that run tries it again.
    jobs.retry(submission)
    submission = Submission.objects.get(id=submission_id)
    return JsonResponse(status_document(request, submission), status=202)


@api_view("GET")
def openapi(request: HttpRequest) -> JsonResponse:
    server = request.build_absolute_uri("/").rstrip("/")
    return JsonResponse(openapi_document(server, list(get_profiles())))


@csrf_exempt
def unknown(request: HttpRequest) -> HttpResponse:
    # With CORS, so that a script on an allowed site can read why.
    response = error(404, "not_found", "There is nothing at this address in the API.")
    return with_cors(request, response, ("GET", "HEAD", "POST"))


def no_report_reason(submission: Submission) -> str:
    if submission.format in DOCUMENTS:
        return (
            f"This submission has no report: it is a {submission.format.upper()} file, "
            "which is previewed, not checked against a schema."
        )
    return "This submission has no report; its results page says what happened."


def not_found() -> JsonResponse:
    return error(404, "not_found", "No submission has this id.")


def public_state(submission: Submission) -> str:
    return State.EXPIRED if submission.is_expired else submission.state


def links(request: HttpRequest, submission: Submission) -> dict[str, str]:
    def absolute(name: str) -> str:
        return request.build_absolute_uri(reverse(name, args=[submission.id]))

    found = {
        "self": absolute("api-submission"),
        "results": request.build_absolute_uri(submission.get_absolute_url()),
        "report": absolute("api-report"),
    }
    if submission.has_original and not submission.is_expired:
        found["original"] = absolute("original")
    return found


def _deferred_task_status(submission: Submission, task: Task) -> dict[str, Any]:
    status = jobs.deferred_status(submission, task)
    entry = {"name": task.name, "title": task.title, "status": status}
    if status in ("available", "failed"):
        problem = failure_of(submission, task, status)
        if reason := task.unavailable_because(submission) or known_to_fail(problem):
            entry.update(status="unavailable", reason=reason)  # asking would be refused
        elif problem:
            entry["reason"] = problem["message"]  # a passing fault: asking again may work
    return entry


def status_document(request: HttpRequest, submission: Submission) -> dict[str, Any]:
    pipeline = get_pipeline()
    # The rows the steps read their outputs from too (_with_what_it_made): one query.
    results = {name: row.last_outcome for name, row in submission.store.results.items()}
    titles = {task.name: task.title for task in pipeline}
    tasks = [
        _with_what_it_made(
            request,
            submission,
            task,
            {
                "name": task.name,
                "title": task.title,
                "status": _task_status(submission, task.name, results),
            },
        )
        for task in pipeline.applicable(submission)
    ]
    if submission.state == State.DONE and not submission.is_expired:
        tasks += [
            _with_what_it_made(request, submission, task, _deferred_task_status(submission, task))
            for task in pipeline.applicable(submission, deferred=True)
        ]
    return {
        "id": str(submission.id),
        "state": public_state(submission),
        "progress": {
            "done": submission.progress_done,
            "total": submission.progress_total,
            "current": titles.get(submission.current_task, ""),
            "elapsed": run_elapsed(submission),
            "quiet_for": worker_quiet_for(submission),
        },
        "tasks": tasks,
        # Past its expiry, though not yet swept: nothing will be tried again.
        "retry_at": None if submission.is_expired else submission.retry_at,
        "waiting_on": None if submission.is_expired else waiting_on(submission),
        "expires_at": submission.expires_at,
        "links": links(request, submission),
    }


def _task_status(submission: Submission, name: str, results: dict[str, str]) -> str:
    if submission.state == State.RUNNING and submission.current_task == name:
        return "running"
    return results.get(name, "pending")


def _with_what_it_made(
    request: HttpRequest, submission: Submission, task: Task, entry: dict[str, Any]
) -> dict[str, Any]:
    """A step's entry, with what its section of the results page has besides: the files
    it offers, and its notices (what the spreadsheets leave out, say)."""
    if entry["status"] not in ("ok", "ready") or submission.is_expired:
        return entry
    if task.is_needed(submission):
        # Made before a change (a new schema, an upgrade) that the status, which only
        # reads, does not act on: its files are not what the step would give now.
        return entry
    downloads = [
        {**item, "url": request.build_absolute_uri(item["url"])}
        for item in available_downloads(submission, task)
    ]
    if downloads:
        entry["downloads"] = downloads
    if notices := task.notices(submission):
        entry["notices"] = [{**notice, "message": _words_of(task, notice)} for notice in notices]
    return entry


def _words_of(task: Task, notice: dict[str, Any]) -> str:
    """The notice as the page words it, as plain text."""
    html = render_to_string(task.notice_template, {"notice": notice})
    return " ".join(unescape(strip_tags(html)).split())
