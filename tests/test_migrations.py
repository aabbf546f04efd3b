"""Data migrations: records written by earlier versions, as the current code writes them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from webapp.models import Submission, TaskResult, TaskRun

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("webapp", "0002_deferred_tasks")]
BEFORE_RUN_STARTED = [("webapp", "0003_fetch_records_without_passwords")]


def latest():
    """Every migration: what follows the one tested too, so that the current models fit."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_old_download_records_lose_the_passwords_of_their_addresses():
    apps = migrate(BEFORE)
    url = "https://reader:secret@data.example/grants.json"
    moved = "https://reader:secret@data.example/v2/grants.json"
    record = {"url": url, "final_url": moved, "redirects": [url], "size": 3}
    submission = apps.get_model("webapp", "Submission").objects.create(
        source="url", url=url, profile="demo"
    )
    apps.get_model("webapp", "TaskResult").objects.create(
        submission=submission, task="fetch", output=record, output_hash="kept"
    )
    apps.get_model("webapp", "TaskRun").objects.create(
        submission=submission, task="fetch", version=1, outcome="ok", data=record
    )
    apps.get_model("webapp", "TaskRun").objects.create(
        submission=submission,
        task="fetch",
        version=1,
        outcome="failed",
        error_message=f"Could not connect to {url}.",
    )
    migrate(latest())
    shown = {
        "url": "https://reader:•••@data.example/grants.json",
        "final_url": "https://reader:•••@data.example/v2/grants.json",
        "redirects": ["https://reader:•••@data.example/grants.json"],
        "size": 3,
    }
    result = TaskResult.objects.get(submission_id=submission.id, task="fetch")
    assert (result.output, result.output_hash) == (shown, "kept")  # nothing runs again
    runs = TaskRun.objects.filter(submission_id=submission.id, task="fetch")
    assert runs.get(outcome="ok").data == shown
    assert runs.get(outcome="failed").error_message == (
        "Could not connect to https://reader:•••@data.example/grants.json."
    )
    assert Submission.objects.get(id=submission.id).url == url  # the download still needs it


def test_runs_under_way_at_the_upgrade_keep_their_start_when_sent_again(queue):
    from datetime import timedelta

    from django.utils import timezone

    from webapp import jobs

    apps = migrate(BEFORE_RUN_STARTED)
    old = apps.get_model("webapp", "Submission")
    an_hour_ago = timezone.now() - timedelta(hours=1)
    sent = timezone.now() - timedelta(seconds=90)
    running = old.objects.create(
        source="text", profile="demo", state="running", enqueued_at=sent, claimed_at=sent,
        heartbeat=an_hour_ago, progress_done=1, progress_total=8, created=an_hour_ago,
    )  # fmt: skip
    waiting = old.objects.create(  # to try a step again: no job out, as settle leaves it
        source="text", profile="demo", state="pending", claimed_at=sent, created=an_hour_ago,
        retry_at=sent, progress_done=3, progress_total=8,
    )  # fmt: skip
    done = old.objects.create(source="text", profile="demo", state="done", enqueued_at=sent)
    migrate(latest())
    assert Submission.objects.get(id=done.id).run_started_at is None  # no run under way
    for row in (running, waiting):
        assert jobs.enqueue(row.id)  # the worker died; the retry came due
        submission = Submission.objects.get(id=row.id)
        assert submission.run_started_at == sent
        assert submission.progress_done == row.progress_done
