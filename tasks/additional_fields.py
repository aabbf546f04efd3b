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

MAX_LISTED = 500


class AdditionalFields(Task):
    name = "additional_fields"
    title = "Fields not in the schema"
    version = 4  # 4: below a known field, open objects above it describe nothing; 3: more keywords
    requires = ("parse_json",)
    uses_options = ("sample",)

    def is_applicable(self, submission: Subject) -> bool:
        return is_data(submission) and has_schema(submission.get_profile())

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        loaded = load_profile_schema(submission.get_profile())
        described = described_fields(loaded)
        scan = load_scan(submission, inputs)
        fields = additional(scan.walk.counts, described)
        for field in fields[:MAX_LISTED]:
            field["examples"] = scan.examples.get(field["path"], [])
        return {"fields": fields[:MAX_LISTED], "count": len(fields)}


def additional(counts: dict[str, int], described: SchemaFields) -> list[dict[str, Any]]:
    """The top of each undescribed branch: "/grants/*/notes", not everything under it."""
    found = [
        {"path": pattern, "count": count}
        for pattern, count in counts.items()
        if described.is_additional(pattern)
    ]
    return sorted(found, key=lambda item: (-item["count"], item["path"]))
