"""Read the JSON data, with a precise message when it is not well-formed."""

from __future__ import annotations

from typing import Any

from process.runner import Inputs
from process.store import Subject
from process.task import Task
from tasks.data import data_path, is_data
from tasks.scan import load_scan


class ParseJSON(Task):
    name = "parse_json"
    title = "Read the JSON"
    version = 3  # 3: integers beyond 64 bits read exactly
    # For spreadsheets, what is read is the JSON they were converted into.
    requires = ("spreadsheet_to_json",)

    def is_applicable(self, submission: Subject) -> bool:
        return is_data(submission)

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        # Every check's work is done in this one reading (tasks/scan.py); the checks that
        # follow report what it found.
        scan = load_scan(submission, inputs)
        converted = inputs.output("spreadsheet_to_json") if self.required_here(submission) else {}
        return {
            "top_level": scan.top_level,
            "size": data_path(submission).stat().st_size,
            # Downstream fingerprints follow the data itself, converted or not.
            "data_sha256": converted.get("sha256", submission.sha256),
        }
