"""Deferred tasks: never delay the report; run when asked, once, with their own status."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.exceptions import TimeoutException
from django_q.timeout import TimeoutHandler

from tests.conftest import upload
from tests.pipeline_tasks import DEFERRED_PIPELINE
from webapp import jobs
from webapp.models import Submission, TaskResult, TaskRun

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def deferred_pipeline(settings):
    settings.ASSAY_PIPELINE = DEFERRED_PIPELINE


def test_the_report_does_not_wait_for_a_deferred_task(client):
    submission = upload(client, "grants.json")
    page = client.get(submission.get_absolute_url()).content.decode()
    submission.refresh_from_db()
    assert submission.state == Submission.State.DONE
    assert 'id="later"' in page
    assert not TaskRun.objects.filter(submission=submission, task="later").exists()
    assert f"/s/{submission.id}/tasks/later" in page  # the button


def test_asking_runs_it_and_offers_its_download(client):
    submission = upload(client, "grants.json")
    response = client.post(f"/s/{submission.id}/tasks/later")
    assert response["Location"].endswith(f"/s/{submission.id}/#later")
    page = client.get(submission.get_absolute_url()).content.decode()
    url = f"/s/{submission.id}/files/later/later.txt"
    assert url in page
    download = client.get(url)
    assert download["Content-Disposition"] == 'attachment; filename="later.txt"'
    assert b"".join(download.streaming_content) == str(submission.size).encode()
    row = TaskResult.objects.get(submission=submission, task="later")
    assert (row.requested_at, row.claimed_by) == (None, "")


def test_the_api_can_ask_for_it_too(client):
    submission = upload(client, "grants.json")
    response = client.post(f"/api/submissions/{submission.id}/tasks/later")
    assert response.status_code == 202
    assert response.json() == {"name": "later", "status": "ready"}
    status = client.get(f"/api/submissions/{submission.id}").json()
    [later] = [task for task in status["tasks"] if task["name"] == "later"]
    assert (later["title"], later["status"]) == ("Something slow", "ready")
    # Its file, as the page links it: a script needs no page to find it.
    [download] = later["downloads"]
    assert download["url"] == f"http://testserver/s/{submission.id}/files/later/later.txt"
    assert b"".join(client.get(download["url"]).streaming_content) == str(submission.size).encode()


def test_asking_again_once_it_is_ready_runs_nothing_and_says_ready(client):
    submission = upload(client, "grants.json")
    client.post(f"/api/submissions/{submission.id}/tasks/later")
    again = client.post(f"/api/submissions/{submission.id}/tasks/later")
    assert (again.status_code, again.json()) == (200, {"name": "later", "status": "ready"})
    client.post(f"/s/{submission.id}/tasks/later")  # the button, pressed again
    assert TaskRun.objects.filter(submission=submission, task="later").count() == 1
    row = TaskResult.objects.get(submission=submission, task="later")
    assert row.requested_at is None


def test_many_requests_send_one_job(client, request):
    submission = upload(client, "grants.json")
    queue = request.getfixturevalue("queue")  # from here on, jobs wait in the broker
    import threading

    from django.db import connection
    from django.test import Client

    def ask() -> None:
        try:
            Client().post(f"/s/{submission.id}/tasks/later")
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert queue.queue_size() == 1
    page = client.get(submission.get_absolute_url()).content.decode()
    assert 'data-status="working"' in page


def test_a_deferred_queue_of_its_own_gets_the_deferred_jobs_and_no_other(
    client, request, settings, monkeypatch
):
    settings.ASSAY_DEFERRED_QUEUE = "downloads"
    submission = upload(client, "grants.json")
    submissions = request.getfixturevalue("queue")  # from here on, jobs wait in the broker
    downloads = get_broker("downloads")
    downloads.purge_queue()
    try:
        client.post(f"/s/{submission.id}/tasks/later")
        assert (downloads.queue_size(), submissions.queue_size()) == (1, 0)
        # A job sent from a worker of the deferred queue still goes to the submissions'
        # queue, where django-q2 would send it to the sender's own.
        monkeypatch.setattr(Conf, "CLUSTER_NAME", "downloads")
        assert jobs.enqueue(submission.id, rerun=True)
        assert (downloads.queue_size(), submissions.queue_size()) == (1, 1)
    finally:
        downloads.purge_queue()


def test_without_javascript_the_refresh_link_of_a_step_under_way_loads_the_page_again(client):
    submission = upload(client, "grants.json")
    TaskResult.objects.create(submission=submission, task="later", requested_at=timezone.now())
    page = client.get(submission.get_absolute_url()).content.decode()
    [link] = re.findall(r'<a href="([^"]*)">Refresh to check</a>', page)
    # Another address than the page's own: a link to it with an anchor would only scroll.
    assert re.fullmatch(rf"/s/{submission.id}/\?checked=\d+#later", link)


def test_a_failed_deferred_task_is_shown_where_it_belongs_and_can_be_asked_again(client):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(options={"later": "fail"})
    client.post(f"/s/{submission.id}/tasks/later")
    page = client.get(submission.get_absolute_url()).content.decode()
    submission.refresh_from_db()
    assert submission.state == Submission.State.DONE  # the report stands
    assert 'data-status="failed"' in page
    assert f"/s/{submission.id}/tasks/later" in page


def test_a_deferred_step_the_job_timeout_stops_is_said_to_have_failed(client):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(options={"later": "too slow"})
    TaskResult.objects.create(submission=submission, task="later", requested_at=timezone.now())
    # As a django-q2 worker runs a job: its timer raises in the job when time is up.
    with pytest.raises(TimeoutException), TimeoutHandler(1):
        jobs.run_deferred(str(submission.id), "later")
    run = TaskRun.objects.get(submission=submission, task="later")
    assert (run.outcome, run.error_code) == ("failed", "timeout")
    status = client.get(f"/api/submissions/{submission.id}").json()
    [later] = [task for task in status["tasks"] if task["name"] == "later"]
    assert later["status"] == "failed"
    assert later["reason"].startswith("This step was stopped: the work on a file may take")


def test_a_submission_expired_while_its_deferred_step_ran_is_no_crash(client):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(options={"later": "expire"})
    client.post(f"/s/{submission.id}/tasks/later")
    run = TaskRun.objects.get(submission=submission, task="later")
    assert (run.outcome, run.error_code, run.traceback) == ("failed", "gone", "")
    assert not submission.files_dir.exists()
    assert client.get(submission.get_absolute_url()).status_code == 410


def test_a_submission_deleted_while_its_deferred_step_ran_ends_the_job_quietly(client):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(options={"later": "delete"})
    # Asked for (as the button does), and run here, so that an error would show.
    TaskResult.objects.create(submission=submission, task="later", requested_at=timezone.now())
    assert jobs.run_deferred(str(submission.id), "later") == "done"
    assert not Submission.objects.filter(id=submission.id).exists()
    assert not TaskRun.objects.filter(submission_id=submission.id).exists()
    assert not submission.files_dir.exists()


def test_it_cannot_be_asked_for_before_the_report_is_done(client):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(state="running", heartbeat=timezone.now())
    refused = client.post(f"/s/{submission.id}/tasks/later")  # back to the page, saying why
    assert (refused.status_code, refused["Location"]) == (302, f"/s/{submission.id}/#later")
    assert client.post(f"/api/submissions/{submission.id}/tasks/later").status_code == 409


def test_only_listed_files_are_served(client):
    submission = upload(client, "grants.json")
    client.post(f"/s/{submission.id}/tasks/later")
    assert client.get(f"/s/{submission.id}/files/later/..%2Foriginal%2Fdata").status_code == 404
    assert client.get(f"/s/{submission.id}/files/count/later.txt").status_code == 404
    assert client.get(f"/s/{submission.id}/files/nope/later.txt").status_code == 404


def test_a_deferred_task_s_failures_never_fail_the_report(client, settings):
    submission = upload(client, "grants.json")
    TaskResult.objects.update_or_create(
        submission=submission,
        task="later",
        defaults={"consecutive_failures": settings.ASSAY_MAX_ATTEMPTS, "last_outcome": "failed"},
    )
    assert jobs.enqueue(submission.id, rerun=True)  # the report's tasks run again
    submission.refresh_from_db()
    assert submission.state == Submission.State.DONE


def test_a_deferred_run_whose_worker_died_is_closed_as_failed_and_run_again(client, settings):
    submission = upload(client, "grants.json")
    orphan = submission.store.begin("later", 1, "")
    long_ago = timezone.now() - timedelta(seconds=settings.ASSAY_STALE_SECONDS + 5)
    TaskResult.objects.update_or_create(
        submission=submission,
        task="later",
        defaults={"requested_at": long_ago, "claimed_by": "dead:1", "heartbeat": long_ago},
    )
    client.post(f"/s/{submission.id}/tasks/later")
    orphan.refresh_from_db()
    assert (orphan.outcome, orphan.error_code) == (TaskRun.Outcome.FAILED, "interrupted")
    latest = TaskRun.objects.filter(submission=submission, task="later").latest("started")
    assert latest.outcome == TaskRun.Outcome.OK


def test_the_sweep_closes_a_dead_worker_s_deferred_run_at_its_last_sign_of_life(client, settings):
    submission = upload(client, "grants.json")
    orphan = submission.store.begin("later", 1, "")
    started = timezone.now() - timedelta(minutes=5)
    last_alive = started + timedelta(seconds=2)
    TaskRun.objects.filter(pk=orphan.pk).update(started=started)
    TaskResult.objects.update_or_create(
        submission=submission,
        task="later",
        defaults={"requested_at": started, "claimed_by": "dead:1", "heartbeat": last_alive},
    )
    assert jobs.sweep() == 0  # no report's job to send again
    orphan.refresh_from_db()
    assert (orphan.outcome, orphan.error_code) == (TaskRun.Outcome.FAILED, "interrupted")
    assert orphan.finished == last_alive  # not when the sweep came by
    assert orphan.duration == 2
    row = TaskResult.objects.get(submission=submission, task="later")
    assert (row.claimed_by, row.requested_at) == ("", None)
    page = client.get(submission.get_absolute_url()).content.decode()
    assert f'action="/s/{submission.id}/tasks/later"' in page  # offered again


def test_the_button_works_with_csrf_checks_on(client):
    submission = upload(client, "grants.json")
    browser = type(client)(enforce_csrf_checks=True)
    page = browser.get(submission.get_absolute_url()).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "the deferred task's form carries a CSRF token"
    response = browser.post(
        f"/s/{submission.id}/tasks/later", {"csrfmiddlewaretoken": token.group(1)}
    )
    assert response.status_code == 302


def test_a_deferred_step_that_succeeds_after_its_submission_expired_keeps_no_file(client):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(options={"later": "expire, then finish"})
    client.post(f"/s/{submission.id}/tasks/later")
    assert not submission.files_dir.exists()
    assert client.get(submission.get_absolute_url()).status_code == 410
