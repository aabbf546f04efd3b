"""Two real worker clusters on PostgreSQL + Redis: nothing lost, nothing done twice, and a
worker killed mid-task has its submission finished by the other.

Runs on the production stack only (DATABASE_URL=postgres://..., REDIS_URL=redis://...).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import transaction

from tests.conftest import database_url_for_workers, fixture
from webapp.models import Submission, TaskRun
from webapp.submissions import create_submission

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.production_stack,
]
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "demo"
# The real pipeline with a task to kill a worker in.
PIPELINE = [*django_settings.ASSAY_PIPELINE, "tests.pipeline_tasks.Slow"]
FINISHED = {"done", "failed"}


@pytest.fixture
def clusters(media_root, settings, queue, tmp_path):
    """Two `manage.py qcluster` processes of two workers each, on the test database."""
    settings.ASSAY_PIPELINE = PIPELINE
    settings.ASSAY_API_SUBMISSIONS_PER_MINUTE = 1000
    # Short enough that a killed worker is noticed within the test; long enough that a
    # live one, slowed by eight processes on a small machine, is not taken for dead.
    settings.ASSAY_HEARTBEAT_SECONDS, settings.ASSAY_STALE_SECONDS = 2, 10
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DATABASE_URL": database_url_for_workers(),
        "ASSAY_DATA_DIR": str(Path(media_root).parent),
        "ASSAY_QUEUE_SYNC": "0",
        "ASSAY_WORKERS": "2",
        "ASSAY_HEARTBEAT_SECONDS": "2",
        "ASSAY_STALE_SECONDS": "10",
        "ASSAY_PIPELINE": ",".join(PIPELINE),
    }
    started = []
    for number in range(2):
        log = (tmp_path / f"cluster-{number}.log").open("w")
        started.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, to be killed whole
            )
        )
    yield started
    for process in started:
        with_group(process.pid, signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with_group(process.pid, signal.SIGKILL)


def with_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone: the test killed it
        os.killpg(pid, sig)


def submit(client, path: Path) -> str:
    with path.open("rb") as handle:
        response = client.post("/api/submissions", {"file": handle})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def wait_until_finished(client, ids: list[str], timeout: float) -> dict[str, str]:
    """Poll as the progress page does (which also re-sends the jobs of dead workers)."""
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        for submission_id in ids:
            if states.get(submission_id) not in FINISHED:
                states[submission_id] = client.get(f"/api/submissions/{submission_id}").json()[
                    "state"
                ]
        if all(state in FINISHED for state in states.values()):
            return states
        time.sleep(0.5)
    unfinished = {key: value for key, value in states.items() if value not in FINISHED}
    raise AssertionError(f"{len(unfinished)} submissions never finished: {unfinished}")


def test_fifty_submissions_on_two_clusters_end_as_expected_each_processed_once(client, clusters):
    kinds = {
        EXAMPLES / "grants-valid.json": 20,
        EXAMPLES / "grants-invalid.json": 20,
        fixture("malformed.json"): 10,
    }
    started = time.monotonic()
    expected = {
        submit(client, path): path.name for path, count in kinds.items() for _ in range(count)
    }
    states = wait_until_finished(client, list(expected), timeout=300)
    wall = time.monotonic() - started

    for submission_id, name in expected.items():
        assert states[submission_id] == ("failed" if name == "malformed.json" else "done"), name
        if name != "malformed.json":
            response = client.get(f"/api/submissions/{submission_id}/report")
            report = json.loads(b"".join(response.streaming_content))
            assert report["valid"] == (name == "grants-valid.json")
    runs = TaskRun.objects.filter(submission_id__in=expected)
    per_task = Counter(runs.values_list("submission_id", "task"))
    duplicates = sum(count - 1 for count in per_task.values())
    workers_per_submission = {
        submission_id: set(
            runs.filter(submission_id=submission_id).values_list("worker", flat=True)
        )
        for submission_id in expected
    }
    print(
        f"\n{len(expected)} submissions, wall time {wall:.1f} s, duplicates {duplicates}, "
        f"lost 0, worker processes used {len(set().union(*workers_per_submission.values()))}"
    )
    assert duplicates == 0
    assert all(len(workers) == 1 for workers in workers_per_submission.values())
    assert len(set().union(*workers_per_submission.values())) >= 2  # the work was shared


def test_a_worker_killed_in_a_slow_task_has_its_submission_finished_by_another(client, clusters):
    with transaction.atomic():  # the job goes out on commit, with the slow option set
        with (EXAMPLES / "grants-valid.json").open("rb") as handle:
            submission = create_submission(
                source=Submission.Source.FILE, profile="demo", chunks=[handle.read()], name="a.json"
            )
        Submission.objects.filter(id=submission.id).update(options={"slow": 6})

    deadline = time.monotonic() + 60
    while not (running := TaskRun.objects.filter(submission=submission, task="slow").first()):
        assert time.monotonic() < deadline, "the slow task never started"
        time.sleep(0.2)
    victim = int(running.worker.rsplit(":", 1)[1])
    os.killpg(os.getsid(victim), signal.SIGKILL)  # the whole cluster that holds it

    states = wait_until_finished(client, [str(submission.id)], timeout=120)
    assert states[str(submission.id)] == "done"
    slow_runs = list(TaskRun.objects.filter(submission=submission, task="slow").order_by("started"))
    assert [(run.outcome, run.error_code) for run in slow_runs] == [
        ("failed", "interrupted"),
        ("ok", ""),
    ]
    assert slow_runs[1].worker != slow_runs[0].worker
