"""The spreadsheet tasks end to end: the profile's schema is read offline, and data or a
schema they cannot use is a clear, final refusal, never an internal error to retry."""

from __future__ import annotations

import codecs
import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import LocalServer, submission_from
from webapp.models import Submission, TaskResult, TaskRun

pytestmark = pytest.mark.django_db(transaction=True)

GRANT = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}
GRANTS = [{"id": "G1", "title": "Orchard", "tags": ["food", "trees"]}]


def use_profile(settings, folder: Path, grant: dict) -> None:
    """Make the default profile one whose schema defines each grant as ``grant``."""
    schema = folder / "schema.json"
    grants_list = {"type": "array", "items": grant}
    schema.write_text(json.dumps({"type": "object", "properties": {"grants": grants_list}}))
    settings.ASSAY_PROFILES = {
        "grants": {"title": "Grants", "schema": str(schema), "root_list_path": "grants"}
    }
    settings.ASSAY_DEFAULT_PROFILE = "grants"


def send(client, name: str, content: bytes) -> Submission:
    response = client.post("/", {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 302, response.content.decode()[:500]
    submission = submission_from(response)
    submission.refresh_from_db()
    return submission


def grants_xlsx() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "grants"
    sheet.append(["id", "title", "tags"])
    sheet.append(["G1", "Orchard", "food;trees"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def last_run(submission: Submission, task: str) -> TaskRun:
    return TaskRun.objects.filter(submission=submission, task=task).first()


def ask_for_spreadsheets(client, submission: Submission) -> TaskRun:
    response = client.post(f"/s/{submission.id}/tasks/json_to_spreadsheet")
    assert response.status_code == 302
    return last_run(submission, "json_to_spreadsheet")


def test_a_spreadsheet_is_converted_with_the_profile_s_schema(client, settings, tmp_path):
    (tmp_path / "grant.json").write_text(json.dumps(GRANT))
    use_profile(settings, tmp_path, {"$ref": "grant.json"})
    submission = send(client, "grants.xlsx", grants_xlsx())
    assert submission.state == Submission.State.DONE
    data = client.get(f"/s/{submission.id}/files/spreadsheet_to_json/data.json")
    # The tags are a list: the schema beside the profile's was read.
    assert json.loads(b"".join(data.streaming_content)) == {"grants": GRANTS}


def test_a_schema_ref_to_a_url_is_not_fetched_and_ends_the_conversion(
    client, settings, tmp_path, http_server: LocalServer
):
    http_server.serve("/grant.json", json.dumps(GRANT).encode())
    use_profile(settings, tmp_path, {"$ref": http_server.url("/grant.json")})
    submission = send(client, "grants.xlsx", grants_xlsx())
    assert http_server.hits == []
    run = last_run(submission, "spreadsheet_to_json")
    assert (run.error_code, run.permanent) == ("schema_invalid", True)
    assert submission.state == Submission.State.FAILED  # not waiting to be retried


def test_a_schema_ref_to_a_missing_file_is_explained_as_the_schema_s_fault(
    client, settings, tmp_path
):
    use_profile(settings, tmp_path, {"$ref": "missing.json"})
    submission = send(client, "grants.xlsx", grants_xlsx())
    run = last_run(submission, "spreadsheet_to_json")
    assert (run.error_code, run.permanent) == ("schema_invalid", True)
    assert submission.state == Submission.State.FAILED
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "missing.json" in page


def test_a_row_of_flattentool_settings_is_refused_on_the_page_saying_what_to_do(
    client, settings, tmp_path
):
    use_profile(settings, tmp_path, GRANT)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "grants"
    for row in (["#", "skipRows 1"], ["Grants 2026"], ["id", "title"], ["G1", "Orchard"]):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    submission = send(client, "grants.xlsx", buffer.getvalue())
    run = last_run(submission, "spreadsheet_to_json")
    assert (run.error_code, run.permanent) == ("settings_row", True)
    assert submission.state == Submission.State.FAILED
    page = client.get(submission.get_absolute_url()).content.decode()
    assert (
        "The sheet “grants” starts with a row of settings for flattentool (“#” in cell A1, "
        "then “skipRows 1”), which Assay does not follow: it reads the first row as the "
        "headings and each row below it as an item."
    ) in page
    assert "<strong>What to do:</strong> Delete the row of settings and the rows it said" in page


def test_json_with_a_byte_order_mark_becomes_spreadsheets(client, settings, tmp_path):
    use_profile(settings, tmp_path, GRANT)
    content = codecs.BOM_UTF8 + json.dumps({"grants": GRANTS}).encode()
    submission = send(client, "grants.json", content)
    assert ask_for_spreadsheets(client, submission).outcome == TaskRun.Outcome.OK
    response = client.get(f"/s/{submission.id}/files/json_to_spreadsheet/data.xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert list(workbook["grants"].iter_rows(values_only=True)) == [
        ("id", "title", "tags"),
        ("G1", "Orchard", "food;trees"),
    ]


def test_json_the_schema_does_not_describe_is_refused_not_retried(client, settings, tmp_path):
    use_profile(settings, tmp_path, GRANT)
    content = json.dumps({"grants": [{"id": "G1", "title": ["a", {"b": 1}]}]}).encode()
    submission = send(client, "grants.json", content)
    run = ask_for_spreadsheets(client, submission)
    assert (run.error_code, run.permanent) == ("flatten_failed", True)
    assert run.error_message.startswith("The data could not be turned into spreadsheets: ")


def page_with_spreadsheets(client, settings, tmp_path, grants: list) -> str:
    """The results page once the spreadsheets of ``grants`` are made."""
    return page_with_spreadsheets_of(client, settings, tmp_path, {"grants": grants})


def page_with_spreadsheets_of(client, settings, tmp_path, data: Any, **options: Any) -> str:
    """The results page once the spreadsheets of the document ``data`` are made."""
    use_profile(settings, tmp_path, GRANT)
    response = client.post(
        "/", {"file": SimpleUploadedFile("grants.json", json.dumps(data).encode()), **options}
    )
    submission = submission_from(response)
    assert "Excel workbook holds" not in client.get(submission.get_absolute_url()).content.decode()
    assert ask_for_spreadsheets(client, submission).outcome == TaskRun.Outcome.OK
    return client.get(submission.get_absolute_url()).content.decode()


def test_the_page_says_which_texts_the_workbook_cuts_short(client, settings, tmp_path):
    long = [{"id": f"G{number}", "title": "x" * 40_000} for number in range(2)]
    assert (
        "2 cells would hold a text longer than the 32,767 characters a cell of an Excel "
        "workbook holds, so the workbook has those texts cut short. The CSV files have them "
        "whole."
    ) in page_with_spreadsheets(client, settings, tmp_path, long)


def test_a_workbook_that_holds_every_text_whole_says_nothing_about_it(client, settings, tmp_path):
    page = page_with_spreadsheets(client, settings, tmp_path, GRANTS)
    assert "cut short" not in page
    assert "take for the start of a formula" not in page
    assert "every digit kept" not in page


def test_the_page_says_how_many_texts_were_kept_from_being_formulas(client, settings, tmp_path):
    grants = [
        {"id": "G1", "title": "- a bullet", "tags": ["=1+2", "+44 20 7946 0000"]},
        {"id": "G2", "title": "@home"},
    ]
    assert (
        "3 cells hold a text that begins with =, +, - or @, which a spreadsheet program would "
        "take for the start of a formula. The workbook keeps those texts as they are, in cells "
        "marked as text; in the CSV files they have a <code>'</code> put before them."
    ) in page_with_spreadsheets(client, settings, tmp_path, grants)


def test_the_page_says_how_many_numbers_the_workbook_has_as_text(client, settings, tmp_path):
    grants = [{"id": "G1", "title": "t", "amount": 12345678901234567890}]
    assert (
        "1 cell would hold a number with more digits than the 15 a cell of an Excel workbook "
        "keeps, or too large for one, so the workbook has that number as text, every digit "
        "kept. The CSV files have it as it is."
    ) in page_with_spreadsheets(client, settings, tmp_path, grants)


def test_the_page_says_how_many_rows_could_not_be_tied_to_their_item(client, settings, tmp_path):
    inner = {"k": "a", "parts": [{"k": "b"}, {"k": "c"}]}  # "parts" of an item with no id
    grants = [{"id": "G1", "title": "t", "stages": [inner]}]
    assert (
        "2 rows of the other sheets hold entries of a list inside an item that has no “id”. "
        "A sheet ties such an entry to its item by the item's id alone, so the files, read "
        "back, would not put them back into their item. To keep them together, give each "
        "item that holds a list an “id”."
    ) in page_with_spreadsheets(client, settings, tmp_path, grants)
    inner["id"] = "S1"
    assert "no “id”" not in page_with_spreadsheets(client, settings, tmp_path, grants)


def test_the_page_says_how_many_items_no_row_holds(client, settings, tmp_path):
    grants = [GRANTS[0], 5, "x", None, [GRANTS[0]], {**GRANTS[0], "id": "G2"}]
    page = page_with_spreadsheets(client, settings, tmp_path, grants)
    assert (
        "4 items of the list are not objects (a number, a text, a list or null), so no row "
        "holds them: the spreadsheets have only the items that are objects."
    ) in page
    assert "no row holds" not in page_with_spreadsheets(client, settings, tmp_path, GRANTS)


def test_the_page_names_the_fields_beside_the_list_that_no_sheet_holds(client, settings, tmp_path):
    data = {"grants": GRANTS, "meta": {"publisher": "x"}, "extra": [{"a": 1}]}
    assert (
        "The fields beside the list, “meta” and “extra”, are not in the spreadsheets: they "
        "hold one row per item of “grants”. Keep the JSON file for these fields: JSON made "
        "from the spreadsheets would not have them."
    ) in page_with_spreadsheets_of(client, settings, tmp_path, data)
    many = {"grants": GRANTS, **{f"f{number}": number for number in range(5)}}
    assert (
        "The fields beside the list, “f0”, “f1”, “f2” and 2 more, are not in the spreadsheets"
    ) in page_with_spreadsheets_of(client, settings, tmp_path, many)
    assert "beside the list" not in page_with_spreadsheets(client, settings, tmp_path, GRANTS)


def test_the_page_says_how_many_field_names_hold_a_slash(client, settings, tmp_path):
    grants = [
        {"id": "G1", "amount/value": 99, "amount": {"value": 10}},
        {"id": "G2", "stages": [{"a/b": 1}, {"a/b": 2}]},
    ]
    assert (
        "2 field names hold a “/” (“amount/value” and “a/b”), which the spreadsheets' "
        "headings put between a field and a field inside it: read back, they become nested "
        "fields, and where the data has that nested field too, the spreadsheets hold only "
        "one of the two values. To keep them as they are, rename them without a “/” before "
        "making the spreadsheets."
    ) in page_with_spreadsheets(client, settings, tmp_path, grants)
    assert "hold a “/”" not in page_with_spreadsheets(client, settings, tmp_path, GRANTS)


def test_the_page_says_which_ids_more_than_one_item_shares(client, settings, tmp_path):
    grants = [{"id": f"G-{number % 4}", "stages": [{"k": number}]} for number in range(8)]
    assert (
        "4 ids are shared by more than one item (“G-0”, “G-1”, “G-2” and 1 more): their rows "
        "in the other sheets cannot be told apart, and read back, the items sharing an id "
        "would become one item. To keep the items apart, give each an “id” of its own."
    ) in page_with_spreadsheets(client, settings, tmp_path, grants)
    assert "shared by more than one" not in page_with_spreadsheets(
        client, settings, tmp_path, GRANTS
    )


def test_ids_found_shared_in_a_sample_are_said_to_be_from_it(client, settings, tmp_path):
    settings.ASSAY_SAMPLE_ITEMS = 2
    grants = [{"id": "G-1"}, {"id": "G-1"}, {"id": "G-2"}, {"id": "G-2"}]
    page = page_with_spreadsheets_of(client, settings, tmp_path, {"grants": grants}, sample="on")
    assert (
        "Among the items checked, 1 id is shared by more than one item (“G-1”): their rows"
    ) in page


@pytest.mark.parametrize(
    ("data", "the_list"),
    [
        ({"grants": [1, "x", None]}, "the list “/grants”"),
        ({"grants": []}, "the list “/grants”"),
        ({"records": GRANTS}, "the list “/grants”"),
        ([[GRANTS[0]], 5], "the list the data is"),
    ],
)
def test_spreadsheets_are_not_offered_for_data_with_no_item_a_row_could_hold(
    client, settings, tmp_path, data, the_list
):
    use_profile(settings, tmp_path, GRANT)
    submission = send(client, "data.json", json.dumps(data).encode())
    reason = (
        f"No spreadsheets can be made from this data: a spreadsheet row holds one item of "
        f"{the_list} that is an object, and this data has no such item."
    )
    page = client.get(submission.get_absolute_url()).content.decode()
    assert reason in page
    assert f'action="/s/{submission.id}/tasks/json_to_spreadsheet"' not in page
    # The API says so too, and refuses to start what could only fail.
    status = client.get(f"/api/submissions/{submission.id}").json()
    [step] = [task for task in status["tasks"] if task["name"] == "json_to_spreadsheet"]
    assert (step["status"], step["reason"]) == ("unavailable", reason)
    refused = client.post(f"/api/submissions/{submission.id}/tasks/json_to_spreadsheet")
    assert (refused.status_code, refused.json()["error"]["message"]) == (409, reason)
    assert not TaskRun.objects.filter(submission=submission, task="json_to_spreadsheet")


def test_a_step_failed_before_and_now_known_to_give_nothing_is_not_offered_again(
    client, settings, tmp_path
):
    use_profile(settings, tmp_path, GRANT)
    submission = send(client, "data.json", json.dumps({"grants": [1, 2]}).encode())
    TaskResult.objects.create(  # an earlier version's passing failure
        submission=submission, task="json_to_spreadsheet", last_outcome=TaskRun.Outcome.FAILED
    )
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "No spreadsheets can be made from this data" in page
    assert "You can try again" not in page
    status = client.get(f"/api/submissions/{submission.id}").json()
    assert {"json_to_spreadsheet": "unavailable"}.items() <= {
        task["name"]: task["status"] for task in status["tasks"]
    }.items()


def test_spreadsheets_are_offered_once_the_profile_names_the_list_the_data_has(
    client, settings, tmp_path
):
    use_profile(settings, tmp_path, GRANT)
    submission = send(client, "data.json", json.dumps({"records": GRANTS}).encode())
    button = f'action="/s/{submission.id}/tasks/json_to_spreadsheet"'
    assert button not in client.get(submission.get_absolute_url()).content.decode()
    settings.ASSAY_PROFILES["grants"]["root_list_path"] = "records"
    # The checks run again for the mended profile (here, in the request), and find it.
    assert button in client.get(submission.get_absolute_url()).content.decode()


def test_spreadsheets_are_offered_for_a_list_deeper_than_the_top_level(client, settings, tmp_path):
    use_profile(settings, tmp_path, GRANT)
    settings.ASSAY_PROFILES["grants"]["root_list_path"] = "data/grants"
    submission = send(client, "data.json", json.dumps({"data": {"grants": GRANTS}}).encode())
    page = client.get(submission.get_absolute_url()).content.decode()
    assert f'action="/s/{submission.id}/tasks/json_to_spreadsheet"' in page
    assert ask_for_spreadsheets(client, submission).outcome == TaskRun.Outcome.OK


def test_spreadsheets_that_cannot_be_made_from_this_data_are_not_offered_again(
    client, settings, tmp_path
):
    # A list below the top level, which only the conversion looks for: offered, refused.
    use_profile(settings, tmp_path, GRANT)
    settings.ASSAY_PROFILES["grants"]["root_list_path"] = "data/grants"
    data = {"data": {"records": GRANTS}}
    submission = send(client, "other.json", json.dumps(data).encode())
    run = ask_for_spreadsheets(client, submission)
    assert (run.error_code, run.permanent) == ("no_root_list", True)
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "This cannot be done for this data: The spreadsheets hold the items" in page
    assert "You can try again" not in page
    assert f'action="/s/{submission.id}/tasks/json_to_spreadsheet"' not in page
    # The API says why, and refuses to run again what can only fail again.
    status = client.get(f"/api/submissions/{submission.id}").json()
    [step] = [task for task in status["tasks"] if task["name"] == "json_to_spreadsheet"]
    assert step["status"] == "unavailable"
    assert step["reason"].startswith("The spreadsheets hold the items")
    refused = client.post(f"/api/submissions/{submission.id}/tasks/json_to_spreadsheet")
    assert (refused.status_code, refused.json()["error"]["message"]) == (409, step["reason"])
    assert TaskRun.objects.filter(submission=submission, task="json_to_spreadsheet").count() == 1
    # The profile mended (its list is "data/records"): worth asking again.
    settings.ASSAY_PROFILES["grants"]["root_list_path"] = "data/records"
    page = client.get(submission.get_absolute_url()).content.decode()
    assert f'action="/s/{submission.id}/tasks/json_to_spreadsheet"' in page
    status = client.get(f"/api/submissions/{submission.id}").json()
    [step] = [task for task in status["tasks"] if task["name"] == "json_to_spreadsheet"]
    assert step["status"] == "failed"
    assert step["reason"].startswith("The spreadsheets hold the items")  # last time's


@pytest.mark.parametrize(
    "content",
    [
        "id,title\nG1,Café\n".encode("cp1252"),
        "id,title\nG1,Café\n".encode("utf-8-sig")[:-7] + "Café\n".encode("cp1252"),
        b"id,title\n"
        + b"".join(b"G%d,Cafe\n" % number for number in range(10_000))
        + "G-1,Café\n".encode("cp1252"),
    ],
)
def test_only_the_conversion_names_the_encoding_of_a_csv(client, settings, tmp_path, content):
    # It reads the whole file; recognising the format reads only its start.
    use_profile(settings, tmp_path, GRANT)
    page = client.get(send(client, "grants.csv", content).get_absolute_url()).content.decode()
    assert "was read as Windows-1252" in page
    assert "encoded as" not in page
