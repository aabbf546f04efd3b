"""The whole validation path through the web pages: what a person sees and downloads."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import openpyxl
import pytest

from tests.conftest import submission_from
from webapp.models import Submission, TaskResult
from webapp.profiles import get_profile

pytestmark = pytest.mark.django_db(transaction=True)


def try_example(client, name: str) -> Submission:
    names = [path.name for path in get_profile("demo").example_paths()]
    response = client.post(f"/examples/demo/{names.index(name)}")
    assert response.status_code == 302
    return submission_from(response)


def download(client, submission: Submission, task: str, filename: str):
    response = client.get(f"/s/{submission.id}/files/{task}/{filename}")
    assert response.status_code == 200, (task, filename)
    return b"".join(response.streaming_content)


def test_the_demo_invalid_xlsx_shows_grouped_errors_placed_in_the_workbook(client):
    submission = try_example(client, "grants-invalid.xlsx")
    assert submission.state == "done"
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "✗ Not valid." in page
    assert "12 errors against the schema" in page
    # Two grants lack a currency: one group, counted twice, each placed at its cell.
    assert "“currency” is missing" in page
    assert "<code>/grants/*/amount</code>" in page
    assert "sheet <strong>grants</strong>, row 2, column E (amount/currency)" in page
    # An error in a sub-sheet is placed in that sheet.
    assert "sheet <strong>documents</strong>, row 7, column B (documents/0/url)" in page
    # Fields the schema does not describe are listed too.
    assert "/grants/*/notes" in page


def test_the_report_and_the_errors_download_as_json_and_csv(client):
    submission = try_example(client, "grants-invalid.xlsx")
    report = json.loads(download(client, submission, "report", "report.json"))
    assert (report["valid"], report["error_count"], report["format"]) == (False, 12, "xlsx")
    assert {group["message"] for group in report["error_groups"]} >= {"“currency” is missing"}
    rows = list(
        csv.DictReader(
            io.StringIO(download(client, submission, "report", "errors.csv").decode("utf-8-sig"))
        )
    )
    assert len(rows) == 12
    bad_id = next(row for row in rows if row["validator"] == "pattern")
    assert (bad_id["value"], bad_id["sheet"], bad_id["row"], bad_id["column"]) == (
        "grant-7", "grants", "5", "A",
    )  # fmt: skip
    # The spreadsheet's JSON, as converted, can be downloaded too.
    data = json.loads(download(client, submission, "spreadsheet_to_json", "data.json"))
    assert data["grants"][3]["id"] == "grant-7"


def test_the_original_upload_stays_downloadable(client):
    submission = try_example(client, "grants-invalid.xlsx")
    response = client.get(f"/s/{submission.id}/original")
    assert response.status_code == 200
    assert (
        b"".join(response.streaming_content) == get_profile("demo").example_paths()[3].read_bytes()
    )


def test_spreadsheet_downloads_are_made_on_request_and_never_delay_the_report(client):
    submission = try_example(client, "grants-valid.json")
    assert not TaskResult.objects.filter(submission=submission, task="json_to_spreadsheet").exists()
    page = client.get(submission.get_absolute_url()).content.decode()
    assert f'action="/s/{submission.id}/tasks/json_to_spreadsheet"' in page

    response = client.post(f"/s/{submission.id}/tasks/json_to_spreadsheet")
    assert response.status_code == 302
    page = client.get(submission.get_absolute_url()).content.decode()
    assert f"/s/{submission.id}/files/json_to_spreadsheet/data.xlsx" in page

    workbook = openpyxl.load_workbook(
        io.BytesIO(download(client, submission, "json_to_spreadsheet", "data.xlsx"))
    )
    assert "grants" in workbook.sheetnames
    ids = [row[0] for row in workbook["grants"].iter_rows(min_row=2, values_only=True)]
    source = json.loads(get_profile("demo").example_paths()[0].read_bytes())
    assert ids == [grant["id"] for grant in source["grants"]]
    archive = zipfile.ZipFile(
        io.BytesIO(download(client, submission, "json_to_spreadsheet", "data-csv.zip"))
    )
    assert "grants.csv" in archive.namelist()


def test_a_failed_spreadsheet_conversion_shows_in_its_section_and_hides_nothing(
    client, monkeypatch
):
    def crash(*args, **kwargs):
        raise RuntimeError("flattentool fell over")

    # A crash inside flattentool, injected where the task calls it.
    monkeypatch.setattr("tasks.spreadsheets.flatten", crash)
    submission = try_example(client, "grants-invalid.json")
    client.post(f"/s/{submission.id}/tasks/json_to_spreadsheet")
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "This did not work last time: Assay hit an unexpected problem" in page
    assert "You can try again." in page
    assert "✗ Not valid." in page  # the report is still there
    submission.refresh_from_db()
    assert submission.state == "done"


def test_asking_for_spreadsheets_while_the_data_is_checked_again_says_so(client):
    submission = try_example(client, "grants-valid.json")
    # The page was opened when the report was ready; an operator reprocesses meanwhile.
    Submission.objects.filter(id=submission.id).update(state=Submission.State.RUNNING)
    response = client.post(f"/s/{submission.id}/tasks/json_to_spreadsheet", follow=True)
    assert response.status_code == 200
    assert "This submission is still being checked" in response.content.decode()
    assert not TaskResult.objects.filter(submission=submission, task="json_to_spreadsheet")


def test_the_api_starts_a_deferred_task(client):
    submission = try_example(client, "grants-valid.json")
    response = client.post(f"/api/submissions/{submission.id}/tasks/json_to_spreadsheet")
    assert response.status_code == 202
    assert response.json()["name"] == "json_to_spreadsheet"
    status = client.get(f"/api/submissions/{submission.id}").json()
    assert {"name": "json_to_spreadsheet", "status": "ready"} in [
        {"name": task["name"], "status": task["status"]} for task in status["tasks"]
    ]
    # Only deferred tasks can be asked for.
    assert client.post(f"/api/submissions/{submission.id}/tasks/validate").status_code == 404


def test_every_error_is_listed_a_page_at_a_time_and_the_cap_is_said(client, settings):
    settings.ASSAY_MAX_STORED_ERRORS = 5
    submission = try_example(client, "grants-invalid.json")
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "(the first 5 of 13 are kept)" in page
    assert "The downloads list the first 5 of the 13 errors one by one" in page
    listing = client.get(f"/s/{submission.id}/errors").content.decode()
    assert "Assay kept the first 5 of 13 errors." in listing
    assert "Errors 1 to 5 of 5" in listing


def test_downloads_holding_every_error_say_nothing_of_a_cap(client):
    submission = try_example(client, "grants-invalid.json")
    assert (
        "The downloads list the first"
        not in client.get(submission.get_absolute_url()).content.decode()
    )


def test_the_list_of_every_error_is_paginated(client):
    grants = [{"id": f"bad-{n}", "title": "t", "amount": {"value": 1, "currency": "GBP"},
               "awardDate": "2024-01-01"} for n in range(150)]  # fmt: skip
    response = client.post("/", {"text": json.dumps({"grants": grants}), "profile": "demo"})
    submission = submission_from(response)
    first = client.get(f"/s/{submission.id}/errors").content.decode()
    assert "Errors 1 to 100 of 150" in first
    assert "bad-99" in first and "bad-100" not in first
    second = client.get(f"/s/{submission.id}/errors?page=2").content.decode()
    assert "Errors 101 to 150 of 150" in second
    assert "bad-149" in second


def test_a_csv_is_converted_and_checked_like_a_workbook(client):
    submission = try_example(client, "grants.csv")
    assert submission.format == "csv"
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "✓ Valid." in page


def test_the_list_of_errors_of_data_not_checked_against_a_schema_is_404(client):
    response = client.post("/", {"text": "{}", "profile": "generic"})
    submission = submission_from(response)
    assert client.get(f"/s/{submission.id}/errors").status_code == 404


def test_why_no_alternative_matches_shows_beside_each_error(client, settings, tmp_path):
    from tests.test_report import RECIPIENT
    from tests.test_spreadsheet_tasks import use_profile

    use_profile(settings, tmp_path, {"properties": {"recipient": RECIPIENT}})
    grants = [{"recipient": {"id": "123"}}, {"recipient": {"name": "Ann"}}]
    submission = submission_from(client.post("/", {"text": json.dumps({"grants": grants})}))
    page = client.get(submission.get_absolute_url()).content.decode()
    # One kind of error, its examples each with their own reason.
    assert page.count("matches none of the allowed alternatives") == 1
    by_id = "Closest is alternative 2: at /grants/0/recipient/id, does not match the pattern"
    by_name = "Closest is alternative 1: “address” is missing"
    assert f'<div class="detail">{by_id} ^[0-9]{{8}}$</div>' in page
    assert f'<div class="detail">{by_name}</div>' in page
    listing = client.get(f"/s/{submission.id}/errors").content.decode()
    assert (
        f'matches none of the allowed alternatives<div class="detail">{by_id} ^[0-9]{{8}}$</div>'
    ) in listing
    assert f'matches none of the allowed alternatives<div class="detail">{by_name}</div>' in listing


def recipients_xlsx() -> bytes:
    """Two grants whose recipient matches neither of RECIPIENT's alternatives."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "grants"
    sheet.append(["id", "recipient/name", "recipient/id"])
    sheet.append(["G1", None, "123"])
    sheet.append(["G2", "Ann", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_why_no_alternative_matches_is_placed_in_the_workbook_s_cells(client, settings, tmp_path):
    from tests.test_report import RECIPIENT
    from tests.test_spreadsheet_tasks import send, use_profile

    use_profile(settings, tmp_path, {"properties": {"recipient": RECIPIENT}})
    submission = send(client, "grants.xlsx", recipients_xlsx())
    page = client.get(submission.get_absolute_url()).content.decode()
    by_id = (
        "Closest is alternative 2: at sheet grants, row 2, column C, heading “recipient/id”, "
        "does not match the pattern ^[0-9]{8}$"
    )
    # Where the missing field would go: a heading the sheet does not have yet.
    by_name = "Closest is alternative 1: at sheet grants, row 3, heading “recipient/address”, "
    by_name += "“address” is missing"
    assert f'<div class="detail">{by_id}</div>' in page
    assert f'<div class="detail">{by_name}</div>' in page
    assert "/grants/0/recipient/id" not in page  # a place no one can find in a workbook
    listing = client.get(f"/s/{submission.id}/errors").content.decode()
    assert f'<div class="detail">{by_id}</div>' in listing
    assert f'<div class="detail">{by_name}</div>' in listing
    assert "/grants/0/recipient/id" not in listing
