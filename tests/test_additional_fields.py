"""Fields in the data that the schema does not describe: what is listed, and how it shows."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

from tasks.additional_fields import additional
from tasks.fields import SchemaFields, schema_fields, walk_fields
from tests.conftest import post_file, post_json
from webapp.models import Submission

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = Path(__file__).parent.parent / "examples" / "demo"


def section(client, submission: Submission, name: str) -> str | None:
    page = client.get(submission.get_absolute_url()).content.decode()
    found = re.search(rf'<section id="{name}".*?</section>', page, re.S)
    return found.group(0) if found else None


def output(submission: Submission) -> dict:
    result = submission.store.output("additional_fields")
    assert result is not None
    return result.data


def grant(number: int, **extra) -> dict:
    return {
        "id": f"G-{number:03}",
        "title": "A grant",
        "amount": {"value": 100, "currency": "GBP"},
        "awardDate": "2026-01-01",
        **extra,
    }


# The listing, on its own ------------------------------------------------------------------


def test_only_the_top_of_an_undescribed_branch_is_listed():
    described = schema_fields({"properties": {"a": {"properties": {"b": {}}}}}, {})
    counts = walk_fields({"a": {"b": 1, "x": {"y": {"z": 1}}}, "top": {"deep": [1]}}).counts
    assert additional(counts, described) == [
        {"path": "/a/x", "count": 1},
        {"path": "/top", "count": 1},
    ]


def test_the_most_frequent_come_first_then_by_path():
    described = SchemaFields(known={"/g", "/g/*"})
    data = {"g": [{"b": 1, "a": 1, "c": 1}, {"c": 2, "b": 2}, {"c": 3}]}
    assert additional(walk_fields(data).counts, described) == [
        {"path": "/g/*/c", "count": 3},
        {"path": "/g/*/b", "count": 2},
        {"path": "/g/*/a", "count": 1},
    ]


def test_fields_under_arrays_of_arrays_are_listed_under_their_nearest_field():
    # "/m" is described, its items are not: "b" is the top of what the schema leaves out.
    described = schema_fields({"properties": {"m": {"type": "array"}}}, {})
    counts = walk_fields({"m": [[{"b": 1}, {"b": 2}]]}).counts
    assert additional(counts, described) == [{"path": "/m/*/*/b", "count": 2}]
    # And so at the root, when the whole document is an array of arrays.
    assert additional(walk_fields([[{"a": 1}]]).counts, schema_fields({}, {})) == [
        {"path": "/*/*/a", "count": 1}
    ]


def test_nothing_is_listed_under_open_patterns_or_when_all_is_described():
    schema = {
        "properties": {
            "g": {"items": {"properties": {"id": {}}}},
            "meta": {"additionalProperties": {}},
        }
    }
    data = {"g": [{"id": 1}], "meta": {"anything": {"goes": 1}}}
    assert additional(walk_fields(data).counts, schema_fields(schema, {})) == []


# The task, through the pipeline ----------------------------------------------------------


def test_the_invalid_demo_file_has_two_extra_fields_with_counts_and_examples(client):
    submission = post_file(client, EXAMPLES / "grants-invalid.json")
    assert output(submission) == {
        "count": 2,
        "fields": [
            {
                "path": "/grants/*/notes",
                "count": 2,
                "examples": [
                    {"path": "/grants/1/notes", "value": "Paid in two parts."},
                    {"path": "/grants/3/notes", "value": "Renewed from last year."},
                ],
            },
            {
                "path": "/grants/*/amount/vat",
                "count": 1,
                "examples": [{"path": "/grants/0/amount/vat", "value": 0}],
            },
        ],
    }


def test_a_spreadsheet_s_extra_fields_are_shown_in_their_cells(client):
    submission = post_file(client, EXAMPLES / "grants-invalid.xlsx")
    [notes, vat] = output(submission)["fields"]
    assert [example["source"] for example in notes["examples"]] == [
        {"sheet": "grants", "row": 3, "column": "U", "header": "notes"},
        {"sheet": "grants", "row": 5, "column": "U", "header": "notes"},
    ]
    assert vat["examples"][0]["source"]["column"] == "T"
    html = section(client, submission, "additional_fields")
    words = " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())
    assert 'sheet grants, row 3, column U (notes) · /grants/1/notes: "Paid in two parts."' in words


def test_the_results_page_lists_the_extra_fields(client):
    submission = post_file(client, EXAMPLES / "grants-invalid.json")
    html = section(client, submission, "additional_fields")
    assert html is not None
    assert "Fields not in the schema</h2>" in html
    assert (
        "2 fields in the data are not described by the schema. They may be typing mistakes, "
        "or extensions the schema does not know about."
    ) in html
    rows = re.findall(r"<tr><td><code>(.*?)</code></td><td class=\"num\">(\d+)</td>", html)
    assert rows == [("/grants/*/notes", "2"), ("/grants/*/amount/vat", "1")]
    assert '<code>/grants/1/notes</code>: <code class="value">&quot;Paid in two parts.&quot;' in (
        html
    )
    assert '<code>/grants/0/amount/vat</code>: <code class="value">0</code>' in html
    # Fields described in organisation.schema.json (through a $ref) are not listed.
    assert "recipientOrganization" not in html
    assert "fundingOrganization/website" not in html


def test_a_file_the_schema_fully_describes_says_so(client):
    submission = post_file(client, EXAMPLES / "grants-valid.json")
    assert output(submission) == {"count": 0, "fields": []}
    html = section(client, submission, "additional_fields")
    assert "Every field in the data is described by the schema." in html
    assert "<table>" not in html


def test_one_extra_field_reads_in_the_singular(client):
    submission = post_json(client, {"grants": [grant(1, colour="red"), grant(2)]})
    html = section(client, submission, "additional_fields")
    assert (
        "1 field in the data is not described by the schema. It may be a typing mistake, or "
        "an extension the schema does not know about."
    ) in html
    assert "<code>/grants/*/colour</code>" in html


def test_an_undescribed_object_is_listed_once_not_field_by_field(client):
    extra = {"source": {"system": "X", "batch": {"number": 4, "rows": [1, 2]}}}
    submission = post_json(client, {"grants": [grant(1, **extra), grant(2, **extra)]})
    fields = output(submission)["fields"]
    assert [(field["path"], field["count"]) for field in fields] == [("/grants/*/source", 2)]
    assert fields[0]["examples"][0] == {"path": "/grants/0/source", "value": extra["source"]}


def test_extra_top_level_fields_and_values_are_shown_truncated(client):
    long_note = "word " * 60
    data = {"grants": [grant(1, notes=long_note)], "publisher": "Fund"}
    fields = {field["path"]: field for field in output(post_json(client, data))["fields"]}
    assert set(fields) == {"/publisher", "/grants/*/notes"}
    [example] = fields["/grants/*/notes"]["examples"]
    assert example["path"] == "/grants/0/notes"
    assert example["value"].endswith("…")
    assert len(example["value"]) == 80
    assert long_note.startswith(example["value"][:-1])


def test_at_most_three_examples_are_kept_for_a_field(client):
    data = {"grants": [grant(i, extra=i) for i in range(1, 7)]}
    [field] = output(post_json(client, data))["fields"]
    assert field["count"] == 6
    assert [example["path"] for example in field["examples"]] == [
        "/grants/0/extra",
        "/grants/1/extra",
        "/grants/2/extra",
    ]


def test_with_very_many_extra_fields_the_first_met_have_examples_and_all_are_counted(
    client, monkeypatch
):
    monkeypatch.setattr("tasks.scan.MAX_EXAMPLED", 2)
    monkeypatch.setattr("tasks.additional_fields.MAX_LISTED", 3)
    item = grant(1, extra=1)
    item.update({"x1": 1, "x2": 2, "x3": 3})  # met after "extra"
    found = output(post_json(client, {"grants": [item, grant(2, x3=0)]}))
    assert found["count"] == 4  # all of them
    examples = {field["path"]: len(field["examples"]) for field in found["fields"]}
    # The three most common listed; examples for the first two met only.
    assert examples == {"/grants/*/x3": 0, "/grants/*/extra": 1, "/grants/*/x1": 1}


def test_a_profile_without_a_schema_has_no_such_section(client):
    submission = post_json(client, {"grants": [grant(1, colour="red")]}, profile="generic")
    assert submission.store.output("additional_fields") is None
    assert section(client, submission, "additional_fields") is None
    assert section(client, submission, "summary") is not None


def test_a_draft_4_profile_knows_the_fields_behind_its_refs(client, settings, tmp_path):
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {"records": {"type": "array", "items": {"$ref": "#/definitions/record"}}},
        "definitions": {
            "record": {"type": "object", "properties": {"id": {}, "name": {"type": "string"}}}
        },
    }
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    settings.ASSAY_PROFILES = {
        **settings.ASSAY_PROFILES,
        "old": {"title": "Draft 4", "schema": str(tmp_path / "schema.json")},
    }
    data = {"records": [{"id": 1, "name": "a", "typo": 1}, {"id": 2, "name": "b"}]}
    submission = post_json(client, data, profile="old")
    assert submission.store.output("validate").data["valid"] is True
    assert output(submission)["fields"] == [
        {
            "path": "/records/*/typo",
            "count": 1,
            "examples": [{"path": "/records/0/typo", "value": 1}],
        }
    ]
