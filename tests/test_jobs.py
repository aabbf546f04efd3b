"""Queueing, claiming, retrying and sweeping: our own state is the source of truth."""

import re
import shutil
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_q.conf import Conf
from django_q.exceptions import TimeoutException
from django_q.timeout import TimeoutHandler

from tests.conftest import upload
from tests.pipeline_tasks import TEST_PIPELINE
from webapp import jobs
from webapp.config import redis_url_with_timeouts
from webapp.models import Submission, TaskResult, TaskRun

pytestmark = pytest.mark.django_db(transaction=True)
State = Submission.State


@pytest.fixture
def real_queue(queue):
    """Send jobs to the configured broker instead of running them in-process."""
    return queue


@pytest.fixture
def breaking(client, settings):
    """A submission on the test pipeline whose 'breaks' task fails as asked."""
    settings.ASSAY_PIPELINE = TEST_PIPELINE

    def make(how: str) -> Submission:
        submission = upload(client, "grants.json")
        Submission.objects.filter(id=submission.id).update(options={"breaks": how})
        client.get(submission.get_absolute_url())
        submission.refresh_from_db()
        return submission

    return make


def view_at_once(path: str, count: int) -> list[int]:
    statuses: list[int] = []
    barrier = threading.Barrier(count)

    def view() -> None:
        try:
            barrier.wait()
            statuses.append(Client().get(path).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=view) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_many_concurrent_views_of_a_pending_submission_send_one_job(client, real_queue):
    submission = upload(client, "grants.json")
    assert real_queue.queue_size() == 1
    statuses = view_at_once(submission.get_absolute_url(), 8)
    assert statuses == [200] * 8
    assert real_queue.queue_size() == 1


def test_many_concurrent_views_of_a_done_submission_needing_work_send_one_job(
    client, real_queue, monkeypatch
):
    monkeypatch.setattr(Conf, "SYNC", True)
    submission = upload(client, "grants.json")
    monkeypatch.setattr(Conf, "SYNC", False)
    from tasks.summary import Summary

    monkeypatch.setattr(Summary, "version", Summary.version + 1)
    view_at_once(submission.get_absolute_url(), 8)
    assert real_queue.queue_size() == 1
    submission.refresh_from_db()
    assert submission.state == State.PENDING


def test_claiming_is_atomic(client, real_queue):
    submission = upload(client, "grants.json")
    assert jobs.claim(submission.id, "worker-a:1") is not None
    assert jobs.claim(submission.id, "worker-b:2") is None
    submission.refresh_from_db()
    assert (submission.state, submission.claimed_by) == (State.RUNNING, "worker-a:1")


def test_a_job_for_a_submission_already_taken_does_nothing(client, real_queue):
    submission = upload(client, "grants.json")
    jobs.claim(submission.id, "worker-a:1")
    assert jobs.process_submission(str(submission.id)) == "not claimed"
    assert not TaskRun.objects.filter(submission=submission).exists()


def test_the_log_says_which_step_failed_how_and_what_comes_next(breaking, caplog):
    caplog.set_level("INFO", logger="webapp.jobs")
    submission = breaking("transient")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("submission")]
    assert lines[-1].startswith(
        f"submission {submission.id} pending (breaks: service_down: A service is down.; "
        "tried again at "
    )


def test_the_log_leaves_out_the_query_of_an_address_which_may_hold_a_token(client, caplog):
    caplog.set_level("INFO", logger="webapp.jobs")
    client.post("/", {"url": "http://127.0.0.1:9/g.json?key=s3cr3t"})  # nothing listens
    client.post("/", {"url": "http://127.0.0.1:9/h.json#token=s3cr3t"})
    lines = [r.getMessage() for r in caplog.records if "fetch" in r.getMessage()]
    assert "Could not connect to http://127.0.0.1:9/g.json?•••" in lines[-2]
    assert "Could not connect to http://127.0.0.1:9/h.json#•••" in lines[-1]
    assert not any("s3cr3t" in line for line in lines)


def test_a_job_for_a_submission_waiting_to_retry_waits_for_its_time(breaking):
    submission = breaking("transient")
    assert submission.retry_at is not None
    # A second delivery of a job, say: it does not cut the wait short.
    assert jobs.process_submission(str(submission.id)) == "not claimed"
    Submission.objects.filter(id=submission.id).update(retry_at=timezone.now())
    assert jobs.process_submission(str(submission.id)) == "pending"  # tried, failing again


def test_a_transient_failure_is_retried_with_backoff_until_it_succeeds(breaking, client, settings):
    settings.ASSAY_RETRY_BASE_SECONDS = 30
    submission = breaking("transient")
    assert submission.state == State.PENDING
    wait = (submission.retry_at - timezone.now()).total_seconds()
    assert 25 < wait <= 30
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "Assay will try again automatically" in page  # not yet due: nothing runs
    failed_runs = TaskRun.objects.filter(submission=submission, task="breaks", outcome="failed")
    assert failed_runs.count() == 1

    # The service recovers; once the retry is due, the sweep sends the job.
    Submission.objects.filter(id=submission.id).update(
        options={"breaks": "no"}, retry_at=timezone.now() - timedelta(seconds=1)
    )
    assert jobs.sweep() == 1
    submission.refresh_from_db()
    assert submission.state == State.DONE
    result = TaskResult.objects.get(submission=submission, task="breaks")
    assert result.consecutive_failures == 0


def test_transient_failures_give_up_after_five_in_a_row(breaking, client):
    submission = breaking("transient")
    delays = []
    for _ in range(4):
        # From the failure, not from now: the page took its time since.
        failed = TaskRun.objects.filter(submission=submission, task="breaks").latest("finished")
        delays.append(round((submission.retry_at - failed.finished).total_seconds()))
        Submission.objects.filter(id=submission.id).update(retry_at=timezone.now())
        client.get(submission.get_absolute_url())
        submission.refresh_from_db()
    assert delays == [30, 60, 120, 240]
    assert submission.state == State.FAILED
    runs = TaskRun.objects.filter(submission=submission, task="breaks", outcome="failed")
    assert runs.count() == 5
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "A service is down." in page
    assert "Try again now" in page


def test_the_user_can_try_again_after_transient_failures(breaking, client):
    submission = breaking("transient")
    Submission.objects.filter(id=submission.id).update(state=State.FAILED, options={"breaks": "no"})
    client.post(f"/s/{submission.id}/retry")
    submission.refresh_from_db()
    assert submission.state == State.DONE


def test_a_step_skipped_for_a_passing_failure_is_ok_again_when_its_result_still_holds(
    breaking, client, monkeypatch
):
    from tests.pipeline_tasks import Breaks

    submission = breaking("no")
    assert submission.state == State.DONE
    # An upgraded step fails for a passing reason: the step that needs it is skipped.
    monkeypatch.setattr(Breaks, "version", Breaks.version + 1)
    Submission.objects.filter(id=submission.id).update(options={"breaks": "transient"})
    client.get(submission.get_absolute_url())
    after = TaskResult.objects.get(submission=submission, task="after_breaks")
    assert after.last_outcome == "skipped"
    # Tried again, it gives what it gave before: the result kept holds, and is not made
    # again; it is what the step's record and the API say, not the skip.
    Submission.objects.filter(id=submission.id).update(
        options={"breaks": "no"}, retry_at=timezone.now() - timedelta(seconds=1)
    )
    assert jobs.sweep() == 1
    submission.refresh_from_db()
    assert submission.state == State.DONE
    assert TaskRun.objects.filter(submission=submission, task="after_breaks").count() == 2
    after.refresh_from_db()
    assert (after.last_outcome, after.last_run.outcome) == ("ok", "ok")
    status = client.get(f"/api/submissions/{submission.id}").json()
    assert {task["name"]: task["status"] for task in status["tasks"]}["after_breaks"] == "ok"


def test_a_step_that_failed_on_other_options_is_ok_again_when_they_are_set_back(breaking, client):
    submission = breaking("no")
    Submission.objects.filter(id=submission.id).update(options={"breaks": "transient"})
    client.get(submission.get_absolute_url())
    breaks = TaskResult.objects.get(submission=submission, task="breaks")
    assert (breaks.last_outcome, breaks.consecutive_failures) == ("failed", 1)
    runs = TaskRun.objects.filter(submission=submission, task="breaks")
    ran = runs.count()
    # Set back, the step's result made with these options holds again: not run again.
    Submission.objects.filter(id=submission.id).update(
        options={"breaks": "no"}, retry_at=timezone.now() - timedelta(seconds=1)
    )
    assert jobs.sweep() == 1
    assert runs.count() == ran
    breaks.refresh_from_db()
    assert (breaks.last_outcome, breaks.consecutive_failures) == ("ok", 0)
    assert breaks.last_run.outcome == "ok"
    status = client.get(f"/api/submissions/{submission.id}").json()
    assert {task["name"]: task["status"] for task in status["tasks"]}["breaks"] == "ok"


def test_the_progress_counts_the_steps_that_apply(client, monkeypatch):
    from webapp.store import DatabaseStore

    shown = []
    progress = DatabaseStore.progress

    def noted(self, done, total, current):
        shown.append((done, total, current))
        return progress(self, done, total, current)

    monkeypatch.setattr(DatabaseStore, "progress", noted)
    upload(client, "grants.json")
    # A JSON upload: no download, preview, conversion or sample. Until the format is
    # known, the steps ahead that apply are not.
    assert shown == [
        (0, 1, "detect_format"),
        (1, 8, "parse_json"),
        (2, 8, "validate"),
        (3, 8, "additional_fields"),
        (4, 8, "stats"),
        (5, 8, "links"),
        (6, 8, "summary"),
        (7, 8, "report"),
        (8, 8, ""),
    ]


def test_a_run_waiting_to_try_a_step_again_counts_its_time_from_its_start(breaking, client):
    submission = breaking("transient")
    assert submission.retry_at is not None
    Submission.objects.filter(id=submission.id).update(created=timezone.now() - timedelta(hours=1))
    status = client.get(f"/api/submissions/{submission.id}").json()
    assert status["retry_at"] and status["progress"]["elapsed"] < 60


def page_words(client: Client, submission: Submission) -> str:
    page = client.get(submission.get_absolute_url()).content.decode()
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_a_run_sent_again_goes_on_with_its_progress_and_its_clock(client, real_queue, settings):
    """A worker died at step 6, 80 s in: its page, which sends the run again, goes
    on from there, and so does the run's time once another worker has finished it."""
    submission = upload(client, "grants.json")
    now = timezone.now()
    Submission.objects.filter(id=submission.id).update(
        state=State.RUNNING,
        run_started_at=now - timedelta(seconds=85),
        claimed_at=now - timedelta(seconds=80),
        heartbeat=now - timedelta(seconds=settings.ASSAY_STALE_SECONDS + 5),
        progress_done=5,
        progress_total=8,
        current_task="links",
    )
    words = page_words(client, submission)
    submission.refresh_from_db()
    assert submission.state == State.PENDING  # sent again, waiting in the broker
    assert "5 of 8 steps done" in words and "Waiting for a worker to carry on" in words
    assert re.search(r"Started 8\d s ago", words)
    jobs.process_submission(str(submission.id))
    submission.refresh_from_db()
    assert submission.state == State.DONE
    elapsed = client.get(f"/api/submissions/{submission.id}").json()["progress"]["elapsed"]
    assert 80 <= elapsed < 90


def test_a_retry_come_due_goes_on_from_the_step_that_failed(breaking, client, request):
    submission = breaking("transient")
    request.getfixturevalue("queue")  # from here on, jobs wait in the broker
    a_minute_ago = timezone.now() - timedelta(minutes=1)
    Submission.objects.filter(id=submission.id).update(
        retry_at=a_minute_ago, run_started_at=a_minute_ago, claimed_at=a_minute_ago
    )
    waiting = page_words(client, submission)
    submission.refresh_from_db()
    assert submission.retry_at is None  # sent again
    done, total = submission.progress_done, submission.progress_total
    assert done > 0 and f"{done} of {total} steps done" in waiting
    assert re.search(r"Started 6\d s ago", waiting)


def test_trying_again_starts_the_progress_afresh(client, request):
    submission = upload(client, "grants.json")  # every step done
    Submission.objects.filter(id=submission.id).update(state=State.FAILED)
    request.getfixturevalue("queue")  # from here on, jobs wait in the broker
    client.post(f"/s/{submission.id}/retry")
    submission.refresh_from_db()
    assert (submission.state, submission.progress_done) == (State.PENDING, 0)
    page = client.get(submission.get_absolute_url()).content.decode()
    assert '<span id="progress-steps">Not started yet</span>' in page


def test_a_crash_outside_a_step_s_own_run_counts_and_ends_in_failure(client, settings):
    """Asking a step whether it applies crashes: a failure of that step, tried again and
    failed in the end, as a crash in its run is; not a job dying with nothing counted."""
    settings.ASSAY_PIPELINE = TEST_PIPELINE
    submission = upload(client, "grants.json")  # checked once, every step fine
    Submission.objects.filter(id=submission.id).update(options={"breaks": "asked"})
    for _ in range(settings.ASSAY_MAX_ATTEMPTS):
        Submission.objects.filter(id=submission.id).update(state=State.PENDING, retry_at=None)
        assert jobs.process_submission(str(submission.id)) in ("pending", "failed")
    submission.refresh_from_db()
    assert submission.state == State.FAILED
    runs = TaskRun.objects.filter(submission=submission, task="breaks", outcome="failed")
    assert runs.count() == settings.ASSAY_MAX_ATTEMPTS
    assert {run.error_code for run in runs} == {"internal_error"}
    assert "ZeroDivisionError: a bug in asking" in runs.first().traceback
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "Assay hit an unexpected problem in the step “A step that breaks”" in page


def test_a_crash_is_recorded_with_its_traceback_and_retried(breaking):
    submission = breaking("crash")
    assert submission.state == State.PENDING
    run = TaskRun.objects.get(submission=submission, task="breaks", outcome="failed")
    assert run.error_code == "internal_error"
    assert "ZeroDivisionError: a bug" in run.traceback
    assert run.permanent is False


def waiting_to_break(client, settings, how: str) -> Submission:
    """A submission on the test pipeline, waiting for a worker, whose step breaks so."""
    settings.ASSAY_PIPELINE = TEST_PIPELINE
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(options={"breaks": how}, state=State.PENDING)
    return submission


def test_a_step_the_job_timeout_stops_fails_as_timed_out_and_waits_to_retry(client, settings):
    submission = waiting_to_break(client, settings, "slow")
    # As a django-q2 worker runs a job: its timer raises in the job when time is up.
    with pytest.raises(TimeoutException), TimeoutHandler(1):
        jobs.process_submission(str(submission.id))
    run = TaskRun.objects.get(submission=submission, task="breaks", outcome="failed")
    assert run.error_code == "timeout"
    submission.refresh_from_db()
    assert submission.state == State.PENDING and submission.retry_at is not None
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "This step was stopped: the work on a file may take 30 minutes at most." in page


def test_a_job_out_of_time_between_steps_is_not_taken_for_done(client, settings, monkeypatch):
    from webapp.store import DatabaseStore

    submission = waiting_to_break(client, settings, "no")
    progress = DatabaseStore.progress
    calls = []

    def out_of_time_at_the_second_step(self, *args):
        calls.append(args)
        if len(calls) == 2:
            raise TimeoutException("Task exceeded maximum timeout value")
        return progress(self, *args)

    monkeypatch.setattr(DatabaseStore, "progress", out_of_time_at_the_second_step)
    with pytest.raises(TimeoutException):
        jobs.process_submission(str(submission.id))
    # Left running, for the sweep to send again once its heartbeat is stale.
    assert Submission.objects.get(id=submission.id).state == State.RUNNING


def test_a_submission_deleted_as_a_step_fails_ends_its_job_quietly(client, settings, caplog):
    submission = waiting_to_break(client, settings, "deleted")
    # The failure cannot be written down, nor the next step skipped: their rows are gone.
    assert jobs.process_submission(str(submission.id)) == "gone"
    assert not Submission.objects.filter(id=submission.id).exists()
    assert not TaskRun.objects.filter(submission_id=submission.id).exists()
    assert not submission.files_dir.exists()
    assert "re-claimed" not in caplog.text


def test_a_submission_expired_as_its_steps_succeed_keeps_no_file(client, settings, caplog):
    submission = waiting_to_break(client, settings, "expired")
    earlier = list(TaskRun.objects.values_list("id", flat=True))
    assert jobs.process_submission(str(submission.id)) == "gone"
    assert not submission.files_dir.exists()  # what the step wrote after, too
    expired = Submission.objects.get(id=submission.id)
    assert expired.state == State.EXPIRED
    assert "re-claimed" not in caplog.text
    # Expired (as an operator may, from the admin) as it ran: no later step ran, and the
    # run wrote nothing more to it.
    runs = TaskRun.objects.filter(submission=submission).exclude(id__in=earlier)
    assert sorted(runs.values_list("task", flat=True)) == ["breaks"]
    # Nor is the output of the step that ran on kept: it had the data to hand.
    assert not TaskResult.objects.filter(submission=submission, output__isnull=False).exists()
    assert runs.get().data == {}
    assert expired.current_task == ""


def test_every_run_is_recorded_with_timing(client):
    submission = upload(client, "grants.json")
    runs = TaskRun.objects.filter(submission=submission)
    assert sorted(run.task for run in runs) == [
        "additional_fields", "detect_format", "links", "parse_json", "report", "stats",
        "summary", "validate",
    ]  # fmt: skip
    for run in runs:
        assert run.outcome == TaskRun.Outcome.OK
        assert run.finished >= run.started
        assert run.duration is not None and run.duration >= 0
        assert run.fingerprint and run.version >= 1
    parsed = runs.get(task="parse_json").data
    assert (parsed["top_level"], parsed["size"]) == ("object", submission.size)


def test_the_sweep_resends_stale_and_lost_jobs_but_not_healthy_ones(client, real_queue, settings):
    healthy = upload(client, "grants.json")
    stale = upload(client, "grants.json")
    lost = upload(client, "grants.json")
    old = timezone.now() - timedelta(seconds=settings.ASSAY_LOST_JOB_SECONDS + 5)
    Submission.objects.filter(id=healthy.id).update(state=State.RUNNING, heartbeat=timezone.now())
    Submission.objects.filter(id=stale.id).update(state=State.RUNNING, heartbeat=old)
    Submission.objects.filter(id=lost.id).update(enqueued_at=old)
    real_queue.purge_queue()
    assert jobs.sweep() == 2
    assert real_queue.queue_size() == 2
    assert jobs.sweep() == 0  # idempotent: both are now freshly pending
    healthy.refresh_from_db()
    assert healthy.state == State.RUNNING


def test_a_worker_killed_mid_task_too_often_ends_in_the_error_page(client, settings, real_queue):
    submission = upload(client, "grants.json")
    old = timezone.now() - timedelta(minutes=10)
    TaskResult.objects.create(
        submission=submission,
        task="parse_json",
        last_outcome="failed",
        consecutive_failures=settings.ASSAY_MAX_ATTEMPTS - 1,
    )
    TaskRun.objects.create(submission=submission, task="parse_json", version=1, outcome="running")
    Submission.objects.filter(id=submission.id).update(state=State.RUNNING, heartbeat=old)
    jobs.sweep()
    jobs.process_submission(str(submission.id))
    submission.refresh_from_db()
    assert submission.state == State.FAILED
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "stopped before it finished" in page


def dead_redis() -> str:
    """A Redis address where nothing listens: connecting to it is really refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{probe.getsockname()[1]}/0"


@pytest.fixture
def broker_down(monkeypatch):
    """Jobs go to a Redis broker that is down; undo() brings back the in-process queue."""
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", dead_redis())
    monkeypatch.setattr(Conf, "DJANGO_REDIS", None)
    return monkeypatch


def test_an_upload_while_the_broker_is_down_is_kept_and_sent_once_it_is_back(client, broker_down):
    submission = upload(client, "grants.json")  # the results page, not an error page
    assert submission.state == State.PENDING
    assert submission.enqueued_at is None  # not sent: the next look at it sends it
    original = client.get(f"/s/{submission.id}/original")
    assert original.status_code == 200
    page = client.get(submission.get_absolute_url())
    assert page.status_code == 200
    broker_down.undo()
    status = client.get(f"/api/submissions/{submission.id}")  # what the progress page asks
    assert status.status_code == 200
    submission.refresh_from_db()
    assert submission.state == State.DONE  # the queue runs in-process in these tests


def test_an_api_upload_while_the_cache_and_broker_are_down_is_taken(client, broker_down, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": dead_redis(),
        }
    }
    response = client.post("/api/submissions", {"text": '{"grants": []}'})
    assert response.status_code == 201, response.content
    assert Submission.objects.get(id=response.json()["id"]).state == State.PENDING


def test_a_download_asked_for_while_the_broker_is_down_is_not_said_to_be_under_way(client, request):
    submission = upload(client, "grants.json")
    assert submission.state == State.DONE
    task_url = f"/api/submissions/{submission.id}/tasks/json_to_spreadsheet"
    broker = request.getfixturevalue("broker_down")
    refused = client.post(task_url)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "queue_unavailable"
    assert int(refused["Retry-After"]) > 0
    status = client.get(f"/api/submissions/{submission.id}").json()
    [task] = [task for task in status["tasks"] if task["name"] == "json_to_spreadsheet"]
    assert task["status"] == "available"
    page = client.post(f"/s/{submission.id}/tasks/json_to_spreadsheet", follow=True)
    assert "Assay cannot queue work just now; ask again in a minute." in page.content.decode()
    broker.undo()
    asked = client.post(task_url)
    assert asked.status_code in (200, 202)
    assert asked.json()["status"] in ("ready", "working")


def test_a_submission_whose_files_were_deleted_by_hand_fails_once_saying_so(client):
    upload(client, "grants.json")  # another, whose files stay
    submission = upload(client, "grants.json")
    assert submission.state == State.DONE
    shutil.rmtree(submission.files_dir)  # an operator's slip
    assert jobs.reprocess(submission)  # run in-process here
    submission.refresh_from_db()
    assert submission.state == State.FAILED  # not retried: the files cannot come back
    failed = TaskRun.objects.filter(submission=submission, outcome=TaskRun.Outcome.FAILED)
    assert {run.error_code for run in failed} == {"files_missing"}
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "files are no longer on the server" in page
    assert "Upload the data again." in page


def test_a_dead_worker_s_run_ends_at_its_last_sign_of_life(client):
    submission = upload(client, "grants.json")
    orphan = submission.store.begin("summary", 1, "")
    started = timezone.now() - timedelta(minutes=5)
    last_alive = started + timedelta(seconds=3)
    TaskRun.objects.filter(pk=orphan.pk).update(started=started)
    Submission.objects.filter(id=submission.id).update(state=State.RUNNING, heartbeat=last_alive)
    assert jobs.resend_if_lost(Submission.objects.get(id=submission.id))  # run in-process
    orphan.refresh_from_db()
    assert (orphan.outcome, orphan.error_code) == (TaskRun.Outcome.FAILED, "interrupted")
    assert (orphan.finished, orphan.duration) == (last_alive, 3)


def test_an_upload_while_redis_hangs_is_kept_within_seconds(client, monkeypatch):
    # A Redis that takes the connection and never answers: a hung server, a network cut.
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        monkeypatch.setattr(Conf, "SYNC", False)
        monkeypatch.setattr(Conf, "ORM", None)
        monkeypatch.setattr(Conf, "REDIS", redis_url_with_timeouts(url))
        monkeypatch.setattr(Conf, "DJANGO_REDIS", None)
        started = time.monotonic()
        submission = upload(client, "grants.json")
        assert time.monotonic() - started < 30  # the timeouts, not gunicorn's, end it
        assert submission.state == State.PENDING and submission.enqueued_at is None
    finally:
        silent.close()


def test_steps_that_crash_while_the_uploads_volume_is_not_mounted_are_retried(client):
    submission = upload(client, "grants.json")
    media = submission.files_dir.parent
    shutil.rmtree(media)  # all of it gone: a volume not mounted, which may come back
    media.mkdir()
    assert jobs.reprocess(submission)
    submission.refresh_from_db()
    assert submission.state != State.FAILED  # waits to try again, as for any crash
    failed = TaskRun.objects.filter(submission=submission, outcome=TaskRun.Outcome.FAILED)
    assert "files_missing" not in {run.error_code for run in failed}
