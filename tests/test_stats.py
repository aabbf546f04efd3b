"""Statistics: item counts, field coverage, duplicate ids and distinct values."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks.fields import pattern_parts, values_at, walk_fields
from tasks.scan import Plan, Scan, scan_file
from tasks.stats import TOP_VALUES, coverage, distinct, duplicates
from tests.conftest import post_json, submission_from, upload
from webapp.models import Submission

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = Path(__file__).parent.parent / "examples" / "demo"


@pytest.fixture(params=[True, False], ids=["streamed", "read-whole"])
def scanned(request, tmp_path):
    """Count as a run does, item by item from the file or over the whole document."""

    def scan(data: dict, key: str, **plan) -> Scan:
        path = tmp_path / "data.json"
        path.write_text(json.dumps(data))
        return scan_file(path, Plan(key=key, stream=request.param, **plan))

    return scan


def test_lists_are_named_by_json_pointer_as_the_items_are(scanned):
    # "~" and "/" in a key are written "~0" and "~1", in the lists as in the items' pattern,
    # so that the statistics find the root list's length in the file.
    scan = scanned({"a/b~c": [{"k": 1}, {"k": 2}, 3], "other": []}, "a/b~c")
    assert scan.lists == [("/a~1b~0c", 3), ("/other", 0)]
    assert scan.items_pattern == "/a~1b~0c/*"


def ids_in(scanned, items: list, id_name: str = "id") -> dict:
    return duplicates(scanned({"items": items}, "items", id_name=id_name).ids)


def distinct_in(scanned, data: dict, pattern: str) -> dict:
    key = pattern_parts(pattern)[0]
    return distinct(pattern, scanned(data, key, distinct=(pattern,)).distinct[pattern])


def stats_of(submission: Submission) -> dict:
    submission.refresh_from_db()
    assert submission.state == Submission.State.DONE
    result = submission.store.output("stats")
    assert result is not None
    return result.data


def stats_section(client, submission: Submission) -> str:
    page = client.get(submission.get_absolute_url()).content.decode()
    return re.search(r'<section id="stats".*?</section>', page, re.S).group(0)


# coverage ---------------------------------------------------------------------------------


def test_coverage_gives_a_share_of_items_for_fields_found_once_per_item():
    data = {
        "grants": [
            {"id": 1, "amount": {"value": 1}, "tags": [{"t": "a"}, {"t": "b"}]},
            {"id": 2, "amount": {"value": 2, "currency": "GBP"}},
            {"id": 3},
        ],
        "other": [{"id": 9}],
    }
    rows = coverage(walk_fields(data).counts, "/grants/*", 3)
    assert rows == [
        {"path": "/amount", "count": 2, "percent": 66.7},
        {"path": "/amount/currency", "count": 1, "percent": 33.3},
        {"path": "/amount/value", "count": 2, "percent": 66.7},
        {"path": "/id", "count": 3, "percent": 100.0},
        {"path": "/tags", "count": 1, "percent": 33.3},
        # Inside an array a field can occur many times per item: no share is given.
        {"path": "/tags/*/t", "count": 2, "percent": None},
    ]


def test_coverage_of_no_items_has_no_shares_and_ignores_other_lists():
    counts = walk_fields({"grants": [], "grantsx": [{"a": 1}], "meta": {"a": 1}}).counts
    assert coverage(counts, "/grants/*", 0) == []
    assert coverage({"/grants/*/a": 2}, "/grants/*", 0) == [
        {"path": "/a", "count": 2, "percent": None}
    ]


# duplicates -------------------------------------------------------------------------------


def test_duplicate_ids_are_counted_most_repeated_first(scanned):
    items = [{"id": i} for i in ["a", "b", "a", "c", "b", "a", "d"]]
    assert ids_in(scanned, items, "id") == {"count": 2, "examples": [("a", 3), ("b", 2)]}


def test_missing_and_null_ids_and_non_objects_are_not_duplicates(scanned):
    items = [{"id": None}, {"id": None}, {}, {}, "x", "x", [1], {"ref": "a"}, {"ref": "a"}]
    assert ids_in(scanned, items, "id") == {"count": 0, "examples": []}
    assert ids_in(scanned, items, "ref") == {"count": 1, "examples": [("a", 2)]}


def test_ids_of_different_types_are_different_ids(scanned):
    # "1" (text) and 1 (a number) are different values in JSON; so are true and 1.
    assert ids_in(scanned, [{"id": "1"}, {"id": 1}])["count"] == 0
    assert ids_in(scanned, [{"id": True}, {"id": 1}])["count"] == 0
    # Given as the data has them: 7, not "7".
    assert ids_in(scanned, [{"id": 7}, {"id": 7}]) == {"count": 1, "examples": [(7, 2)]}


def test_ids_that_are_lists_or_objects_are_compared_too(scanned):
    items = [{"id": ["a", 1]}, {"id": ["a", 1]}, {"id": {"scheme": "x"}}, {"id": ["b"]}]
    result = ids_in(scanned, items, "id")
    assert result["count"] == 1
    [(shown, count)] = result["examples"]
    assert (shown, count) == ('["a", 1]', 2)  # as JSON, not as Python writes it


def test_values_that_are_objects_are_counted_and_shown_as_json(scanned):
    data = {"grants": [{"tag": {"b": 1, "a": "é"}}, {"tag": {"a": "é", "b": 1}}, {"tag": 3}]}
    counted = distinct_in(scanned, data, "/grants/*/tag")
    assert counted["top"] == [('{"a": "é", "b": 1}', 2), (3, 1)]


def test_at_most_ten_duplicate_ids_are_given_as_examples(scanned):
    items = [{"id": f"G-{i}"} for i in range(25) for _ in range(2)]
    result = ids_in(scanned, items, "id")
    assert result["count"] == 25
    assert len(result["examples"]) == TOP_VALUES == 10


# distinct values --------------------------------------------------------------------------


def test_distinct_values_are_counted_with_the_most_common_first(scanned):
    data = {"g": [{"c": "GBP"}, {"c": "EUR"}, {"c": "GBP"}, {}, {"c": None}, {"c": "GBP"}]}
    assert distinct_in(scanned, data, "/g/*/c") == {
        "path": "/g/*/c",
        "distinct": 3,
        "top": [("GBP", 3), ("EUR", 1), (None, 1)],
    }


def test_distinct_keeps_the_full_count_but_only_the_top_ten_values(scanned):
    data = {"g": [{"c": i % 15} for i in range(30)]}
    result = distinct_in(scanned, data, "/g/*/c")
    assert result["distinct"] == 15
    assert len(result["top"]) == 10
    assert all(count == 2 for _, count in result["top"])


def test_distinct_tells_true_from_one_and_counts_lists_and_objects(scanned):
    data = {"g": [{"c": True}, {"c": 1}, {"c": 1}, {"c": [1]}, {"c": [1]}, {"c": {"k": 1}}]}
    result = distinct_in(scanned, data, "/g/*/c")
    assert result["distinct"] == 4
    assert [count for _, count in result["top"]] == [2, 2, 1, 1]
    number, listed, true, _ = (value for value, _ in result["top"])
    assert (type(number), number) == (int, 1)
    assert true is True
    assert "1" in listed  # a list is counted by its text, as it is not hashable


def test_values_at_follows_arrays_and_escaped_keys():
    data = {"a/b": [{"c": [{"d~e": 1}, {"d~e": 2}]}, {"c": []}, {"c": "x"}, "y"]}
    assert values_at(data, pattern_parts("/a~1b/*/c/*/d~0e")) == [1, 2]
    assert values_at(data, pattern_parts("/a~1b/*/nothing")) == []
    assert values_at({"a": {"b": 1}}, pattern_parts("/a/*")) == []


# The task, through the pipeline ----------------------------------------------------------


def test_the_invalid_demo_file_has_its_items_counted_and_fields_covered(client):
    with (EXAMPLES / "grants-invalid.json").open("rb") as handle:
        response = client.post("/", {"file": handle})
    stats = stats_of(submission_from(response))
    assert stats["items"] == 8
    assert stats["root_list_path"] == "grants"
    assert stats["lists"] == [{"path": "/grants", "items": 8}]
    rows = {row["path"]: (row["count"], row["percent"]) for row in stats["coverage"]}
    assert rows["/id"] == (8, 100.0)
    assert rows["/amount/currency"] == (6, 75.0)
    assert rows["/notes"] == (2, 25.0)
    assert rows["/amount/vat"] == (1, 12.5)
    assert rows["/recipientOrganization/name"] == (7, 87.5)
    assert rows["/classifications/*/code"] == (9, None)
    assert stats["fields"] == len(rows)
    assert stats["duplicate_ids"] == {"count": 0, "examples": []}
    [currency] = stats["distinct"]
    assert currency["path"] == "/grants/*/amount/currency"
    assert currency["distinct"] == 4
    assert dict(currency["top"]) == {"GBP": 3, "XYZ": 1, "USD": 1, "EUR": 1}
    assert currency["top"][0] == ["GBP", 3]


def test_the_results_page_shows_counts_coverage_and_currencies(client):
    submission = upload(client, "grants.json")
    html = stats_section(client, submission)
    assert "3 items in <code>/grants</code>" in html
    assert "more than once" not in html
    assert '<tr><td><code>/amount/currency</code></td><td class="num">3</td>' in html
    assert '<tr><td><code>/active</code></td><td class="num">1</td><td class="num">33.3%' in html
    assert "Values of <code>/grants/*/amount/currency</code> (2 different)" in html
    assert '<tr><td><code>&quot;GBP&quot;</code></td><td class="num">2</td></tr>' in html


def test_a_long_list_of_values_says_it_shows_the_most_common(client):
    currencies = [f"C{n:02}" for n in range(TOP_VALUES + 2)]
    grants = [{"id": f"G-{n:03}", "amount": {"currency": c}} for n, c in enumerate(currencies)]
    html = stats_section(client, post_json(client, {"grants": grants}))
    caption = f"(12 different; the {TOP_VALUES} most common)"
    assert f"Values of <code>/grants/*/amount/currency</code> {caption}" in html


def test_the_results_page_points_out_repeated_ids(client):
    ids = ["G-001", "G-002", "G-001", "G-003", "G-001", "G-002", "G-004"]
    data = {"grants": [{"id": i, "amount": {"value": 1, "currency": "GBP"}} for i in ids]}
    submission = post_json(client, data)
    assert stats_of(submission)["duplicate_ids"] == {
        "count": 2,
        "examples": [["G-001", 3], ["G-002", 2]],
    }
    html = stats_section(client, submission)
    assert "7 items in <code>/grants</code>" in html
    assert "<strong>2 identifiers appear more than once</strong>" in html
    # \u00d7 is the multiplication sign the page writes after each count.
    assert (
        "<code>&quot;G-001&quot;</code> (3\u00d7), <code>&quot;G-002&quot;</code> (2\u00d7)" in html
    )


FIELD_NAMED_TWICE = [
    {"path": "/grants/0", "field": "amount", "times": 2},
    {"path": "/grants/1/amount", "field": "currency", "times": 2},
]


def test_the_results_page_warns_of_fields_named_twice_in_one_object(client):
    submission = upload(client, "field-named-twice.json")
    assert stats_of(submission)["repeated_fields"] == {"count": 2, "examples": FIELD_NAMED_TWICE}
    html = stats_section(client, submission)
    assert "<strong>2 fields named more than once in the same object</strong>" in html
    assert "only the last value of each was read and checked" in html
    cells = re.findall(
        r"<tr role=\"row\"><td[^>]*><code>(.*?)</code></td><td[^>]*><code>(.*?)</code>", html
    )
    assert cells == [
        ("/grants/0", "&quot;amount&quot;"),
        ("/grants/1/amount", "&quot;currency&quot;"),
    ]


def test_many_fields_named_twice_are_counted_past_those_listed(client):
    items = ",".join('{"id": "G-001", "id": "G-002"}' for _ in range(12))
    upload = SimpleUploadedFile("data.json", f'{{"grants": [{items}]}}'.encode())
    submission = submission_from(client.post("/", {"file": upload}))
    assert stats_of(submission)["repeated_fields"]["count"] == 12
    html = stats_section(client, submission)
    assert "<strong>12 fields named more than once in the same object</strong>" in html
    assert "Fields named more than once (the first 10 of 12)" in html
    assert html.count('data-label="Field"><code>&quot;id&quot;</code>') == 10


def test_a_spreadsheet_is_not_searched_for_fields_named_twice(client):
    submission = upload(client, "grants.csv")
    assert stats_of(submission)["repeated_fields"] == {"count": 0, "examples": []}


def test_one_repeated_id_reads_in_the_singular(client):
    submission = post_json(client, {"grants": [{"id": "G-001"}, {"id": "G-001"}]})
    assert "<strong>1 identifier appears more than once</strong>" in stats_section(
        client, submission
    )


def test_ids_written_as_objects_do_not_stop_the_statistics(client):
    data = {"grants": [{"id": {"scheme": "X", "code": "1"}}, {"id": {"scheme": "X", "code": "1"}}]}
    submission = post_json(client, data)
    stats = stats_of(submission)
    assert stats["items"] == 2
    assert stats["duplicate_ids"]["count"] == 1
    assert "Statistics" in stats_section(client, submission)


def test_the_profile_names_the_list_of_items(client, settings):
    settings.ASSAY_PROFILES = {
        **settings.ASSAY_PROFILES,
        "records": {"title": "Records", "root_list_path": "records", "id_name": "ref"},
    }
    data = {"records": [{"ref": "a", "x": 1}, {"ref": "a"}], "grants": [{"id": 1}]}
    stats = stats_of(post_json(client, data, profile="records"))
    assert stats["items"] == 2
    assert stats["lists"] == [{"path": "/records", "items": 2}, {"path": "/grants", "items": 1}]
    assert [row["path"] for row in stats["coverage"]] == ["/ref", "/x"]
    assert stats["duplicate_ids"] == {"count": 1, "examples": [["a", 2]]}
    assert stats["distinct"] == []


def test_data_without_the_profiles_list_says_which_lists_it_has(client):
    response = client.post("/", {"text": '{"a": [1, 2], "b": []}', "profile": "generic"})
    page = client.get(submission_from(response).get_absolute_url()).content.decode()
    # /main is no name the user gave: the page says where it comes from.
    assert (
        "No list of items at <code>/main</code>, where the profile “Any JSON data” looks "
        "for them" in page
    )
    assert "the lists found are <code>/a</code> (2), <code>/b</code> (0)" in page


def test_a_document_that_is_a_list_has_its_elements_counted_as_the_items(client):
    data = [{"id": "a", "x": 1}, {"id": "a"}, {"id": "b", "x": 2}]
    submission = post_json(client, data, profile="generic")
    stats = stats_of(submission)
    assert (stats["items"], stats["root_list_path"]) == (3, "")
    assert stats["coverage"] == [
        {"path": "/id", "count": 3, "percent": 100.0},
        {"path": "/x", "count": 2, "percent": 66.7},
    ]
    assert stats["duplicate_ids"] == {"count": 1, "examples": [["a", 2]]}
    assert "3 items in <code>/</code>." in stats_section(client, submission)


def test_a_sample_of_a_document_that_is_a_list_counts_the_items_checked(client, settings):
    settings.ASSAY_SAMPLE_ITEMS = 2
    data = [{"id": str(number)} for number in range(5)]
    stats = stats_of(post_json(client, data, profile="generic", sample="on"))
    assert stats["items"] == 2
    assert stats["coverage"] == [{"path": "/id", "count": 2, "percent": 100.0}]


def test_a_counted_field_the_data_never_has_gets_no_empty_table(client):
    submission = post_json(client, [{"id": "a"}])  # the demo counts /grants/*/amount/currency
    assert stats_of(submission)["distinct"][0]["distinct"] == 0
    assert "Values of" not in stats_section(client, submission)


def test_data_of_very_many_field_names_lists_the_first_ones_and_says_how_many(client, monkeypatch):
    monkeypatch.setattr("tasks.stats.MAX_COVERAGE_FIELDS", 250)
    item = {"id": "G-001", **{f"key{number:04}": number for number in range(300)}}
    response = client.post("/", {"text": json.dumps({"grants": [item]})})
    submission = submission_from(response)
    stats = stats_of(submission)
    assert (len(stats["coverage"]), stats["fields"]) == (250, 301)
    assert stats["coverage"][0]["path"] == "/id"  # in alphabetical order, as the page shows
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "the report download lists the first 250 of 301." in page
