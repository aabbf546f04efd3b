"""Operators: inspect submissions and task runs, expire and reprocess."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from django_q.tasks import async_task

from tests.conftest import upload
from webapp.models import Submission, TaskResult, TaskRun

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def operator(client):
    user = User.objects.create_superuser("op", "op@example.org", "pw")
    staff = type(client)()
    staff.force_login(user)
    return staff


def test_the_admin_needs_a_login(client):
    response = client.get("/admin/webapp/submission/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_submission_list_filters_and_searches(client, operator):
    good = upload(client, "grants.json")
    bad = upload(client, "malformed.json")
    client.get(bad.get_absolute_url())
    page = operator.get("/admin/webapp/submission/?state=failed").content.decode()
    assert "malformed.json" in page and "grants.json" not in page
    page = operator.get("/admin/webapp/submission/?q=grants").content.decode()
    assert "grants.json" in page and "malformed.json" not in page
    page = operator.get(f"/admin/webapp/submission/?q={bad.id}").content.decode()
    assert "malformed.json" in page and "grants.json" not in page
    page = operator.get("/admin/webapp/submission/?expired=no&format=json").content.decode()
    assert "grants.json" in page
    assert good.id


def test_a_submission_shows_its_task_runs(client, operator):
    submission = upload(client, "malformed.json")
    page = operator.get(f"/admin/webapp/submission/{submission.id}/change/").content.decode()
    assert "parse_json" in page
    assert "malformed_json" in page


def test_a_password_in_a_submitted_url_is_not_shown_to_operators(client, operator, http_server):
    http_server.serve("/g.json", b"{}")
    url = http_server.url("/g.json").replace("http://", "http://reader:s3cret@")
    client.post("/", {"url": url})
    submission = Submission.objects.get()
    assert submission.url == url  # kept, for the download to be tried again
    for page in [
        f"/admin/webapp/submission/{submission.id}/change/",
        "/admin/webapp/submission/",
        "/admin/webapp/taskrun/",
    ]:
        text = operator.get(page).content.decode()
        assert "s3cret" not in text, page
    assert (
        "reader:•••@"
        in operator.get(f"/admin/webapp/submission/{submission.id}/change/").content.decode()
    )
    assert "s3cret" not in json.dumps(TaskRun.objects.get(task="fetch").data)
    # Nor can it be found by searching for it; the rest of the URL can.
    found = "/admin/webapp/submission/?q={}"
    assert "0 submissions" in operator.get(found.format("s3cret")).content.decode()
    assert "1 submission" in operator.get(found.format("reader:")).content.decode()
    assert "1 submission" in operator.get(found.format("g.json")).content.decode()
    assert "1 submission" in operator.get(found.format("127.0.0.1 g.json")).content.decode()


def test_the_task_run_list_filters_by_task_and_outcome(client, operator):
    upload(client, "grants.json")
    upload(client, "malformed.json")
    page = operator.get("/admin/webapp/taskrun/?task=parse_json&outcome=failed").content.decode()
    assert "1 task run" in page
    assert "malformed_json" in page


def test_expire_now_deletes_files_and_keeps_the_row(client, operator):
    submission = upload(client, "grants.json")
    operator.post(
        "/admin/webapp/submission/",
        {"action": "expire_now", "_selected_action": [str(submission.id)]},
    )
    submission.refresh_from_db()
    assert submission.state == Submission.State.EXPIRED
    assert submission.expires_at <= timezone.now()
    assert not submission.files_dir.exists()
    assert client.get(submission.get_absolute_url()).status_code == 410


def test_deleting_submissions_deletes_their_files(client, operator):
    kept, *deleted = [upload(client, "grants.json") for _ in range(3)]
    # The list's bulk action, and one submission's own Delete button.
    operator.post(
        "/admin/webapp/submission/",
        {"action": "delete_selected", "_selected_action": [str(deleted[0].id)], "post": "yes"},
    )
    operator.post(f"/admin/webapp/submission/{deleted[1].id}/delete/", {"post": "yes"})
    assert not Submission.objects.filter(id__in=[s.id for s in deleted]).exists()
    assert [s.files_dir.exists() for s in deleted] == [False, False]
    assert kept.original_path.exists()


def reprocess(operator, submission: Submission) -> str:
    """The admin's Reprocess action on one submission; the page it leads to."""
    response = operator.post(
        "/admin/webapp/submission/",
        {"action": "reprocess", "_selected_action": [str(submission.id)]},
        follow=True,
    )
    return response.content.decode()


def test_reprocess_runs_every_task_again(client, operator):
    submission = upload(client, "grants.json")
    reprocess(operator, submission)
    submission.refresh_from_db()
    assert submission.state == Submission.State.DONE
    for task in ("detect_format", "parse_json", "summary"):
        assert TaskRun.objects.filter(submission=submission, task=task).count() == 2


def test_reprocess_forgets_the_spreadsheets_made_before(client, operator):
    submission = upload(client, "grants.json")
    client.post(f"/api/submissions/{submission.id}/tasks/json_to_spreadsheet")
    download = f"/s/{submission.id}/files/json_to_spreadsheet/data.xlsx"
    assert client.get(download).status_code == 200
    reprocess(operator, submission)
    assert client.get(download).status_code == 404  # until asked for again
    assert submission.original_path.exists()


def test_reprocess_leaves_a_submission_a_live_worker_runs_alone(client, operator):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(
        state=Submission.State.RUNNING, heartbeat=timezone.now(), claimed_by="another worker"
    )
    page = reprocess(operator, submission)
    assert "Queued 0 submission(s) for reprocessing. 1 being worked on now was left alone" in page
    assert TaskResult.objects.filter(submission=submission).exists()  # nothing forgotten


def test_reprocess_takes_a_submission_waiting_for_a_retry(client, operator):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(
        state=Submission.State.PENDING, retry_at=timezone.now() + timedelta(minutes=4)
    )
    page = reprocess(operator, submission)
    assert "Queued 1 submission(s) for reprocessing." in page
    submission.refresh_from_db()
    assert (submission.state, submission.retry_at) == (Submission.State.DONE, None)


def test_reprocess_leaves_a_submission_whose_spreadsheets_are_being_made_alone(client, operator):
    submission = upload(client, "grants.json")
    TaskResult.objects.create(
        submission=submission,
        task="json_to_spreadsheet",
        claimed_by="a worker",
        heartbeat=timezone.now(),
    )
    reprocess(operator, submission)
    assert TaskResult.objects.filter(submission=submission, task="summary").exists()


def test_reprocess_leaves_expired_submissions_alone(client, operator):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(expires_at=timezone.now() - timedelta(1))
    reprocess(operator, submission)
    assert TaskRun.objects.filter(submission=submission, task="summary").count() == 1


def test_the_submission_list_says_when_a_worker_was_last_alive(client, operator):
    page = operator.get("/admin/webapp/submission/").content.decode()
    assert "No worker has run yet" in page
    async_task("webapp.jobs.sweep")  # what a worker does every minute (run here, in-process)
    page = operator.get("/admin/webapp/submission/").content.decode()
    last_seen = re.search(r"Workers: last seen (\d+) s ago", page)
    assert last_seen and int(last_seen[1]) < 60  # seconds since the sweep, on a busy machine


@pytest.mark.parametrize(
    ("queue", "says"),
    [
        ("", ": are they all busy?"),
        ("downloads", " on the queue “downloads”: is one running (Q_CLUSTER_NAME=downloads"),
    ],
)
def test_the_submission_list_says_when_downloads_wait_for_a_worker(
    client, operator, settings, queue, says
):
    settings.ASSAY_DEFERRED_QUEUE = queue
    submission = upload(client, "grants.json")
    row = TaskResult.objects.create(submission=submission, task="json_to_spreadsheet")
    row_asked = TaskResult.objects.filter(id=row.id)
    row_asked.update(requested_at=timezone.now())  # just asked: no word yet
    assert "wait for a worker" not in operator.get("/admin/webapp/submission/").content.decode()
    row_asked.update(requested_at=timezone.now() - timedelta(minutes=2))
    page = operator.get("/admin/webapp/submission/").content.decode()
    assert f"1 download(s) asked for over a minute ago wait for a worker{says}" in page
    # A job lost long ago is offered again on the page: no warning for it for ever.
    lost = settings.ASSAY_LOST_JOB_SECONDS + 60
    row_asked.update(requested_at=timezone.now() - timedelta(seconds=lost))
    assert "wait for a worker" not in operator.get("/admin/webapp/submission/").content.decode()


def test_an_action_s_page_says_when_workers_were_last_seen_once(client, operator):
    submission = upload(client, "grants.json")
    page = operator.post(
        "/admin/webapp/submission/",
        {"action": "expire_now", "_selected_action": [str(submission.id)]},
        follow=True,
    ).content.decode()
    assert "Expired 1 submission(s)." in page
    assert page.count("No worker has run yet") == 1


def test_task_runs_show_their_durations_at_a_glance(client, operator):
    upload(client, "grants.json")
    TaskRun.objects.filter(task="detect_format").update(duration=0.345376)
    TaskRun.objects.filter(task="parse_json").update(duration=185.4)
    page = operator.get("/admin/webapp/taskrun/").content.decode()
    assert "0.35 s" in page
    assert "3 min 5 s" in page
    assert "0.345376" not in page


@pytest.mark.parametrize(
    ("action", "says"),
    [
        ("reprocess", "Queued 1 submission(s) for reprocessing. 1 past its expiry was left alone."),
        ("expire_now", "Expired 1 submission(s). 1 past its expiry was left alone."),
    ],
)
def test_an_action_says_why_it_left_expired_submissions_alone(client, operator, action, says):
    live, old = upload(client, "grants.json"), upload(client, "grants.json")
    operator.post(
        "/admin/webapp/submission/", {"action": "expire_now", "_selected_action": [str(old.id)]}
    )
    page = operator.post(
        "/admin/webapp/submission/",
        {"action": action, "_selected_action": [str(live.id), str(old.id)]},
        follow=True,
    ).content.decode()
    assert says in page
