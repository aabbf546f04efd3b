from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django_q.models import Task as OrmTaskResult

from process.fetching import without_password
from webapp import jobs
from webapp.expiry import expire
from webapp.models import Submission, TaskResult, TaskRun


class ExpiredFilter(admin.SimpleListFilter):
    title = "expired"
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return [("yes", "Expired"), ("no", "Not expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(expires_at__lte=now)
        if self.value() == "no":
            return queryset.filter(expires_at__gt=now)
        return queryset


@admin.display(description="duration", ordering="duration")
def took(run: TaskRun) -> str:
    """The run's duration, read at a glance: "0.35 s", "12 s", "3 min 5 s"."""
    if run.duration is None:
        return ""
    if run.duration < 10:
        return f"{run.duration:.2f} s"
    minutes, seconds = divmod(round(run.duration), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


class TaskRunInline(admin.TabularInline):
    model = TaskRun
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["task", "version", "outcome", "started", took, "error_code", "error_message"]
    readonly_fields = fields
    ordering = ["-started"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class TaskResultInline(admin.TabularInline):
    model = TaskResult
    extra = 0
    can_delete = False
    fields = ["task", "last_outcome", "consecutive_failures", "version", "updated"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["id", "original_name", "source", "format", "state", "created", "expires_at"]
    list_filter = ["state", "format", "source", ExpiredFilter, "created"]
    search_fields = ["original_name"]  # and the URL, in get_search_results
    date_hierarchy = "created"
    # Every field as it is, but the URL, shown without the password it may hold.
    exclude = ["url"]
    readonly_fields = [
        field.name if field.name != "url" else "address" for field in Submission._meta.fields
    ]
    inlines = [TaskResultInline, TaskRunInline]
    actions = ["expire_now", "reprocess"]

    @admin.display(description="URL")
    def address(self, submission: Submission) -> str:
        return without_password(submission.url)

    def get_search_results(self, request, queryset, search_term):
        """Also find a submission by its id, pasted whole, or by its URL as shown: a
        password in a URL is not shown, so it is not found either."""
        results, distinct = super().get_search_results(request, queryset, search_term)
        with contextlib.suppress(ValueError):
            results |= queryset.filter(id=uuid.UUID(search_term.strip()))
        if words := search_term.lower().split():
            results |= queryset.filter(id__in=self._by_url_as_shown(queryset, words))
        return results, distinct

    @staticmethod
    def _by_url_as_shown(queryset: QuerySet[Submission], words: list[str]) -> list[uuid.UUID]:
        """Submissions whose name or shown URL holds every word, as Django's search asks
        of each field; the first MAX_URL_MATCHES the database finds, to keep it quick."""
        matching = queryset.all()
        for word in words:
            matching = matching.filter(Q(url__icontains=word) | Q(original_name__icontains=word))
        rows = matching.values_list("id", "url", "original_name")[:MAX_URL_MATCHES]
        return [
            id_
            for id_, url, name in rows
            if all(word in f"{name} {without_password(url)}".lower() for word in words)
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if request.method == "GET":  # not on an action's POST too, which the list follows
            level, text = worker_liveness()
            self.message_user(request, text, level)
            if waiting := deferred_steps_waiting():
                self.message_user(request, waiting, messages.WARNING)
        return super().changelist_view(request, extra_context)

    @admin.action(description="Expire now (delete the files, keep the record)")
    def expire_now(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        count = 0
        for submission in queryset.exclude(state=Submission.State.EXPIRED):
            expire(submission)
            count += 1
        self.message_user(
            request,
            f"Expired {count} submission(s).{_already_expired(len(queryset) - count)}",
            messages.SUCCESS,
        )

    @admin.action(description="Reprocess (run every task again)")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        live = queryset.exclude(state=Submission.State.EXPIRED).filter(
            expires_at__gt=timezone.now()
        )
        sent = sum(jobs.reprocess(submission) for submission in live)
        busy = len(live) - sent
        were = "was" if busy == 1 else "were"
        left = f" {busy} being worked on now {were} left alone; try again when done."
        left = left if busy else ""
        left += _already_expired(len(queryset) - len(live))
        self.message_user(
            request, f"Queued {sent} submission(s) for reprocessing.{left}", messages.SUCCESS
        )


def _already_expired(count: int) -> str:
    if not count:
        return ""
    were = "was" if count == 1 else "were"
    return f" {count} past {'its' if count == 1 else 'their'} expiry {were} left alone."


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    list_display = ["task", "version", "outcome", "submission", "started", took, "error_code"]
    list_filter = ["task", "outcome", "error_code", "started"]
    search_fields = ["error_message", "=submission__original_name"]
    readonly_fields = [field.name for field in TaskRun._meta.fields]
    list_select_related = ["submission"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


def deferred_steps_waiting() -> str:
    """Deferred steps (downloads) asked for a while ago that no worker has taken: their
    workers are all busy, or, on a queue of their own, none is running."""
    now = timezone.now()
    # Not those whose job was lost long ago: the page offers them again, and they would
    # keep the warning up for good.
    count = TaskResult.objects.filter(
        requested_at__lt=now - timedelta(seconds=WAITING_TOO_LONG),
        requested_at__gte=now - timedelta(seconds=settings.ASSAY_LOST_JOB_SECONDS),
        claimed_by="",
        submission__expires_at__gt=now,
    ).count()
    if not count:
        return ""
    queue = settings.ASSAY_DEFERRED_QUEUE
    where = (
        f" on the queue “{queue}”: is one running (Q_CLUSTER_NAME={queue} python manage.py "
        "qcluster)?"
        if queue
        else ": are they all busy?"
    )
    return f"{count} download(s) asked for over a minute ago wait for a worker{where}"


WAITING_TOO_LONG = 60  # seconds
MAX_URL_MATCHES = 1000


def worker_liveness() -> tuple[int, str]:
    """The reports' workers run the sweep every minute: when it last ran is when one was
    last alive."""
    last = OrmTaskResult.objects.filter(func="webapp.jobs.sweep").order_by("-stopped").first()
    if last is None:
        return (
            messages.WARNING,
            "No worker has run yet: start one with `python manage.py qcluster`.",
        )
    age = (timezone.now() - last.stopped).total_seconds()
    text = f"Workers: last seen {age:.0f} s ago (each runs the sweep every minute)."
    if age > 3 * 60:
        return messages.WARNING, f"{text} None in three minutes: are the workers running?"
    return messages.INFO, text
