"""Where fields are: one walk over the data, examples at a path pattern, and the schema's fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.fields import (
    EXAMPLES,
    SchemaFields,
    escape,
    pattern_parts,
    places_at,
    schema_fields,
    unescape,
    walk_fields,
)
from tasks.schema import load_schema

DEMO_SCHEMA = Path(__file__).parent.parent / "profiles" / "demo" / "grants.schema.json"

GRANTS = {
    "grants": [
        {"id": "G-001", "amount": {"value": 100, "currency": "GBP"}, "tags": ["a", "b"]},
        {"id": "G-002", "amount": {"value": 2.5}, "notes": None},
        {"id": "G-003", "amount": {"value": 7, "currency": "EUR"}, "tags": []},
    ],
    "publisher": {"name": "Fund"},
}


# walk_fields -------------------------------------------------------------------------------


def test_the_walk_counts_each_field_once_per_occurrence_under_one_pattern():
    walk = walk_fields(GRANTS)
    assert dict(walk.counts) == {
        "/grants": 1,
        "/grants/*/id": 3,
        "/grants/*/amount": 3,
        "/grants/*/amount/value": 3,
        "/grants/*/amount/currency": 2,
        "/grants/*/tags": 2,
        "/grants/*/notes": 1,
        "/publisher": 1,
        "/publisher/name": 1,
    }


def test_the_walk_counts_every_value_by_its_type_including_the_root_and_array_elements():
    walk = walk_fields(GRANTS)
    assert dict(walk.types) == {
        dict: 8,  # the root, three grants, three amounts, the publisher
        list: 3,  # grants and two tags lists
        str: 8,  # three ids, two currencies, two tags, one name
        int: 2,
        float: 1,
        type(None): 1,
    }
    assert sum(walk.types.values()) == 23


def test_a_scalar_document_has_one_value_and_no_fields():
    walk = walk_fields("just text")
    assert dict(walk.counts) == {}
    assert dict(walk.types) == {str: 1}
    assert walk.max_depth == 0


def test_arrays_in_arrays_and_a_root_array_become_stars():
    walk = walk_fields([{"a": 1}, {"a": 2, "b": [[{"c": None}], []]}])
    assert dict(walk.counts) == {"/*/a": 2, "/*/b": 1, "/*/b/*/*/c": 1}
    assert walk.max_depth == 5  # "/*/b/*/*/c": five levels below the root


def test_the_same_key_under_different_parents_makes_different_patterns():
    # Child patterns are cached per parent: a cache shared across parents would mix these.
    walk = walk_fields({"x": {"k": 1}, "y": {"k": 2, "z": {"k": 3}}, "k": {"k": {"k": 0}}})
    assert dict(walk.counts) == {
        "/x": 1,
        "/x/k": 1,
        "/y": 1,
        "/y/k": 1,
        "/y/z": 1,
        "/y/z/k": 1,
        "/k": 1,
        "/k/k": 1,
        "/k/k/k": 1,
    }


def test_a_field_that_is_an_object_in_one_item_and_a_list_in_another_counts_both_ways():
    walk = walk_fields({"g": [{"v": {"k": 1}}, {"v": [{"k": 2}, {"k": 3}]}]})
    assert walk.counts["/g/*/v"] == 2
    assert walk.counts["/g/*/v/k"] == 1
    assert walk.counts["/g/*/v/*/k"] == 2


def test_keys_with_slashes_and_tildes_are_escaped_as_in_a_json_pointer():
    data = {"a/b": {"c~d": 1, "": 2}}
    walk = walk_fields(data)
    assert dict(walk.counts) == {"/a~1b": 1, "/a~1b/c~0d": 1, "/a~1b/": 1}
    assert walk.max_depth == 2  # an escaped "/" does not add a level
    assert escape("a/~b") == "a~1~0b"
    assert unescape(escape("~1/~0")) == "~1/~0"


@pytest.mark.parametrize(
    ("data", "depth"),
    [
        ([[[1]]], 3),  # lists in lists: each a level, though no field is named
        ({"a": [[]]}, 2),  # an empty list is a value, but holds none
        ({"a": []}, 1),
        ([], 0),
        ({"a": {"b": ["x"]}}, 3),
    ],
)
def test_the_deepest_value_counts_list_levels_too(data, depth):
    assert walk_fields(data).max_depth == depth


# places_at ---------------------------------------------------------------------------------


def test_examples_are_the_first_few_places_a_pattern_occurs_with_their_values():
    assert places_at(GRANTS, pattern_parts("/grants/*/amount/currency"), limit=EXAMPLES) == [
        ("/grants/0/amount/currency", "GBP"),
        ("/grants/2/amount/currency", "EUR"),
    ]
    many = {"grants": [{"id": f"G-{i}"} for i in range(10)]}
    found = places_at(many, pattern_parts("/grants/*/id"), limit=EXAMPLES)
    assert len(found) == EXAMPLES == 3
    assert found == [("/grants/0/id", "G-0"), ("/grants/1/id", "G-1"), ("/grants/2/id", "G-2")]
    assert places_at(many, pattern_parts("/grants/*/id"), limit=1) == [("/grants/0/id", "G-0")]


def test_examples_include_null_and_empty_values():
    data = {"g": [{"n": None}, {"n": 0}, {"n": ""}, {"n": []}]}
    assert [value for _, value in places_at(data, pattern_parts("/g/*/n"), limit=4)] == [
        None,
        0,
        "",
        [],
    ]


def test_examples_follow_escaped_keys_and_nested_arrays():
    data = {"a/b": [[{"c~d": 1}], [{"c~d": 2}, {"c~d": 3}]]}
    assert places_at(data, pattern_parts("/a~1b/*/*/c~0d"), limit=EXAMPLES) == [
        ("/a~1b/0/0/c~0d", 1),
        ("/a~1b/1/0/c~0d", 2),
        ("/a~1b/1/1/c~0d", 3),
    ]


def test_an_empty_key_at_the_end_of_a_pattern_is_a_key_not_the_parent():
    data = {"g": [{"": "blank", "x": 1}, {"x": 2}]}
    assert "/g/*/" in walk_fields(data).counts
    assert places_at(data, pattern_parts("/g/*/"), limit=EXAMPLES) == [("/g/0/", "blank")]


def test_examples_of_the_whole_document_and_of_absent_or_mismatched_patterns():
    assert places_at(GRANTS, pattern_parts(""), limit=EXAMPLES) == [("", GRANTS)]
    assert places_at(GRANTS, pattern_parts("/nothing/here"), limit=EXAMPLES) == []
    assert (
        places_at(GRANTS, pattern_parts("/publisher/*/name"), limit=EXAMPLES) == []
    )  # "*" needs an array
    assert (
        places_at(GRANTS, pattern_parts("/grants/id"), limit=EXAMPLES) == []
    )  # an array has no key "id"
    assert places_at({"*": {"k": 5}}, pattern_parts("/*/k"), limit=EXAMPLES) == [
        ("/*/k", 5)
    ]  # a key named "*"


class CountingList(list):
    """A list that records how many of its items were looked at."""

    seen = 0

    def __iter__(self):
        for item in super().__iter__():
            CountingList.seen += 1
            yield item


def test_finding_examples_stops_as_soon_as_enough_are_found():
    CountingList.seen = 0
    data = {"grants": CountingList({"id": i} for i in range(10_000))}
    assert [
        value for _, value in places_at(data, pattern_parts("/grants/*/id"), limit=EXAMPLES)
    ] == [0, 1, 2]
    assert CountingList.seen == 3


# schema_fields and describes -------------------------------------------------------------


def test_the_demo_schema_describes_its_fields_across_refs_and_files():
    loaded = load_schema(DEMO_SCHEMA)
    described = schema_fields(loaded.schema, loaded.resources)
    for pattern in [
        "/grants",
        "/grants/*",
        "/grants/*/id",
        "/grants/*/amount/value",
        "/grants/*/amount/currency",
        "/grants/*/classifications/*/code",
        "/grants/*/documents/*/url",
        "/grants/*/contact/email",
        # organisation.schema.json, through a $ref to a file beside the schema
        "/grants/*/recipientOrganization/name",
        "/grants/*/recipientOrganization/address/countryCode",
        "/grants/*/fundingOrganization/website",
    ]:
        assert described.describes(pattern), pattern
    for pattern in ["/grants/*/notes", "/grants/*/amount/vat", "/grant", "/grants/*/amount/*"]:
        assert not described.describes(pattern), pattern
    assert described.open == set()


def test_refs_resolve_within_the_document_and_to_other_resources():
    schema = {
        "$id": "https://example.org/s/root.json",
        "properties": {
            "local": {"$ref": "#/$defs/local"},
            "other": {"$ref": "other.json#/$defs/thing"},
            "absolute": {"$ref": "https://example.org/s/other.json"},
            "escaped": {"$ref": "#/$defs/a~1b%20c"},
        },
        "$defs": {
            "local": {"properties": {"l": {}}},
            "a/b c": {"properties": {"e": {}}},
        },
    }
    other = {
        "properties": {"top": {}},
        "$defs": {"thing": {"properties": {"t": {"items": {"properties": {"deep": {}}}}}}},
    }
    resources = {
        "https://example.org/s/root.json": schema,
        "https://example.org/s/other.json": other,
    }
    described = schema_fields(schema, resources)
    assert described.known == {
        "/local",
        "/local/l",
        "/other",
        "/other/t",
        "/other/t/*",
        "/other/t/*/deep",
        "/absolute",
        "/absolute/top",
        "/escaped",
        "/escaped/e",
    }


def test_refs_to_named_places_resolve_to_them():
    schema = {
        "$id": "https://example.org/s/root.json",
        "properties": {
            "anchored": {"$ref": "#thing"},
            "older": {"$ref": "#old"},
            "elsewhere": {"$ref": "other.json#there"},
            "unknown": {"$ref": "#nowhere"},
        },
        "$defs": {
            "thing": {"$anchor": "thing", "properties": {"t": {}}},
            "old": {"$id": "#old", "properties": {"o": {}}},
        },
    }
    other = {"$defs": {"x": {"$anchor": "there", "properties": {"x": {}}}}}
    resources = {
        "https://example.org/s/root.json": schema,
        "https://example.org/s/other.json": other,
    }
    described = schema_fields(schema, resources)
    assert described.known == {
        "/anchored",
        "/anchored/t",
        "/older",
        "/older/o",
        "/elsewhere",
        "/elsewhere/x",
        "/unknown",
    }


def test_a_ref_that_cannot_be_resolved_describes_only_the_field_itself():
    schema = {"properties": {"a": {"$ref": "https://elsewhere.example/x.json"}, "b": {}}}
    described = schema_fields(schema, {})
    assert described.known == {"/a", "/b"}


def test_the_base_uri_given_is_used_for_a_schema_without_dollar_id():
    # Draft 4 names it "id"; the caller passes it so that "#/definitions/..." resolves.
    schema = {
        "id": "file:///schemas/s.json",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/definitions/item"}}},
        "definitions": {"item": {"properties": {"a": {}}}},
    }
    resources = {"file:///schemas/s.json": schema}
    assert schema_fields(schema, resources, "file:///schemas/s.json").describes("/items/*/a")
    assert not schema_fields(schema, resources).describes("/items/*/a")


def test_a_draft_4_schema_loaded_from_a_file_resolves_its_refs(tmp_path):
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/definitions/item"}}},
        "definitions": {"item": {"properties": {"a": {"type": "string"}}}},
    }
    (tmp_path / "s.json").write_text(json.dumps(schema))
    loaded = load_schema(tmp_path / "s.json")
    described = schema_fields(loaded.schema, loaded.resources, loaded.base_uri)
    assert described.describes("/items/*/a")


def tree_schema(*links: str) -> dict:
    """A node whose ``links`` each hold more nodes: a tree of organisations, say."""
    node_ref = {"$ref": "#/$defs/node"}
    linked = {link: {"type": "array", "items": node_ref} for link in links}
    return {
        "$id": "https://example.org/tree.json",
        "$ref": "#/$defs/node",
        "$defs": {"node": {"properties": {"name": {"type": "string"}, **linked}}},
    }


def test_a_recursive_schema_describes_its_fields_however_deep_the_data_goes():
    schema = tree_schema("children")
    described = schema_fields(schema, {"https://example.org/tree.json": schema})
    assert described.describes("/name")
    assert described.describes("/children/*/children/*/children/*/children/*/name")
    assert described.is_additional("/colour")
    assert described.is_additional("/children/*/colour")  # within the levels followed


def test_a_schema_that_recurses_many_ways_is_read_quickly():
    # Each node links to four more: followed to a fixed depth, that is millions of fields.
    schema = tree_schema("children", "members", "partners", "parents")
    described = schema_fields(schema, {"https://example.org/tree.json": schema})
    assert described.describes("/members/*/parents/*/partners/*/children/*/name")
    assert len(described.known) < 1_000


def test_combinators_conditionals_and_tuple_items_all_describe_fields():
    schema = {
        "allOf": [{"properties": {"a": {}}}],
        "anyOf": [{"properties": {"b": {}}}, {"properties": {"c": {}}}],
        "oneOf": [{"properties": {"d": {}}}],
        "if": {"properties": {"kind": {"const": "x"}}},
        "then": {"properties": {"x": {}}},
        "else": {"properties": {"y": {}}},
        "properties": {
            "pair": {"prefixItems": [{"properties": {"first": {}}}, {}]},
            "old": {"items": [{"properties": {"p": {}}}, {"properties": {"q": {}}}]},
        },
    }
    described = schema_fields(schema, {})
    for field in "abcdxy":
        assert described.describes(f"/{field}"), field
    assert described.describes("/kind")
    assert described.describes("/pair/*/first")
    assert described.describes("/old/*/p")
    assert described.describes("/old/*/q")
    assert not described.describes("/z")


def test_dependent_schemas_and_the_other_item_keywords_describe_fields():
    schema = {
        "dependentSchemas": {"a": {"properties": {"b": {}}}},
        "dependencies": {"c": {"properties": {"d": {}}}, "e": ["f"]},  # before 2019-09
        "properties": {
            "tuple": {
                "items": [{"properties": {"p": {}}}],
                "additionalItems": {"properties": {"q": {}}},
            },
            "rest": {"prefixItems": [{}], "unevaluatedItems": {"properties": {"r": {}}}},
            "some": {"contains": {"properties": {"s": {}}}},
            "meta": {"unevaluatedProperties": {"type": "string"}},
        },
    }
    described = schema_fields(schema, {})
    for pattern in ["/b", "/d", "/tuple/*/p", "/tuple/*/q", "/rest/*/r", "/some/*/s", "/meta/x"]:
        assert described.describes(pattern), pattern
    assert described.is_additional("/f")  # a name a dependency requires is not described
    assert described.is_additional("/tuple/*/z")


def test_a_dynamic_ref_is_followed_to_its_anchor():
    node = {
        "$dynamicAnchor": "node",
        "properties": {"name": {}, "children": {"items": {"$dynamicRef": "#node"}}},
    }
    schema = {"$id": "https://example.org/t.json", "$defs": {"node": node}, "$ref": "#node"}
    described = schema_fields(schema, {"https://example.org/t.json": schema})
    assert described.describes("/children/*/children/*/name")
    assert described.is_additional("/children/*/colour")


def test_keys_in_a_schema_are_escaped_like_keys_in_the_data():
    schema = {"properties": {"a/b": {"properties": {"c~d": {}}}}}
    described = schema_fields(schema, {})
    assert described.known == {"/a~1b", "/a~1b/c~0d"}
    walk = walk_fields({"a/b": {"c~d": 1}})
    assert all(described.describes(pattern) for pattern in walk.counts)


def test_under_pattern_or_additional_properties_schemas_anything_goes():
    schema = {
        "properties": {
            "meta": {"additionalProperties": {"type": "string"}},
            "labels": {"patternProperties": {"^x-": {}}},
            "closed": {"additionalProperties": False, "properties": {"k": {}}},
            "free": {"additionalProperties": True},
        }
    }
    described = schema_fields(schema, {})
    assert described.describes("/meta/anything")
    assert described.describes("/meta/anything/deeper/*/still")
    assert described.describes("/labels/x-colour")
    assert described.describes("/meta")  # known as a property too
    # A prefix is a whole field: "/metadata" is not under "/meta".
    assert not described.describes("/metadata")
    assert not described.describes("/metadata/x")
    assert not described.describes("/closed/other")
    assert not described.describes("/free/other")


def test_keys_a_closed_object_s_patterns_do_not_match_are_additional():
    schema = {
        "properties": {
            "ext": {
                "patternProperties": {"^x-": {"type": "string"}},
                "additionalProperties": False,
            },
            "attrs": {  # each key's value a closed object
                "additionalProperties": {"properties": {"v": {}}, "additionalProperties": False}
            },
            "odd": {"patternProperties": {"^\\p{L}+$": {}}},  # ECMA-262, which Python's re is not
            # Python's re takes exponential time in the key's length on this one.
            "slow": {"patternProperties": {"^([a-z]+-?)+$": {}}, "additionalProperties": False},
        }
    }
    described = schema_fields(schema, {})
    assert described.describes("/ext/x-colour")
    assert described.is_additional("/ext/typo")
    assert described.describes("/attrs/p") and described.describes("/attrs/p/v")
    assert described.is_additional("/attrs/p/w")
    assert not described.is_additional("/attrs/p/w/deeper")  # the top of the branch only
    assert described.describes("/odd/Größe")
    assert described.is_additional("/odd/size2")
    assert described.is_additional(f"/slow/{'a' * 40}_")
    walk = walk_fields({"ext": {"x-ok": "v", "typo": "v"}, "attrs": {"p": {"v": 1, "w": 2}}})
    found = [pattern for pattern in walk.counts if described.is_additional(pattern)]
    assert found == ["/ext/typo", "/attrs/p/w"]


def test_what_a_const_or_an_enum_spells_out_is_described():
    schema = {
        "properties": {
            "c": {"const": {"a": {"deep": 1}}},
            "e": {"enum": [[{"b": 1}], "none"]},
            "plain": {"enum": ["x", "y"]},
        }
    }
    described = schema_fields(schema, {})
    walk = walk_fields({"c": {"a": {"deep": 1}}, "e": [{"b": 1}], "plain": {"z": 1}})
    found = [pattern for pattern in walk.counts if described.is_additional(pattern)]
    assert found == ["/plain/z"]


def test_an_open_root_describes_everything():
    described = schema_fields({"additionalProperties": {}}, {})
    assert described.describes("/a")
    assert described.describes("/a/*/b")


def test_below_a_known_field_an_open_object_above_it_describes_nothing():
    schema = {
        "patternProperties": {"^x-": {}},
        "properties": {
            "grants": {
                "items": {
                    "additionalProperties": {"type": "string"},
                    "properties": {"org": {"properties": {"name": {}}}},
                }
            }
        },
    }
    described = schema_fields(schema, {})
    assert described.describes("/x-meta")
    assert described.describes("/x-meta/deeper/*/still")
    assert described.describes("/grants/*/extra")  # a key of the open item
    assert not described.describes("/grants/*/org/other")
    assert described.is_additional("/grants/*/org/other")
    assert not described.describes("/grants/other")


def test_schema_fields_describes_exactly_its_sets():
    fields = SchemaFields(known={"/a", "/a/b"}, open={"/o"})
    assert fields.describes("/a/b")
    assert not fields.describes("/a/c")
    assert fields.describes("/o/c")
    assert not fields.describes("/o")


@pytest.mark.parametrize(("draft", "n_described"), [("7", False), ("2020-12", True)])
def test_keywords_beside_a_ref_describe_fields_where_the_draft_reads_them(draft, n_described):
    schema = {
        "$id": "https://example.org/s.json",
        "$ref": "#/definitions/base",
        "properties": {"n": {"type": "integer"}},
        "format": "uri",
        "definitions": {"base": {"properties": {"id": {"type": "string"}}}},
    }
    described = schema_fields(schema, {"https://example.org/s.json": schema}, draft=draft)
    assert described.describes("/id")
    assert described.describes("/n") is n_described
    assert ("" in described.links) is n_described


def test_only_a_field_pattern_can_be_described():
    assert not SchemaFields(open={""}).describes("grants")  # no leading "/": not a field
    assert SchemaFields(open={""}).describes("/grants")
