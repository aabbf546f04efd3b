"""Fields present in the data but not described by the schema."""

from __future__ import annotations

from typing import Any

from process.runner import Inputs
from process.store import Subject
from process.task import Task
from tasks.data import is_data
from tasks.fields import SchemaFields
from tasks.profile_schema import described_fields, has_schema, load_profile_schema
from tasks.scan import load_scan
from tasks.validate import Locator

MAX_LISTED = 500


class AdditionalFields(Task):
    name = "additional_fields"
    title = "Fields not in the schema"
    # 6: a spreadsheet's examples say which cell they are in (sheet, row, column, heading);
    # 5: keys matched against patternProperties as validation matches them (ECMA-262);
    # what a const or an enum spells out is described
    version = 6  # 4: below a known field, open objects above it describe nothing; 3: more keywords
    requires = ("parse_json",)
    uses_options = ("sample",)

    def is_applicable(self, submission: Subject) -> bool:
        return is_data(submission) and has_schema(submission.get_profile())

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        loaded = load_profile_schema(submission.get_profile())
        described = described_fields(loaded)
        scan = load_scan(submission, inputs)
        fields, count = most_common_additional(scan.walk.counts, described, MAX_LISTED)
        locator = Locator.for_submission(submission)
        for field in fields:
            field["examples"] = scan.examples.get(field["path"], [])
            if locator.cells is not None:  # from a spreadsheet: the cell to look at
                for example in field["examples"]:
                    example["source"] = locator.place(example["path"])
        return {"fields": fields, "count": count}


def additional(counts: dict[str, int], described: SchemaFields) -> list[dict[str, Any]]:
    """The top of each undescribed branch: "/grants/*/notes", not everything under it."""
    return most_common_additional(counts, described)[0]


def most_common_additional(
    counts: dict[str, int], described: SchemaFields, limit: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The ``limit`` most common additional fields, and how many there are: data with a
    field name per id has hundreds of thousands, kept light until the few listed."""
    found = sorted(
        (-count, pattern) for pattern, count in counts.items() if described.is_additional(pattern)
    )
    listed = [{"path": pattern, "count": -count} for count, pattern in found[:limit]]
    return listed, len(found)
