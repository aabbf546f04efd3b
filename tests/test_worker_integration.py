"""A real django-q2 cluster, in its own process, processes a submission end to end."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django_q.conf import Conf

from tasks.scan import scan_file
from tasks.validate import Validate
from tests.conftest import database_url_for_workers, post_json, upload
from tests.test_scan import demo_plan, grants
from webapp.models import Submission, TaskRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cluster(media_root, monkeypatch):
    """Start `manage.py qcluster` on the test database; stop it afterwards."""
    monkeypatch.setattr(Conf, "SYNC", False)
    with running_cluster(media_root) as process:
        yield process


@contextmanager
def running_cluster(media_root: Path, **extra_env: str) -> Iterator[subprocess.Popen]:
    """`manage.py qcluster` on the test database, for jobs queued with Conf.SYNC off."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DATABASE_URL": database_url_for_workers(),
        "ASSAY_DATA_DIR": str(Path(media_root).parent),
        "ASSAY_QUEUE_SYNC": "0",
        "ASSAY_WORKERS": "1",
        **extra_env,
    }
    assert Path(django_settings.MEDIA_ROOT) == Path(media_root)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(submission: Submission, states: set[str], timeout: float = 60) -> Submission:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        submission.refresh_from_db()
        if submission.state in states:
            return submission
        time.sleep(0.2)
    raise AssertionError(f"still {submission.state} after {timeout}s")


def test_a_real_worker_processes_an_upload(client, cluster):
    submission = upload(client, "grants.json")
    assert submission.state == Submission.State.PENDING
    submission = wait_for(submission, {"done", "failed"})
    assert submission.state == Submission.State.DONE
    assert submission.claimed_by.split(":")[-1] != str(os.getpid())  # another process did it
    outcomes = set(TaskRun.objects.filter(submission=submission).values_list("outcome", flat=True))
    assert outcomes == {"ok"}
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "<code>/grants</code>" in page


def test_a_real_worker_reports_malformed_data(client, cluster):
    submission = upload(client, "malformed.json")
    submission = wait_for(submission, {"done", "failed"})
    assert submission.state == Submission.State.FAILED
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "line 4, column 5" in page


def test_a_cluster_of_the_deferred_queue_makes_the_spreadsheets(
    client, media_root, monkeypatch, settings
):
    settings.ASSAY_DEFERRED_QUEUE = "downloads"
    submission = upload(client, "grants.json")  # the report, made in this process
    monkeypatch.setattr(Conf, "SYNC", False)
    env = {"Q_CLUSTER_NAME": "downloads", "ASSAY_DEFERRED_QUEUE": "downloads"}
    with running_cluster(media_root, **env):
        client.post(f"/s/{submission.id}/tasks/json_to_spreadsheet")
        runs = TaskRun.objects.filter(submission=submission, task="json_to_spreadsheet")
        deadline = time.monotonic() + 60
        while not runs.filter(outcome=TaskRun.Outcome.OK).exists():
            assert time.monotonic() < deadline, "the cluster of the deferred queue never ran it"
            time.sleep(0.2)
    assert runs.get().worker.split(":")[-1] != str(os.getpid())  # another process did it
    page = client.get(submission.get_absolute_url()).content.decode()
    assert f"/s/{submission.id}/files/json_to_spreadsheet/data.xlsx" in page


def test_a_real_worker_reads_a_large_file_a_half_in_each_of_two_processes(
    client, media_root, monkeypatch
):
    monkeypatch.setattr(Conf, "SYNC", False)
    items = grants(2500)  # 3 MB: its middle is past the first piece of text read (1 MB)
    items[2400]["amount"]["currency"] = "XXX"
    for item in items:
        del item["documents"]  # links to servers this machine cannot reach
    env = {"ASSAY_READ_IN_TWO_BYTES": "1000000", "ASSAY_LOG_LEVEL": "DEBUG"}
    with running_cluster(media_root, **env) as process:
        submission = wait_for(post_json(client, {"grants": items}), {"done", "failed"})
    assert submission.state == Submission.State.DONE
    assert "the data was read in two processes" in process.stdout.read()
    in_one = scan_file(submission.original_path, demo_plan())
    assert submission.store.output("report").data["error_count"] == in_one.errors.total
    found = [(error["path"], error["message"]) for error in Validate().errors(submission)]
    assert found == [(error.path, error.message) for error in in_one.errors.errors]
    assert "/grants/2400/amount/currency" in dict(found)
