"""Convert XLSX, ODS and CSV to JSON with flattentool, keeping where each value came from."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings

from process.runner import Inputs
from process.store import Subject
from process.task import Download, Task
from tasks.data import SPREADSHEETS
from tasks.profile_schema import has_schema, load_profile_schema

MAX_WARNINGS = 500


class SpreadsheetToJSON(Task):
    name = "spreadsheet_to_json"
    # 13: read again, as before 12: rows formatted down to the end of one sheet; a sheet
    # left out as notes beginning with a text of many "/"; each ODS table is a sheet
    # 12: refused before reading: cells that a merged range, a hyperlink or a comment
    # reaches count as cells; empty row and cell elements count as rows and columns; more
    # shared texts than cells; a heading more than 256 levels deep; a row of more than
    # 500,000 XML elements; more than 1,000 sheets
    # 11: a formula's warning gives a heading that is a number or a date as text
    # 10: a row of flattentool's settings ("#", "skipRows 1") is refused, where its rows
    # were numbered as if the headings were in row 1 and read columns said to be unread;
    # a "#" in cell A1 beside no setting is a heading, checked as any other first row
    # 9: a field that is one of several objects is read as an object; "1.0" in a whole
    # number column is a number; a number cell stays one where the schema allows a number
    # but only some texts; a list of texts is split on ";" alone, not on "," too
    # 8: another sheet's headings below its first row are refused, as the main sheet's;
    # rows after a CSV's blank lines are named as the file numbers them in warnings' words
    # too; a field inside each structure of the schema kept, to name a missing one
    # 7: each sheet's headings kept with their columns, so that a missing field is placed
    # in its column though no row fills it; warnings quoting a value several cells hold
    # name the cell of the field or type they say; a CSV's separator is the one that
    # reads its first rows as a table, and its blank heading is read as a workbook's
    # 5: rows sharing an id with an object column no longer crash; rows of another sheet
    # without an id are warned of and place their items' errors; TRUE in a number column
    # is text; headings written as words name their field; 3, 4: unread values and
    # unrelated sheets are warnings
    version = 13
    title = "Convert the spreadsheet to JSON"

    def is_applicable(self, submission: Subject) -> bool:
        return submission.format in SPREADSHEETS

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        from tasks import spreadsheets

        profile = submission.get_profile()
        limits = spreadsheets.SpreadsheetLimits(
            max_bytes=settings.ASSAY_MAX_UPLOAD_BYTES,
            max_rows=settings.ASSAY_MAX_SPREADSHEET_ROWS,
            max_cells=settings.ASSAY_MAX_SPREADSHEET_CELLS,
            max_ratio=settings.ASSAY_MAX_COMPRESSION_RATIO,
            max_uncompressed=settings.ASSAY_MAX_UNCOMPRESSED_BYTES,
            max_sheets=settings.ASSAY_MAX_SPREADSHEET_SHEETS,
        )
        spreadsheets.check_limits(submission.original_path, submission.format, limits)
        result = spreadsheets.unflatten(
            submission.original_path,
            submission.format,
            self.work_dir(submission),
            # Loaded as validation loads it: checked, and with $refs resolved offline.
            schema=load_profile_schema(profile) if has_schema(profile) else None,
            root_list_path=profile.root_list_path,
            id_name=profile.id_name,
        )
        return {
            "warnings": result.warnings[:MAX_WARNINGS],
            "warning_count": len(result.warnings),
            "sha256": hashlib.sha256(result.json_path.read_bytes()).hexdigest(),
        }

    def downloads(self, submission: Subject) -> list[Download]:
        return [Download("data.json", "The data as JSON", "application/json")]
