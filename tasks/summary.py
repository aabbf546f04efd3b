"""Count what the data holds: a first look before any schema is applied."""

from __future__ import annotations

from typing import Any

from process.runner import Inputs
from process.store import Subject
from process.task import Task
from tasks.data import is_data, sample_size
from tasks.scan import load_scan

TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


class Summary(Task):
    name = "summary"
    title = "Summarise the data"
    version = 3  # 3: list levels count in the deepest nesting
    requires = ("parse_json",)
    uses_options = ("sample",)

    def is_applicable(self, submission: Subject) -> bool:
        return is_data(submission)

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        scan = load_scan(submission, inputs)
        size = sample_size(submission)
        return {
            "top_level": scan.top_level,
            "lists": [{"path": path, "items": items} for path, items in scan.lists],
            "counts": type_counts(scan.walk.types),
            "max_depth": scan.walk.max_depth + 1,
            "sampled": size is not None and any(items > size for _, items in scan.lists),
            "sample_size": size,
        }


def type_counts(types: dict[type, int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kind, count in types.items():
        name = TYPE_NAMES.get(kind, "number")
        counts[name] = counts.get(name, 0) + count
    return dict(sorted(counts.items()))
