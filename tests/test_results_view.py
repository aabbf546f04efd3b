"""The results page logic of DESIGN.md, on every view."""

import json
import os
import re
import time
from datetime import timedelta
from html import unescape
from pathlib import Path
from uuid import uuid4

import pytest
from django.utils import timezone

from tasks.summary import Summary
from tests.conftest import fixture, post_file, post_json, upload
from tests.pipeline_tasks import TEST_PIPELINE
from webapp.jobs import deferred_status
from webapp.models import Submission, TaskRun
from webapp.pipeline import get_pipeline

pytestmark = pytest.mark.django_db(transaction=True)


ROOT_EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "demo"


def runs_of(submission, task):
    return TaskRun.objects.filter(submission=submission, task=task).count()


def test_an_unknown_id_gets_the_not_found_page(client):
    response = client.get(f"/s/{uuid4()}/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_malformed_json_shows_where_and_keeps_the_original(client):
    submission = upload(client, "malformed.json")
    response = client.get(submission.get_absolute_url())
    text = response.content.decode()
    assert response.status_code == 200
    assert "Assay could not finish checking this data" in text
    assert "The step “Read the JSON” failed" in text
    assert "line 4, column 5: Expecting &#x27;,&#x27; delimiter" in text
    assert "What to do:" in text
    # What did work is still shown: the format was recognised.
    assert "The file is <strong>JSON</strong>" in text
    download = client.get(f"/s/{submission.id}/original")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == fixture("malformed.json").read_bytes()
    assert download["Content-Disposition"] == 'attachment; filename="malformed.json"'
    assert download["X-Content-Type-Options"] == "nosniff"


def test_a_permanent_failure_is_not_retried(client):
    submission = upload(client, "malformed.json")
    for _ in range(3):
        client.get(submission.get_absolute_url())
    submission.refresh_from_db()
    assert submission.state == Submission.State.FAILED
    assert runs_of(submission, "parse_json") == 1


def test_the_results_page_says_when_the_data_will_be_deleted(client):
    submission = upload(client, "grants.json")
    text = client.get(submission.get_absolute_url()).content.decode()
    assert "will be deleted on" in text
    assert submission.expires_at.strftime("%-d %B %Y") in text


def test_a_task_whose_version_is_bumped_reruns_and_the_others_do_not(client, monkeypatch):
    submission = upload(client, "grants.json")
    before = {
        task: runs_of(submission, task) for task in ("detect_format", "parse_json", "summary")
    }
    assert before == {"detect_format": 1, "parse_json": 1, "summary": 1}

    client.get(submission.get_absolute_url())  # nothing changed: nothing runs
    assert runs_of(submission, "summary") == 1

    monkeypatch.setattr(Summary, "version", Summary.version + 1)
    response = client.get(submission.get_absolute_url())
    assert "<h1>Results</h1>" in response.content.decode()
    assert runs_of(submission, "summary") == 2
    assert runs_of(submission, "detect_format") == 1
    assert runs_of(submission, "parse_json") == 1
    latest = TaskRun.objects.filter(submission=submission, task="summary").first()
    assert latest.version == Summary.version
    assert latest.outcome == TaskRun.Outcome.OK


def test_changing_the_sample_option_reruns_only_the_task_that_uses_it(client):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(options={"sample": True})
    client.get(submission.get_absolute_url())
    assert runs_of(submission, "summary") == 2
    assert runs_of(submission, "parse_json") == 1


def serve_schema(http_server, required: list[str]) -> None:
    grant = {"type": "object", "required": required}
    schema = {"type": "object", "properties": {"grants": {"type": "array", "items": grant}}}
    http_server.serve("/schema.json", json.dumps(schema).encode())


def use_schema_at(settings, http_server, required: list[str]) -> None:
    serve_schema(http_server, required)
    profile = {"title": "Remote", "schema": http_server.url("/schema.json")}
    settings.ASSAY_PROFILES = {"remote": {**profile, "root_list_path": "grants"}}
    settings.ASSAY_DEFAULT_PROFILE = "remote"


def an_hour_passes(settings) -> None:
    """The copy kept of a schema given by URL is old enough to be fetched again."""
    for copy in (settings.DATA_DIR / "schemas").glob("*/schema.json"):
        then = time.time() - 2 * 3600
        os.utime(copy, (then, then))


def test_a_schema_given_by_url_that_changes_gets_the_data_checked_again(
    client, http_server, settings
):
    use_schema_at(settings, http_server, ["title"])
    submission = post_json(client, {"grants": [{"id": "G-1"}]})
    assert "✗ Not valid." in client.get(submission.get_absolute_url()).content.decode()

    serve_schema(http_server, [])  # the standard drops the rule
    an_hour_passes(settings)
    post_json(client, {"grants": []})  # whose checking fetches the schema again
    assert http_server.hits == ["/schema.json", "/schema.json"]
    assert "✓ Valid." in client.get(submission.get_absolute_url()).content.decode()
    assert runs_of(submission, "validate") == 2


def test_a_schema_given_by_url_fetched_again_unchanged_checks_nothing_again(
    client, http_server, settings
):
    use_schema_at(settings, http_server, ["title"])
    submission = post_json(client, {"grants": [{"id": "G-1"}]})
    an_hour_passes(settings)
    post_json(client, {"grants": []})
    assert http_server.hits == ["/schema.json", "/schema.json"]
    assert "✗ Not valid." in client.get(submission.get_absolute_url()).content.decode()
    assert runs_of(submission, "parse_json") == runs_of(submission, "validate") == 1


def test_spreadsheets_made_after_a_schema_given_by_url_changed_are_ready_not_offered_again(
    client, http_server, settings
):
    use_schema_at(settings, http_server, ["title"])
    submission = post_json(client, {"grants": [{"id": "G-1"}]})
    serve_schema(http_server, [])
    an_hour_passes(settings)
    response = client.post(f"/api/submissions/{submission.id}/tasks/json_to_spreadsheet")
    assert response.status_code == 202
    assert http_server.hits == ["/schema.json", "/schema.json"]  # fetched before the step
    task = get_pipeline().get("json_to_spreadsheet")
    assert deferred_status(Submission.objects.get(id=submission.id), task) == "ready"


def test_a_schema_given_by_url_that_cannot_be_kept_fails_a_step_not_the_job(
    client, http_server, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    (tmp_path / "schemas").write_text("a file where the folder of schemas goes")
    use_schema_at(settings, http_server, ["title"])
    submission = post_json(client, {"grants": [{"id": "G-1"}]})
    submission.refresh_from_db()
    assert submission.state != Submission.State.RUNNING  # settled: not left to the sweep
    failed = TaskRun.objects.get(submission=submission, outcome="failed")
    assert (failed.task, failed.error_code) == ("parse_json", "internal_error")


def test_a_stale_running_submission_is_reclaimed_by_the_next_view(client):
    submission = upload(client, "grants.json")
    long_ago = timezone.now() - timedelta(minutes=10)
    Submission.objects.filter(id=submission.id).update(
        state=Submission.State.RUNNING, heartbeat=long_ago, claimed_by="dead-worker:1"
    )
    TaskRun.objects.create(
        submission=submission, task="summary", version=1, outcome=TaskRun.Outcome.RUNNING
    )
    response = client.get(submission.get_absolute_url())
    assert "<h1>Results</h1>" in response.content.decode()
    submission.refresh_from_db()
    assert submission.state == Submission.State.DONE
    assert submission.claimed_by != "dead-worker:1"
    interrupted = TaskRun.objects.get(submission=submission, error_code="interrupted")
    assert interrupted.outcome == TaskRun.Outcome.FAILED


def test_a_submission_checked_again_counts_its_time_from_this_run(client):
    submission = upload(client, "grants.json")
    now = timezone.now()
    Submission.objects.filter(id=submission.id).update(  # uploaded an hour ago
        created=now - timedelta(hours=1),
        state=Submission.State.RUNNING,
        run_started_at=now - timedelta(seconds=25),
        claimed_at=now - timedelta(seconds=20),
        heartbeat=now,
        progress_done=1,
        progress_total=8,
        current_task="parse_json",
    )
    words = " ".join(
        re.sub(r"<[^>]+>", "", client.get(submission.get_absolute_url()).content.decode()).split()
    )
    assert re.search(r"Started (20|21|22) s ago\.", words)
    elapsed = client.get(f"/api/submissions/{submission.id}").json()["progress"]["elapsed"]
    assert 20 <= elapsed < 30


def test_a_finished_run_s_time_stops_when_it_ended(client):
    submission = upload(client, "grants.json")
    now = timezone.now()
    Submission.objects.filter(id=submission.id).update(  # done an hour ago, in 12 s
        state=Submission.State.DONE,
        run_started_at=now - timedelta(hours=1, seconds=12),
        claimed_at=now - timedelta(hours=1, seconds=12),
        finished_at=now - timedelta(hours=1),
    )
    elapsed = client.get(f"/api/submissions/{submission.id}").json()["progress"]["elapsed"]
    assert elapsed == 12
    # Checked again ten minutes ago, then expired five minutes in, unfinished.
    Submission.objects.filter(id=submission.id).update(
        state=Submission.State.EXPIRED,
        run_started_at=now - timedelta(minutes=10),
        expired_at=now - timedelta(minutes=5),
    )
    elapsed = client.get(f"/api/submissions/{submission.id}").json()["progress"]["elapsed"]
    assert elapsed == 300


def test_a_fresh_running_submission_shows_progress_and_is_left_alone(client):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(
        state=Submission.State.RUNNING,
        heartbeat=timezone.now(),
        claimed_by="busy-worker:1",
        progress_done=2,
        progress_total=4,
        current_task="parse_json",
    )
    response = client.get(submission.get_absolute_url())
    text = response.content.decode()
    assert "Checking your data" in text
    assert '<progress id="progress-bar" max="4" value="2"' in text
    words = " ".join(re.sub(r"<[^>]+>", "", text).split())
    assert "Step 3 of 4: Read the JSON" in words  # the step under way, after two done
    assert re.search(r"Started \d+ s ago\.", words)
    assert '<meta http-equiv="refresh" content="3">' in text  # refreshes without JavaScript
    assert "js/progress.js" in text
    submission.refresh_from_db()
    assert submission.claimed_by == "busy-worker:1"


def test_an_expired_submission_says_410_and_when(client):
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    response = client.get(submission.get_absolute_url())
    assert response.status_code == 410
    assert "This submission has expired" in response.content.decode()
    assert not submission.files_dir.exists()
    assert client.get(f"/s/{submission.id}/original").status_code == 410


def test_a_failing_task_does_not_hide_the_results_of_tasks_that_do_not_need_it(client, settings):
    settings.ASSAY_PIPELINE = TEST_PIPELINE
    submission = upload(client, "grants.json")
    Submission.objects.filter(id=submission.id).update(options={"breaks": "permanent"})
    response = client.get(submission.get_absolute_url())
    text = response.content.decode()
    assert "The step “A step that breaks” failed" in text
    assert "The input is broken." in text
    assert "So this step did not run, as it needs what failed: “Needs the breaking step”." in (text)
    # count and double do not need the broken step; their results are shown.
    assert 'id="count"' in text and 'id="double"' in text
    skipped = TaskRun.objects.get(submission=submission, task="after_breaks", outcome="skipped")
    assert "needs breaks" in skipped.error_message


def test_counts_on_the_page_are_written_with_thousands_separators(client):
    grants = [{"id": "bad"} for _ in range(1_200)]  # four errors each
    submission = post_json(client, {"grants": grants})
    page = " ".join(client.get(submission.get_absolute_url()).content.decode().split())
    assert "Not valid:</strong> 4,800 errors" in page
    assert "1,200 items" in page
    assert '<td class="num">1,200</td>' in page  # each kind of error, in the table
    errors_page = client.get(f"/s/{submission.id}/errors").content.decode()
    assert "Errors 1 to 100 of 1,000" in errors_page  # the first 1,000 are kept


@pytest.mark.parametrize(
    ("count", "said"), [(4, "4 s"), (89, "89 s"), (90, "2 min"), (150, "3 min"), (210, "4 min")]
)
def test_durations_read_as_the_progress_script_writes_them(count, said):
    from webapp.templatetags.assay import seconds

    assert seconds(count) == said  # Math.round(2.5) is 3, where Python's round gives 2


def test_tables_cut_short_on_the_page_say_so_and_where_the_rest_is(client, settings, tmp_path):
    from tests.test_spreadsheet_tasks import send, use_profile

    fields = [f"f{number:02d}" for number in range(60)]
    use_profile(settings, tmp_path, {"type": "object", "required": fields})
    extra = {f"extra{number:03d}": 1 for number in range(250)}  # all undescribed
    submission = send(client, "data.json", json.dumps({"grants": [extra]}).encode())
    page = client.get(submission.get_absolute_url()).content.decode()
    # 60 kinds of error ("fNN is missing"), 50 shown; the report keeps 200 kinds.
    assert "Errors, grouped (the 50 largest of 60 kinds; the report download lists them all)" in (
        page
    )
    assert page.count("is missing") == 50
    assert "The first 100 are shown here; the report download lists them all." in page
    assert (
        "The first 200 fields are shown here, in alphabetical order; the report download "
        "lists all 250."
    ) in page


def test_the_errors_page_of_valid_data_says_there_are_none(client):
    submission = post_file(client, ROOT_EXAMPLES / "grants-valid.json")
    page = client.get(f"/s/{submission.id}/errors").content.decode()
    assert "There are no errors: the data matches the schema." in page
    assert "Errors 0 to 0" not in page


def test_each_page_s_title_names_the_submission(client):
    submission = upload(client, "grants.json")
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "<title>grants.json: results · Assay</title>" in page
    errors = client.get(f"/s/{submission.id}/errors?page=2").content.decode()
    assert "<title>grants.json: all errors" in errors


def test_a_worker_not_heard_from_for_a_while_is_said_to_be_quiet(client, settings):
    submission = upload(client, "grants.json")
    quiet = settings.ASSAY_HEARTBEAT_SECONDS * 4  # past three heartbeats, before the sweep
    Submission.objects.filter(id=submission.id).update(
        state=Submission.State.RUNNING,
        claimed_by="somewhere:1",
        heartbeat=timezone.now() - timedelta(seconds=quiet),
        progress_done=5,
        progress_total=8,
        current_task="links",
    )
    words = " ".join(
        re.sub(r"<[^>]+>", "", client.get(submission.get_absolute_url()).content.decode()).split()
    )
    assert f"No word from the worker for {quiet} s. If it has stopped" in words
    status = client.get(f"/api/submissions/{submission.id}").json()
    assert status["progress"]["quiet_for"] == quiet
    Submission.objects.filter(id=submission.id).update(heartbeat=timezone.now())
    assert client.get(f"/api/submissions/{submission.id}").json()["progress"]["quiet_for"] is None


def test_a_check_that_fails_after_a_schema_change_shows_nothing_made_before_it(
    client, settings, tmp_path
):
    from tests.test_spreadsheet_tasks import GRANT, use_profile

    use_profile(settings, tmp_path, GRANT)
    submission = post_json(client, {"grants": [{"id": "G1"}]})
    kept = f"/s/{submission.id}/files/report/report.json"
    assert client.get(kept).status_code == 200
    broken = tmp_path / "broken"
    broken.mkdir()
    use_profile(settings, broken, {"type": 5})
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "The step “Check against the schema” failed" in page
    # Not the verdict of the schema before, nor its report, whose link leads back here.
    assert "✓ Valid" not in page
    assert kept not in page
    assert "The file is <strong>JSON</strong>" in page  # what still holds is shown
    # A link kept to the report: the page says why it is not there now.
    said = unescape(client.get(kept, follow=True, HTTP_ACCEPT="text/html").content.decode())
    assert "get it again" not in said
    assert (
        "report.json was made before the schema or Assay changed, and the data could not "
        "be checked again: the page says why."
    ) in said
