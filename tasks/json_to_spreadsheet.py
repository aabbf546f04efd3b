"""Offer JSON data back as spreadsheets (XLSX, and CSVs in a zip), made by flattentool.

flattentool needs about a minute for 40,000 items, so this task is deferred: the report
never waits for it; it runs when somebody asks for the spreadsheets.
"""

from __future__ import annotations

from typing import Any

from process.runner import Inputs
from process.store import Subject
from process.task import Download, Task
from tasks.data import SPREADSHEETS, data_path
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

    def inapplicable_because(self, submission: Subject) -> str:
        if submission.format in SPREADSHEETS:
            return (
                f"The data is a spreadsheet ({submission.format.upper()}) already: "
                "spreadsheets are made from JSON data."
            )
        return "Spreadsheets are made from JSON data only."

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
            "notices": self.notices(submission),
        }

    def notices(self, submission: Subject) -> list[dict[str, Any]]:
        """What the files do not hold as the data has it, or hold otherwise."""
        output = submission.store.output(self.name)
        if output is None:
            return []
        made = output.data
        # An earlier version's output may lack the later counts: it says nothing of them.
        id_name = made.get("id_name", "")
        found = [
            _counted("not_objects", made.get("left_out", 0), loses_data=True),
            _counted("rows_not_joined", made.get("unjoined", 0), loses_data=True, id_name=id_name),
            _counted(
                "texts_cut_short",
                made.get("cut_short", 0),
                loses_data=True,
                cell_limit=made.get("cell_limit"),
            ),
            _counted(
                "numbers_as_text",
                made.get("numbers_as_text", 0),
                cell_digits=made.get("cell_digits"),
            ),
            _counted("formula_like_texts", made.get("neutralised", 0)),
            _named(
                "fields_beside_the_list",
                made.get("beside_the_list"),
                root_list_path=made.get("root_list_path", ""),
            ),
            _named("field_names_with_slash", made.get("slashed")),
            _shared_ids(submission, id_name=id_name),
        ]
        return [notice for notice in found if notice["count"]]

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


def _counted(code: str, count: int, *, loses_data: bool = False, **facts: Any) -> dict[str, Any]:
    return {"code": code, "count": count, "loses_data": loses_data, **facts}


def _named(code: str, first_few: dict[str, Any] | None, **facts: Any) -> dict[str, Any]:
    """A notice about names in the data: how many, and the first of them."""
    first_few = first_few or {"count": 0, "names": []}
    return {
        **_counted(code, first_few["count"], loses_data=True, **facts),
        "examples": list(first_few["names"]),
    }


def _shared_ids(submission: Subject, id_name: str) -> dict[str, Any]:
    """The ids more than one item has, as the statistics found them: read back, the
    spreadsheets join such items' rows into one item."""
    # From the statistics rather than a reading of its own: they count ids already.
    stats = submission.store.output("stats")
    found = stats.data if stats else {}
    shared = found.get("duplicate_ids") or {"count": 0, "examples": []}
    checked, in_file = found.get("items", 0), found.get("items_in_file") or 0
    return {
        **_counted("shared_ids", shared["count"], loses_data=True, id_name=id_name),
        "examples": [value for value, _times in shared["examples"]],
        "in_sample": in_file > checked,  # in sample mode, only the sample's ids
    }


_XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
