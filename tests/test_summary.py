from tasks.data import sample, top_level_lists
from tasks.fields import walk_fields
from tasks.summary import type_counts


def test_it_counts_values_by_type_and_depth():
    walk = walk_fields({"a": [1, "x", None, True, 2.5], "b": {"c": [[]]}})
    assert type_counts(walk.types) == {
        "array": 3,
        "boolean": 1,
        "null": 1,
        "number": 2,
        "object": 2,
        "string": 1,
    }
    # The deepest value, /b/c's empty list, is an entry three levels below the root.
    assert walk.max_depth + 1 == 4


def test_it_finds_the_lists_a_publisher_means_by_items():
    assert top_level_lists([1, 2, 3]) == [("/", 3)]
    assert top_level_lists({"grants": [1, 2], "meta": {}, "orgs": []}) == [
        ("/grants", 2),
        ("/orgs", 0),
    ]
    assert top_level_lists("text") == []


def test_sample_keeps_only_the_first_items_of_each_list():
    assert sample([1, 2, 3], 2) == [1, 2]
    assert sample({"a": [1, 2, 3], "b": "x"}, 1) == {"a": [1], "b": "x"}
