"""Read the JSON data, with a precise message when it is not well-formed."""

from __future__ import annotations

import json
from typing import Any

from process.errors import BadInput
from process.runner import Inputs
from process.store import Subject
from process.task import Task

UTF8_HINT = "Save the file as UTF-8 (most editors offer this under “Save as”) and try again."


class ParseJSON(Task):
    name = "parse_json"
    title = "Read the JSON"
    requires = ("detect_format",)

    def is_applicable(self, submission: Subject) -> bool:
        return submission.format == "json"

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        data = load_json(submission, inputs)
        return {"top_level": json_type(data), "size": submission.size}


def load_json(submission: Subject, inputs: Inputs) -> Any:
    """The parsed data, parsed once per run however many tasks ask for it."""
    return inputs.memo("json", lambda: parse(submission.original_path.read_bytes()))


def parse(raw: bytes) -> Any:
    text = decode(raw)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            "malformed_json",
            f"The JSON is not well-formed at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
            hint="Fix the data at that place, or export it again from the system that made it, "
            "and upload it again.",
        ) from exc
    except ValueError as exc:  # Python refuses integers of more than 4,300 digits
        raise BadInput(
            "json_number_too_long",
            f"The JSON holds a number too long to read ({exc}).",
            hint="Write very long identifiers as strings, in quotes.",
        ) from exc
    except RecursionError as exc:
        raise BadInput(
            "json_too_deep",
            "The JSON is nested too deeply for Assay to read.",
            hint="Data this deeply nested is almost always a mistake in the exporting system.",
        ) from exc


def decode(raw: bytes) -> str:
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
