"""Check the data against the profile's JSON Schema, placing every error in the data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from process.errors import Unavailable
from process.runner import Inputs
from process.store import Subject
from process.task import Task
from tasks.data import CONVERTED, SPREADSHEETS, is_data
from tasks.profile_schema import has_schema, load_profile_schema
from tasks.scan import load_scan
from tasks.schema import SchemaError, at_pointer

ERRORS_FILE = "errors.json"
MAX_GROUPS = 200


class Validate(Task):
    name = "validate"
    # 14: an error jsonschema-rs finds inside a field with an empty name is placed at the
    # object holding that field, not at a path that the data does not have; 13: from a
    # field with an empty name on, patterns, formats and multipleOf are judged as
    # jsonschema-rs judges them (a pattern in ECMA-262 crashed the step); 12: errors
    # of kinds past the first MAX_KINDS are counted as "ungrouped"; python
    # jsonschema checks uniqueItems in a time that grows with the list.
    # 11: data too large for jsonschema-rs to give its errors at once has its patterns,
    # formats and multipleOf judged as jsonschema-rs judges them, and the rest of a long
    # document is no longer taken for such data; 10: items read whole are validated in
    # batches where the schema allows, and so by python jsonschema from a field with an
    # empty name on, as streamed ones are; 9: the detail of a spreadsheet's error places
    # its reasons in cells, not by JSON Pointers;
    # 8: a oneOf or anyOf that nothing matches has a detail: why the closest alternative
    # fails; 7: no advice to write a number without quotes for a spreadsheet, whose cells
    # have none; 6: a missing object is placed under a field inside it, and a missing
    # field of a list written across columns under its entry's own heading; 5: schema
    # paths name their file; 3, 4: rules about sampled lists, meta-schema $refs; 2:
    # patterns, formats
    version = 14
    title = "Check against the schema"
    requires = ("parse_json",)
    uses_options = ("sample",)

    def is_applicable(self, submission: Subject) -> bool:
        return is_data(submission) and has_schema(submission.get_profile())

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        loaded = load_profile_schema(submission.get_profile())  # says if the schema is bad
        scan = load_scan(submission, inputs)
        if scan.validation_failure is not None:
            raise scan.validation_failure
        groups = scan.errors
        if groups is None:  # the schema could not be had when the data was read
            raise Unavailable("schema_unavailable", "The schema could not be loaded; retrying.")
        locator = Locator.for_submission(submission)
        errors = [locator.describe(error) for error in groups.errors]
        (self.work_dir(submission) / ERRORS_FILE).write_bytes(json.dumps(errors).encode())
        group_list = groups.as_list()
        return {
            "valid": groups.total == 0,
            "error_count": groups.total,
            "stored": len(errors),
            "truncated": groups.truncated,
            "groups": [locator.describe_group(group) for group in group_list[:MAX_GROUPS]],
            "group_count": len(group_list),
            "ungrouped": groups.ungrouped,  # errors of kinds past the first MAX_KINDS
            "schema": {"draft": loaded.draft, "title": loaded.schema.get("title", "")},
        }

    def errors(self, submission: Subject) -> list[dict[str, Any]]:
        """The stored individual errors (at most ASSAY_MAX_STORED_ERRORS)."""
        path = submission.files_dir / self.name / ERRORS_FILE
        return json.loads(path.read_bytes()) if path.exists() else []


class Locator:
    """Places errors in the spreadsheet they came from, when they came from one."""

    def __init__(
        self,
        cells: dict | None = None,
        headings: dict | None = None,
        columns: dict | None = None,
        structures: dict | None = None,
    ):
        self.cells = cells
        self.headings = headings or {}
        self.columns = columns or {}
        self.structures = structures or {}

    @classmethod
    def for_submission(cls, submission: Subject) -> Locator:
        if submission.format not in SPREADSHEETS:
            return cls()
        from tasks.spreadsheets import CELL_MAP, COLUMNS, HEADING_MAP, STRUCTURE_FIELDS

        folder = submission.files_dir / CONVERTED
        maps = (CELL_MAP, HEADING_MAP, COLUMNS, STRUCTURE_FIELDS)
        return cls(*(_read(folder / name) for name in maps))

    def place(self, pointer: str) -> dict[str, Any] | None:
        """The sheet, row, column and heading of the value at ``pointer``, if any."""
        return self._source(pointer)

    def describe(self, error: SchemaError) -> dict[str, Any]:
        described = {
            "validator": error.validator,
            "path": error.path,
            "schema_path": error.schema_path,
            "message": error.message,
            "detail": self.detail(error),
            "value": error.value,
        }
        if self.cells is not None:
            described["source"] = self._source(error.path, error.missing)
        return described

    def describe_group(self, group: dict[str, Any]) -> dict[str, Any]:
        examples = [self.describe(error) for error in group["examples"]]
        return {**group, "examples": examples}

    def detail(self, error: SchemaError) -> str:
        """Why no alternative matched, each reason placed as errors are: in the cells of a
        spreadsheet, which a JSON Pointer into the data converted from it does not show."""
        if error.closest is None or self.cells is None:
            return error.detail
        return error.closest.said(self._in_cells)

    def _in_cells(self, pointer: str, missing: str | None, here: str) -> str:
        """Where a reason is in the spreadsheet ("" where the error itself is): for a
        missing field, the column it would be in, as for a "required" error."""
        source = self._source(pointer, missing)
        if source is None:  # no cell holds it, nor the row of anything around it
            return at_pointer(pointer, missing, here)
        return "" if source == self._source(here) else place_words(source)

    def _source(self, pointer: str, missing: str | None = None) -> dict[str, Any] | None:
        if self.cells is None:
            return None
        from tasks.spreadsheets import locate

        return locate(self.cells, self.headings, pointer, missing, self.columns, self.structures)


def place_words(source: dict[str, Any]) -> str:
    """A place in a spreadsheet, in words: "sheet grants, row 3, column C, heading “id”"."""
    where = [f"sheet {source['sheet']}"]
    if source.get("row"):
        where.append(f"row {source['row']}")
    if source.get("column"):
        where.append(f"column {source['column']}")
    if source.get("header"):
        where.append(f"heading “{source['header']}”")
    return ", ".join(where)


def _read(path: Path) -> dict:
    return json.loads(path.read_bytes()) if path.exists() else {}
