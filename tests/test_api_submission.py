"""The status document the progress page polls."""

from datetime import timedelta
from uuid import uuid4

import pytest
from django.utils import timezone

from tests.conftest import upload
from webapp.models import Submission
from webapp.pipeline import get_pipeline

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_describes_a_finished_submission(client):
    submission = upload(client, "grants.json")
    body = client.get(f"/api/submissions/{submission.id}").json()
    assert body["id"] == str(submission.id)
    assert body["state"] == "done"
    steps = len(get_pipeline().applicable(submission))  # the 8 main steps that apply
    progress = body["progress"]
    assert (progress["done"], progress["total"], progress["current"]) == (steps, steps, "")
    assert steps == 8
    assert 0 <= progress["elapsed"] < 60
    tasks = {task["name"]: task["status"] for task in body["tasks"]}
    # The demo profile's schema applies; fetching and converting a spreadsheet do not.
    assert tasks == {
        "detect_format": "ok",
        "parse_json": "ok",
        "validate": "ok",
        "additional_fields": "ok",
        "stats": "ok",
        "links": "ok",
        "summary": "ok",
        "report": "ok",
        "json_to_spreadsheet": "available",
    }
    assert body["tasks"][1] == {"name": "parse_json", "title": "Read the JSON", "status": "ok"}
    assert body["links"]["results"].endswith(f"/s/{submission.id}/")
    assert body["links"]["self"].endswith(f"/api/submissions/{submission.id}")
    assert body["expires_at"].startswith(str(submission.expires_at.year))


def test_it_shows_the_current_task_while_running(client):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(
        state="running", heartbeat=timezone.now(), current_task="summary", progress_done=3
    )
    body = client.get(f"/api/submissions/{submission.id}").json()
    assert body["state"] == "running"
    assert body["progress"]["current"] == "Summarise the data"
    statuses = {task["name"]: task["status"] for task in body["tasks"]}
    assert statuses["summary"] == "running"
    assert "json_to_spreadsheet" not in statuses  # deferred tasks are offered once done


def test_polling_a_dead_workers_submission_gets_it_going_again(client):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(
        state="running", heartbeat=timezone.now() - timedelta(minutes=5)
    )
    body = client.get(f"/api/submissions/{submission.id}").json()
    assert body["state"] == "done"


def test_unknown_ids_are_404_with_an_error_body(client):
    response = client.get(f"/api/submissions/{uuid4()}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
