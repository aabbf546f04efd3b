"""Sample mode: later tasks see only the first items of each list, and the page says so."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import post_json
from webapp.models import Submission

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLE = 3


@pytest.fixture(autouse=True)
def small_sample(settings):
    settings.ASSAY_SAMPLE_ITEMS = SAMPLE


def good(number: int) -> dict:
    return {
        "id": f"G-{number:03}",
        "title": "A grant",
        "amount": {"value": 100, "currency": "GBP"},
        "awardDate": "2026-01-01",
    }


def bad(number: int) -> dict:
    # Three errors each (id pattern, currency, date), an extra field, and a repeated id.
    return {
        "id": "bad",
        "title": "A grant",
        "amount": {"value": 100, "currency": "XYZ"},
        "awardDate": "yesterday",
        "notes": f"note {number}",
    }


# Three good grants, then seven bad ones.
DATA = {"grants": [good(1), good(2), good(3)] + [bad(n) for n in range(4, 11)]}


def out(submission: Submission, task: str) -> dict | None:
    result = submission.store.output(task)
    return None if result is None else result.data


def page(client, submission: Submission) -> str:
    return client.get(submission.get_absolute_url()).content.decode()


def section(html: str, name: str) -> str | None:
    found = re.search(rf'<section id="{name}".*?</section>', html, re.S)
    return found.group(0) if found else None


def test_the_home_page_offers_sample_mode_as_a_checkbox(client):
    html = client.get("/").content.decode()
    checkbox = re.search(r'<input type="checkbox" name="sample"[^>]*>', html)
    assert checkbox is not None
    assert "Sample mode: check only the first items" in html


def test_with_sample_mode_the_checks_see_only_the_first_items(client):
    submission = post_json(client, DATA, sample="on")
    assert submission.options["sample"] is True

    assert out(submission, "sample") == {
        "sample_size": 3,
        "lists": [{"path": "/grants", "items": 10, "checked": 3}],
        "sampled": True,
    }
    validate = out(submission, "validate")
    assert (validate["valid"], validate["error_count"]) == (True, 0)
    stats = out(submission, "stats")
    assert stats["items"] == 3
    assert stats["duplicate_ids"]["count"] == 0
    assert dict(stats["distinct"][0]["top"]) == {"GBP": 3}
    assert out(submission, "additional_fields") == {"fields": [], "count": 0}
    summary = out(submission, "summary")
    assert summary["sampled"] is True
    assert summary["sample_size"] == 3
    assert summary["lists"] == [{"path": "/grants", "items": 10}]  # the file, not the sample
    assert summary["counts"]["object"] == 1 + 3 + 3  # the root, three grants, their amounts
    report = out(submission, "report")
    assert report == {"valid": True, "error_count": 0, "stored": 0}


def test_without_sample_mode_every_item_is_checked(client):
    submission = post_json(client, DATA)
    assert submission.options["sample"] is False
    assert out(submission, "sample") is None
    validate = out(submission, "validate")
    assert (validate["valid"], validate["error_count"]) == (False, 21)
    stats = out(submission, "stats")
    assert stats["items"] == 10
    assert stats["duplicate_ids"] == {"count": 1, "examples": [["bad", 7]]}
    assert out(submission, "additional_fields")["fields"][0]["path"] == "/grants/*/notes"
    summary = out(submission, "summary")
    assert (summary["sampled"], summary["sample_size"]) == (False, None)
    assert summary["counts"]["object"] == 1 + 10 + 10


def test_the_results_page_says_plainly_that_only_a_sample_was_checked(client):
    html = page(client, post_json(client, DATA, sample="on"))
    notice = section(html, "sample")
    assert notice is not None
    assert "Sample mode is on." in notice
    assert (
        "Only the first 3 items of each list were checked, so the results below do not "
        "cover the whole file: a rule about a whole list" in notice
    )
    assert "Submit it again without sample mode to check everything." in notice
    assert re.search(
        r'<td><code>/grants</code></td><td class="num">10</td><td class="num">3</td>', notice
    )
    summary = section(html, "summary")
    assert "these figures cover only the first 3 items of each list" in summary
    assert "Values by type (in the sample)" in summary
    # The sample section comes before the checks' results, which it qualifies.
    assert html.index('id="sample"') < html.index('id="validate"')
    assert "✓ Valid." in section(html, "validate")
    verdict = re.search(r'<p class="verdict.*?</p>', html, re.S).group(0)
    assert "✓ Valid in the sample:</strong> the first 3 items of each list match" in verdict
    assert "The rest of the file was not checked" in verdict


def test_errors_found_in_a_sample_are_said_to_be_the_sample_s(client, settings):
    settings.ASSAY_SAMPLE_ITEMS = 4
    html = page(client, post_json(client, DATA, sample="on"))
    verdict = re.search(r'<p class="verdict.*?</p>', html, re.S).group(0)
    assert "3 errors against the schema of “Demo: grants data”, in the first 4 items" in verdict


def test_without_sample_mode_the_page_does_not_mention_it(client):
    html = page(client, post_json(client, DATA))
    assert section(html, "sample") is None
    assert "Sample mode" not in html
    assert "only the first" not in html
    assert "✗ Not valid." in section(html, "validate")


def test_sample_mode_on_a_short_file_checks_everything_and_says_so(client):
    data = {"grants": [good(1), bad(2)]}
    submission = post_json(client, data, sample="on")
    assert out(submission, "sample")["sampled"] is False
    assert out(submission, "summary")["sampled"] is False
    validate = out(submission, "validate")
    assert (validate["valid"], validate["error_count"]) == (False, 3)
    notice = section(page(client, submission), "sample")
    assert (
        "Every top-level list is shorter than the sample size (3 items), so everything was checked."
    ) in notice
    assert "do not cover the whole file" not in notice


def test_the_errors_page_of_a_valid_sample_says_it_is_the_sample_that_matches(client, settings):
    settings.ASSAY_SAMPLE_ITEMS = 1
    submission = post_json(client, {"grants": [good(1), bad(2)]}, sample="on")
    page = client.get(f"/s/{submission.id}/errors").content.decode()
    assert "There are no errors: the sample of the data matches the schema." in page


def test_sample_mode_on_data_with_no_list_says_so_without_an_empty_table(client):
    notice = section(page(client, post_json(client, {"grants": "none"}, sample="on")), "sample")
    assert "The data has no top-level list to take a sample of, so everything was checked." in (
        notice
    )
    assert "<table" not in notice


def test_every_top_level_list_is_cut_to_the_sample_and_other_fields_are_kept(client, settings):
    settings.ASSAY_SAMPLE_ITEMS = 2
    data = {
        "grants": [good(1), good(2), bad(3), bad(4)],
        "organisations": [{"n": 1}, {"n": 2}, {"n": 3}],
        "notes": ["one"],
        "publisher": {"name": "Fund"},
    }
    submission = post_json(client, data, sample="on")
    assert out(submission, "sample")["lists"] == [
        {"path": "/grants", "items": 4, "checked": 2},
        {"path": "/organisations", "items": 3, "checked": 2},
        {"path": "/notes", "items": 1, "checked": 1},
    ]
    assert out(submission, "stats")["lists"] == [
        {"path": "/grants", "items": 2},
        {"path": "/organisations", "items": 2},
        {"path": "/notes", "items": 1},
    ]
    assert (out(submission, "stats")["items"], out(submission, "stats")["items_in_file"]) == (2, 4)
    statistics = section(page(client, submission), "stats")
    assert "2 items in <code>/grants</code> were checked: a sample of the 4 in the file." in (
        statistics
    )
    extra = {
        field["path"]: field["count"] for field in out(submission, "additional_fields")["fields"]
    }
    assert extra == {"/organisations": 1, "/notes": 1, "/publisher": 1}
    assert out(submission, "validate")["valid"] is True


def test_a_root_array_is_sampled_too(client):
    data = [{"n": i} for i in range(10)]
    submission = post_json(client, data, sample="on", profile="generic")
    assert out(submission, "sample")["lists"] == [{"path": "/", "items": 10, "checked": 3}]
    summary = out(submission, "summary")
    assert summary["lists"] == [{"path": "/", "items": 10}]
    assert summary["counts"] == {"array": 1, "number": 3, "object": 3}


def use_schema(settings, folder, list_schema: dict) -> None:
    schema = folder / "schema.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"grants": list_schema}}))
    settings.ASSAY_PROFILES = {
        "grants": {"title": "Grants", "schema": str(schema), "root_list_path": "grants"}
    }
    settings.ASSAY_DEFAULT_PROFILE = "grants"


@pytest.mark.parametrize("items", [10, 4])
def test_a_list_s_least_length_is_judged_on_the_whole_list_not_the_sample(
    client, settings, tmp_path, items
):
    use_schema(settings, tmp_path, {"type": "array", "minItems": 5})
    submission = post_json(client, {"grants": [good(n) for n in range(items)]}, sample="on")
    groups = out(submission, "validate")["groups"]
    assert [group["validator"] for group in groups] == ([] if items >= 5 else ["minItems"])


def test_another_list_cut_by_the_sample_is_not_judged_by_its_length(client, settings, tmp_path):
    schema = tmp_path / "schema.json"
    lists = {"grants": {"type": "array"}, "publishers": {"type": "array", "minItems": 5}}
    schema.write_text(json.dumps({"type": "object", "properties": lists}))
    profile = {"title": "Grants", "schema": str(schema), "root_list_path": "grants"}
    settings.ASSAY_PROFILES, settings.ASSAY_DEFAULT_PROFILE = {"grants": profile}, "grants"
    data = {"grants": [good(n) for n in range(10)], "publishers": list(range(10))}
    assert out(post_json(client, data, sample="on"), "validate")["valid"] is True
    short = {**data, "publishers": [1, 2]}  # not cut by the sample: judged, and too short
    assert out(post_json(client, short, sample="on"), "validate")["valid"] is False


def test_a_rule_about_a_whole_list_is_not_judged_on_a_sample_of_it(client, settings, tmp_path):
    # "contains" makes the list be read whole: the last grant, past the sample, has it.
    use_schema(settings, tmp_path, {"type": "array", "contains": {"required": ["notes"]}})
    grants = [good(n) for n in range(9)] + [{**good(9), "notes": "here"}]
    submission = post_json(client, {"grants": grants}, sample="on")
    assert out(submission, "validate")["valid"] is True
    assert out(post_json(client, {"grants": grants[:9]}), "validate")["valid"] is False


@pytest.mark.parametrize(
    "list_schema",
    [
        {"not": {"maxItems": 5}},  # the list has 10 items; the sample's 3 break it
        {"anyOf": [{"minItems": 6}, {"maxItems": 0}]},
        {"if": {"maxItems": 3}, "then": {"maxItems": 0}},
    ],
)
def test_no_rule_about_a_cut_list_s_length_is_judged_on_the_sample(
    client, settings, tmp_path, list_schema
):
    use_schema(settings, tmp_path, {"type": "array", **list_schema})
    grants = [good(n) for n in range(10)]
    assert out(post_json(client, {"grants": grants}), "validate")["valid"] is True
    assert out(post_json(client, {"grants": grants}, sample="on"), "validate")["valid"] is True


@pytest.mark.parametrize(
    ("list_schema", "validator"),
    [({"maxItems": 2}, "maxItems"), ({"uniqueItems": True}, "uniqueItems")],
)
def test_what_the_sample_breaks_the_whole_list_breaks_too_and_is_said(
    client, settings, tmp_path, list_schema, validator
):
    use_schema(settings, tmp_path, {"type": "array", **list_schema})
    grants = [good(0), good(0)] + [good(n) for n in range(1, 10)]
    groups = out(post_json(client, {"grants": grants}, sample="on"), "validate")["groups"]
    assert [group["validator"] for group in groups] == [validator]


@pytest.mark.parametrize(
    "schema",
    [
        {  # the condition's branch through a $ref: the error names the $ref's target
            "$defs": {"none": {"maxItems": 0}},
            "properties": {"grants": {"if": {"maxItems": 3}, "then": {"$ref": "#/$defs/none"}}},
        },
        {"anyOf": [{"properties": {"grants": {"minItems": 5}}}, {"required": ["x"]}]},
        {"not": {"properties": {"grants": {"maxItems": 5}}}},
    ],
)
def test_no_condition_over_a_cut_list_is_judged_on_the_sample(client, settings, tmp_path, schema):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    profile = {"title": "Grants", "schema": str(path), "root_list_path": "grants"}
    settings.ASSAY_PROFILES, settings.ASSAY_DEFAULT_PROFILE = {"grants": profile}, "grants"
    grants = [good(n) for n in range(10)]
    assert out(post_json(client, {"grants": grants}), "validate")["valid"] is True
    assert out(post_json(client, {"grants": grants}, sample="on"), "validate")["valid"] is True


def test_a_submission_checked_again_without_sample_mode_has_no_sample_in_its_report(client):
    submission = post_json(client, DATA, sample="on")
    Submission.objects.filter(id=submission.id).update(options={"sample": False})
    page(client, submission)  # which has the whole data checked
    response = client.get(f"/api/submissions/{submission.id}/report")
    report = json.loads(b"".join(response.streaming_content))
    assert (report["sample"], report["stats"]["items"], report["error_count"]) == (None, 10, 21)
