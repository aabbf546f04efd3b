"""A large file's main list read a half at a time, in two processes (tasks/scan.py
_read_in_halves): it must find exactly what one reading finds, in the same order, or
give way to one reading."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from process.errors import BadInput
from tasks import scan as scan_module
from tasks import schema as schema_module
from tasks.scan import Scan, scan_file
from tests.test_scan import demo_plan, findings, grants, plan_for, read_in_two, root_schema, write

DRAFT_2020 = "https://json-schema.org/draft/2020-12/schema"


@pytest.fixture
def halves(monkeypatch) -> list[bool]:
    """Whether each reading in two was done (True) or gave way to one reading (False)."""
    done: list[bool] = []
    read = scan_module._read_in_halves

    def spied(*args):
        try:
            scan = read(*args)
        except scan_module.NotReadInTwo:
            done.append(False)
            raise
        done.append(True)
        return scan

    monkeypatch.setattr(scan_module, "_read_in_halves", spied)
    return done


def in_order(scan: Scan) -> dict:
    """What findings() holds, with the errors and links in the order they are kept."""
    errors = scan.errors
    return findings(scan) | {
        "kept": [(e.path, e.validator, e.message, e.detail) for e in errors.errors],
        "groups in order": [
            (g["validator"], g["path_pattern"], g["count"], [e.path for e in g["examples"]])
            for g in errors.as_list()
        ],
        "link order": list(scan.links.places),
        "repeated": scan.repeated.as_dict(),
        "depth": scan.walk.max_depth,
        "strings": scan.walk.strings,
    }


def same_in_one_and_in_two(path: Path, plan) -> dict:
    in_one = in_order(scan_file(path, plan))
    assert in_order(read_in_two(path, plan)) == in_one
    return in_one


def open_files() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def failure(scan: Scan) -> str | None:
    return scan.validation_failure and scan.validation_failure.code


def deep_value(levels: int) -> dict:
    deep: dict = {}
    inner = deep
    for _ in range(levels):
        inner["a"] = {}
        inner = inner["a"]
    return deep


def mixed_grants(count: int) -> list[dict]:
    """Grants with mistakes and unusual fields in both halves, some met first in the second."""
    items = grants(count)
    half = count // 2
    items[3]["amount"]["currency"] = "XXX"
    items[half + 5]["amount"]["currency"] = "YYY"  # the same kind of error, later
    items[half + 9]["awardDate"] = "not a date"  # a kind met only in the second half
    items[half + 11]["onlyLater"] = {"deep": [1, 2]}  # a field met only in the second half
    items[half + 40]["id"] = items[2]["id"]  # an id given in each half
    link = items[1]["documents"][0]["url"]
    items[half + 20]["documents"].append({"url": link})  # a link met in each half
    return items


@pytest.mark.parametrize("stored", [4, 1000])  # the second half's errors kept, or some
def test_both_halves_together_find_what_one_reading_finds(tmp_path, halves, settings, stored):
    settings.ASSAY_MAX_STORED_ERRORS = stored
    data = {"publisher": {"name": "P"}, "grants": mixed_grants(600), "version": "1.0"}
    path = write(tmp_path, data)
    found = same_in_one_and_in_two(path, demo_plan())
    assert halves == [True]
    assert found["items"] == 600
    assert "/grants/*/onlyLater" in found["examples"]
    assert found["examples"]["/grants/*/onlyLater"][0]["path"] == "/grants/311/onlyLater"
    assert found["ids"][(False, "G-000002")] == 2
    link = data["grants"][1]["documents"][0]["url"]
    assert found["links"][1][link] == 2
    kept = [error[:2] for error in found["kept"]]
    assert len(kept) == min(stored, found["error_total"])
    assert (("/grants/309/awardDate", "format") in kept) == (stored == 1000)


def test_the_members_after_the_list_are_read_by_the_second_half(tmp_path, halves):
    schema = root_schema({"items": {"type": "object"}}, required=["after"])
    schema["properties"]["after"] = {"type": "string"}
    data = {"grants": [{"id": n, "text": "x" * 50} for n in range(400)], "after": 5, "last": []}
    found = same_in_one_and_in_two(write(tmp_path, data), plan_for(tmp_path, schema))
    assert halves == [True]
    assert ("/after", "type", "should be text, not a whole number", "") in found["kept"]
    assert found["lists"] == [("/grants", 400), ("/last", 0)]


def test_why_no_alternative_matches_is_placed_in_the_second_half_s_items(tmp_path, halves):
    recipient = {
        "oneOf": [
            {"type": "object", "required": ["name", "address"]},
            {"type": "object", "properties": {"id": {"pattern": "^[0-9]{8}$"}}, "required": ["id"]},
        ]
    }
    schema = root_schema({"items": {"properties": {"recipient": recipient}}})
    items = [{"id": n, "recipient": {"id": "12345678"}} for n in range(300)]
    items[250]["recipient"]["id"] = "250"
    found = same_in_one_and_in_two(write(tmp_path, {"grants": items}), plan_for(tmp_path, schema))
    assert halves == [True]
    [(path, _, _, detail)] = found["kept"]
    assert path == "/grants/250/recipient"
    assert "at /grants/250/recipient/id, does not match" in detail


def test_a_comma_in_a_list_inside_an_item_is_passed_over(tmp_path, halves):
    # Each item holds a list of objects that start as the items do: most commas before
    # such an opening near the middle of the file are inside an item.
    items = [{"id": n, "parts": [{"id": part} for part in range(30)]} for n in range(40)]
    path = write(tmp_path, json.dumps({"grants": items}))  # compact: the same openings
    same_in_one_and_in_two(path, demo_plan())
    assert halves == [True]


def test_a_comma_in_a_list_too_long_to_look_past_gives_way_to_one_reading(tmp_path, halves, caplog):
    # The middle of the file is in the second item's list, 300 KB before its end.
    parts = [{"id": part} for part in range(50_000)]
    items = [{"id": 0}, {"id": 1, "parts": parts}, {"id": 2}]
    path = write(tmp_path, json.dumps({"grants": items}))
    with caplog.at_level("INFO", logger="tasks.scan"):
        same_in_one_and_in_two(path, demo_plan())
    assert halves == [False]
    assert "the first half did not end between two items" in caplog.text


def test_a_field_with_an_empty_name_in_the_first_half_gives_way_to_one_reading(tmp_path, halves):
    items = grants(300)
    items[10]["amount"][""] = 1  # from here on, items are checked by python jsonschema
    items[200]["amount"]["currency"] = "XXX"
    same_in_one_and_in_two(write(tmp_path, {"grants": items}), demo_plan())
    assert halves == [False]


def test_a_field_with_an_empty_name_in_the_second_half_gives_way_to_one_reading(tmp_path, halves):
    # The items validated with it, from the start of its batch, are not the same when the
    # second half's batches start at its own first item. The engines name this error
    # differently: "minContains" (jsonschema-rs), "contains" (python jsonschema).
    tags = {"contains": {"const": "x"}, "minContains": 2}
    schema = root_schema({"items": {"properties": {"tags": tags}}}, **{"$schema": DRAFT_2020})
    items = [{"id": n, "tags": ["y"], "text": "x" * 50} for n in range(310)]
    items[240]["amount"] = {"": 1}
    found = same_in_one_and_in_two(write(tmp_path, {"grants": items}), plan_for(tmp_path, schema))
    assert halves == [False]
    assert {group[0] for group in found["groups"]} == {"minContains", "contains"}


def test_more_kinds_of_error_than_are_grouped_give_way_to_one_reading(
    tmp_path, halves, monkeypatch
):
    monkeypatch.setattr(schema_module, "MAX_KINDS", 2)
    items = grants(300)
    items[10]["amount"]["currency"] = "XXX"
    items[200]["awardDate"] = "never"
    items[210]["amount"]["value"] = "1"
    items[220]["amount"]["currency"] = "XXX"  # a kind grouped in the first half
    found = same_in_one_and_in_two(write(tmp_path, {"grants": items}), demo_plan())
    assert halves == [False]
    assert found["error_total"] > len(found["groups"]) == 2


def test_links_beyond_the_second_half_s_own_limit_give_way_to_one_reading(
    tmp_path, halves, settings
):
    settings.ASSAY_MAX_LINKS = 1
    items = [{"id": n, "documents": [{"url": f"https://a.example/{n}"}]} for n in range(300)]
    # The first half's link, met in the second past the links whose places it notes.
    items[290]["documents"].append({"url": "https://a.example/0"})
    found = same_in_one_and_in_two(write(tmp_path, {"grants": items}), demo_plan())
    assert halves == [False]
    assert found["links"][1] == {"https://a.example/0": 2}


def test_links_shared_by_both_halves_are_counted_in_both(tmp_path, halves, settings):
    settings.ASSAY_MAX_LINKS = 3
    items = [{"id": n, "documents": [{"url": f"https://a.example/{n % 4}"}]} for n in range(300)]
    found = same_in_one_and_in_two(write(tmp_path, {"grants": items}), demo_plan())
    assert halves == [True]
    assert found["links"][1] == {f"https://a.example/{n}": 75 for n in range(3)}


@pytest.mark.parametrize("half", ["first", "second"])
def test_malformed_json_in_either_half_is_reported_as_one_reading_reports_it(
    tmp_path, halves, half
):
    text = json.dumps({"grants": grants(300)}, indent=1)
    at = text.index('"title"', len(text) // 4 if half == "first" else 3 * len(text) // 4)
    path = write(tmp_path, text[:at] + "," + text[at:])
    with pytest.raises(BadInput) as in_one:
        scan_file(path, demo_plan())
    with pytest.raises(BadInput) as in_two:
        read_in_two(path, demo_plan())
    assert in_two.value.message == in_one.value.message
    assert "line" in in_one.value.message
    assert halves == [False]


def test_a_name_given_before_and_after_the_list_gives_way_to_one_reading(tmp_path, halves):
    items = json.dumps(grants(300))
    path = write(tmp_path, f'{{"version": "1", "grants": {items}, "version": "2"}}')
    found = same_in_one_and_in_two(path, demo_plan())
    assert halves == [False]
    assert found["repeated"]["count"] == 1


def test_a_second_half_that_fails_gives_way_to_one_reading(tmp_path, halves, monkeypatch):
    def fails(*_):
        raise RuntimeError("out of memory, say")

    monkeypatch.setattr(scan_module, "_later_half", fails)
    same_in_one_and_in_two(write(tmp_path, {"grants": grants(300)}), demo_plan())
    assert halves == [False]


def test_data_too_deep_to_validate_in_the_second_half_gives_way_to_one_reading(tmp_path, halves):
    nested = {"type": "object", "additionalProperties": {"$ref": "#/$defs/nested"}}
    item = {"properties": {"id": {"$ref": "#/$defs/nested"}}}
    schema = root_schema({"items": item}, **{"$defs": {"nested": nested}})
    deep = deep_value(400)
    items = [{"id": {}, "text": "x" * 50} for _ in range(300)]
    items[100]["id"] = 5
    items[200]["id"] = {"": {}}  # from here on checked by python jsonschema, which recurses
    items[250]["id"] = deep
    items[260]["id"] = 6  # not validated, after the failure
    path = tmp_path / "deep.json"  # compact: indenting is done in Python, which recurses
    path.write_text(json.dumps({"grants": items}))
    plan = plan_for(tmp_path, schema)
    in_one = scan_file(path, plan)
    found = same_in_one_and_in_two(path, plan)
    assert halves == [False]
    assert in_one.validation_failure.code == "too_deep"
    assert [kept[0] for kept in found["kept"]] == ["/grants/100/id"]


def test_data_too_deep_for_the_fast_engine_in_the_second_half_gives_way_to_one_reading(
    tmp_path, halves
):
    # jsonschema-rs gives no error of a batch holding data too deep to show: which errors
    # are lost hangs on where the batches start, one reading's and the second half's.
    items = [{"id": f"G-{n:03d}", "title": "t", "text": "x" * 50} for n in range(310)]
    for item in items:
        item["amount"] = {"value": 1, "currency": "XXX"}
    items[290]["notes"] = deep_value(400)
    del items[290]["title"]  # an error about the item, which shows it
    path = tmp_path / "deep.json"  # compact: indenting is done in Python, which recurses
    path.write_text(json.dumps({"grants": items}))
    in_one = scan_file(path, demo_plan())
    assert failure(read_in_two(path, demo_plan())) == failure(in_one) == "too_deep"
    same_in_one_and_in_two(path, demo_plan())
    assert halves == [False, False]


def test_a_field_short_of_examples_is_given_them_by_the_second_half_past_its_new_fields(
    tmp_path, halves, monkeypatch
):
    # The second half gives examples to as many fields as the whole reading does, the
    # first it meets: here those new ones, and not the field the first half met once.
    monkeypatch.setattr(scan_module, "MAX_EXAMPLED", 3)
    items = [{"id": f"G-{n:03d}", "title": "t", "text": "x" * 50} for n in range(300)]
    items[0]["rare"] = 0
    for n in (200, 201, 202):
        items[n][f"new{n}"] = n
    items[250]["rare"] = 250
    found = same_in_one_and_in_two(write(tmp_path, {"grants": items}), demo_plan())
    assert halves == [False]
    assert [e["path"] for e in found["examples"]["/grants/*/rare"]] == [
        "/grants/0/rare",
        "/grants/250/rare",
    ]


def test_a_file_is_read_in_one_process_when_no_copy_of_it_can_be_made(
    tmp_path, halves, monkeypatch
):
    def no_fork():
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    path = write(tmp_path, {"grants": grants(300)})
    open_before = open_files()
    same_in_one_and_in_two(path, demo_plan())
    assert halves == [False]
    assert open_files() == open_before  # the pipe is closed


def test_small_files_are_read_in_one(tmp_path, halves):
    scan_file(write(tmp_path, {"grants": grants(300)}), demo_plan())
    assert halves == []


def test_a_least_length_longer_than_the_first_half_is_judged_on_both(tmp_path, halves):
    schema = root_schema({"minItems": 250, "items": {"type": "object"}})
    items = [{"id": n, "text": "x" * 50} for n in range(300)]
    found = same_in_one_and_in_two(write(tmp_path, {"grants": items}), plan_for(tmp_path, schema))
    assert halves == [True]
    assert found["kept"] == []


def test_more_fields_short_of_examples_than_are_watched_give_way_to_one_reading(tmp_path, halves):
    # 60 fields the schema does not describe, each met every 60 items: short of examples
    # at once until the 120th, when there are more than are watched (scan.MAX_WATCHED).
    items = [{"id": f"G-{n:03d}", "description": "x" * 50, f"rare{n % 60}": n} for n in range(300)]
    found = same_in_one_and_in_two(write(tmp_path, {"grants": items}), demo_plan())
    assert halves == [False]
    assert len(found["examples"]) == 60


def test_brackets_and_openings_written_in_text_do_not_mislead_the_split(tmp_path, halves):
    text = 'a ]}] ,{"id": 1} \\" [ ,{"id":'
    items = [{"id": n, "title": text, "parts": [text, {"id": text}]} for n in range(300)]
    path = write(tmp_path, json.dumps({"grants": items}))
    found = same_in_one_and_in_two(path, demo_plan())
    assert halves == [True]
    assert found["items"] == 300
