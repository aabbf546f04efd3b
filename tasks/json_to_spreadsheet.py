"""Offer JSON data back as spreadsheets (XLSX, and CSVs in a zip), made by flattentool.

flattentool needs about a minute for 40,000 items, so this task is deferred: the report
never waits for it; it runs when somebody asks for the spreadsheets.
"""

from __future__ import annotations

from typing import Any

from process.runner import Inputs
from process.store import Subject
from process.task import Download, Task
from tasks.data import data_path
from tasks.profile_schema import has_schema, load_profile_schema

XLSX = "data.xlsx"
CSV_ZIP = "data-csv.zip"


class JSONToSpreadsheet(Task):
    name = "json_to_spreadsheet"
    title = "Spreadsheet downloads"
    # 8: names the fields beside the list, which no sheet holds, and the field names
    # holding "/", which read back as nested fields; a field that is one of several
    # objects has the columns of each. 7: "#N/A" and the like are text cells, not errors;
    # no CSV named as a Windows device; true, false and null in a list of plain values
    # not written as Python's words.
    # 6: U+FFFF no longer fails the workbook; rows not tied to their item are counted.
    # 5: formula-like text in text cells of the workbook, not given a "'"; numbers a cell
    # would change are text there; sheet names any program takes; CSVs with a byte order
    # mark. 4: refused for a list with no objects, says how many items are not objects
    version = 8
    requires = ("parse_json",)
    deferred = True

    def is_applicable(self, submission: Subject) -> bool:
        return submission.format == "json"

    def unavailable_because(self, submission: Subject) -> str:
        stats = submission.store.output("stats")
        profile = submission.get_profile()
        # The checks look for the list at the top level: for a list deeper down ("a/b"),
        # only the conversion itself can tell.
        if stats is None or "/" in profile.root_list_path or stats.data.get("objects") != 0:
            return ""
        root = stats.data.get("root_list_path", "")
        the_list = f"the list “/{root}”" if root else "the list the data is"
        return (
            "No spreadsheets can be made from this data: a spreadsheet row holds one item "
            f"of {the_list} that is an object, and this data has no such item."
        )

    def get_context(self, submission: Subject) -> dict[str, Any]:
        return {
            **super().get_context(submission),
            "unavailable": self.unavailable_because(submission),
            **shared_ids(submission),
        }

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        from tasks import spreadsheets

        profile = submission.get_profile()
        made = spreadsheets.flatten(
            data_path(submission),
            self.work_dir(submission),
            # Loaded as validation loads it: checked, and with $refs resolved offline.
            schema=load_profile_schema(profile) if has_schema(profile) else None,
            root_list_path=profile.root_list_path,
            id_name=profile.id_name,
        )
        return {
            "xlsx_size": made.xlsx.stat().st_size,
            "csv_zip_size": made.csv_zip.stat().st_size,
            "cut_short": made.cut_short,
            "neutralised": made.neutralised,
            "left_out": made.left_out,
            "cell_limit": spreadsheets.MAX_XLSX_TEXT,
            "numbers_as_text": made.numbers_as_text,
            "unjoined": made.unjoined,
            "id_name": profile.id_name,
            "cell_digits": spreadsheets.MAX_CELL_DIGITS,
            "beside_the_list": made.beside_the_list._asdict(),
            "slashed": made.slashed._asdict(),
            "root_list_path": profile.root_list_path,
        }

    def downloads(self, submission: Subject) -> list[Download]:
        return [
            Download(XLSX, "The data as an Excel workbook (XLSX)", _XLSX_TYPE),
            Download(CSV_ZIP, "The data as CSV files (zip)", "application/zip"),
        ]


def shared_ids(submission: Subject) -> dict[str, Any]:
    """The ids more than one item has, as the statistics found them: read back, the
    spreadsheets join such items' rows into one item."""
    # From the statistics rather than a reading of its own: they count ids already.
    stats = submission.store.output("stats")
    if stats is None:
        return {"shared_ids": None, "ids_of_a_sample": False}
    shared = stats.data.get("duplicate_ids") or {"count": 0, "examples": []}
    names = [value for value, _times in shared["examples"]]
    checked, in_file = stats.data.get("items", 0), stats.data.get("items_in_file") or 0
    return {
        "shared_ids": {"count": shared["count"], "names": names},
        "ids_of_a_sample": in_file > checked,  # in sample mode, only the sample's ids
    }


_XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
