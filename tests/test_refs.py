"""Following $refs offline: files, embedded resources, named places, and recursion."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.refs import RefIndex, Trail

ROOT = "https://example.org/schemas/root.json"
GRANT = {"type": "object", "properties": {"id": {"type": "string"}}}


def resolved(document: dict[str, Any], ref: str, draft: str = "2020-12", **others: Any) -> Any:
    resources = {
        ROOT: document,
        **{f"https://example.org/schemas/{n}": d for n, d in others.items()},
    }
    target, _base = RefIndex(resources, draft).resolve(ref, ROOT)
    return target


@pytest.mark.parametrize(
    ("document", "ref"),
    [
        ({"$defs": {"grant": GRANT}}, "#/$defs/grant"),
        ({"$defs": {"a/b~c": GRANT}}, "#/$defs/a~1b~0c"),
        ({"$defs": {"choices": {"anyOf": [GRANT, {"type": "null"}]}}}, "#/$defs/choices/anyOf/0"),
        ({"$defs": {"grant": {"$anchor": "grant", **GRANT}}}, "#grant"),
        ({"anyOf": [{"$anchor": "grant", **GRANT}]}, "#grant"),
        ({"definitions": {"grant": {"$id": "#grant", **GRANT}}}, "#grant"),
        # A resource embedded under its own $id, named whole or by its anchor.
        ({"$defs": {"g": {"$id": "grant.json", **GRANT}}}, "grant.json"),
        (
            {"$defs": {"g": {"$id": "https://other.example/g.json", "$anchor": "it", **GRANT}}},
            "https://other.example/g.json#it",
        ),
    ],
)
def test_a_ref_finds_its_target(document: dict[str, Any], ref: str) -> None:
    found = resolved(document, ref)
    assert {key: found[key] for key in GRANT} == GRANT


def test_a_relative_ref_inside_an_embedded_resource_starts_from_its_id() -> None:
    embedded = {"$id": "https://other.example/g.json", "$defs": {"grant": GRANT}}
    index = RefIndex({ROOT: {"$defs": {"g": embedded}}})
    target, base = index.resolve("https://other.example/g.json", ROOT)
    inside = index.base_inside(target, base)
    assert (target, inside) == (embedded, "https://other.example/g.json")
    assert index.resolve("#/$defs/grant", inside)[0] == GRANT


def test_a_pointer_into_an_embedded_resource_gives_that_resource_s_base() -> None:
    inner = {"$ref": "#/$defs/x"}  # written inside "a": its own x, not the root's
    embedded = {"$id": "https://other.example/a.json", "properties": {"b": inner}}
    index = RefIndex({ROOT: {"$defs": {"a": embedded}}})
    target, base = index.resolve("#/$defs/a/properties/b", ROOT)
    assert (target, base) == (inner, "https://other.example/a.json")


def test_before_2019_09_an_id_beside_a_ref_is_ignored() -> None:
    beside = {"$id": "https://other.example/sub.json", "$ref": "#/definitions/x"}
    document = {"definitions": {"x": GRANT, "sub": beside}}
    assert resolved(document, "https://other.example/sub.json", draft="7") is None
    assert resolved(document, "https://other.example/sub.json") == beside


def test_draft_4_names_resources_with_id() -> None:
    document = {"definitions": {"g": {"id": "grant.json", **GRANT}}}
    assert resolved(document, "grant.json", draft="4") == document["definitions"]["g"]
    assert resolved(document, "grant.json") is None  # "$id" is not the keyword in draft 4


def test_a_ref_to_another_file_follows_a_pointer_there() -> None:
    assert resolved({}, "grant.json#/properties/id", **{"grant.json": GRANT}) == {"type": "string"}


def test_examples_enums_and_unknown_keywords_hold_no_names() -> None:
    document = {
        "examples": [{"$id": "#grant", "$anchor": "grant"}],
        "x-note": {"$anchor": "grant"},
        "$defs": {"grant": {"$anchor": "grant", **GRANT}},
        "enum": [{"$id": "#grant"}],
    }
    assert resolved(document, "#grant") == document["$defs"]["grant"]


@pytest.mark.parametrize(
    "ref", ["#/$defs/nowhere", "#/$defs/grant/properties/id/0", "#nowhere", "missing.json"]
)
def test_a_place_that_is_not_there_resolves_to_nothing(ref: str) -> None:
    assert resolved({"$defs": {"grant": GRANT}}, ref) is None


def test_a_definition_met_again_is_followed_once_more_then_cut() -> None:
    organisation, person = {"title": "org"}, {"title": "person"}
    first = Trail().through(organisation)
    again = first.through(person).through(organisation)  # org > person > org: once more
    assert again is not None and again.loops == 1
    assert again.through(person) is None  # a second return, to anything, is cut
    assert first.through(organisation).through(organisation) is None
