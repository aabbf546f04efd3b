"""The report document (DESIGN.md "Public interfaces"), and the errors as CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection
from typing import Any

from process.fetching import without_password
from process.runner import Inputs
from process.store import Subject
from process.task import Download, Task
from tasks.data import is_data
from tasks.formulas import neutralise
from tasks.validate import Validate

REPORT_FILE = "report.json"
ERRORS_CSV = "errors.csv"
CSV_COLUMNS = ["validator", "path", "message", "value", "schema_path"]
SOURCE_COLUMNS = ["sheet", "row", "column", "header"]
# Columns added since, last: scripts that read the others by position still find them.
LATER_COLUMNS = ["detail"]


class Report(Task):
    name = "report"
    title = "Report"
    # 8: says how many errors are of kinds past those grouped (ungrouped_error_count).
    # 7: says how many links were checked, and how many more were not (past the limit);
    # how many kinds of error there are, past those listed. 6: the detail of a
    # spreadsheet's error places its reasons in cells (validate 9);
    # 5: errors.csv has a "detail" column; 4: nothing from a step that no longer applies
    # (a sample, since turned off); 3: no errors.csv where nothing was checked against a
    # schema; 2: errors.csv with a byte-order mark; says how many errors it holds
    version = 8
    requires = (
        "validate", "additional_fields", "stats", "sample", "spreadsheet_to_json", "links",
    )  # fmt: skip
    uses_options = ("sample",)

    def is_applicable(self, submission: Subject) -> bool:
        return is_data(submission)

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        report = build_report(submission, self.required_here(submission))
        folder = self.work_dir(submission)
        (folder / REPORT_FILE).write_text(
            json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8"
        )
        # With a byte-order mark: Excel reads a CSV without one in the computer's own
        # encoding, and garbles every letter beyond ASCII ("“currency”", "€").
        errors_file = folder / ERRORS_CSV
        if report["checked_against_schema"]:
            errors_file.write_text(errors_csv(report["errors"]), encoding="utf-8-sig")
        else:  # no errors to list; and none of an earlier run's (a schema since dropped)
            errors_file.unlink(missing_ok=True)
        return {
            "valid": report["valid"],
            "error_count": report["error_count"],
            "stored": len(report["errors"]),  # those in the downloads: at most a setting's
        }

    def downloads(self, submission: Subject) -> list[Download]:
        offered = [Download(REPORT_FILE, "The report (JSON)", "application/json")]
        if (submission.files_dir / self.name / ERRORS_CSV).is_file():
            offered.append(Download(ERRORS_CSV, "The errors (CSV)", "text/csv"))
        return offered


def build_report(submission: Subject, sources: Collection[str]) -> dict[str, Any]:
    """The report, from the outputs of the steps ``sources`` names, those that apply: a
    step that no longer does (sample mode, since turned off) may have an output left."""

    def data(name: str) -> dict[str, Any]:
        output = submission.store.output(name) if name in sources else None
        return output.data if output else {}

    validation = data("validate")
    conversion = data("spreadsheet_to_json")
    links = data("links")
    profile = submission.get_profile()
    return {
        "valid": validation.get("valid", True),
        "format": submission.format,
        "profile": profile.name,
        "schema": {"source": without_password(profile.schema), **validation.get("schema", {})},
        "checked_against_schema": bool(validation),
        "error_count": validation.get("error_count", 0),
        "errors_truncated": validation.get("truncated", False),
        "errors": Validate().errors(submission) if validation else [],
        "error_groups": validation.get("groups", []),
        # The largest MAX_GROUPS of them are listed, and this says how many there were.
        "error_group_count": validation.get("group_count", 0),
        # Errors of the kinds met after the first MAX_KINDS: counted, in no group.
        "ungrouped_error_count": validation.get("ungrouped", 0),
        # The first MAX_LISTED of them, and how many there were.
        "additional_fields": data("additional_fields").get("fields", []),
        "additional_field_count": data("additional_fields").get("count", 0),
        "stats": data("stats"),
        "sample": data("sample") or None,
        # The first MAX_WARNINGS of them, and how many there were.
        "conversion_warnings": conversion.get("warnings", []),
        "conversion_warning_count": conversion.get(
            "warning_count", len(conversion.get("warnings", []))
        ),
        # Links that do not work are warnings about the data, not schema errors.
        "link_warnings": [
            {"url": link["url"], "error": link.get("error", ""), "places": link["places"]}
            for link in links.get("links", [])
            if not link["ok"]
        ],
        # So that no warnings, with links past ASSAY_MAX_LINKS unchecked, is not taken
        # for every link working.
        "links_checked": len(links.get("links", [])),
        "links_unchecked": links.get("unchecked", 0),
    }


def errors_csv(errors: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS + SOURCE_COLUMNS + LATER_COLUMNS)
    for error in errors:
        source = error.get("source") or {}
        row = [_cell(error.get(column)) for column in CSV_COLUMNS]
        row += [_cell(source.get(column)) for column in SOURCE_COLUMNS]
        writer.writerow(row + [_cell(error.get(column)) for column in LATER_COLUMNS])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    """Text for a CSV cell; formula-like text is neutralised so spreadsheets show it as text."""
    if isinstance(value, str):
        return neutralise(value)
    return "" if value is None else json.dumps(value, ensure_ascii=False)
