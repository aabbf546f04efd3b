"""Fields present in the data but not described by the schema."""

from __future__ import annotations

from typing import Any

from process.runner import Inputs
from process.store import Subject
from process.task import Task
from tasks.data import is_data, load_checked_data
from tasks.fields import SchemaFields, examples_at, schema_fields, walk_fields
from tasks.profile_schema import has_schema, load_profile_schema
from tasks.schema import truncate

MAX_LISTED = 500


class AdditionalFields(Task):
    name = "additional_fields"
    title = "Fields not in the schema"
    version = 2
    requires = ("parse_json",)
    uses_options = ("sample",)

    def is_applicable(self, submission: Subject) -> bool:
        return is_data(submission) and has_schema(submission.get_profile())

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        loaded = load_profile_schema(submission.get_profile())
        # The base URI by the schema's draft ("id" in draft 4), so internal $refs resolve.
        described = schema_fields(loaded.schema, loaded.resources, loaded.base_uri)
        data = load_checked_data(submission, inputs)
        walk = inputs.memo("fields", lambda: walk_fields(data))
        fields = additional(walk.counts, described)
        for field in fields[:MAX_LISTED]:
            field["examples"] = [
                {"path": pointer, "value": truncate(value)}
                for pointer, value in examples_at(data, field["path"])
            ]
        return {"fields": fields[:MAX_LISTED], "count": len(fields)}


def additional(counts: dict[str, int], described: SchemaFields) -> list[dict[str, Any]]:
    """The top of each undescribed branch: "/grants/*/notes", not everything under it."""
    found = [
        {"path": pattern, "count": count}
        for pattern, count in counts.items()
        if not described.describes(pattern) and _parent_described(pattern, described)
    ]
    return sorted(found, key=lambda item: (-item["count"], item["path"]))


def _parent_described(pattern: str, described: SchemaFields) -> bool:
    # The nearest field above: "/m/*/*/b" sits in the field "/m", whatever the arrays between.
    parent = pattern.rsplit("/", 1)[0]
    while parent.endswith("/*"):
        parent = parent[:-2]
    return not parent or described.describes(parent)
