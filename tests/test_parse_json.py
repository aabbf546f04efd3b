"""Reading JSON, and saying exactly what is wrong when it cannot be read."""

import pytest

from process.errors import BadInput
from tasks.data import parse
from tests.conftest import fixture, upload
from webapp.models import Submission

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_reads_json_with_or_without_a_byte_order_mark():
    assert parse(b'{"a": [1, 2]}') == {"a": [1, 2]}
    assert parse(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


def test_malformed_json_gives_line_and_column():
    with pytest.raises(BadInput) as caught:
        parse(fixture("malformed.json").read_bytes())
    assert caught.value.code == "malformed_json"
    assert caught.value.message == (
        "The JSON is not well-formed at line 4, column 5: Expecting ',' delimiter."
    )
    assert caught.value.permanent


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b'{\r"a": 1,\r x}',
            "line 3, column 2: Expecting property name enclosed in double quotes.",
        ),
        (
            b'{"a": 1,\r\n x}',
            "line 2, column 2: Expecting property name enclosed in double quotes.",
        ),
        (b'{"a": "b\tc"}', "line 1, column 9: Invalid control character."),
        (b'{"a": "bc', "line 1, column 7: Unterminated string starting here."),
    ],
)
def test_the_place_of_a_fault_is_counted_as_an_editor_counts_it(raw, message):
    with pytest.raises(BadInput) as caught:
        parse(raw)
    assert caught.value.message == f"The JSON is not well-formed at {message}"


def test_utf16_is_named():
    with pytest.raises(BadInput, match="encoded as UTF-16; JSON must be UTF-8"):
        parse(fixture("utf16.json").read_bytes())


def test_non_utf8_bytes_are_located():
    with pytest.raises(BadInput, match="byte 0xE9 on line 1 cannot be read") as caught:
        parse(fixture("latin1.json").read_bytes())
    assert "UTF-8" in caught.value.hint


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a": "\xc3\xa9",\n "n": NaN}', "holds NaN at line 2, column 7,"),
        (b'\xef\xbb\xbf{"n": [1,\r\n  -Infinity]}', "holds -Infinity at line 2, column 3,"),
        (b'{"id": "' + b"1" * 25 + b'",\r "n": -1e400}', "represent at line 2, column 7: -1e400."),
    ],
)
def test_numbers_json_cannot_hold_are_placed(raw, message):
    with pytest.raises(BadInput) as caught:
        parse(raw)
    assert message in caught.value.message


def test_ten_thousand_levels_of_nesting_are_refused_clearly():
    with pytest.raises(BadInput, match="nested too deeply") as caught:
        parse(b"[" * 10_000 + b"]" * 10_000)
    assert caught.value.code == "json_too_deep"


def test_a_number_too_long_to_read_is_refused_clearly():
    with pytest.raises(BadInput) as caught:
        # A string of digits before it, which is no number.
        parse(b'{"ref": "no. ' + b"1" * 5000 + b'",\n "id": ' + b"9" * 5000 + b"}")
    assert caught.value.code == "json_number_too_long"
    assert caught.value.message == (
        "The JSON holds a number of 5,000 digits at line 2, column 8, longer than the 4,300 "
        "digits Assay reads."
    )


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-le", "utf-32-be"])
def test_utf32_is_named(encoding):
    with pytest.raises(BadInput, match="encoded as UTF-32; JSON must be UTF-8"):
        parse('{"a": 1}'.encode(encoding))


def test_utf16_starting_with_a_character_ending_in_a_zero_byte_is_not_taken_for_utf32():
    with pytest.raises(BadInput, match="encoded as UTF-16; JSON must be UTF-8"):
        parse('"\u4e00"'.encode("utf-16-le"))


def test_a_number_beyond_floating_point_range_is_refused_clearly():
    with pytest.raises(
        BadInput, match="too large to represent at line 1, column 12: 1e400"
    ) as caught:
        parse(b'{"amount": 1e400}')
    assert caught.value.code == "json_number_too_large"


def test_integers_beyond_64_bits_are_read_exactly():
    # orjson would read them as floats, and 12345678901234567890123 would then pass
    # "multipleOf": 2 or fail an "enum" naming it.
    assert parse(b"[123456789012345678901234567890, -9223372036854775809]") == [
        123456789012345678901234567890,
        -9223372036854775809,
    ]
    assert parse(b'{"id": "1234567890123456789012", "n": 1.5}') == {
        "id": "1234567890123456789012",
        "n": 1.5,
    }  # a long run of digits in text takes the slower reading, to the same result


def test_a_long_integer_does_not_hide_an_unpaired_surrogate():
    with pytest.raises(BadInput) as caught:
        parse(b'["\\ud800", 123456789012345678901234567890]')
    assert caught.value.code == "json_bad_text"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("utf16.json", "encoded as UTF-16"),
        ("latin1.json", "not valid UTF-8"),
        ("notes.txt", "could not recognise this file"),
    ],
)
def test_bad_files_end_on_the_error_page_with_the_original_kept(client, name, message):
    submission = upload(client, name)
    response = client.get(submission.get_absolute_url())
    assert response.status_code == 200
    assert message in response.content.decode()
    submission.refresh_from_db()
    assert submission.state == Submission.State.FAILED
    original = client.get(f"/s/{submission.id}/original")
    assert b"".join(original.streaming_content) == fixture(name).read_bytes()


def test_a_csv_is_recognised_and_the_page_says_it_was_converted(client):
    submission = upload(client, "grants.csv")
    text = client.get(submission.get_absolute_url()).content.decode()
    assert "The file is <strong>CSV</strong>" in text
    assert "It was converted to JSON to be checked" in text
    assert "on its way" not in text
    submission.refresh_from_db()
    assert submission.state == Submission.State.DONE
    assert submission.format == "csv"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"n": NaN}', "json_not_a_number"),
        (b'{"n": -Infinity}', "json_not_a_number"),
        (b'{"id": "\\ud800"}', "json_bad_text"),
    ],
)
def test_values_json_does_not_allow_are_refused_clearly(raw, code):
    with pytest.raises(BadInput) as caught:
        parse(raw)
    assert caught.value.code == code


def test_a_byte_order_mark_alone_does_not_make_json_unreadable():
    assert parse(b'\xef\xbb\xbf{"n": 1}') == {"n": 1}
