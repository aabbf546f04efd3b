"""Sample mode: later tasks look at only the first items of each list."""

from __future__ import annotations

from typing import Any

from process.runner import Inputs
from process.store import Subject
from process.task import Task
from tasks.data import is_data, sample_size
from tasks.scan import load_scan


class Sample(Task):
    name = "sample"
    title = "Sample mode"
    requires = ("parse_json",)
    uses_options = ("sample",)

    def is_applicable(self, submission: Subject) -> bool:
        return is_data(submission) and bool(submission.options.get("sample"))

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        size = sample_size(submission) or 0
        lists = [
            {"path": path, "items": items, "checked": min(items, size)}
            for path, items in load_scan(submission, inputs).lists
        ]
        return {
            "sample_size": size,
            "lists": lists,
            "sampled": any(row["items"] > size for row in lists),
        }
