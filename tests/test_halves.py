"""A large file's main list read a half at a time, in two processes (tasks/scan.py
_read_in_halves): it must find exactly what one reading finds, in the same order, or
give way to one reading."""

from __future__ import annotations

import errno
import json
import os
import random
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
from django.test import override_settings

from process.errors import BadInput
from tasks import reading
from tasks import scan as scan_module
from tasks import schema as schema_module
from tasks.scan import Scan, scan_file
from tasks.schema import ErrorGroups
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
    errors = scan.errors or ErrorGroups(max_errors=0)
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
        "failure": failure(scan),
        "ungrouped": errors.ungrouped,
        # The order in which fields, values and examples were first met.
        "met in order": [
            list(scan.walk.counts),
            list(scan.ids),
            [list(counted) for counted in scan.distinct.values()],
            list(scan.examples),
        ],
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


# Documents made at random, each read in one process and in two: any difference is a
# fault. HALVES_RANDOM_DOCUMENTS and HALVES_RANDOM_SEED run more, or others.
RANDOM_DOCUMENTS = int(os.environ.get("HALVES_RANDOM_DOCUMENTS", "150"))
RANDOM_SEED = int(os.environ.get("HALVES_RANDOM_SEED", "0"))
WORDS = ["grant", "Zürich", "café", "naïve", "日本", "😀", 'a "quoted" ]}', "x/y~z", "", "\\"]


def test_random_documents_find_the_same_read_in_one_process_or_in_two(
    tmp_path, halves, monkeypatch
):
    for seed in range(RANDOM_SEED, RANDOM_SEED + RANDOM_DOCUMENTS):
        rng = random.Random(seed)
        # Limits made small at times, so that small documents reach them. (Set with
        # override_settings: each change through the settings fixture nests the settings a
        # level deeper, past Python's recursion limit after a few hundred documents.)
        limits = {
            "ASSAY_MAX_STORED_ERRORS": rng.choice([1, 2, 3, 7, 1000]),
            "ASSAY_MAX_LINKS": rng.choice([1, 1, 2, 3, 5, 200]),
        }
        monkeypatch.setattr(schema_module, "MAX_KINDS", rng.choice([3, *[10_000] * 6]))
        monkeypatch.setattr(scan_module, "MAX_EXAMPLED", rng.choice([1, 3, 2_000]))
        monkeypatch.setattr(scan_module, "MAX_WATCHED", rng.choice([4, 50, 50]))
        monkeypatch.setattr(schema_module, "MAX_VALUES_AT_ONCE", rng.choice([60, 300, 20_000]))
        monkeypatch.setattr(reading, "RUN", rng.choice([200, 25_000]))
        monkeypatch.setattr(reading, "RUN_WINDOW", 4 * reading.RUN)
        monkeypatch.setattr(reading, "PIECE", rng.choice([97, 1 << 20]))
        path, plan = random_document(rng, tmp_path)
        with override_settings(**limits):
            in_two = in_order(read_in_two(path, plan))
            assert in_two == in_order(scan_file(path, plan)), f"seed {seed}"
    # Most are read in two; the others give way to one reading, each for a reason it logs.
    assert sum(halves) >= RANDOM_DOCUMENTS / 2, f"{sum(halves)} of {len(halves)} read in two"


def random_document(rng: random.Random, tmp_path: Path):
    """A file and a plan to read it with: the demo schema's grants, or items of a small
    schema of its own; mistakes, fields it does not describe and links, each first met
    anywhere in the list."""
    count = rng.randint(20, 250)
    custom = rng.random() < 0.5
    schema = random_schema(rng) if custom else None
    made = Made(rng, count)
    items = [made.item(n, custom) for n in range(count)]
    members = [("grants", items)]
    for name, value in [
        ("publisher", {"name": rng.choice(WORDS), "website": made.link()}),
        ("version", rng.choice(["1.0", 1, None])),
        ("notes", [rng.choice(WORDS) for _ in range(rng.randint(0, 4))]),
    ]:
        if rng.random() < 0.4:
            members.insert(rng.randint(0, len(members)), (name, value))
    if rng.random() < 0.15:  # a long list beside the items, whose entries start as theirs do
        history = [
            {"id": n, "was": rng.choice(WORDS)}
            for n in range(rng.randint(10, rng.choice([3, 20]) * count))
        ]
        members.insert(rng.randint(0, len(members)), ("history", history))
    if rng.random() < 0.03:
        members.append(("notes", "given twice"))
    path = tmp_path / "random.json"
    text = random_text(rng, members)
    bom = rng.random() < 0.05
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    if not custom:
        return path, demo_plan()
    links = ["/grants/*/links/*", "/grants/*/who/website", "/publisher/website", "/grants/*"]
    distinct = ("/grants/*/kind", "/grants/*/parts/*/n", "/version", "/grants/*/who", "/grants/*")
    id_name = rng.choice(["id", "id", "kind", "who"])
    plan = plan_for(tmp_path, schema, links=links, distinct=distinct, id_name=id_name)
    if rng.random() < 0.1:  # no schema: no errors, no additional fields
        plan = replace(plan, loaded=None, described=None)
    return path, plan


def random_text(rng: random.Random, members: list[tuple[str, object]]) -> str:
    indent = rng.choice([None, None, 0, 1, 2, "\t"])
    separators = rng.choice([None, (",", ":")]) if indent is None else None
    ascii_only = rng.random() < 0.3
    written = [
        json.dumps(name)
        + ": "
        + json.dumps(value, indent=indent, separators=separators, ensure_ascii=ascii_only)
        for name, value in members
    ]
    text = "{" + ",\n".join(written) + "}\n"
    if rng.random() < 0.1:
        text = text.replace("\n", "\r\n")
    if rng.random() < 0.1:
        text = text.replace(",", " ,")
    # A name given twice in an object, read as its last value (tasks/repeated.py).
    return re.sub(r'"twice":\s*1', '"twice": 0, "twice": 1', text)


class Made:
    """What one random document's items are made of: each kind of mistake, each field the
    schema does not describe, first met at an item of its own and then now and then."""

    def __init__(self, rng: random.Random, count: int):
        self.rng = rng
        self.errors = {kind: self.first_and_rate(count) for kind in range(40)}
        extras = ["extra", "ünïcode", "a/b", "t~1", "nested", "list", "later", *"klmnopq"]
        extras = rng.sample(extras, rng.randint(1, 10)) + ([""] if rng.random() < 0.1 else [])
        self.extras = {name: self.first_and_rate(count) for name in extras}
        self.links = [f"https://l.example/{n}" for n in range(rng.randint(1, 8))]
        self.new_links = rng.choice([0.2, 0.9])  # links met once
        self.ids: list = []
        self.odd = rng.choice([0, 0, 0.03])  # items that are not objects, or empty ones
        self.shuffled = rng.choice([0, 0, 0.05])  # items whose first field is not the id
        self.twice = rng.choice([0, 0, 0.02])  # objects naming a field twice
        self.big = rng.choice([0, 0, 0.05])  # items with long lists (many values)
        self.alike = rng.choice([0, 0, 0.3])
        self.numbers = rng.choice([0, 0, 0.05])

    def first_and_rate(self, count: int) -> tuple[int, float]:
        return self.rng.randrange(count), self.rng.choice([0, 0.01, 0.02, 0.1, 0.5])

    def met(self, kind, n: int, table=None) -> bool:
        first, rate = (table or self.errors)[kind]
        return n == first or (n > first and self.rng.random() < rate)

    def link(self) -> str:
        rng = self.rng
        if rng.random() < self.new_links:
            return rng.choice(
                [f"https://u.example/{rng.random()}", "HTTPS://L.example/0", "ftp://x"]
            )
        return rng.choice(self.links)

    def item(self, n: int, custom: bool):
        rng = self.rng
        if rng.random() < self.odd:
            return rng.choice([7, "text", None, [1, {"a": 1}], {}, 2.5, True, [], self.link()])
        item = self.custom(n) if custom else self.grant(n)
        if self.ids and rng.random() < 0.05:
            item["id"] = rng.choice(self.ids)  # an id given before
        self.ids.append(item.get("id"))
        for name in self.extras:
            if self.met(name, n, self.extras):
                item[name] = self.value()
        if rng.random() < self.twice:
            item["twice"] = 1
        if rng.random() < self.big:
            item["big"] = [{"n": n} for n in range(rng.randint(20, 200))]
        if rng.random() < self.alike:  # a list whose entries start as the items do
            item["alike"] = [{"id": n, "x": [{"id": 1}]} for n in range(rng.randint(1, 4))]
        if rng.random() < self.numbers:
            item["number"] = rng.choice([1.0, -0.0, 1e5, 2**70, 12345678901234567890123, 1.5e300])
        if rng.random() < 0.02:
            item["long"] = rng.choice(WORDS) * 40
        if rng.random() < self.shuffled:
            keys = list(item)
            rng.shuffle(keys)
            item = {key: item[key] for key in keys}
        return item

    def value(self):
        rng = self.rng
        return rng.choice(
            [
                rng.choice(WORDS),
                rng.randint(-5, 5),
                {"inner": rng.choice(WORDS), "list": [1, {"deep": rng.choice(WORDS)}]},
                [rng.choice(WORDS), [], {}],
                None,
                self.link(),
            ]
        )

    def grant(self, n: int) -> dict:
        rng = self.rng
        item = {
            "id": f"G-{n:03d}",
            "title": f"{rng.choice(WORDS)} {n}",
            "amount": {"value": rng.randint(0, 900), "currency": rng.choice(["GBP", "EUR"])},
            "awardDate": "2026-01-02",
        }
        if rng.random() < 0.5:
            org = {"id": "GB-CHC-1", "name": rng.choice(WORDS), "website": self.link()}
            item["recipientOrganization"] = org
        if rng.random() < 0.7:
            item["documents"] = [{"url": self.link()} for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.3:
            item["classifications"] = [{"scheme": "s", "code": "c"}]
        mistakes = [kind for kind in range(22) if self.met(kind, n)]
        for kind in mistakes:
            spoil_grant(item, kind, rng)
        return item

    def custom(self, n: int) -> dict:
        item = {"id": f"A-{n}"}
        for offset, name in enumerate(CUSTOM_VALUES):
            valid, *invalid = CUSTOM_VALUES[name]
            if self.met(20 + offset, n):
                item[name] = self.rng.choice(invalid)
            elif self.rng.random() < 0.7:
                item[name] = valid
        if "links" in item or self.rng.random() < 0.5:
            item["links"] = [self.link() for _ in range(self.rng.randint(0, 3))]
        if isinstance(item.get("who"), dict) and self.rng.random() < 0.5:
            item["who"] = {**item["who"], "website": self.link()}
        return item


def spoil_grant(item: dict, kind: int, rng: random.Random) -> None:
    """One of the demo schema's mistakes (``kind``, as they are met in increasing order)."""
    org = item.get("recipientOrganization")
    if not isinstance(org, dict):
        org = item["recipientOrganization"] = {"id": "GB-1", "name": "R"}
    spoils = [
        lambda: item.update(id=rng.choice(["X-1", 5, None])),
        lambda: item.pop("id"),
        lambda: item.update(title=rng.choice(["", "t" * 201, 3])),
        lambda: item["amount"].pop("currency"),
        lambda: item["amount"].update(currency=rng.choice(["XXX", "gbp"])),
        lambda: item["amount"].update(value=rng.choice([-1, "10", None])),
        lambda: item["amount"].update(extra={"ü": [1]}),
        lambda: item.update(awardDate=rng.choice(["2026-13-45", "soon", 2026])),
        lambda: item.pop("awardDate"),
        lambda: item.update(lastModified=rng.choice(["yesterday", "2026-01-01"])),
        lambda: org.update(name=""),
        lambda: org.update(id=rng.choice(["gb-1", "GB"])),
        lambda: org.update(address={"countryCode": rng.choice(["gbr", 44])}),
        lambda: item.update(description=rng.choice([["list"], "fine"])),
        lambda: org.update(website=rng.choice(["not a uri", "https://ok.example/"])),
        lambda: item.update(classifications=rng.choice([[{"scheme": "x"}], "topic", [5]])),
        lambda: item.update(documents=[{"title": "no url"}, {"url": "https://d.example"}]),
        lambda: item.update(documents=[{"url": "https://d.example", "format": "text/plain"}]),
        lambda: item.update(contact={"email": rng.choice(["nobody", "a@b.example", 5])}),
        lambda: item.update(fundingOrganization=rng.choice([{"id": "GB-1"}, {"name": "F"}])),
        # Last, as they replace what those before change.
        lambda: item.update(amount=rng.choice(["10", [], {}])),
        lambda: item.update(recipientOrganization=rng.choice([[], "R", {}])),
    ]
    spoils[kind]()


# Each field of the small schemas: a valid value, then invalid ones.
CUSTOM_VALUES = {
    "kind": ["a", "d", 1, "A"],
    "when": ["2026-01-02", "2026-02-30", "soon", 20260102],
    "email": ["a@b.example", "nobody", 5],
    "tags": [["x", "y"], [], ["far too long"], "x", [1]],
    "parts": [
        [{"n": 1}, {"n": 2}],
        [{"n": 1}],
        [{"n": -1}, {"n": "2"}],
        [{"m": 1}, {"n": 1, "extra": 2}],
        [{"n": 1}, 5],
    ],
    "who": [
        {"name": "N", "address": "A"},
        {"id": "123"},
        {"name": "N"},
        {},
        "who",
        {"name": "N", "address": "A", "id": "12345678"},
        {"id": 12345678, "address": 5},
    ],
    "what": [12, 3, "ABC", [1], {"a": 1}, "", 10.5],
    "meta": [{"x-a": "1"}, {"x-a": 1}, {"y": 1}, {"x-b": "ok", "z": [1]}],
    "nested": [{"deep": {"v": 1}}, {"deep": {}}, {"deep": {"v": "1"}}, {"deep": 5}],
    "pair": [["a", 1], ["a", "b"], ["a", 1, 2], [1]],
    "codes": [{"ab": 1}, {"AB": 1}, {"a1": 2, "ok": 3}],
    "score": [1.5, 1.25, 100, -0.5, "1"],
    "label": ["fine", "bad"],
    "flags": [["x", "y"], ["y"], ["x", "x"], []],
    "choice": [
        {"kind": "a", "n": 1},
        {"kind": "a", "n": "1"},
        {"kind": "b"},
        {"kind": "c", "n": {"v": []}},
        [{"kind": "a"}],
    ],
}
CUSTOM_SCHEMAS = {
    "id": {"type": "string", "pattern": "^A-[0-9]+$"},
    "kind": {"enum": ["a", "b", "c"]},
    "when": {"type": "string", "format": "date"},
    "email": {"format": "email"},
    "tags": {"type": "array", "minItems": 1, "items": {"type": "string", "maxLength": 5}},
    "parts": {
        "type": "array",
        "minItems": 2,
        "items": {
            "type": "object",
            "required": ["n"],
            "properties": {"n": {"type": "integer", "minimum": 0}},
            "additionalProperties": False,
        },
    },
    "who": {
        "oneOf": [
            {"type": "object", "required": ["name", "address"]},
            {
                "type": "object",
                "properties": {"id": {"type": "string", "pattern": "^[0-9]{8}$"}},
                "required": ["id"],
            },
        ]
    },
    "what": {
        "anyOf": [
            {"type": "integer", "minimum": 10},
            {"type": "string", "pattern": "^[a-z]+$"},
            {"type": "array", "minItems": 2},
        ]
    },
    "meta": {
        "type": "object",
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": False,
    },
    "nested": {
        "type": "object",
        "properties": {
            "deep": {"type": "object", "required": ["v"], "properties": {"v": {"type": "number"}}}
        },
    },
    "links": {"type": "array", "items": {"type": "string", "format": "uri"}},
    "pair": {
        "type": "array",
        "prefixItems": [{"type": "string"}, {"type": "integer"}],
        "items": False,
    },
    "codes": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}},
    "score": {"type": "number", "multipleOf": 0.5, "exclusiveMaximum": 100, "minimum": 0},
    "label": {"not": {"const": "bad"}},
    "flags": {"type": "array", "uniqueItems": True, "contains": {"const": "x"}},
    "choice": {
        "anyOf": [
            {
                "type": "object",
                "properties": {"kind": {"const": "a"}, "n": {"type": "integer"}},
                "required": ["kind", "n"],
            },
            {
                "type": "object",
                "properties": {
                    "kind": {"enum": ["b", "c"]},
                    "n": {
                        "oneOf": [
                            {
                                "type": "object",
                                "required": ["v"],
                                "properties": {"v": {"type": "number"}},
                            },
                            {"type": "string"},
                        ]
                    },
                },
                "required": ["kind", "n"],
            },
        ]
    },
}
# Rules on the item as a whole, some of them.
ITEM_RULES = [
    {
        "if": {"properties": {"kind": {"const": "a"}}, "required": ["kind"]},
        "then": {"required": ["when"]},
    },
    {"dependentRequired": {"email": ["when"]}},
    {"unevaluatedProperties": False},
    {"minProperties": 3},
    {"not": {"required": ["label", "score"]}},
]


def random_schema(rng: random.Random) -> dict:
    names = [name for name in CUSTOM_SCHEMAS if rng.random() < 0.7]
    item: dict = {"type": "object", "properties": {name: CUSTOM_SCHEMAS[name] for name in names}}
    if names and rng.random() < 0.5:
        item["required"] = rng.sample(names, rng.randint(1, len(names)))
    if rng.random() < 0.2:
        item["additionalProperties"] = False
    for rule in ITEM_RULES:
        if rng.random() < 0.15:
            item.update(rule)
    the_list: dict = {"type": "array", "items": item}
    if rng.random() < 0.3:
        the_list["minItems"] = rng.choice([1, 30, 100, 200])
    root = root_schema(the_list)
    if rng.random() < 0.5:
        root["$defs"] = {"item": item}
        the_list["items"] = {"$ref": "#/$defs/item"}
    root["properties"]["version"] = {"type": "string"}
    if rng.random() < 0.2:
        root["required"] = ["grants", "version"]
    if rng.random() < 0.2:
        root["properties"]["publisher"] = {"type": "object"}
        root["additionalProperties"] = False
    if rng.random() < 0.1:  # rules that show the whole document in their errors
        root.update(rng.choice([{"maxProperties": 2}, {"propertyNames": {"maxLength": 7}}]))
    draft = rng.choice([DRAFT_2020, "http://json-schema.org/draft-07/schema#", None])
    if draft:
        root["$schema"] = draft
    return root


def test_a_second_half_that_does_not_finish_gives_way_to_one_reading(
    tmp_path, halves, monkeypatch, caplog
):
    monkeypatch.setattr(scan_module, "_later_half", lambda *_: time.sleep(60))
    monkeypatch.setattr(scan_module, "LATER_WAIT", 0.5)
    started = time.monotonic()
    with caplog.at_level("INFO", logger="tasks.scan"):
        same_in_one_and_in_two(write(tmp_path, {"grants": grants(300)}), demo_plan())
    assert halves == [False]
    assert time.monotonic() - started < 10
    assert "the second half could not be read (no result in" in caplog.text
