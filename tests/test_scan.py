"""Reading the data item by item finds exactly what reading it whole finds.

The checks stream the root list's items from the file when they can (tasks/reading.py,
tasks/scan.py); every difference from the whole-document reading would be a wrong report.
"""

from __future__ import annotations

import json
import random
import tracemalloc
from dataclasses import replace
from pathlib import Path
from unittest.mock import patch

import pytest
from django.test import override_settings

from bench.datagen import grant
from process.errors import BadInput
from tasks import reading
from tasks import schema as schema_module
from tasks.fields import schema_fields
from tasks.reading import ItemStream, NotStreamable
from tasks.scan import Plan, Scan, scan_file
from tasks.schema import ErrorGroups, checks_items_alone, load_schema
from tests.conftest import python_calls

DEMO = Path(__file__).parent.parent / "profiles" / "demo"
EXAMPLES = Path(__file__).parent.parent / "examples" / "demo"
DEMO_LINKS = [
    "/grants/*/documents/*/url",
    "/grants/*/fundingOrganization/website",
    "/grants/*/recipientOrganization/website",
]


def demo_plan(**changes) -> Plan:
    loaded = load_schema(DEMO / "grants.schema.json")
    described = schema_fields(loaded.schema, loaded.resources, loaded.base_uri)
    plan = {
        "key": "grants",
        "loaded": loaded,
        "described": described,
        "links": DEMO_LINKS,
        "distinct": ("/grants/*/amount/currency",),
    }
    return Plan(**(plan | changes))


def both_ways(path: Path, **changes) -> tuple[Scan, Scan]:
    """Streamed, and read whole, whose items are validated in one call (what the batches
    are held to), after checking that reading it whole in batches finds the same."""
    streamed = scan_file(path, demo_plan(**changes))
    whole = scan_file(path, demo_plan(stream=False, batches=False, **changes))
    in_batches = scan_file(path, demo_plan(stream=False, **changes))
    assert findings(in_batches) == findings(whole)
    assert findings(read_in_two(path, demo_plan(**changes))) == findings(streamed)
    return streamed, whole


def read_in_two(path: Path, plan: Plan) -> Scan:
    """Streamed, its list read a half at a time where it can be (see tests/test_halves.py)."""
    # Pieces of text short enough that the first is read before the middle of the file.
    piece = min(reading.PIECE, path.stat().st_size // 4)
    with override_settings(ASSAY_READ_IN_TWO_BYTES=1), patch.object(reading, "PIECE", piece):
        return scan_file(path, plan)


def findings(scan: Scan) -> dict:
    """Everything a report is made of, with errors as a set (their order may differ)."""
    errors = scan.errors or ErrorGroups(max_errors=0)
    return {
        "top_level": scan.top_level,
        "lists": scan.lists,
        "checked_lists": scan.checked_lists,
        "items": scan.items,
        "objects": scan.objects,
        "counts": dict(scan.walk.counts),
        "types": dict(scan.walk.types),
        "error_total": errors.total,
        "errors": sorted(
            (e.path, e.validator, e.schema_path, e.message, json.dumps(e.value), e.detail)
            for e in errors.errors
        ),
        "groups": sorted((g["validator"], g["path_pattern"], g["count"]) for g in errors.as_list()),
        "example_details": sorted(
            (e.path, e.detail) for g in errors.as_list() for e in g["examples"] if e.detail
        ),
        "examples": scan.examples,
        "links": (scan.links.places, dict(scan.links.appears), len(scan.links.others)),
        "ids": dict(scan.ids),
        "distinct": {pattern: dict(counter) for pattern, counter in scan.distinct.items()},
    }


def write(tmp_path: Path, data, name: str = "data.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=1))
    return path


def grants(count: int, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    items = [grant(index, rng) for index in range(count)]
    for index in range(0, count, 7):  # fields the schema does not describe, now and then
        items[index]["notes"] = {"text": f"note {index}", "by": ["a", "b"]}
    items[5]["documents"][0]["url"] = items[4]["documents"][0]["url"]  # a repeated link
    items[9]["id"] = items[8]["id"]  # a repeated id
    return items


@pytest.mark.parametrize("example", ["grants-valid.json", "grants-invalid.json"])
def test_the_demo_examples_read_the_same_streamed_or_whole(example):
    streamed, whole = both_ways(EXAMPLES / example)
    assert findings(streamed) == findings(whole)


def test_many_items_with_mistakes_read_the_same_streamed_or_whole(tmp_path, monkeypatch):
    # Small pieces of text, so that items, strings and numbers straddle them.
    monkeypatch.setattr(reading, "PIECE", 97)
    data = {"publisher": {"name": "P", "extra": 1}, "grants": grants(1200), "version": "1.0"}
    streamed, whole = both_ways(write(tmp_path, data))
    found = findings(streamed)
    assert found == findings(whole)
    assert found["error_total"] > 10
    assert found["items"] == 1200
    assert "/grants/*/notes" in found["examples"]
    assert found["ids"][(False, "G-000008")] == 2


def test_more_links_than_are_checked_are_counted_the_same(tmp_path, settings):
    settings.ASSAY_MAX_LINKS = 5
    streamed, whole = both_ways(write(tmp_path, {"grants": grants(40)}))
    assert findings(streamed)["links"] == findings(whole)["links"]
    assert len(streamed.links.places) == 5
    assert len(streamed.links.others) > 20


@pytest.mark.parametrize("stream", [True, False])
def test_a_placed_link_met_again_many_items_later_gets_its_place(tmp_path, settings, stream):
    settings.ASSAY_MAX_LINKS = 2
    items = [{"id": f"G-{n}", "documents": [{"url": f"https://a.example/{n}"}]} for n in range(80)]
    items[70]["documents"].append({"url": "https://a.example/1"})
    items[75]["amount"] = {"value": 1, "currency": "EUR"}
    scan = scan_file(write(tmp_path, {"grants": items}), demo_plan(stream=stream))
    assert scan.links.places == {
        "https://a.example/0": ["/grants/0/documents/0/url"],
        "https://a.example/1": ["/grants/1/documents/0/url", "/grants/70/documents/1/url"],
    }
    assert scan.links.appears == {"https://a.example/0": 1, "https://a.example/1": 2}
    assert len(scan.links.others) == 78
    assert scan.distinct["/grants/*/amount/currency"] == {(False, "EUR"): 1}


def test_the_first_links_in_document_order_get_places_whatever_their_field(tmp_path, settings):
    settings.ASSAY_MAX_LINKS = 2
    items = [
        {"url": f"https://a.example/item{n}", "documents": [{"url": f"https://a.example/doc{n}"}]}
        for n in range(2)
    ]
    plan = Plan(key="grants", links=["/grants/*/url", "/grants/*/documents/*/url"])
    scan = scan_file(write(tmp_path, {"grants": items}), plan)
    assert scan.links.places == {
        "https://a.example/item0": ["/grants/0/url"],
        "https://a.example/doc0": ["/grants/0/documents/0/url"],
    }
    assert len(scan.links.others) == 2


def test_sample_mode_reads_the_same_streamed_or_whole(tmp_path):
    data = {"grants": grants(50), "others": list(range(30))}
    streamed, whole = both_ways(write(tmp_path, data), sample_size=10)
    assert findings(streamed) == findings(whole)
    assert streamed.items == 10
    assert streamed.lists == [("/grants", 50), ("/others", 30)]
    assert streamed.checked_lists == [("/grants", 10), ("/others", 10)]


def schema_plan(tmp_path: Path, schema: dict, **changes) -> Plan:
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    loaded = load_schema(tmp_path / "schema.json")
    return Plan(key="grants", loaded=loaded, **changes)


def error_places(scan: Scan) -> set:
    return {(error.path, error.validator) for error in scan.errors.errors}


@pytest.mark.parametrize("branches", ["anyOf", "oneOf", "allOf"])
def test_a_sample_invents_no_unevaluated_field_from_a_branch_it_breaks(tmp_path, branches):
    # The sample cuts "others" to one item, which breaks the first branch: its fields'
    # annotations are lost, and "others" and "x" would seem unevaluated.
    first = {"properties": {"others": {"minItems": 2}, "x": True}}
    schema = {
        "type": "object",
        "properties": {"grants": {"type": "array"}},
        branches: [first, {"required": ["y"]}] if branches != "allOf" else [first],
        "unevaluatedProperties": False,
    }
    path = write(tmp_path, {"grants": [{}, {}], "others": [1, 2], "x": 1})
    for stream in (True, False):
        assert error_places(scan_file(path, schema_plan(tmp_path, schema, stream=stream))) == set()
        sampled = scan_file(path, schema_plan(tmp_path, schema, stream=stream, sample_size=1))
        assert error_places(sampled) == set()


def test_the_root_list_s_least_length_is_judged_on_the_whole_list_read_whole(tmp_path):
    items = {"type": "object"}
    schema = {"properties": {"grants": {"type": "array", "minItems": 5, "items": items}}}
    path = write(tmp_path, {"grants": [{}, {}, {}, {}]})
    for stream in (True, False):
        sampled = scan_file(path, schema_plan(tmp_path, schema, stream=stream, sample_size=3))
        assert error_places(sampled) == {("/grants", "minItems")}, stream
    enough = write(tmp_path, {"grants": [{}] * 6}, "enough.json")
    for stream in (True, False):
        sampled = scan_file(enough, schema_plan(tmp_path, schema, stream=stream, sample_size=3))
        assert error_places(sampled) == set(), stream


@pytest.mark.parametrize(
    ("schema", "rule"),
    [
        ({"prefixItems": [{"type": "object"}], "items": False}, "items"),
        (
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "items": [{"type": "object"}],
                "additionalItems": False,
            },
            "additionalItems",
        ),
    ],
)
def test_a_sample_with_more_items_than_a_closed_list_takes_keeps_the_error(tmp_path, schema, rule):
    draft = {"$schema": schema.pop("$schema")} if "$schema" in schema else {}
    whole = {**draft, "properties": {"grants": {"type": "array", **schema}}}
    path = write(tmp_path, {"grants": [{}] * 30})
    for stream in (True, False):
        sampled = scan_file(path, schema_plan(tmp_path, whole, stream=stream, sample_size=5))
        assert error_places(sampled) == {("/grants", rule)}, stream


def test_a_sample_still_finds_a_field_no_rule_evaluates(tmp_path):
    schema = {"properties": {"grants": {"type": "array"}}, "unevaluatedProperties": False}
    path = write(tmp_path, {"grants": [{}] * 5, "extra": 1})
    for stream in (True, False):
        sampled = scan_file(path, schema_plan(tmp_path, schema, stream=stream, sample_size=2))
        assert error_places(sampled) == {("", "unevaluatedProperties")}, stream


def test_a_sample_judges_the_root_list_s_length_by_every_rule_on_it(tmp_path):
    # Only the whole list's length counts, whichever rule sets the least one.
    defs = {"g": {"minItems": 4}}
    grants = {"type": "array", "minItems": 2, "$ref": "#/$defs/g", "contains": {}}
    schema = {"$defs": defs, "properties": {"grants": grants}}
    for count, expected in ((5, set()), (3, {("/grants", "minItems")})):
        path = write(tmp_path, {"grants": [{}] * count}, f"{count}.json")
        sampled = scan_file(path, schema_plan(tmp_path, schema, sample_size=1))
        assert error_places(sampled) == expected, count


def test_a_sample_of_data_too_deep_to_check_fails_the_check_only(tmp_path):
    schema = {"properties": {"grants": {"type": "array", "minItems": 5, "contains": {}}}}
    deep: dict = {}
    for _ in range(400):
        deep = {"notes": deep}
    path = write(tmp_path, {"grants": [{}, deep, {}]})
    sampled = scan_file(path, schema_plan(tmp_path, schema, sample_size=1))
    assert sampled.validation_failure is not None
    assert sampled.validation_failure.code == "too_deep"
    assert sampled.items == 1


def test_the_objects_of_the_whole_list_are_counted_sample_or_not(tmp_path):
    # What a spreadsheet row holds: the page offers spreadsheets only if there is one.
    data = {"grants": [5, "x", None, [{}], *grants(10)]}
    for size in (None, 2):
        streamed, whole = both_ways(write(tmp_path, data), sample_size=size)
        assert streamed.objects == whole.objects == 10


@pytest.mark.parametrize(
    "data",
    [
        {"grants": []},  # too few items (minItems)
        {"grants": "none"},  # not a list
        {"grants": [{"id": "G-1"}], "extra": True},  # a key after the list
        {"other": 1},  # no list at all: "grants" is required
        {},
    ],
    ids=["empty-list", "not-a-list", "key-after-list", "no-list", "empty-object"],
)
def test_the_list_itself_and_the_rest_of_the_document_are_judged_the_same(tmp_path, data):
    streamed, whole = both_ways(write(tmp_path, data))
    assert findings(streamed) == findings(whole)
    assert streamed.errors.total > 0


@pytest.mark.parametrize(
    "text",
    [
        '[{"id": "G-1"}]',  # a root array
        '{"grants": [{"id": "G-1"}]} trailing',
        '{"grants": [{"id": "G-1", "n": NaN}]}',
        '{"grants": [{"id": "\\ud83d\\ude00"}]}',  # an escaped emoji: a surrogate pair
        '{"grants": [{"id": 123456789012345678901234567890}]}',  # orjson: a float
        '{"grants": [1], "grants": [2]}',  # a repeated key: the last one counts
        '\ufeff{"grants": [{"id": "G-1"}]}',  # a UTF-8 byte-order mark
    ],
)
def test_what_the_stream_leaves_to_the_whole_reading_reads_the_same(tmp_path, text):
    path = write(tmp_path, text)
    try:
        expected = findings(scan_file(path, demo_plan(stream=False)))
    except BadInput as error:
        with pytest.raises(BadInput) as raised:
            scan_file(path, demo_plan())
        assert raised.value.message == error.message
    else:
        assert findings(scan_file(path, demo_plan())) == expected


def test_malformed_json_is_reported_with_its_line_and_column_when_streaming(tmp_path):
    text = '{"grants": [\n  {"id": "G-1"},\n  {"id": "G-2",}\n]}'
    with pytest.raises(BadInput, match="line 3, column 16"):
        scan_file(write(tmp_path, text), demo_plan())


def test_a_schema_that_judges_the_list_as_a_whole_is_read_whole(tmp_path):
    schema = {
        "type": "object",
        "properties": {"grants": {"type": "array", "uniqueItems": True}},
    }
    path = write(tmp_path, schema, "schema.json")
    loaded = load_schema(path)
    assert not checks_items_alone(loaded, "grants")
    data = write(tmp_path, {"grants": [1, 1]})
    plan = Plan(key="grants", loaded=loaded)
    assert not plan.can_stream
    assert scan_file(data, plan).errors.total == 1  # the duplicate is found


def test_a_list_that_allows_no_items_is_one_error_not_one_per_item(tmp_path):
    schema = {"properties": {"grants": {"type": "array", "items": False}}}
    loaded = load_schema(write(tmp_path, schema, "schema.json"))
    assert not checks_items_alone(loaded, "grants")  # a batch alone cannot judge it
    scan = scan_file(write(tmp_path, {"grants": [1, 2, 3]}), Plan(key="grants", loaded=loaded))
    [error] = scan.errors.errors
    assert (error.path, error.validator) == ("/grants", "items")
    assert error.message == "has more items than the schema allows"


def test_the_demo_schema_lets_its_items_be_checked_alone():
    assert checks_items_alone(load_schema(DEMO / "grants.schema.json"), "grants")


@pytest.mark.parametrize("piece", [1, 2, 5, 1 << 20])
def test_items_are_read_one_by_one_with_the_rest_kept(tmp_path, monkeypatch, piece):
    monkeypatch.setattr(reading, "PIECE", piece)
    text = '{"a": [1], "grants" : [ 1, 2.5 ,"x\\u00e9", {"k": [null]}, 12345], "b": {"c": 1}} '
    path = write(tmp_path, text)
    stream = ItemStream(path, "grants")
    assert list(stream.items()) == [1, 2.5, "xé", {"k": [None]}, 12345]
    assert stream.skeleton == {"a": [1], "grants": [], "b": {"c": 1}}
    assert list(stream.skeleton) == ["a", "grants", "b"]
    assert stream.count == 5


@pytest.mark.parametrize(
    "text",
    ["[1]", '{"grants": [1,]}', '{"grants": [1]', "", b"\xff\xfe{\x00}\x00", '{"grants": [1e999]}'],
)
def test_the_stream_gives_up_on_anything_unusual(tmp_path, text):
    path = tmp_path / "data.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises((NotStreamable, BadInput)):
        list(ItemStream(path, "grants").items())


# What an independent review found, each now read the same both ways ------------------


def plan_for(tmp_path: Path, schema: dict, **changes) -> Plan:
    loaded = load_schema(write(tmp_path, schema, "schema.json"))
    described = schema_fields(loaded.schema, loaded.resources, loaded.base_uri)
    return Plan(**({"key": "grants", "loaded": loaded, "described": described} | changes))


def same_both_ways(path: Path, plan: Plan) -> dict:
    """What the scan finds, the same streamed, read whole, and read whole in one call."""
    found = findings(scan_file(path, plan))
    assert found == findings(read_in_two(path, plan))
    assert found == findings(scan_file(path, replace(plan, stream=False)))
    assert found == findings(scan_file(path, replace(plan, stream=False, batches=False)))
    return found


def root_schema(list_schema: dict, **root) -> dict:
    return {"type": "object", **root, "properties": {"grants": list_schema}}


@pytest.mark.parametrize("count", [2, 5, 40])
@pytest.mark.parametrize("item", [{"id": "G-1", "title": "x" * 20}, 7])
def test_an_error_about_the_whole_document_shows_it_as_the_whole_reading_does(
    tmp_path, count, item
):
    schema = root_schema({"type": "array"}, additionalProperties=False)
    path = write(tmp_path, {"grants": [item] * count, "extra": 1})
    found = same_both_ways(path, plan_for(tmp_path, schema))
    [(_, validator, _, _, value, _)] = found["errors"]
    assert validator == "additionalProperties" and "extra" in value


def test_a_decimal_min_items_counts_the_items_it_needs(tmp_path):
    schema = root_schema({"type": "array", "minItems": 2.0})
    for count, errors in [(1, 1), (2, 0), (5, 0)]:
        path = write(tmp_path, {"grants": list(range(count))})
        assert same_both_ways(path, plan_for(tmp_path, schema))["error_total"] == errors


def test_errors_about_the_document_are_stored_before_the_items_errors(tmp_path, settings):
    settings.ASSAY_MAX_STORED_ERRORS = 3
    item_schema = {"properties": {"id": {"type": "string"}}}
    schema = root_schema({"type": "array", "items": item_schema}, required=["version"])
    path = write(tmp_path, {"grants": [{"id": n} for n in range(5)]})
    found = same_both_ways(path, plan_for(tmp_path, schema))
    assert found["error_total"] == 6
    assert [path for path, *_ in found["errors"]] == ["", "/grants/0/id", "/grants/1/id"]


@pytest.mark.parametrize(
    "raw",
    [
        b"{NaN: 1}",
        b'{"grants": [{"n": NaN}' + b', {"id": "G-2"}' * 20 + b', {"id": "\xff"}]}',
        b'{"grants": [{"n": 1e999}' + b', {"id": "G-2"}' * 20 + b', "\xff"]}',
    ],
)
def test_the_stream_leaves_refusals_to_the_whole_reading(tmp_path, monkeypatch, raw):
    monkeypatch.setattr(reading, "PIECE", 64)
    path = tmp_path / "data.json"
    path.write_bytes(raw)
    with pytest.raises(BadInput) as whole:
        scan_file(path, demo_plan(stream=False))
    with pytest.raises(BadInput) as streamed:
        scan_file(path, demo_plan())
    assert (streamed.value.code, streamed.value.message) == (whole.value.code, whole.value.message)


def test_links_and_counted_values_in_lists_and_the_items_themselves(tmp_path):
    items = [
        {"tags": ["x", "y"], "urls": ["https://a.example/", "ftp://b.example/"]},
        {"tags": ["x"]},
        "https://c.example/",
    ]
    path = write(tmp_path, {"grants": items})
    plan = Plan(
        key="grants",
        links=["/grants/*/urls/*", "/grants/*"],
        distinct=("/grants/*/tags/*", "/grants/*"),
    )
    found = same_both_ways(path, plan)
    assert set(found["links"][0]) == {"https://a.example/", "https://c.example/"}
    assert found["distinct"]["/grants/*/tags/*"] == {(False, "x"): 2, (False, "y"): 1}
    assert sum(found["distinct"]["/grants/*"].values()) == 3


def test_forty_additional_fields_each_get_three_examples(tmp_path):
    items = [{"id": f"G-{n}", **{f"x{k:02}": n for k in range(40)}} for n in range(5)]
    found = same_both_ways(write(tmp_path, {"grants": items}), demo_plan())
    assert len(found["examples"]) == 40
    assert {len(examples) for examples in found["examples"].values()} == {3}


def test_every_one_of_many_rare_additional_fields_has_an_example(tmp_path):
    items = [{"id": f"G-{n}", f"extra{n}": n} for n in range(300)]
    found = same_both_ways(write(tmp_path, {"grants": items}), demo_plan())
    examples = {path: found["examples"][path] for path in found["examples"]}
    assert len(examples) == 300
    assert examples["/grants/*/extra7"] == [{"path": "/grants/7/extra7", "value": 7}]


def test_many_additional_fields_in_one_item_are_looked_for_in_one_walk(tmp_path):
    # Each field looked for by a walk of its own: 200,000 list entries, each with a
    # field of its own, took three minutes (a walk of the list for each of the first 2,000).
    calls = []
    for count in (1000, 2000):
        entries = [{"scheme": "s", "code": "c", f"x{n}": n} for n in range(count)]
        path = write(tmp_path, {"grants": [{"id": "G-100", "classifications": entries}]})
        made, scan = python_calls(scan_file, path, demo_plan())
        calls.append(made)
        assert len(scan.examples) == count
        assert scan.examples[f"/grants/*/classifications/*/x{count - 1}"] == [
            {"path": f"/grants/0/classifications/{count - 1}/x{count - 1}", "value": count - 1}
        ]
    assert calls[1] < 3 * calls[0]  # twice the work for twice the fields, not four times


def test_the_first_items_are_validated_once(tmp_path, settings):
    # They are also judged with the rest of the document, as the list's first items (its
    # minItems): its 2,000 errors found again there, the large item took twice as long.
    settings.ASSAY_MAX_STORED_ERRORS = 10
    large = {"classifications": [{"scheme": "s"} for _ in range(2000)]}
    small = {"id": "G-100", "title": "t", "amount": {"value": 1, "currency": "GBP"}}
    small["awardDate"] = "2026-01-01"
    calls = []
    for items in ([large, small, small, small], [small, small, small, large]):
        made, scan = python_calls(scan_file, write(tmp_path, {"grants": items}), demo_plan())
        calls.append(made)
        assert scan.errors.total == 2000 + 4  # each code missing, and the large item's fields
    assert calls[0] < 1.2 * calls[1]


def test_data_too_deep_to_validate_fails_validation_only(tmp_path):
    deep: dict = {}
    inner = deep
    for _ in range(400):
        inner["a"] = {}
        inner = inner["a"]
    path = tmp_path / "deep.json"  # compact: indenting is done in Python, which recurses
    path.write_text(json.dumps({"grants": [{"id": "G-1"}, {"id": "G-2", "notes": deep}]}))
    for plan in (demo_plan(), demo_plan(stream=False)):
        scan = scan_file(path, plan)
        assert scan.validation_failure.code == "too_deep"
        assert scan.items == 2
        assert "/grants/*/notes/a/a/a" in scan.walk.counts


@pytest.mark.parametrize("piece", [1, 3, 7, 1 << 20])
def test_paired_surrogate_escapes_and_long_integers_stream(tmp_path, monkeypatch, piece):
    monkeypatch.setattr(reading, "PIECE", piece)
    big, small = 2**70 + 1, -(2**63) - 1  # read exactly, as the whole reading does
    path = write(tmp_path, f'{{"grants": ["\\ud83d\\ude00 \\u00e9", {big}, {small}]}}')
    assert list(ItemStream(path, "grants").items()) == ["😀 é", big, small]


@pytest.mark.parametrize(
    "text",
    [
        '{"grants": ["\\ud83d"]}',
        '{"grants": ["\\ude00"]}',
        '{"grants": ["x\\ud83d"',
    ],
)
def test_unpaired_surrogates_are_read_whole(tmp_path, monkeypatch, text):
    monkeypatch.setattr(reading, "PIECE", 3)
    with pytest.raises(NotStreamable):
        list(ItemStream(write(tmp_path, text), "grants").items())


# And what a second review found ----------------------------------------------------------


@pytest.mark.parametrize("piece", [1, 2, 5, 9, 1 << 20])
def test_an_escaped_backslash_is_not_taken_for_the_start_of_an_escape(tmp_path, monkeypatch, piece):
    monkeypatch.setattr(reading, "PIECE", piece)
    # A backslash, then the text "ud800", then a real unpaired low surrogate: refused...
    lone = tmp_path / "lone.json"
    lone.write_text('{"grants": ["\\\\ud800\\udc00"]}')
    with pytest.raises(NotStreamable):
        list(ItemStream(lone, "grants").items())
    # ... and a backslash before text that only looks like an escape streams.
    text = tmp_path / "text.json"
    text.write_text('{"grants": ["\\\\ud83d", "\\\\\\ud83d\\ude00"]}')
    assert list(ItemStream(text, "grants").items()) == ["\\ud83d", "\\😀"]


def test_an_unpaired_surrogate_behind_an_escaped_backslash_is_refused_as_a_whole_read(tmp_path):
    path = tmp_path / "lone.json"
    path.write_text('{"grants": [{"id": "\\\\ud800\\udc00"}]}')
    with pytest.raises(BadInput) as streamed:
        scan_file(path, demo_plan())
    assert streamed.value.code == "json_bad_text"


@pytest.mark.parametrize("piece", [2, 4, 10])
def test_numbers_cut_at_the_end_of_a_piece_are_read_whole(tmp_path, monkeypatch, piece):
    monkeypatch.setattr(reading, "PIECE", piece)
    path = write(tmp_path, '{"version": 1.5, "grants": [2.5, 1e3, -0.25, {"a": 12.75}]}')
    stream = ItemStream(path, "grants")
    assert list(stream.items()) == [2.5, 1000.0, -0.25, {"a": 12.75}]
    assert stream.skeleton == {"version": 1.5, "grants": []}


def runs_read(monkeypatch) -> list[int]:
    """The number of items in each run read by orjson, as the stream goes on."""
    sizes: list[int] = []
    run = reading._Text.run

    def counted(self, opening):
        items = run(self, opening)
        sizes.append(len(items))
        return items

    monkeypatch.setattr(reading._Text, "run", counted)
    monkeypatch.setattr(reading, "RUN", 200)  # short runs, so that there are many
    return sizes


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("piece", [64, 1 << 20])
def test_runs_of_items_are_the_items_however_their_text_looks(tmp_path, monkeypatch, indent, piece):
    monkeypatch.setattr(reading, "PIECE", piece)
    sizes = runs_read(monkeypatch)
    # Lists in the items hold objects that start as the items do, and so does a field;
    # a string holds the same text; now and then an item starts otherwise.
    items = [
        {"id": n, "parts": [{"id": f"{n}a"}, {"id": f"{n}b"}], "org": {"id": 1}, "s": ',{"id":'}
        for n in range(300)
    ]
    for n in range(7, 300, 50):
        items[n] = {"title": "id second", "id": n}
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"grants": items, "after": [1]}, indent=indent))
    stream = ItemStream(path, "grants")
    assert list(stream.items()) == items
    assert (stream.count, stream.skeleton) == (300, {"grants": [], "after": [1]})
    assert sum(sizes) > 100  # many were read in runs


@pytest.mark.parametrize("piece", [64, 97, 1 << 20])
def test_a_long_integer_anywhere_keeps_the_items_from_runs(tmp_path, monkeypatch, piece):
    monkeypatch.setattr(reading, "PIECE", piece)
    runs_read(monkeypatch)
    items = [{"id": n, "amount": n * 10} for n in range(200)]
    items[150]["amount"] = 10**24 + 1  # orjson would read it as a float, 1e24
    path = write(tmp_path, {"grants": items})
    assert list(ItemStream(path, "grants").items()) == items


@pytest.mark.parametrize(("pad", "at"), [(4000, 259), (7000, 148)])
def test_a_long_integer_in_the_piece_a_run_reads_is_read_exactly(tmp_path, pad, at):
    # The piece holding it is read while a run is looked for, with the usual sizes.
    items = [{"id": n, "pad": "x" * pad, "amount": n} for n in range(600)]
    items[at]["amount"] = 10**24 + 1
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"grants": items}))
    assert list(ItemStream(path, "grants").items())[at]["amount"] == 10**24 + 1


def test_an_error_in_a_field_with_an_empty_name_is_placed_in_it(tmp_path):
    # jsonschema-rs leaves empty names out of the paths it gives: the error would be at
    # the object holding the field.
    item = {"type": "object", "additionalProperties": {"type": "integer"}}
    schema = root_schema({"type": "array", "items": item}, additionalProperties={"type": "array"})
    data = {"grants": [{"a": 1}] * 30 + [{"": "x", "b": {"": 2}}, {"a": "y"}], "": 5}
    found = same_both_ways(write(tmp_path, data), plan_for(tmp_path, schema))
    assert {(path, rule) for path, rule, *_ in found["errors"]} == {
        ("/grants/30/", "type"),
        ("/grants/30/b", "type"),
        ("/grants/31/a", "type"),
        ("/", "type"),
    }


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        ("^\\p{L}+$", "7"),  # ECMA-262, which Python's re cannot read
        ("^[a-z]+$", "abc\n"),  # Python's "$" matches before a final newline
    ],
)
def test_after_a_field_with_an_empty_name_patterns_are_read_as_ecma_262(tmp_path, pattern, value):
    item = {"type": "object", "properties": {"name": {"type": "string", "pattern": pattern}}}
    schema = root_schema({"type": "array", "items": item})
    data = {"grants": [{"name": "ab", "": 1}, {"name": value}]}
    found = same_both_ways(write(tmp_path, data), plan_for(tmp_path, schema))
    assert [(path, rule) for path, rule, *_ in found["errors"]] == [("/grants/1/name", "pattern")]


def test_field_name_patterns_python_cannot_read_together_leave_the_errors_to_jsonschema_rs(
    tmp_path,
):
    # python jsonschema looks for fields the patterns leave out with all of them joined
    # by "|", where a "(?i)" that is not first is refused.
    patterned = {"^a": {"type": "string"}, "(?i)b": {}}
    item = {"type": "object", "patternProperties": patterned, "additionalProperties": False}
    schema = root_schema({"type": "array", "items": item})
    data = {"grants": [{"ab": "x", "": 1}, {"ab": 2, "c": 3}]}
    found = same_both_ways(write(tmp_path, data), plan_for(tmp_path, schema))
    assert {(path, rule) for path, rule, *_ in found["errors"]} == {
        ("/grants/0", "additionalProperties"),
        ("/grants/1/ab", "type"),
        ("/grants/1", "additionalProperties"),
    }


def test_an_error_inside_an_empty_name_jsonschema_rs_checks_is_at_its_object(tmp_path):
    # Where Python's re cannot read the patterns of field names, jsonschema-rs checks the
    # data, and leaves the empty name out of the place it
    # gives ("/grants/0/a"): a field the object does not have.
    inner = {"type": "object", "properties": {"a": {"type": "string"}}}
    item = {"type": "object", "patternProperties": {"^\\p{L}": {}}, "properties": {"": inner}}
    schema = root_schema({"type": "array", "items": item})
    data = {"grants": [{"": {"a": 1}}, {"": {"a": "ok"}}]}
    found = same_both_ways(write(tmp_path, data), plan_for(tmp_path, schema))
    assert [(path, rule) for path, rule, *_ in found["errors"]] == [("/grants/0", "type")]


def test_an_empty_root_key_is_read_whole(tmp_path):
    # jsonschema-rs leaves empty keys out of error paths, so its items are not batched.
    schema = {"type": "object", "properties": {"": {"type": "array", "items": {"type": "string"}}}}
    plan = plan_for(tmp_path, schema, key="")
    assert not plan.can_stream
    scan = scan_file(write(tmp_path, {"": [{"id": n} for n in range(30)]}), plan)
    assert scan.errors.total == 30


def test_why_no_alternative_matches_is_placed_in_the_item_streamed_or_whole(tmp_path, settings):
    settings.ASSAY_MAX_STORED_ERRORS = 3
    recipient = {
        "oneOf": [
            {"type": "object", "required": ["name", "address"]},
            {"type": "object", "properties": {"id": {"pattern": "^[0-9]{8}$"}}, "required": ["id"]},
        ]
    }
    item_schema = {"properties": {"recipient": recipient}}
    items = [{"recipient": {"id": "12345678"}} for _ in range(80)]
    for index in (30, 55, 61, 79):  # past the first batches of items
        items[index]["recipient"]["id"] = str(index)
    path = write(tmp_path, {"grants": items})
    found = same_both_ways(path, plan_for(tmp_path, root_schema({"items": item_schema})))
    reason = "Closest is alternative 2: at /grants/{}/recipient/id, does not match the pattern"
    assert [(path, detail) for path, *_, detail in found["errors"]] == [
        (f"/grants/{index}/recipient", f"{reason.format(index)} ^[0-9]{{8}}$")
        for index in (30, 55, 61)
    ]
    assert found["groups"] == [
        ("oneOf", "/grants/*/recipient", 4)
    ]  # one group, whatever the detail


# A document read whole: its items validated a batch at a time where the schema allows ---
# One call to jsonschema-rs makes every error of what it is given before it gives the
# first, at a few kilobytes each (bench/errors.py).

AMOUNT = {
    "oneOf": [
        {"type": "object", "required": ["value", "currency", "unit"]},
        {"type": "object", "properties": {"value": {"type": "number"}}},
    ]
}
ITEM = {
    "type": "object",
    "required": ["id"],
    "properties": {"id": {"type": "string"}, "amount": AMOUNT},
}
LIST_RULES = {
    "items alone": {"minItems": 200},
    "the list as a whole": {
        "minItems": 2,
        "maxItems": 50,
        "uniqueItems": True,
        "contains": {"type": "string"},
    },
    # Leaving the items' rule out to judge the list would leave a $ref to it nowhere to go.
    "the items' rule named elsewhere": {"uniqueItems": True},
}


def items_with_mistakes(count: int) -> list:
    items = [{"id": f"G-{n}", "amount": {"value": n}} for n in range(count)]
    for n in range(0, count, 3):
        items[n]["amount"]["value"] = f"about {n}"  # matches no alternative
    for n in range(1, count, 5):
        items[n]["id"] = n
    for n in range(2, count, 7):
        del items[n]["id"]
    return [*items, items[0]]  # the first twice


def whole_reading(
    tmp_path: Path, document: str, rules: str, items: list, item_schema: dict = ITEM
) -> tuple[Path, Plan]:
    """A file and a plan reading it whole: a document that is the list, or holds it."""
    list_schema = {"type": "array", "items": item_schema, **LIST_RULES[rules]}
    named = rules == "the items' rule named elsewhere"
    if document == "list":
        elsewhere = {"properties": {"latest": {"$ref": "#/items"}}} if named else {}
        schema, data = {**list_schema, **elsewhere}, items
    else:
        elsewhere = {"latest": {"$ref": "#/properties/grants/items"}} if named else {}
        schema = {
            "type": "object",
            "required": ["version"],
            "additionalProperties": False,
            "properties": {"grants": list_schema, **elsewhere},
        }
        data = {"grants": items, "latest": items[0], "extra": True}
    return write(tmp_path, data), plan_for(tmp_path, schema, stream=False)


@pytest.mark.parametrize("rules", list(LIST_RULES))
@pytest.mark.parametrize("document", ["list", "object"])
def test_items_read_whole_are_validated_in_batches_as_in_one_call(
    tmp_path, settings, document, rules
):
    settings.ASSAY_MAX_STORED_ERRORS = 7  # which errors are kept depends on their order
    path, plan = whole_reading(tmp_path, document, rules, items_with_mistakes(120))
    found = findings(scan_file(path, plan))
    assert found == findings(scan_file(path, replace(plan, batches=False)))
    assert found["error_total"] > 50
    details = [(place, detail) for place, *_, detail in found["errors"] if detail]
    assert details  # placed in the item, wherever its batch began
    for place, detail in details:
        assert detail == f"Closest is alternative 2: at {place}/value, should be a number, not text"


def traced_peak(path: Path, plan: Plan) -> tuple[int, Scan]:
    """The scan, and the most memory Python held for it at once (what the data read
    whole takes, and the errors jsonschema-rs gives at once)."""
    tracemalloc.start()
    try:
        scan = scan_file(path, plan)
        return tracemalloc.get_traced_memory()[1], scan
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("document", "rules"),
    [("object", "items alone"), ("list", "items alone"), ("object", "the list as a whole")],
)
def test_the_errors_of_items_read_whole_take_no_memory_beyond_those_kept(
    tmp_path, settings, document, rules
):
    # The same items, each breaking the oneOf, then each valid: validated in one call,
    # the 3,000 errors took 16 to 22 MB more.
    settings.ASSAY_MAX_STORED_ERRORS = 10
    items = [{"id": f"G-{n}", "amount": {"value": f"about {n}"}} for n in range(3000)]
    peaks, broken = [], []
    for value_rule in ({"type": "number"}, {"type": "string"}):
        alternatives = [AMOUNT["oneOf"][0], {"properties": {"value": value_rule}}]
        item_schema = {**ITEM, "properties": {"amount": {"oneOf": alternatives}}}
        path, plan = whole_reading(tmp_path, document, rules, items, item_schema)
        peak, scan = traced_peak(path, plan)
        peaks.append(peak)
        groups = scan.errors.as_list()
        broken.append(sum(group["count"] for group in groups if group["validator"] == "oneOf"))
    assert broken == [3000, 0]
    assert peaks[0] - peaks[1] < 1_000_000


@pytest.mark.parametrize("document", ["list", "object"])
def test_items_read_whole_go_to_python_jsonschema_from_a_field_with_an_empty_name_on(
    tmp_path, document
):
    # As streamed items do (README): where no entry matches "contains", python jsonschema
    # names that rule, and jsonschema-rs "minContains".
    tags = {"contains": {"const": "x"}, "minContains": 2}
    list_schema = {"type": "array", "items": {"properties": {"tags": tags}}}
    items = [{"tags": ["y"]}, *({"id": n} for n in range(40)), {"": 1, "tags": ["y"]}]
    if document == "list":
        schema, data, prefix = list_schema, items, ""
    else:
        schema, data, prefix = root_schema(list_schema), {"grants": items}, "/grants"
    path = write(tmp_path, data)
    for stream in (True, False) if document == "object" else (False,):
        scan = scan_file(path, plan_for(tmp_path, schema, stream=stream))
        assert error_places(scan) == {
            (f"{prefix}/0/tags", "minContains"),
            (f"{prefix}/41/tags", "contains"),
        }, stream


LONG = 30_000  # list entries in one item: more than jsonschema-rs is given at once


@pytest.mark.parametrize("reading", ["streamed", "read whole", "one call"])
def test_one_item_with_very_many_errors_takes_no_memory_beyond_those_kept(
    tmp_path, settings, reading
):
    # The same list of entries, each of the wrong type, then each right: given to
    # jsonschema-rs at once, the 30,000 errors took 60 MB more, and a 1.5 MB file of
    # 500,000 took a worker to 1.5 GB.
    settings.ASSAY_MAX_STORED_ERRORS = 10
    peaks, broken = [], []
    for entry in ({"type": "object"}, {"type": "integer"}):
        item_schema = {"type": "object", "properties": {"codes": {"items": entry}}}
        # A rule at the root that may judge anything: the document is validated in one call.
        root = {"allOf": [{"required": ["grants"]}]} if reading == "one call" else {}
        schema = root_schema({"type": "array", "items": item_schema}, **root)
        path = write(tmp_path, {"grants": [{"id": "a"}, {"codes": [1] * LONG}, {"id": "b"}]})
        plan = plan_for(tmp_path, schema, stream=reading == "streamed")
        peak, scan = traced_peak(path, plan)
        peaks.append(peak)
        broken.append(scan.errors.total)
        assert error_places(scan) <= {(f"/grants/1/codes/{n}", "type") for n in range(LONG)}
    assert broken == [LONG, 0]
    assert peaks[0] - peaks[1] < 5_000_000


@pytest.mark.parametrize("limit", [10, 100])
def test_data_too_large_for_jsonschema_rs_at_once_has_the_same_findings(
    tmp_path, monkeypatch, limit
):
    # 10: every item is too large, and goes alone to python jsonschema, which finds the
    # errors jsonschema-rs says are there; 100: a batch is, and each item goes alone.
    path = write(tmp_path, {"grants": grants(60)})
    found = same_both_ways(path, demo_plan())
    assert found["errors"]  # the demo's data breaks the schema here and there
    monkeypatch.setattr(schema_module, "MAX_VALUES_AT_ONCE", limit)
    assert same_both_ways(path, demo_plan()) == found


# Where the two engines read a value differently, the one for large data reads it as the
# fast one does: how much data there is changes no finding.
RULES_READ_APART = {
    "code": {"pattern": "^[0-9]+$"},  # "$" is the end of the text, not a final newline
    "digits": {"pattern": "^\\d+$"},  # \d is 0 to 9, not another script's digits
    "name": {"pattern": "^\\p{L}+$"},  # which Python's re cannot read
    "share": {"multipleOf": 0.01},  # 19.99 is a multiple, divided exactly
    "total": {"multipleOf": 1.1},  # and 1e16 is not
    "start": {"format": "date"},  # the year 0000 is a year
    "home": {"format": "iri"},  # which python jsonschema does not check
}
VALUES_READ_APART = [
    {"code": "12\n", "digits": "١٢٣", "name": "Zoë", "share": 19.99, "total": 1e16},
    {"code": "12", "digits": "123", "name": "Zoë1", "start": "0000-01-01"},
    {"start": "2024-02-30", "home": "http://é.example/ x", "share": 0.5},
]


@pytest.mark.parametrize("document", ["list", "object"])
def test_data_too_large_for_jsonschema_rs_at_once_is_read_as_it_reads_it(
    tmp_path, monkeypatch, document
):
    item = {"type": "object", "properties": RULES_READ_APART}
    list_schema = {"type": "array", "items": item}
    items = [*VALUES_READ_APART, *({"id": n} for n in range(30))]
    if document == "list":
        schema, data, at = list_schema, items, ""
    else:
        schema, data, at = root_schema(list_schema), {"grants": items}, "/grants"
    path, plan = write(tmp_path, data), plan_for(tmp_path, schema)
    found = same_both_ways(path, plan)
    assert {(place, rule) for place, rule, *_ in found["errors"]} == {
        (f"{at}/0/code", "pattern"),
        (f"{at}/0/digits", "pattern"),
        (f"{at}/0/total", "multipleOf"),
        (f"{at}/1/name", "pattern"),
        (f"{at}/2/start", "format"),
        (f"{at}/2/home", "format"),
    }
    monkeypatch.setattr(schema_module, "MAX_VALUES_AT_ONCE", 1)  # every item is large
    assert same_both_ways(path, plan) == found


def test_names_that_python_cannot_read_the_pattern_of_are_checked_in_large_data(
    tmp_path, monkeypatch
):
    item = {"type": "object", "patternProperties": {"^\\p{L}+$": {"type": "string"}}}
    path = write(tmp_path, {"grants": [{"Zoë": 1, "x1": 2}, *({"id": "a"} for _ in range(30))]})
    plan = plan_for(tmp_path, root_schema({"type": "array", "items": item}))
    found = same_both_ways(path, plan)
    assert [(place, rule) for place, rule, *_ in found["errors"]] == [("/grants/0/Zoë", "type")]
    monkeypatch.setattr(schema_module, "MAX_VALUES_AT_ONCE", 1)
    assert same_both_ways(path, plan) == found


def test_errors_outside_the_items_do_not_depend_on_how_many_items_there_are(tmp_path):
    # The rest of the document is small, however many values the items held before it:
    # the engine for large data took over for it past 20,000 values, with its own words.
    meta = {"type": "object", "additionalProperties": False, "unevaluatedProperties": False}
    grants = {"type": "array", "items": {"type": "object"}}
    schema = {"type": "object", "properties": {"grants": grants, "meta": meta}}
    plan = plan_for(tmp_path, schema)
    found = []
    for count in (10, 7_000):
        items = [{"id": f"G-{n}", "a": n, "b": "x"} for n in range(count)]
        path = write(tmp_path, {"meta": {"extra": 1}, "grants": items})
        for stream in (True, False):  # read whole, its items in batches
            errors = scan_file(path, replace(plan, stream=stream)).errors.errors
            found.append([(error.path, error.validator) for error in errors])
    assert found == [[("/meta", "additionalProperties")]] * 4


@pytest.mark.parametrize(
    ("elsewhere", "data", "places"),
    [
        # A $ref to the list itself, or to the whole schema, leads to its items' rule too.
        ({"archive": {"$ref": "#/properties/grants"}}, {"archive": [1, {}]}, {"/archive/0"}),
        ({"child": {"$ref": "#"}}, {"child": {"grants": [{}, 2]}}, {"/child/grants/1"}),
        ({"child": {"$ref": "schema.json"}}, {"child": {"grants": [3]}}, {"/child/grants/0"}),
    ],
)
def test_a_list_judged_whole_keeps_its_items_rule_for_a_ref_to_what_holds_it(
    tmp_path, elsewhere, data, places
):
    grants = {"type": "array", "items": {"type": "object"}, "uniqueItems": True}
    schema = {"type": "object", "properties": {"grants": grants, **elsewhere}}
    path = write(tmp_path, {"grants": [{}, {"id": 1}], **data})
    found = same_both_ways(path, plan_for(tmp_path, schema))
    assert {(place, rule) for place, rule, *_ in found["errors"]} == {
        (place, "type") for place in places
    }


@pytest.mark.parametrize("engine", ["reference", "large"])
def test_errors_python_jsonschema_finds_in_streamed_items_take_no_memory_beyond_those_kept(
    tmp_path, settings, monkeypatch, engine
):
    # Streamed items are checked with the cyclic collector paused, and python jsonschema's
    # errors hold cycles (a "required" error's reading of its field's name): 1.2 MB of
    # empty items after one with an empty field name took a worker to 1.2 GB.
    settings.ASSAY_MAX_STORED_ERRORS = 10
    peaks, broken = [], []
    for required in (["id", "title", "amount", "awardDate"], []):
        schema = root_schema({"type": "array", "items": {"required": required}})
        if engine == "reference":  # a field with an empty name: every item that follows
            items = [{"": 1, "id": "", "title": "", "amount": 0, "awardDate": ""}]
            items += [{} for _ in range(3000)]
        else:  # one item of more values than jsonschema-rs is given at once
            monkeypatch.setattr(schema_module, "MAX_VALUES_AT_ONCE", 1000)
            items = [{"entries": [{} for _ in range(3000)]}]
            schema["properties"]["grants"]["items"] = {
                "properties": {"entries": {"items": {"required": required}}}
            }
        peak, scan = traced_peak(write(tmp_path, {"grants": items}), plan_for(tmp_path, schema))
        peaks.append(peak)
        broken.append(scan.errors.total)
    assert broken == [12_000, 0]
    assert peaks[0] - peaks[1] < 1_000_000
