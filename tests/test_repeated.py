"""Fields named twice in one object: found where they are, read either way, never made up.

JSON readers keep the last value of a name given twice; tasks/repeated.py finds where that
happened by counting the strings of the text against those of the data read.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest

from tasks import reading, repeated
from tasks.reading import ItemStream
from tasks.repeated import strings_in, strings_in_file, strings_in_text
from tasks.scan import Plan, Scan, scan_file


@pytest.fixture(params=[True, False], ids=["streamed", "read-whole"])
def scanned(request, tmp_path):
    """Scan JSON text as a run does, item by item from the file or over the whole document."""

    def scan(text: str, **plan) -> Scan:
        path = tmp_path / "data.json"
        path.write_text(text, encoding="utf-8")
        return scan_file(path, Plan(key="grants", stream=request.param, **plan))

    return scan


@pytest.fixture
def second_readings(monkeypatch) -> list[Path]:
    """The files read again to find where names are repeated, as the scans go on."""
    read: list[Path] = []

    def counted(path: Path, sample_size: int | None) -> repeated.Repeated:
        read.append(path)
        return repeated.find_repeated(path, sample_size)

    monkeypatch.setattr("tasks.scan.find_repeated", counted)
    return read


def places(scan: Scan) -> list[tuple[str, str, int]]:
    return [(place["path"], place["field"], place["times"]) for place in scan.repeated.examples]


def test_a_field_named_twice_is_given_with_its_object_and_read_as_its_last_value(scanned):
    scan = scanned('{"grants": [{"id": "G1", "amount": 5, "amount": 50}, {"id": "G2"}]}')
    assert scan.repeated.as_dict() == {
        "count": 1,
        "examples": [{"path": "/grants/0", "field": "amount", "times": 2}],
    }
    assert scan.ids[(False, "G1")] == 1  # the data itself is read as before


def test_names_written_differently_that_read_the_same_are_one_name(scanned):
    # An escape ("\u0061" is "a") and whitespace around the colon change nothing.
    text = (
        '{"grants": [{"a": 1, "\\u0061": 2}, {"b"\n :1 , "b"\t:\r\n2, "b"  :  3},'
        ' {"\\u00e9": 1, "é": 2}, {"q\\"": 1, "q\\u0022": 2}]}'
    )
    assert places(scanned(text)) == [
        ("/grants/0", "a", 2),
        ("/grants/1", "b", 3),
        ("/grants/2", "é", 2),
        ("/grants/3", 'q"', 2),
    ]


@pytest.mark.parametrize(
    "text",
    [
        # a name holding an escaped quote and a colon; a value that is a quote and a colon
        '{"grants": [{"a\\":b": 1, "a": "\\":", "c": "\\":\\":"}]}',
        # quotes, colons and backslashes inside text, at its start and at its end
        '{"grants": [{"q": "he said \\"a\\": no", "r": ":x", "s": " : ", "t": "\\\\", '
        '"u": "\\\\\\"", "v": "\\\\\\\\\\":"}]}',
        # names that differ by a backslash, or by an accent written apart
        '{"grants": [{"k\\\\": 1, "k": 2, "e\\u0301": 3, "\\u00e9": 4}]}',
        # whitespace everywhere it may be, and names alike in different objects
        '{ "grants" :\n [ { "a" : 1 , "b" : { "a" : [ { "a" :2 } ] } } ,\t{"a":1} ] }\n',
        # a name given twice in the text of a value, not as a name
        '{"grants": [{"text": "{\\"amount\\": 5, \\"amount\\": 50}"}]}',
    ],
)
def test_quotes_colons_and_backslashes_in_the_text_make_up_no_repeated_name(
    scanned, tmp_path, text
):
    scan = scanned(text)
    assert scan.repeated.as_dict() == {"count": 0, "examples": []}
    # The text and the data read hold as many strings: nothing is read a second time.
    assert strings_in_file(tmp_path / "data.json") == scan.walk.strings


def test_a_name_repeated_at_the_top_or_deep_inside_is_placed_by_json_pointer(scanned):
    text = (
        '{"meta": {"x": {"y": 1, "y": 2}}, "grants": [{"id": 1, "l": [[{"z": 1, "z": 2, '
        '"z": 3}]]}, {"a/b": {"c~d": {"e": 1, "e": 2}}}], "grants": [{"id": 1, "id": 1}]}'
    )
    assert places(scanned(text)) == [
        ("", "grants", 2),
        ("/meta/x", "y", 2),
        ("/grants/0/l/0/0", "z", 3),
        ("/grants/1/a~1b/c~0d", "e", 2),
        ("/grants/0", "id", 2),
    ]


def test_a_document_that_is_a_list_has_its_elements_placed(scanned):
    scan = scanned('[{"id": 1}, {"id": 2, "x": 1, "id": 3}]')
    assert places(scan) == [("/1", "id", 2)]


def test_past_ten_places_they_are_counted_and_the_first_ten_given(scanned):
    items = ", ".join(f'{{"id": {n}, "id": {n}}}' for n in range(25))
    scan = scanned(f'{{"grants": [{items}]}}')
    assert scan.repeated.count == 25
    assert places(scan) == [(f"/grants/{n}", "id", 2) for n in range(10)]


def test_a_sample_gives_those_in_the_items_it_checks_and_the_rest_of_the_document(scanned):
    grants = '[{"a": 1}, {"b": 1, "b": 2}, {"c": 1}, {"d": 1, "d": 2}]'
    other = '[{"e": 1, "e": 2}, {}, {"f": 1, "f": 2}]'
    text = f'{{"grants": {grants}, "other": {other}, "meta": {{"g": 1, "g": 2}}}}'
    assert places(scanned(text, sample_size=2)) == [
        ("/grants/1", "b", 2),
        ("/other/0", "e", 2),
        ("/meta", "g", 2),
    ]
    assert places(scanned(text)) == [
        ("/grants/1", "b", 2),
        ("/grants/3", "d", 2),
        ("/other/0", "e", 2),
        ("/other/2", "f", 2),
        ("/meta", "g", 2),
    ]


def test_a_sample_without_one_in_what_it_checks_gives_none(scanned):
    text = '{"grants": [{"a": 1}, {"b": 1}, {"c": 1, "c": 2}], "other": [1, 2, {"d": 1, "d": 2}]}'
    assert scanned(text, sample_size=2).repeated.count == 0


def many_items(count: int, repeat_at: int | None) -> str:
    """Items with escapes, quotes and colons in their text; one names a field twice."""
    items = [
        json.dumps({"id": f"G-{n}", "t": f'a \\"{n}": \\\\', "é": "x\\", "n": [{"k": n}]})
        for n in range(count)
    ]
    if repeat_at is not None:
        items[repeat_at] = items[repeat_at].replace('"id":', '"n": 0, "id":')
    return '{"grants": [' + ",\n".join(items) + "]}"


@pytest.mark.parametrize("piece", [1, 5, 64, 1 << 20])
def test_the_stream_finds_it_wherever_its_pieces_and_runs_fall(
    tmp_path, monkeypatch, second_readings, piece
):
    monkeypatch.setattr(reading, "PIECE", piece)
    monkeypatch.setattr(reading, "RUN", 200)  # short runs of items, so that there are many
    path = tmp_path / "data.json"
    path.write_text(many_items(300, repeat_at=170))
    streamed = scan_file(path, Plan(key="grants"))
    assert places(streamed) == [("/grants/170", "n", 2)]
    assert places(scan_file(path, Plan(key="grants", stream=False))) == places(streamed)
    path.write_text(many_items(300, repeat_at=None))
    assert scan_file(path, Plan(key="grants")).repeated.count == 0
    assert second_readings == [path, path]  # only where a name was repeated


def test_a_sample_ending_inside_a_run_has_the_rest_of_the_run_counted_with_it(
    tmp_path, second_readings
):
    # Items are read a run at a time: the text of the items read with the sample's last
    # ones is counted, and so they are counted apart, not the text read again.
    path = tmp_path / "data.json"
    path.write_text(many_items(1000, repeat_at=None))
    stream = ItemStream(path, "grants", counted_items=100)
    items = list(stream.items())
    assert 100 < stream.counted < 1000
    assert stream.strings == strings_in(items[: stream.counted]) + strings_in(stream.skeleton)
    assert scan_file(path, Plan(key="grants", sample_size=100)).repeated.count == 0
    assert second_readings == []


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 1 << 20])
def test_strings_are_counted_alike_in_text_in_a_file_and_in_data(tmp_path, monkeypatch, piece):
    monkeypatch.setattr(repeated, "PIECE", piece)
    data = {"a\\": ['"', "\\", '\\"', "\\\\\\", ":", ""], "": {"b": '":'}, "c": [1, None, True]}
    text = json.dumps(data)
    path = tmp_path / "data.json"
    path.write_text(text)
    strings = 11  # 4 names, 7 texts
    assert strings_in_text(text) == strings_in_text(text.encode()) == strings
    assert strings_in_file(path) == strings_in(data) == strings
    assert strings_in_text(f"[{text}, {text}]", 1, len(text) + 1) == strings


def test_a_long_run_of_backslashes_is_counted_in_time(tmp_path, scanned):
    # Each backslash of a run before a quote was one more count of the whole text: a
    # string of 40,000 escaped backslashes took half a minute to count.
    text = '{"grants": [{"path": "' + "\\\\" * 40_000 + '", "id": "a\\\\\\"b"}]}'
    started = time.monotonic()
    scan = scanned(text)
    assert time.monotonic() - started < 5
    assert scan.repeated.count == 0
    assert strings_in_text(text) == strings_in_file(tmp_path / "data.json") == 5


def test_the_second_reading_of_a_large_file_holds_little_of_it(tmp_path):
    # Read whole as text, one character beyond U+FFFF took four bytes for each one of
    # the file's: the second reading of a 51 MB file took 300 MB, where the stream took 25.
    items = [{"id": f"G-{n}", "title": f"Grant {n}", "notes": "x" * 200} for n in range(20_000)]
    items[5]["title"] = "😀"
    peaks = []
    for repeat in (False, True):
        text = json.dumps({"grants": items}, ensure_ascii=False)
        if repeat:
            text = text.replace('"id":', '"id": "G", "id":', 1)
        path = tmp_path / "data.json"
        path.write_text(text, encoding="utf-8")
        tracemalloc.start()
        try:
            assert scan_file(path, Plan(key="grants")).repeated.count == repeat
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[1] - peaks[0] < path.stat().st_size  # 4.5 times it, read whole as text
