from tasks.summary import count_values, sample, top_level_lists


def test_it_counts_values_by_type_and_depth():
    counts, depth = count_values({"a": [1, "x", None, True], "b": {"c": [[]]}})
    assert counts == {"object": 2, "array": 3, "number": 1, "string": 1, "null": 1, "boolean": 1}
    assert depth == 4


def test_it_counts_deep_data_without_recursion():
    data: list = []
    for _ in range(50_000):
        data = [data]
    counts, depth = count_values(data)
    assert depth == 50_001
    assert counts == {"array": 50_001}


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
