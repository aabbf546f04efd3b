"""Bad input, end to end: a clear message on the page, never a server error, nothing lost."""

from __future__ import annotations

import io
import json
import re
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import submission_from
from webapp.models import Submission

pytestmark = pytest.mark.django_db(transaction=True)

HEADINGS = ["id", "title", "amount/value", "amount/currency", "awardDate"]


def xlsx(sheets: dict[str, list[list]], merge: str = "") -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
        if merge:
            sheet.merge_cells(merge)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(20):
                member.write(bytes(1024 * 1024))  # 20 MB of zeros in about 20 KB
    return buffer.getvalue()


def send(client, name: str, content: bytes) -> tuple[Submission, str]:
    response = client.post("/", {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 302, response.content.decode()[:500]
    submission = submission_from(response)
    page = client.get(submission.get_absolute_url())
    assert page.status_code == 200
    original = client.get(f"/s/{submission.id}/original")
    assert b"".join(original.streaming_content) == content  # nothing lost
    return submission, page.content.decode()


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("deep.json", b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
        ("huge.json", b'{"n": 1e999}', "too large"),
        (
            "nan.json",
            b'{"grants": [{"id": "G-001", "n": NaN}]}',
            "NaN at line 1, column 34, which is not a JSON value",
        ),
        ("bomb.xlsx", zip_bomb(), "compressed unusually tightly"),
        ("other.xlsx", xlsx({"Sheet9": [HEADINGS]}), "Sheet9"),
        ("blank.xlsx", xlsx({"grants": []}), "heading"),
    ],
)
def test_unreadable_data_ends_on_the_error_page_saying_why(client, name, content, words):
    submission, page = send(client, name, content)
    submission.refresh_from_db()
    assert submission.state == Submission.State.FAILED
    assert words in page
    assert "What to do" in page


def test_the_error_page_puts_the_cause_first_and_names_what_it_stopped_by_title(client):
    _submission, page = send(client, "cut.json", b'{"grants": [1, 2,')
    problems = re.findall(r'<div class="problem" role="alert">.*?</div>', page, re.S)
    assert len(problems) == 1
    assert "The step “Read the JSON” failed" in problems[0]
    assert "not well-formed at line 1, column 18" in problems[0]
    assert "So these steps did not run, as they need what failed: “Check against the schema”" in (
        page
    )
    assert "parse_json" not in page  # the steps' own names are for operators


@pytest.mark.parametrize("name", ["empty.json", "empty.xlsx"])
def test_an_empty_file_is_refused_by_the_form_with_the_reason(client, name):
    response = client.post("/", {"file": SimpleUploadedFile(name, b"")})
    assert response.status_code == 200
    assert "The file is empty. Choose a file with data in it." in response.content.decode()
    assert not Submission.objects.exists()


def test_data_readable_but_too_deep_for_the_validator_says_so(client):
    # orjson reads 1,000 levels; the validator stops at a few hundred.
    deep = "[" * 400 + "]" * 400
    content = f'{{"grants": [{{"id": "G-001", "notes": {deep}}}]}}'.encode()
    submission, page = send(client, "deep.json", content)
    assert "nested too deeply to check against the schema" in page
    assert "What to do" in page
    summary = submission.store.output("summary")
    assert summary is not None and summary.data["counts"]["array"] == 401  # all was read


def test_a_json_scalar_is_reported_against_the_schema(client):
    submission, page = send(client, "number.json", b"42")
    assert submission.state == Submission.State.DONE
    assert "should be an object, not a whole number" in page


def test_formulas_and_merged_cells_are_read_without_surprises(client):
    rows = [HEADINGS, ["G-001", '=UPPER("x")', 10, "GBP", "2024-01-01"]]
    rows += [["G-002", "Merged", 20, "GBP", "2024-01-02"], ["G-003", "", 30, "GBP", "2024-01-03"]]
    submission, _ = send(client, "odd.xlsx", xlsx({"grants": rows}, merge="B3:B4"))
    submission.refresh_from_db()
    assert submission.state == Submission.State.DONE
    report = client.get(f"/s/{submission.id}/files/report/report.json")
    document = json.loads(b"".join(report.streaming_content))
    missing_titles = {
        error["source"]["row"]
        for error in document["errors"]
        if error["message"] == "“title” is missing"
    }
    # A formula saved without its result has no value, and a merged cell's value belongs
    # to its first cell only: both rows are told their title is missing, at their row.
    assert missing_titles == {2, 4}


def test_conversion_warnings_are_a_table_that_says_where(client):
    rows = [HEADINGS, ["G-001", "Orchard", "lots", "GBP", "2024-01-01"]]
    _, page = send(client, "warned.xlsx", xlsx({"grants": rows}))
    assert "The conversion raised 1 warning" in page
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page.split("Conversion warnings", 1)[1])
    assert cells[:4] == ["grants", "2", "C", "amount/value"]
    assert "lots" in cells[4]


def test_an_invalid_profile_schema_is_explained_as_the_schema_s_fault(client, settings, tmp_path):
    schema = tmp_path / "broken.json"
    schema.write_text('{"type": "banana"}')
    settings.ASSAY_PROFILES = {"broken": {"title": "Broken", "schema": str(schema)}}
    settings.ASSAY_DEFAULT_PROFILE = "broken"
    _, page = send(client, "data.json", b'{"a": 1}')
    assert "not a valid JSON Schema" in page
    assert "This is a problem with the schema, not with your data." in page
