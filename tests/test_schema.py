"""The schema module: offline loading, plain-words errors, grouping, and engine agreement."""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import re
import socket
import subprocess
import sys
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from process.errors import BadInput
from tasks import schema as schema_module
from tasks.schema import (
    Closest,
    ErrorGroups,
    Reason,
    SchemaError,
    is_valid,
    iter_errors,
    load_schema,
    truncate,
)
from tests.conftest import python_calls

DEMO_SCHEMA = Path(__file__).parent.parent / "profiles" / "demo" / "grants.schema.json"
EXAMPLES = Path(__file__).parent.parent / "examples" / "demo"

DRAFT_URIS = {
    "4": "http://json-schema.org/draft-04/schema#",
    "7": "http://json-schema.org/draft-07/schema#",
    "2019-09": "https://json-schema.org/draft/2019-09/schema",
    "2020-12": "https://json-schema.org/draft/2020-12/schema",
}


def write_schema(folder: Path, draft: str) -> Path:
    """A schema using the keywords each draft shares, split over two files with a $ref."""
    definitions = "definitions" if draft in {"4", "7"} else "$defs"
    person = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 2, "maxLength": 20},
            "email": {"type": "string", "format": "email"},
        },
        "additionalProperties": False,
    }
    item = {
        "type": "object",
        "required": ["id", "amount", "when"],
        "properties": {
            "id": {"type": "string", "pattern": "^A-[0-9]+$"},
            "amount": {"type": "number", "minimum": 0, "maximum": 1000, "multipleOf": 0.5},
            "currency": {"enum": ["GBP", "EUR"]},
            "when": {"type": "string", "format": "date"},
            "mail": {"type": "string", "format": "email"},
            "stamp": {"type": "string", "format": "date-time"},
            "link": {"type": "string", "format": "uri"},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "unique": {"type": "array", "uniqueItems": True},
            "count": {"type": ["integer", "null"]},
            "either": {"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 5}]},
            "any": {"anyOf": [{"type": "boolean"}, {"type": "string", "maxLength": 3}]},
            "person": {"$ref": "person.schema.json"},
            "nested": {"$ref": f"#/{definitions}/nested"},
        },
    }
    if draft == "4":  # "more than": a modifier of minimum, in draft 4 only
        item["properties"]["positive"] = {"minimum": 0, "exclusiveMinimum": True}
    else:
        item["properties"]["fixed"] = {"const": "yes"}
        item["properties"]["positive"] = {"exclusiveMinimum": 0}
        item["properties"]["retired"] = False  # a field that must not be there
        item["properties"]["numbers"] = {"contains": {"type": "integer"}}
    # A list of one text, and nothing more: said one way before 2020-12, another after.
    if draft == "2020-12":
        item["properties"]["pair"] = {"prefixItems": [{"type": "string"}], "items": False}
    else:
        item["properties"]["pair"] = {"items": [{"type": "string"}], "additionalItems": False}
        item["properties"]["named"] = {"propertyNames": {"maxLength": 5, "pattern": "^[a-z]"}}
    root = {
        "$schema": DRAFT_URIS[draft],
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "minItems": 1, "items": item}},
        definitions: {
            "nested": {"type": "object", "properties": {"deep": {"type": "integer"}}},
        },
    }
    (folder / "person.schema.json").write_text(json.dumps(person))
    path = folder / "root.schema.json"
    path.write_text(json.dumps(root))
    return path


VALID_ITEM = {
    "id": "A-1",
    "amount": 10.5,
    "currency": "GBP",
    "when": "2024-03-31",
    "stamp": "2024-03-31T12:00:00Z",
    "link": "https://example.org/a",
    "tags": ["x"],
    "unique": [1, 2],
    "count": 3,
    "either": "s",
    "any": True,
    "person": {"name": "Ann", "email": "ann@example.org"},
    "nested": {"deep": 1},
}
# Values chosen to sit near the edges of each rule, including format edge cases.
ODD_VALUES = [
    None, True, 0, -1, 7, 2.25, 1001, 1e300, "", "x", "A-", "A-12", "GBP", "gbp",
    "2024-02-30", "2024-1-01", "20240101", "2024-03-31", "2024-03-31T12:00:00Z",
    "2024-03-31T12:00:00", "2024-03-31 12:00:00Z", "2024-03-31t12:00:00z",
    "a@b", "a@b.c", "@", "ann@example.org", "http://x", "not a uri", "mailto:a@b",
    "https://example.org/a b", "yes", [], [1, 1], ["a", "b", "c", "d"], {}, {"deep": "1"},
    {"name": "A"}, {"name": "Ann", "extra": 1}, {"Deep": 1, "toolong": 2}, "a" * 30,
    "@b.c", "a b@c.d", "2024-01-01T23:59:59Z",
]  # fmt: skip


def mutated_documents(seed: int, count: int) -> list[dict]:
    rng = random.Random(seed)
    documents = []
    for _ in range(count):
        items = []
        for _ in range(rng.randint(1, 4)):
            item = copy.deepcopy(VALID_ITEM)
            for _ in range(rng.randint(0, 4)):
                extras = ["fixed", "positive", "named", "numbers", "pair", "mail", "extra"]
                extras.append("retired")
                key = rng.choice([*VALID_ITEM, *extras])
                if rng.random() < 0.15:
                    item.pop(key, None)
                else:
                    item[key] = copy.deepcopy(rng.choice(ODD_VALUES))
            items.append(item)
        documents.append({"items": items} if rng.random() > 0.05 else rng.choice(ODD_VALUES))
    return documents


def places(errors) -> Counter:
    return Counter((error.path, error.path_pattern, error.validator) for error in errors)


def details(errors) -> list[tuple[str, str, str, Closest | None]]:
    """Each error's place and rule with its detail (for a oneOf or anyOf), and the reasons
    it gives with the place of each, which a spreadsheet's error says in cells."""
    explained = [error.explained() for error in errors]
    return sorted(((e.path, e.validator, e.detail, e.closest) for e in explained), key=repr)


def rules(errors) -> Counter:
    """Each error's place with the place of the rule it breaks."""
    return Counter((error.path, error.validator, error.schema_path) for error in errors)


@pytest.mark.parametrize("draft", DRAFT_URIS)
def test_fast_engine_agrees_with_python_jsonschema(tmp_path, draft):
    loaded = load_schema(write_schema(tmp_path, draft))
    assert loaded.draft == draft
    invalid = explained = 0
    for document in mutated_documents(seed=len(draft), count=400):
        fast = list(iter_errors(document, loaded, engine="fast"))
        reference = list(iter_errors(document, loaded, engine="reference"))
        assert places(fast) == places(reference), document
        assert rules(fast) == rules(reference), document
        assert is_valid(document, loaded) == (not reference)
        # Same words too, so a report does not depend on the engine.
        assert sorted(e.message for e in fast) == sorted(e.message for e in reference)
        assert details(fast) == details(reference), document  # "either" and "any"
        invalid += bool(reference)
        explained += any(detail for *_, detail, _ in details(reference))
    assert 100 < invalid < 400  # the corpus exercises both outcomes
    assert explained > 20


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("46095", ", but a spreadsheet's day number: format the cells as dates"),
        ("46095.5", ", but a spreadsheet's day number: format the cells as dates"),
        ("12345", ""),  # 1933: not taken for a day number
        ("31/03/2024", ""),
    ],
)
def test_a_date_written_as_a_spreadsheet_s_day_number_says_so(engine, value, said):
    loaded = load_schema(DEMO_SCHEMA)
    document = json.loads((EXAMPLES / "grants-valid.json").read_bytes())
    document["grants"][0]["awardDate"] = value
    [error] = iter_errors(document, loaded, engine=engine)
    assert error.message == f"is not a date such as 2024-03-31{said}"


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("800", ": write it without quotes"),
        ("1,234.56", ": write it with no separators between thousands and a point before decimals"),
        ("1234,56", ": write it with no separators between thousands and a point before decimals"),
        (
            "1.234.567",
            ": write it with no separators between thousands and a point before decimals",
        ),
        ("lots", ""),
        ("1,2,3", ""),
    ],
)
def test_a_number_written_as_text_says_how_to_write_it(engine, value, said):
    loaded = load_schema(DEMO_SCHEMA)
    document = json.loads((EXAMPLES / "grants-valid.json").read_bytes())
    document["grants"][0]["amount"]["value"] = value
    [error] = iter_errors(document, loaded, engine=engine)
    assert error.message == f"should be a number, not text{said}"


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize(
    ("draft", "value", "said"),
    [
        ("2020-12", 2.5, "not a number with a fractional part"),
        ("4", 1.0, "not a number written with a decimal point"),  # draft 4 refuses 1.0
        ("2020-12", "2", "not text: write it without quotes"),
    ],
)
def test_a_whole_number_that_is_not_says_what_it_is(tmp_path, engine, draft, value, said):
    uri = {"4": "http://json-schema.org/draft-04/schema#"}.get(draft)
    schema = {**({"$schema": uri} if uri else {}), "type": "integer"}
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    [error] = iter_errors(value, load_schema(path), engine=engine)
    assert error.message == f"should be a whole number, {said}"


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize(
    ("items", "unique"),
    [
        ([{"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1.0}], False),  # in no order; 1 is 1.0
        ([{"a": 1}, {"a": True}], True),
        ([[1, {"a": None}], [1, {"a": None}]], False),
        ([[1, 2], [2, 1]], True),
        ([0, False, "0", None, [], {}], True),
    ],
)
def test_unique_items_are_told_apart_as_json_schema_says(tmp_path, engine, items, unique):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"uniqueItems": True}))
    found = [error.validator for error in iter_errors(items, load_schema(path), engine=engine)]
    assert found == ([] if unique else ["uniqueItems"])


def test_python_jsonschema_finds_items_not_unique_in_a_time_that_grows_with_the_list(tmp_path):
    # It compared every object with every other: 30,000 took a worker over 15 minutes.
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"uniqueItems": True}))
    loaded = load_schema(path)
    calls = []
    for count in (1000, 2000):
        items = [{"n": n} for n in range(count)] + [{"n": 0}]
        made, found = python_calls(list, iter_errors(items, loaded, "reference"))
        calls.append(made)
        assert [error.validator for error in found] == ["uniqueItems"]
    assert calls[1] < 3 * calls[0]  # twice the work for twice the items, not four times


def test_demo_examples_agree_and_read_plainly():
    loaded = load_schema(DEMO_SCHEMA)
    invalid = json.loads((EXAMPLES / "grants-invalid.json").read_bytes())
    fast = list(iter_errors(invalid, loaded))
    assert places(fast) == places(iter_errors(invalid, loaded, engine="reference"))
    by_path = {(e.path, e.validator): e for e in fast}
    missing = by_path[("/grants/0/amount", "required")]
    assert (missing.message, missing.missing, missing.value) == (
        "“currency” is missing",
        "currency",
        None,
    )
    assert by_path[("/grants/1/amount/value", "type")].message == (
        "should be a number, not text: write it without quotes"  # "800"
    )
    assert by_path[("/grants/4/awardDate", "format")].message == "is not a date such as 2024-03-31"
    enum = by_path[("/grants/2/amount/currency", "enum")]
    assert "“GBP”, “EUR”, “USD”" in enum.message
    assert enum.message.startswith("is not one of the allowed values")
    # The $ref to organisation.schema.json resolved from the profile folder.
    assert ("/grants/4/recipientOrganization", "required") in by_path
    valid = json.loads((EXAMPLES / "grants-valid.json").read_bytes())
    assert list(iter_errors(valid, loaded)) == []


def test_validation_never_touches_the_network(tmp_path, monkeypatch):
    (tmp_path / "s.json").write_text(
        json.dumps({"properties": {"a": {"$ref": "https://schemas.example.org/other.json"}}})
    )

    def no_network(*args, **kwargs):
        raise AssertionError("validation tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(BadInput) as caught:
        load_schema(tmp_path / "s.json")
    assert caught.value.code == "schema_invalid"
    assert "$ref" in caught.value.hint


@pytest.mark.parametrize(
    "hyper_schema",
    [
        "http://json-schema.org/draft-04/hyper-schema#",
        "http://json-schema.org/draft-07/hyper-schema#",
        "https://json-schema.org/draft/2019-09/hyper-schema",
    ],
)
def test_a_schema_declaring_its_draft_s_hyper_schema_checks_data_as_that_draft(
    tmp_path, hyper_schema
):
    # Hyper-schema adds links for hypermedia to a draft; nothing in it checks data.
    part = {"$schema": hyper_schema, "type": "integer", "links": []}
    (tmp_path / "part.json").write_text(json.dumps(part))
    schema = {"$schema": hyper_schema, "properties": {"a": {"$ref": "part.json"}}}
    (tmp_path / "s.json").write_text(json.dumps(schema))
    loaded = load_schema(tmp_path / "s.json")
    for engine in ("fast", "reference"):
        errors = list(iter_errors({"a": "x"}, loaded, engine))
        assert [(error.path, error.validator) for error in errors] == [("/a", "type")]


@pytest.mark.parametrize(
    ("content", "code", "words"),
    [
        ('{"type": "banana"}', "schema_invalid", "not a valid JSON Schema"),
        ('{"properties": {"a": {"pattern": "(unclosed"}}}', "schema_invalid", "not a valid"),
        ('{"type": ', "schema_json", "not valid JSON"),
        ("[1, 2]", "schema_invalid", "JSON object"),
        ('{"$schema": "http://example.org/my-own-draft"}', "schema_draft", "does not support"),
    ],
)
def test_an_unusable_schema_is_a_clear_bad_input(tmp_path, content, code, words):
    (tmp_path / "s.json").write_text(content)
    with pytest.raises(BadInput) as caught:
        load_schema(tmp_path / "s.json")
    assert caught.value.code == code
    assert words in caught.value.message


def test_a_schema_file_gone_since_the_profile_was_read_is_a_clear_bad_input(tmp_path):
    with pytest.raises(BadInput) as caught:
        load_schema(tmp_path / "gone.json")
    assert caught.value.code == "schema_invalid"
    assert "gone.json cannot be read: No such file or directory" in caught.value.message


def test_a_schema_without_id_resolves_refs_to_files_beside_it(tmp_path):
    (tmp_path / "part.json").write_text('{"type": "integer"}')
    (tmp_path / "main.json").write_text('{"properties": {"n": {"$ref": "part.json"}}}')
    loaded = load_schema(tmp_path / "main.json")
    assert loaded.draft == "2020-12"  # the default when $schema is absent
    errors = list(iter_errors({"n": "x"}, loaded))
    assert [(e.path, e.validator) for e in errors] == [("/n", "type")]


def test_a_schema_nested_too_deeply_to_read_is_a_clear_bad_input(tmp_path):
    node: dict = {"type": "string"}
    for _ in range(80):  # far deeper than any real schema, and python jsonschema can follow
        node = {"type": "object", "properties": {"p": {"allOf": [node]}}}
    (tmp_path / "deep.json").write_text(json.dumps(node))
    with pytest.raises(BadInput) as caught:
        load_schema(tmp_path / "deep.json")
    assert caught.value.code == "schema_invalid"
    assert "deep.json is nested too deeply" in caught.value.message


def test_formats_are_checked_in_every_draft(tmp_path):
    for draft, uri in DRAFT_URIS.items():
        folder = tmp_path / draft
        folder.mkdir()
        properties = {name: {"format": name} for name in ("date", "date-time", "uri", "email")}
        (folder / "s.json").write_text(json.dumps({"$schema": uri, "properties": properties}))
        loaded = load_schema(folder / "s.json")
        bad = {"date": "2024-02-30", "date-time": "yesterday", "uri": "no scheme", "email": "x"}
        found = {e.path for e in iter_errors(bad, loaded) if e.validator == "format"}
        assert found == {"/date", "/date-time", "/uri", "/email"}, draft


def format_errors(tmp_path: Path, draft: str, fmt: str, values: list[str], engine: str) -> set:
    folder = tmp_path / f"{draft}-{fmt}-{engine}"
    folder.mkdir()
    schema = {"$schema": DRAFT_URIS[draft], "items": {"format": fmt}}
    (folder / "s.json").write_text(json.dumps(schema))
    errors = iter_errors(values, load_schema(folder / "s.json"), engine=engine)
    return {error.path for error in errors if error.validator == "format"}


# Each breaks its format, though one of python jsonschema's checks or the other took it:
# "$" in a regular expression matches before a final newline, int() and UUID() read other
# scripts' digits and "_", and jsonschema-rs 0.60 took the bytes just below "0" for digits.
BROKEN_FORMATS = {
    "date": [
        "20/4-03-31",
        "2024-0,-31",
        "2024-03-31\n",
        " 2024-03-31",
        "\uff12\uff10\uff12\uff14-1-1",
    ],
    "date-time": ["2024-03-31T1-:00:00Z", "....-03-31T12:00:00Z", "2024-03-31T12:00:00Z\n"],
    "time": ["1-:0/:0.Z", "12:00:00Z\n"],
    "uri": ["https://example.org/a\n"],
    "uri-reference": ["../a/b\n"],
    "hostname": ["www.example.org\n", "www.exam\u0661ple.org"],
    "email": ["ann@example.org\n"],
    "uuid": [
        "123e4567-e89b-12d3-a456-4266141740_0",
        "123e4567-e89b-12d3-a456-42661417400\u0661",
        "123e4567-e89b-12d3-a456-426614174000\u00a0",
    ],
}


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("fmt", BROKEN_FORMATS)
def test_values_that_only_look_like_their_format_are_refused(tmp_path, fmt, engine):
    values = BROKEN_FORMATS[fmt]
    found = format_errors(tmp_path, "2020-12", fmt, values, engine)
    assert found == {f"/{index}" for index in range(len(values))}


# Formats an older draft does not define, with a value each that breaks it.
LATER_FORMATS = {
    "uuid": "{123e4567-e89b-12d3-a456-426614174000}",
    "duration": "one day",
    "uri-reference": "a b",
    "json-pointer": "no slash",
    "relative-json-pointer": "/a",
    "uri-template": "{unclosed",
    "idn-hostname": "-a-",
}


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("draft", DRAFT_URIS)
def test_every_draft_checks_every_format_as_2020_12_defines_it(tmp_path, draft, engine):
    for fmt, broken in LATER_FORMATS.items():
        assert format_errors(tmp_path, draft, fmt, [broken], engine) == {"/0"}, fmt


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("draft", DRAFT_URIS)
def test_an_object_closed_to_every_field_names_the_fields_it_refuses(tmp_path, draft, engine):
    closed = {"type": "object", "additionalProperties": False}
    schema = {"$schema": DRAFT_URIS[draft], "items": closed}
    (tmp_path / "s.json").write_text(json.dumps(schema))
    data = [{"id": "G-1", "amount": 5}, {}, {"note": "x"}]
    errors = list(iter_errors(data, load_schema(tmp_path / "s.json"), engine=engine))
    assert [(error.path, error.validator, error.message) for error in errors] == [
        ("/0", "additionalProperties", "has fields the schema does not allow: “id”, “amount”"),
        ("/2", "additionalProperties", "has a field the schema does not allow: “note”"),
    ]


def test_a_pattern_in_ecma_262_syntax_that_python_cannot_read_is_used(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"items": {"pattern": r"^\p{L}+$"}}))
    loaded = load_schema(tmp_path / "s.json")
    errors = list(iter_errors(["Éire", "1"], loaded))
    assert [(error.path, error.validator) for error in errors] == [("/1", "pattern")]


def test_a_pattern_no_engine_can_read_makes_the_schema_refused_plainly(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"items": {"pattern": "(unclosed"}}))
    with pytest.raises(BadInput) as caught:
        load_schema(tmp_path / "s.json")
    assert caught.value.code == "schema_invalid"
    assert "(unclosed" in caught.value.message


def test_errors_group_by_rule_and_place_with_counts_and_examples():
    loaded = load_schema(DEMO_SCHEMA)
    grant = {"id": "bad", "title": "t", "amount": {"value": 1, "currency": "GBP"}}
    data = {"grants": [dict(grant, id=f"bad{i}", awardDate="2024-01-01") for i in range(7)]}
    groups = ErrorGroups(max_errors=5)
    for error in iter_errors(data, loaded):
        groups.add(error)
    assert (groups.total, len(groups.errors), groups.truncated) == (7, 5, True)
    [group] = groups.as_list()
    assert group["path_pattern"] == "/grants/*/id"
    assert group["count"] == 7
    assert [e.value for e in group["examples"]] == ["bad0", "bad1", "bad2"]


def test_errors_of_kinds_past_those_grouped_are_counted_in_no_memory(monkeypatch):
    # An error naming the field the schema does not allow, in each item: a kind of error
    # each. Grouped, each with its example, 200,000 in a 3 MB file took a worker to 360 MB.
    monkeypatch.setattr(schema_module, "MAX_KINDS", 1000)
    errors = [
        SchemaError(
            validator="additionalProperties",
            path=f"/{n}",
            schema_path="/items/additionalProperties",
            message=f"has a field the schema does not allow: “x{n}”",
            value={f"x{n}": n},
            path_pattern="/*",
        )
        for n in range(5000)
    ]
    held = []
    for count in (1000, 5000):
        tracemalloc.start()
        try:
            groups = ErrorGroups(max_errors=10)
            for error in [*errors[:count], errors[0]]:
                groups.add(error)
            held.append(tracemalloc.get_traced_memory()[0])
        finally:
            tracemalloc.stop()
        assert (groups.total, groups.ungrouped) == (count + 1, count - 1000)
        assert len(groups.as_list()) == 1000
        assert groups.as_list()[0]["count"] == 2  # a kind grouped still counts its errors
    assert held[1] - held[0] < 100_000


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_key_that_is_a_number_is_not_taken_for_a_list_index(tmp_path, engine):
    schema = tmp_path / "schema.json"
    budget = {"type": "array", "items": {"type": "number"}}
    schema.write_text(json.dumps({"additionalProperties": budget}))
    # Digits to str.isdigit, but not numbers to int(): met first when looking for "007".
    data = {"²": [8], "9" * 5000: [9]}
    data |= {"2024": [1, "two", 3, "four"], "2025": ["five"], "007": ["six"], "later": ["7"]}
    errors = list(iter_errors(data, load_schema(schema), engine=engine))
    assert Counter(e.path_pattern for e in errors) == {
        "/2024/*": 2,
        "/2025/*": 1,
        "/007/*": 1,
        "/later/*": 1,
    }
    paths = sorted(e.path for e in errors)
    assert paths == ["/007/0", "/2024/1", "/2024/3", "/2025/0", "/later/0"]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_keys_that_spell_the_same_number_each_keep_their_own_errors(tmp_path, engine):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"additionalProperties": {"type": "integer"}}))
    data = {"7": "a", "007": "b", "+7": "c", "07": {"x": 1}, "8": 8}
    errors = list(iter_errors(data, load_schema(schema), engine=engine))
    assert sorted((error.path, json.dumps(error.value)) for error in errors) == [
        ("/+7", '"c"'),
        ("/007", '"b"'),
        ("/07", '{"x": 1}'),
        ("/7", '"a"'),
    ]


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize(
    ("schema", "data", "expected"),
    [
        ({"type": "integer"}, {"7": "a", "007": "a"}, ["/007", "/7"]),  # the same value
        ({"type": "integer"}, {"7": 1, "07": True}, ["/07"]),  # 1 == True to Python
        ({"type": "integer"}, {"7": {"007": "x"}, "07": 5}, ["/7"]),
        ({"additionalProperties": False}, {"7": {"a": 1}, "07": {"b": 1}}, ["/07", "/7"]),
        ({"properties": {"007": {"type": "string"}}}, {"7": {"007": 1}, "07": {}}, ["/7/007"]),
    ],
)
def test_errors_under_keys_that_spell_the_same_number_are_placed_at_each(
    tmp_path, engine, schema, data, expected
):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"additionalProperties": schema}))
    errors = list(iter_errors(data, load_schema(path), engine=engine))
    assert sorted(error.path for error in errors) == expected


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_closed_object_reached_two_ways_is_refused_by_each(tmp_path, engine):
    closed = {"$defs": {"c": {"additionalProperties": False}}}
    schema = {**closed, "allOf": [{"$ref": "#/$defs/c"}, {"$ref": "#/$defs/c"}]}
    (tmp_path / "s.json").write_text(json.dumps(schema))
    errors = list(iter_errors({"a": 1}, load_schema(tmp_path / "s.json"), engine=engine))
    assert [(error.path, error.validator) for error in errors] == [("", "additionalProperties")] * 2


def test_a_bad_field_name_is_shown_as_the_value_in_plain_words(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"propertyNames": {"maxLength": 3}}))
    [error] = iter_errors({"ok": 1, "toolong": 2}, load_schema(tmp_path / "s.json"))
    assert (error.path, error.validator, error.value) == ("", "maxLength", "toolong")
    assert error.message == "has a field name that should have at most 3 characters"


def test_a_format_python_jsonschema_cannot_check_is_still_refused(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"properties": {"a": {"format": "iri"}}}))
    [error] = iter_errors({"a": "not an iri at all"}, load_schema(tmp_path / "s.json"))
    assert (error.path, error.validator) == ("/a", "format")


def test_a_pattern_that_backtracks_is_not_run_by_python_on_the_data(tmp_path):
    # Python's re takes minutes on this value (four times longer per two characters);
    # the fast engine's regular expressions cannot backtrack so.
    email = r"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}[a-z]{2,3}$"
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"items": {"pattern": email}}))
    data = tmp_path / "data.json"
    data.write_text(json.dumps(["a" * 40 + "!"]))
    script = (
        "import json, sys; from pathlib import Path; from tasks.schema import *; "
        "print(len(list(iter_errors(json.loads(Path(sys.argv[2]).read_text()), "
        "load_schema(Path(sys.argv[1]))))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(schema), str(data)],
        cwd=Path(__file__).parent.parent, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.stdout.strip() == "1", done.stderr


def test_python_jsonschema_reads_a_pattern_of_large_data_as_the_fast_engine_does(
    tmp_path, monkeypatch
):
    # Not with Python's re, which takes exponential time on some patterns and values, and
    # reads "\d" and "$" otherwise; python jsonschema finds the errors of large data.
    searched = []
    search = re.search
    monkeypatch.setattr(re, "search", lambda *args: searched.append(args[1]) or search(*args))
    (tmp_path / "s.json").write_text(json.dumps({"items": {"pattern": r"^\d+$"}}))
    data = ["12", "١٢", "12\n"]
    errors = list(iter_errors(data, load_schema(tmp_path / "s.json"), engine="large"))
    assert [(error.path, error.validator) for error in errors] == [
        ("/1", "pattern"),
        ("/2", "pattern"),
    ]
    assert not set(data) & set(searched)


def test_a_field_name_rule_is_told_from_a_field_named_propertynames(tmp_path):
    schema = {
        "properties": {
            "propertyNames": {"type": "string"},
            "tags": {"propertyNames": {"$ref": "#/$defs/short"}},
            # A field named "properties" (GeoJSON has them) whose own names are limited.
            "properties": {"propertyNames": {"maxLength": 3}},
            "rows": {"items": {"propertyNames": {"maxLength": 3}}},
        },
        "$defs": {"short": {"maxLength": 3}},
    }
    (tmp_path / "s.json").write_text(json.dumps(schema))
    loaded = load_schema(tmp_path / "s.json")
    data = {"propertyNames": 5, "tags": {"toolong": 1}, "properties": {"toolong": 1}}
    data["rows"] = [{"toolong": 1}]
    for engine in ("fast", "reference"):
        messages = {e.path: e.message for e in iter_errors(data, loaded, engine=engine)}
        assert messages == {
            "/propertyNames": "should be text, not a whole number",
            "/tags": "has a field name that should have at most 3 characters",
            "/properties": "has a field name that should have at most 3 characters",
            "/rows/0": "has a field name that should have at most 3 characters",
        }, engine


def test_truncate():
    assert truncate("x" * 200).endswith("…")
    assert len(truncate("x" * 200)) == 80
    assert truncate({"a": [1, 2]}) == {"a": [1, 2]}
    long_list = truncate(list(range(100)))
    assert long_list == [0, 1, 2, "…"]
    long_object = truncate({f"key{i}": "v" * 50 for i in range(10)})
    assert list(long_object) == ["key0", "key1", "key2", "…"]
    assert long_object["key0"].endswith("…")
    # Entries too long to show whole are cut, but none is left out: no "…" entry.
    few_long = truncate({"a": "v" * 100, "b": "w" * 100})
    assert list(few_long) == ["a", "b"] and few_long["a"].endswith("…")
    assert truncate(["v" * 100]) == [truncate("v" * 100, 20)]
    assert truncate(5) == 5


def test_a_ref_into_a_subfolder_reads_the_file_it_names(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "grant.json").write_text('{"type": "string"}')  # same name, other place
    (tmp_path / "sub" / "grant.json").write_text('{"type": "integer"}')
    (tmp_path / "my grant.json").write_text('{"type": "boolean"}')
    main = {"properties": {"a": {"$ref": "sub/grant.json"}, "b": {"$ref": "my%20grant.json"}}}
    (tmp_path / "main.json").write_text(json.dumps(main))
    loaded = load_schema(tmp_path / "main.json")
    for engine in ("fast", "reference"):
        errors = iter_errors({"a": "x", "b": 1}, loaded, engine=engine)
        assert sorted((e.path, e.message) for e in errors) == [
            ("/a", "should be a whole number, not text"),
            ("/b", "should be true or false, not a whole number"),
        ]


@pytest.mark.parametrize("draft", ["2020-12", "7", "4"])
def test_a_ref_under_a_nested_id_reads_the_file_beside_that_id(tmp_path, draft):
    id_key = "id" if draft == "4" else "$id"
    (tmp_path / "sub").mkdir()
    (tmp_path / "x.json").write_text('{"type": "string"}')  # same name, other place
    (tmp_path / "sub" / "x.json").write_text('{"type": "integer"}')
    inner = {id_key: "sub/inner.json", "properties": {"c": {"$ref": "x.json"}}}
    uri = {"7": "http://json-schema.org/draft-07/schema#"}.get(draft)
    uri = uri or {"4": "http://json-schema.org/draft-04/schema#"}.get(draft)
    main = {**({"$schema": uri} if uri else {}), "properties": {"b": inner}}
    (tmp_path / "main.json").write_text(json.dumps(main))
    loaded = load_schema(tmp_path / "main.json")
    for engine in ("fast", "reference"):
        errors = iter_errors({"b": {"c": "text"}}, loaded, engine=engine)
        assert [(e.path, e.message) for e in errors] == [
            ("/b/c", "should be a whole number, not text")
        ], engine


def test_a_ref_out_of_the_schema_folder_is_refused_in_plain_words(tmp_path):
    (tmp_path / "profile").mkdir()
    (tmp_path / "grant.json").write_text('{"type": "string"}')
    (tmp_path / "profile" / "grant.json").write_text('{"type": "integer"}')
    main = tmp_path / "profile" / "main.json"
    main.write_text('{"items": {"$ref": "../grant.json"}}')
    with pytest.raises(BadInput) as caught:
        load_schema(main)
    assert caught.value.code == "schema_invalid"
    assert caught.value.message == (
        f"The schema cannot be used: a $ref names {(tmp_path / 'grant.json').as_uri()}, "
        "which is not a file in the schema's folder."
    )


@pytest.mark.parametrize("draft", list(DRAFT_URIS))
def test_a_ref_to_a_standard_meta_schema_is_read_offline(tmp_path, monkeypatch, draft):
    # "This field holds a JSON Schema": the meta-schema ships with python jsonschema.
    def no_network(*args, **kwargs):
        raise AssertionError("validation tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    schema = {"$schema": DRAFT_URIS[draft], "properties": {"rule": {"$ref": DRAFT_URIS[draft]}}}
    (tmp_path / "s.json").write_text(json.dumps(schema))
    loaded = load_schema(tmp_path / "s.json")
    for engine in ("fast", "reference"):
        assert list(iter_errors({"rule": {"type": "string"}}, loaded, engine=engine)) == []
        errors = iter_errors({"rule": {"type": "strin"}}, loaded, engine=engine)
        assert [error.path for error in errors] == ["/rule/type"]


@pytest.mark.parametrize(
    ("draft", "other"),
    [
        ("2020-12", DRAFT_URIS["4"]),
        ("7", DRAFT_URIS["2020-12"]),
        ("7", "http://json-schema.org/draft-03/schema#"),  # a draft Assay does not read
    ],
)
def test_a_ref_to_another_draft_s_meta_schema_is_refused_saying_why(tmp_path, draft, other):
    # The fast engine would read it as the root's draft and check less than it says.
    schema = {"$schema": DRAFT_URIS[draft], "properties": {"rule": {"$ref": other}}}
    (tmp_path / "s.json").write_text(json.dumps(schema))
    with pytest.raises(BadInput) as caught:
        load_schema(tmp_path / "s.json")
    assert caught.value.message == (
        f"The schema cannot be used: a $ref names {other.rstrip('#')}, the "
        "meta-schema of another draft than the schema's own, which Assay cannot check against."
    )


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_file_a_ref_names_is_read_in_the_draft_it_declares(tmp_path, engine):
    other = {
        "$schema": DRAFT_URIS["2020-12"],
        "properties": {"pair": {"prefixItems": [{"type": "string"}], "items": False}},
        "dependentRequired": {"n": ["m"]},
    }
    (tmp_path / "other.json").write_text(json.dumps(other))
    main = {"$schema": DRAFT_URIS["7"], "properties": {"t": {"$ref": "other.json"}}}
    (tmp_path / "main.json").write_text(json.dumps(main))
    loaded = load_schema(tmp_path / "main.json")
    found = {
        (e.path, e.validator)
        for e in iter_errors({"t": {"pair": ["a", "b"], "n": 1}}, loaded, engine=engine)
    }
    # Read as draft 7, prefixItems and dependentRequired would mean nothing, and "items":
    # false would refuse "a" too.
    assert ("/t", "dependentRequired") in found
    assert ("/t/pair/0", "items") not in found and ("/t/pair/0", "false") not in found
    assert found - {("/t", "dependentRequired")}  # and "b" is refused, one way or another


def test_only_files_a_ref_reaches_are_read(tmp_path):
    (tmp_path / "c.json").write_text('{"type": "integer"}')
    (tmp_path / "b.json").write_text('{"$ref": "c.json"}')
    (tmp_path / "main.json").write_text('{"properties": {"n": {"$ref": "b.json"}}}')
    (tmp_path / "data.json").write_text("[1, 2, 3]")  # data kept beside the schema
    loaded = load_schema(tmp_path / "main.json")
    assert [1, 2, 3] not in loaded.resources.values()
    assert [(e.path, e.validator) for e in iter_errors({"n": "x"}, loaded)] == [("/n", "type")]


def test_a_ref_to_a_place_the_schema_does_not_have_is_refused_in_one_plain_line(tmp_path):
    main = tmp_path / "main.json"
    main.write_text('{"properties": {"a": {"$ref": "#/definitions/nothere"}}}')
    with pytest.raises(BadInput) as caught:
        load_schema(main)
    assert caught.value.message == (
        "The schema cannot be used: a $ref points to “/definitions/nothere”, which the "
        "document it names lacks."
    )


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_rule_is_placed_in_the_file_it_is_written_in(tmp_path, engine):
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "money.json").write_text(
        json.dumps({"$defs": {"amount": {"type": "object", "required": ["currency"]}}})
    )
    main = {
        "$id": "https://example.org/schemas/main.json",
        "properties": {
            "cost": {"$ref": "common/money.json#/$defs/amount"},
            "size": {"$ref": "#/$defs/size"},
            # A subschema with an $id of its own, written inside this file.
            "code": {"$id": "code.json", "properties": {"n": {"type": "integer"}}},
            "note": {"$ref": "code.json"},
            "a/b~c": {"maxLength": 2},
        },
        "$defs": {"size": {"minimum": 1}},
    }
    (tmp_path / "main.json").write_text(json.dumps(main))
    loaded = load_schema(tmp_path / "main.json")
    data = {"cost": {}, "size": 0, "code": {"n": "x"}, "note": {"n": "y"}, "a/b~c": "xyz"}
    assert {e.path: e.schema_path for e in iter_errors(data, loaded, engine=engine)} == {
        "/cost": "common/money.json#/$defs/amount/required",
        "/size": "/$defs/size/minimum",
        "/code/n": "/properties/code/properties/n/type",
        "/note/n": "/properties/code/properties/n/type",
        "/a~1b~0c": "/properties/a~1b~0c/maxLength",
    }


def test_a_false_subschema_places_its_error_at_the_field_in_both_engines(tmp_path):
    (tmp_path / "main.json").write_text('{"properties": {"old": false, "new": true}}')
    loaded = load_schema(tmp_path / "main.json")
    for engine in ("fast", "reference"):
        [error] = iter_errors({"old": 1, "new": 2}, loaded, engine=engine)
        assert (error.path, error.validator, error.schema_path) == (
            "/old",
            "false",
            "/properties/old",
        ), engine


D7 = "http://json-schema.org/draft-07/schema#"
D4 = "http://json-schema.org/draft-04/schema#"
# Each: the files (main.json first), the data, and where the rule of its one error is.
RULES_IN_PLACES = {
    "an $anchor": (
        {
            "main.json": {
                "properties": {"a": {"$ref": "#n"}},
                "$defs": {"n": {"$anchor": "n", "type": "integer"}},
                "type": "object",
            }
        },
        {"a": "x"},
        "/$defs/n/type",
    ),
    "a root $id ending in #": (
        {
            "main.json": {
                "$schema": D7,
                "$id": "https://example.org/s.json#",
                "properties": {"a": {"$ref": "#/definitions/n"}},
                "definitions": {"n": {"type": "integer"}},
            }
        },
        {"a": "x"},
        "/definitions/n/type",
    ),
    "a $ref to a false schema": (
        {
            "main.json": {"properties": {"a": {"$ref": "other.json#/$defs/no"}}},
            "other.json": {"$defs": {"no": False}},
        },
        {"a": 1},
        "other.json#/$defs/no",
    ),
    "a false subschema in a file that declares its draft": (
        {
            "main.json": {"properties": {"a": {"$ref": "other.json"}}},
            "other.json": {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "properties": {"old": False},
            },
        },
        {"a": {"old": 1}},
        "other.json#/properties/old",
    ),
    "a false else": (
        {"main.json": {"properties": {"a": {"if": {"type": "string"}, "else": False}}}},
        {"a": 1},
        "/properties/a/else",
    ),
    "field names checked by another file": (
        {
            "main.json": {"properties": {"a": {"propertyNames": {"$ref": "names.json"}}}},
            "names.json": {"maxLength": 2},
        },
        {"a": {"abc": 1}},
        "names.json#/maxLength",
    ),
    "field names checked by a false schema": (
        {
            "main.json": {
                "properties": {"a": {"propertyNames": {"$ref": "#/$defs/n"}}},
                "$defs": {"n": False},
            }
        },
        {"a": {"abc": 1}},
        "/$defs/n",
    ),
    "a pointer into a subschema with an id": (
        {
            "main.json": {
                "$schema": D4,
                "id": "http://example.org/s/main.json",
                "properties": {"a": {"$ref": "#/definitions/n"}},
                "definitions": {"n": {"id": "n.json", "type": "integer"}},
            }
        },
        {"a": "x"},
        "/definitions/n/type",
    ),
    "a $dynamicRef": (
        {
            "main.json": {
                "$id": "https://example.org/strict.json",
                "$dynamicAnchor": "node",
                "$ref": "tree.json",
                "unevaluatedProperties": False,
            },
            "tree.json": {
                "$id": "https://example.org/tree.json",
                "$dynamicAnchor": "node",
                "properties": {
                    "v": {"type": "integer"},
                    "kids": {"items": {"$dynamicRef": "#node"}},
                },
            },
        },
        {"kids": [{"v": "x"}]},
        "tree.json#/properties/v/type",
    ),
}


@pytest.mark.parametrize("case", RULES_IN_PLACES)
def test_both_engines_place_a_rule_where_it_is_written(tmp_path, case):
    files, data, place = RULES_IN_PLACES[case]
    for name, schema in files.items():
        (tmp_path / name).write_text(json.dumps(schema))
    loaded = load_schema(tmp_path / "main.json")
    fast, reference = (list(iter_errors(data, loaded, engine=e)) for e in ("fast", "reference"))
    assert [e.schema_path for e in fast] == [e.schema_path for e in reference] == [place]
    assert [e.validator for e in fast] == [e.validator for e in reference]


# Alternatives: why a oneOf or anyOf that nothing matches does not --------------------------

RECIPIENT = {  # a person by name and address, or an organisation by an 8-digit number
    "oneOf": [
        {"type": "object", "required": ["name", "address"]},
        {"type": "object", "properties": {"id": {"pattern": "^[0-9]{8}$"}}, "required": ["id"]},
    ]
}


def explained(data, schema: dict, tmp_path: Path, engine: str) -> list[tuple[str, str, str]]:
    (tmp_path / f"{engine}.json").write_text(json.dumps(schema))
    errors = iter_errors(data, load_schema(tmp_path / f"{engine}.json"), engine=engine)
    return [(e.path, e.message, e.explained().detail) for e in errors]


NONE_MATCHES = "matches none of the allowed alternatives"


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize(
    ("data", "detail"),
    [
        ({"id": "123"}, "Closest is alternative 2: at /id, does not match the pattern ^[0-9]{8}$"),
        # As close as each other: the first.
        ({"name": "Ann"}, "Closest is alternative 1: “address” is missing"),
        ({}, "Closest is alternative 2: “id” is missing"),
        ("Ann", "Closest is alternative 1: should be an object, not text"),
    ],
)
def test_a_one_of_nothing_matches_says_why_the_closest_alternative_does_not(
    tmp_path, engine, data, detail
):
    assert explained(data, RECIPIENT, tmp_path, engine) == [("", NONE_MATCHES, detail)]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_an_any_of_says_so_too_placing_each_reason_in_the_data(tmp_path, engine):
    schema = {"items": {"properties": {"who": {"anyOf": RECIPIENT["oneOf"]}}}}
    data = [{"who": {"id": "A1"}}, {"who": {"id": "12345678"}}]
    assert explained(data, schema, tmp_path, engine) == [
        (
            "/0/who",
            NONE_MATCHES,
            "Closest is alternative 2: at /0/who/id, does not match the pattern ^[0-9]{8}$",
        )
    ]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_the_closest_alternative_s_first_three_reasons_are_given_in_reading_order(tmp_path, engine):
    schema = {
        "anyOf": [
            {"type": "array"},
            {"properties": {"z": {"type": "string"}}, "required": ["c", "b", "a", "d"]},
        ]
    }
    assert explained({"z": 1}, schema, tmp_path, engine) == [
        (
            "",
            NONE_MATCHES,
            "Closest is alternative 1: should be a list, not an object",
        )
    ]
    assert explained({"z": 1, "q": 2}, {"anyOf": schema["anyOf"][1:]}, tmp_path, engine) == [
        (
            "",
            NONE_MATCHES,
            "Closest is alternative 1: “a” is missing; “b” is missing; “c” is missing; and 2 more",
        )
    ]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_alternatives_inside_the_closest_and_behind_a_ref_are_explained(tmp_path, engine):
    (tmp_path / "org.json").write_text(json.dumps(RECIPIENT["oneOf"][1]))
    schema = {
        "$defs": {"person": RECIPIENT["oneOf"][0]},
        "properties": {
            "who": {
                "oneOf": [
                    {"$ref": "#/$defs/person"},
                    {"type": "object", "properties": {"org": {"anyOf": [{"$ref": "org.json"}]}}},
                ]
            }
        },
        "required": ["who"],
    }
    data = {"who": {"name": "Ann", "org": {"id": "12"}}}
    assert explained(data, schema, tmp_path, engine) == [
        (
            "/who",
            NONE_MATCHES,
            "Closest is alternative 1: “address” is missing",
        )
    ]
    data = {"who": {"org": {"id": "12"}}}
    assert explained(data, schema, tmp_path, engine) == [
        (
            "/who",
            NONE_MATCHES,
            f"Closest is alternative 2: at /who/org, {NONE_MATCHES} (closest is alternative 1: "
            "at /who/org/id, does not match the pattern ^[0-9]{8}$)",
        )
    ]


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_a_one_of_matched_twice_or_a_field_name_matching_none_has_no_detail(tmp_path, engine):
    schema = {
        "properties": {"both": {"oneOf": [{"type": "string"}, {"minLength": 1}]}},
        "propertyNames": {"anyOf": [{"maxLength": 2}, {"pattern": "^b"}]},
    }
    assert sorted(explained({"both": "x", "long": 1}, schema, tmp_path, engine)) == [
        ("", f"has a field name that {NONE_MATCHES}", ""),
        ("/both", "matches more than one of the alternatives, and must match exactly one", ""),
    ]


def alternatives_schema(folder: Path, draft: str) -> Path:
    """oneOf and anyOf, nested, and through $refs to a definition and to another file."""
    definitions = "definitions" if draft in {"4", "7"} else "$defs"
    org = {
        "type": "object",
        "properties": {"id": {"pattern": "^[0-9]{8}$"}, "country": {"enum": ["GB", "FR"]}},
        "required": ["id", "country"],
    }
    (folder / "org.json").write_text(json.dumps(org))
    person = {
        "type": "object",
        "properties": {"name": {"type": "string", "minLength": 2}, "age": {"minimum": 0}},
        "required": ["name", "address"],
    }
    who = {
        "oneOf": [
            {"$ref": f"#/{definitions}/person"},
            {"$ref": "org.json"},
            {"type": "object", "properties": {"either": {"anyOf": [
                {"type": "integer", "maximum": 5},
                {"type": "string", "enum": ["a", "b"]},
                {"$ref": "org.json"},
            ]}}, "required": ["either"]},
        ]
    }  # fmt: skip
    root = {
        "$schema": DRAFT_URIS[draft],
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"properties": {"who": who}}}},
        definitions: {"person": person},
    }
    (folder / "root.json").write_text(json.dumps(root))
    return folder / "root.json"


WHO_VALUES = [
    None, "Ann", 3, [], {}, {"name": "A"}, {"name": "Ann"}, {"name": "Ann", "address": "x"},
    {"id": "12345678"}, {"id": "1"}, {"id": 1, "country": "GB"}, {"id": "1", "country": "ES"},
    {"either": 9}, {"either": "c"}, {"either": 2}, {"either": {"id": "x"}},
    {"either": {"id": "12345678", "country": "X"}}, {"either": None, "name": 1},
    {"name": "Ann", "age": -1}, {"id": "12345678", "country": "FR", "name": "A", "address": ""},
    {"either": [], "id": "1", "age": -2}, {"name": "", "age": -1, "id": "9", "country": 1},
    {"either": {"id": "1"}, "name": "A", "address": "x"},
]  # fmt: skip


@pytest.mark.parametrize("draft", DRAFT_URIS)
def test_both_engines_explain_alternatives_alike(tmp_path, draft):
    loaded = load_schema(alternatives_schema(tmp_path, draft))
    rng = random.Random(draft)
    details = set()
    for _ in range(150):
        document = {"items": [{"who": rng.choice(WHO_VALUES)} for _ in range(rng.randint(1, 3))]}
        said = {}
        for engine in ("fast", "reference"):
            errors = [error.explained() for error in iter_errors(document, loaded, engine=engine)]
            said[engine] = sorted(
                ((e.path, e.validator, e.message, e.detail, e.closest) for e in errors), key=repr
            )
        assert said["fast"] == said["reference"], document
        details.update(detail for *_, detail, _ in said["fast"])
    assert len(details) > 10  # the corpus explains many ways
    assert any("(closest is alternative" in detail for detail in details)


def test_details_are_found_only_for_the_errors_kept_and_the_examples():
    asked = []

    def explain(path: str) -> Closest:
        asked.append(path)
        return Closest(path, 1, (Reason(f"{path}/why", "is wrong"),), more=0)

    groups = ErrorGroups(max_errors=2, examples=3)
    for index in range(6):
        groups.add(SchemaError("oneOf", f"/{index}", "", NONE_MATCHES, explain=explain))
    groups.add_first([SchemaError("anyOf", "", "", NONE_MATCHES, explain=explain)])
    assert asked == ["/0", "/1", "/2", ""]  # the two kept, a third example, the first
    why = "Closest is alternative 1: at {}/why, is wrong"
    assert [error.detail for error in groups.errors] == [why.format(""), why.format("/0")]
    [ones, first] = groups.as_list()
    assert [error.detail for error in ones["examples"]] == [why.format(f"/{n}") for n in range(3)]
    assert [error.detail for error in first["examples"]] == [why.format("")]


def test_an_error_moved_to_another_place_keeps_all_else():
    # SchemaError.at names each field: one added to the class must be added there too.
    values = {field.name: f"{field.name} value" for field in dataclasses.fields(SchemaError)}
    error = SchemaError(**values)
    moved = error.at("/grants/7/id")
    assert moved.path == "/grants/7/id"
    assert {**vars(moved), "path": error.path} == vars(error)
