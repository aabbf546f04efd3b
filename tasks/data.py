"""The data every checking task reads: parsed once per run, sampled when asked."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings

from process.errors import BadInput
from process.runner import Inputs
from process.store import Subject
from tasks.refs import escape

SPREADSHEETS = {"xlsx", "ods", "csv"}
DATA_FORMATS = SPREADSHEETS | {"json"}
CONVERTED = "spreadsheet_to_json"
UTF8_HINT = "Save the file as UTF-8 (most editors offer this under “Save as”) and try again."


def is_data(submission: Subject) -> bool:
    return submission.format in DATA_FORMATS


def data_path(submission: Subject) -> Path:
    """The JSON to check: the original, or what a spreadsheet was converted into."""
    if submission.format in SPREADSHEETS:
        return submission.files_dir / CONVERTED / "data.json"
    return submission.original_path


def load_data(submission: Subject, inputs: Inputs) -> Any:
    """The whole data, parsed at most once per run however many tasks ask."""
    return inputs.memo("data", lambda: parse(data_path(submission).read_bytes()), large=True)


def sample_size(submission: Subject) -> int | None:
    return settings.ASSAY_SAMPLE_ITEMS if submission.options.get("sample") else None


def sample(data: Any, size: int) -> Any:
    if isinstance(data, list):
        return data[:size]
    if isinstance(data, dict):
        return {k: v[:size] if isinstance(v, list) else v for k, v in data.items()}
    return data


def top_level_lists(data: Any) -> list[tuple[str, int]]:
    """The lists a publisher thinks of as "the items": the root array or root keys."""
    if isinstance(data, list):
        return [("/", len(data))]
    if isinstance(data, dict):
        lists = [(key, value) for key, value in data.items() if isinstance(value, list)]
        return [(f"/{escape(key)}", len(value)) for key, value in lists]  # JSON Pointers
    return []


def parse(raw: bytes) -> Any:
    """Parse with orjson (fast); when it refuses, ask the standard library why, in its words.

    orjson also reads an integer beyond 64 bits as a float without a word, which changes
    what it is (12345678901234567890123 would pass "multipleOf": 2): the standard library
    keeps such integers exact, so a file that may hold one is read by it."""
    if may_hold_a_long_integer(raw):
        return parse_slowly(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return parse_slowly(raw)


# Every integer orjson reads exactly has at most 19 digits (2**64 - 1 has 20, but any
# 20-digit number may exceed it). A run of 19 digits anywhere, in a string too, counts.
LONG_DIGIT_RUN = b"0" * 19
DIGITS_AS_ZERO = bytes(byte if byte not in b"0123456789" else ord("0") for byte in range(256))
PIECE = 1 << 20


def may_hold_a_long_integer(raw: bytes) -> bool:
    # Digits made alike and searched for as plain bytes: 15 times faster than a regex.
    # In pieces that overlap by a run's length less one, so that no run is missed.
    overlap = len(LONG_DIGIT_RUN) - 1
    for start in range(0, len(raw), PIECE):
        piece = raw[start : start + PIECE + overlap].translate(DIGITS_AS_ZERO)
        if LONG_DIGIT_RUN in piece:
            return True
    return False


def parse_slowly(raw: bytes) -> Any:
    """The standard library's reading, held to orjson's strictness but for a byte-order mark."""
    text = decode(raw)
    try:
        data = json.loads(text, parse_float=_finite_float, parse_constant=_refuse_constant)
    except _NotJSONNumber as exc:
        raise exc.refusal(_place_of(exc.token, text)) from None
    except json.JSONDecodeError as exc:
        line, column = line_and_column(text, exc.pos)
        raise BadInput(
            "malformed_json",
            f"The JSON is not well-formed at line {line}, column {column}: {_plain(exc.msg)}.",
            hint="Fix the data at that place, or export it again from the system that made it, "
            "and upload it again.",
        ) from exc
    except ValueError as exc:  # Python refuses integers of more than 4,300 digits
        raise _number_too_long(text) from exc
    except RecursionError as exc:
        raise BadInput(
            "json_too_deep",
            "The JSON is nested too deeply for Assay to read.",
            hint="Data this deeply nested is almost always a mistake in the exporting system.",
        ) from exc
    _refuse_unpaired_surrogates(data)
    return data


# A number's digits, not text's: strings are matched whole, to be passed over.
LONG_NUMBER = re.compile(
    rf'"(?:\\.|[^"\\])*"|(?P<number>-?[0-9]{{{sys.get_int_max_str_digits() + 1},}})'
)


def _number_too_long(text: str) -> BadInput:
    limit = sys.get_int_max_str_digits()
    found = next((m for m in LONG_NUMBER.finditer(text) if m["number"]), None)
    where = ""
    if found:
        line, column = line_and_column(text, found.start("number"))
        digits = len(found["number"].lstrip("-"))
        where = f" of {digits:,} digits at line {line}, column {column}"
    return BadInput(
        "json_number_too_long",
        f"The JSON holds a number{where}, longer than the {limit:,} digits Assay reads.",
        hint="Write very long identifiers as strings, in quotes.",
    )


def line_and_column(text: str, position: int) -> tuple[int, int]:
    """Line and column as an editor counts them: a line may end in "\\r" alone (old Macs),
    where the standard library counts "\\n" only. Counted, not split: a fault near the
    end of 100 MB of short lines would otherwise make millions of strings."""
    breaks = (
        text.count("\n", 0, position)
        + text.count("\r", 0, position)
        - text.count("\r\n", 0, position)
    )
    line_start = max(text.rfind("\n", 0, position), text.rfind("\r", 0, position)) + 1
    return breaks + 1, position - line_start + 1


def _plain(message: str) -> str:
    """The standard library's words without their dangling "at" (which its own message
    follows with the place): "Unterminated string starting at"."""
    if message.endswith(" starting at"):
        return f"{message.removesuffix(' at')} here"
    return message.removesuffix(" at")


class _NotJSONNumber(Exception):
    """A number JSON cannot hold, met while reading: refused once its place is known."""

    def __init__(self, token: str):
        super().__init__(token)
        self.token = token

    def refusal(self, place: str) -> BadInput:
        if self.token in CONSTANTS:
            return BadInput(
                "json_not_a_number",
                f"The JSON holds {self.token}{place}, which is not a JSON value.",
                hint="Leave the field out or write null where there is no number.",
            )
        return BadInput(
            "json_number_too_large",
            f"The JSON holds a number too large to represent{place}: {self.token[:40]}.",
            hint="Check the number; write identifiers as strings, in quotes.",
        )


CONSTANTS = ("NaN", "Infinity", "-Infinity")


def _refuse_constant(name: str) -> None:
    raise _NotJSONNumber(name)


def _place_of(token: str, text: str) -> str:
    """ " at line 3, column 12": where ``token`` is, as orjson finds it (the standard
    library's hooks are not told); or nothing, if orjson stops elsewhere first."""
    try:
        orjson.loads(text)
        return ""
    except orjson.JSONDecodeError as exc:
        # At a minus sign orjson is one character on: "no digit after sign".
        start = exc.pos - 1 if text[exc.pos - 1 : exc.pos] == "-" else exc.pos
        if not text.startswith(token, start):
            return ""
        line, column = line_and_column(text, start)
        return f" at line {line}, column {column}"


def _refuse_unpaired_surrogates(data: Any) -> None:
    # Escapes such as "\ud800" read as text that cannot be written as UTF-8; orjson
    # refuses them on reading, and would refuse them here on writing.
    try:
        orjson.dumps(data)
    except orjson.JSONEncodeError as exc:
        if "64-bit" in str(exc):  # a long integer, which orjson cannot write: ask json
            try:
                json.dumps(data, ensure_ascii=False).encode()
                return
            except UnicodeEncodeError:
                pass
        raise BadInput(
            "json_bad_text",
            "The JSON holds text that is not valid Unicode (an unpaired surrogate such as "
            "\\ud800).",
            hint="Export the data again from the system that made it.",
        ) from exc


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise _NotJSONNumber(text)
    return number


def decode(raw: bytes) -> str:
    # JSON's first character is ASCII: UTF-32 writes it with three zero bytes.
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")) or b"\x00\x00\x00" in raw[:4]:
        raise BadInput(
            "not_utf8", "The file is encoded as UTF-32; JSON must be UTF-8.", hint=UTF8_HINT
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or raw[1:2] == b"\x00" or raw[:1] == b"\x00":
        raise BadInput(
            "not_utf8", "The file is encoded as UTF-16; JSON must be UTF-8.", hint=UTF8_HINT
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BadInput(
            "not_utf8",
            f"The file is not valid UTF-8: byte 0x{raw[exc.start]:02X} on line {line} "
            "cannot be read.",
            hint=UTF8_HINT,
        ) from exc


def json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")
