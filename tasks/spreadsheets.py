"""Spreadsheets in and out: size limits, CSV decoding, and flattentool conversion both ways.

Pure Python: settings, paths and limits all come in as arguments.

``unflatten`` drives flattentool's reader classes itself rather than calling
``flattentool.unflatten``, for three reasons: to say which sheet, row and column each
warning is about (flattentool's messages often do not say), to refuse a workbook without
the expected sheet before converting anything, and to read ODS files correctly (see
``_ODSReader``). It writes the JSON and the two source maps ``flattentool.unflatten`` would.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import html
import io
import itertools
import json
import math
import posixpath
import re
import shutil
import tempfile
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from dataclasses import field as default
from datetime import datetime
from decimal import Decimal, InvalidOperation
from itertools import islice, pairwise
from pathlib import Path
from typing import IO, Any, BinaryIO, NamedTuple
from urllib.parse import urldefrag, urljoin
from xml.etree import ElementTree

import flattentool
import ijson
import orjson
import transaction
from flattentool.exceptions import FlattenToolError, FlattenToolWarning
from flattentool.input import CSVInput, NullCharacterFilter, ODSInput, XLSXInput
from flattentool.json_input import JSONParser
from flattentool.output import CSVOutput, XLSXOutput
from flattentool.schema import SchemaParser
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.utils.cell import column_index_from_string, get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from process.errors import BadInput
from process.files import over_the_limit
from tasks.data import line_and_column
from tasks.detect import DECLARED_SEPARATOR, utf16_without_mark
from tasks.fields import escape, schema_fields
from tasks.formulas import looks_like_a_formula
from tasks.refs import (
    MAX_SCHEMA_NODES,
    SCHEMA_KEYWORDS,
    SCHEMA_LISTS,
    SCHEMA_MAPS,
    RefIndex,
    Trail,
)
from tasks.schema import LoadedSchema, load_schema

# A CSV value may be as long as the file allows (a long description, a shape as text): the
# csv module's own limit, 131,072 characters, stopped the reading here, flattentool's, and
# the check of the CSVs made from JSON. A quote left open is found by _check_quoting, or
# by MAX_LINES_IN_A_ROW. (2**31 - 1: the most that every platform's C long holds.)
csv.field_size_limit(2**31 - 1)
# A row running over more lines than this has a quote left open: a value written over
# thousands of lines is not data a spreadsheet holds, and reading on to the end of a large
# file held it several times over in memory (2 GB for 90 MB).
MAX_LINES_IN_A_ROW = 10_000
# And fewer, longer lines do the same: no spreadsheet row holds this much (a cell holds at
# most 32,767 characters in Excel).
MAX_CHARS_IN_A_ROW = 5_000_000

FORMATS = ("xlsx", "ods", "csv")
XLSX_NAME = "data.xlsx"
CSV_ZIP_NAME = "data-csv.zip"

_KIND = {
    "xlsx": "an Excel workbook (XLSX)",
    "ods": "an OpenDocument spreadsheet (ODS)",
    "csv": "a CSV file",
}
_MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class SpreadsheetLimits:
    max_bytes: int
    max_rows: int
    max_cells: int
    max_ratio: int
    max_uncompressed: int
    # A data standard's template has tens of sheets. Converting takes longer than in
    # proportion to their number: 1,000 sheets of two cells took 2.8 s, 3,000 took 16 s,
    # and 30,000 (a 14 MB file) would pass any time allowed.
    max_sheets: int = 1_000


@dataclass(frozen=True)
class Unflattened:
    json_path: Path
    cell_source_map: dict[str, Any]
    heading_source_map: dict[str, Any]
    warnings: list[dict[str, Any]]
    # Each sheet's headings and their columns, those of empty columns too (see locate).
    columns: dict[str, dict[str, str]] = default(default_factory=dict)
    # Each object or list of objects the schema names a field in, with the heading below
    # its own of one of them: "amount" -> "value" (see locate).
    structures: dict[str, str] = default(default_factory=dict)


# Limits ----------------------------------------------------------------------------------


def check_limits(path: Path, fmt: str, limits: SpreadsheetLimits) -> None:
    """Refuse a file that is too big to convert, before any spreadsheet library opens it."""
    _check_format(fmt)
    size = path.stat().st_size
    if size == 0:
        raise BadInput("empty_file", "The file is empty.", hint="Choose a file with data in it.")
    if size > limits.max_bytes:
        raise BadInput(
            "file_too_large",
            f"The file is {over_the_limit(size, limits.max_bytes, _size)}.",
            hint="Split the data into smaller files.",
        )
    if fmt == "csv":
        _Tally(limits, "The CSV file", "").add_rows(_csv_row_widths(decode_csv(path).text))
        return
    with _open_zip(path, fmt) as archive, _damage_is_bad_input(fmt):
        _check_unpacked_size(archive, limits)
        tally = _Tally(limits, "The spreadsheet", " over all its sheets")
        if fmt == "xlsx":
            _tally_xlsx(archive, tally)
        else:
            _tally_ods(archive, tally)


# The columns flattentool can name (A to ZZZ): it names the cell of each heading, and a
# wider row failed to convert with no more than "check the column headings".
MAX_COLUMNS = 18_278


@dataclass
class _Tally:
    """Rows and cells counted so far, against the limits."""

    limits: SpreadsheetLimits
    subject: str
    scope: str
    rows: int = 0
    cells: int = 0
    sheets: int = 0
    # Characters of text in the cells. A shared string or a repeated row counts each
    # time it is used, as the conversion writes it out each time: an 808 KB workbook
    # whose 2,000 rows share one 1 MB text became 2 GB of JSON.
    chars: int = 0

    def add_text(self, chars: int) -> None:
        self.chars += chars
        if self.chars > self.limits.max_uncompressed:
            raise BadInput(
                "too_much_text",
                f"{self.subject}'s cells hold more text than Assay reads: more than "
                f"{_size(self.limits.max_uncompressed)}{self.scope}, counting a text each "
                "time a cell uses it.",
                hint="A long text used by many cells (or a row repeated many times) counts "
                "once for each: split the data into smaller files.",
            )

    def check(self, rows: int, cells: int) -> None:
        """Raise if what is counted so far, plus ``rows`` and ``cells``, is over a limit."""
        if self.rows + rows > self.limits.max_rows:
            raise BadInput(
                "too_many_rows",
                f"{self.subject} has too many rows: the limit is "
                f"{self.limits.max_rows:,} rows{self.scope}.",
                hint="Split the data into smaller files, and delete empty rows at the end "
                "of each sheet.",
            )
        if self.cells + cells > self.limits.max_cells:
            raise BadInput(
                "too_many_cells",
                f"{self.subject} has too many cells: the limit is "
                f"{self.limits.max_cells:,} cells{self.scope}, counting every row from the "
                "first column to the last one used.",
                hint="Delete unused columns and rows (also ones that only hold formatting), "
                "or split the data into smaller files.",
            )

    def add_sheet(self) -> None:
        self.sheets += 1
        if self.sheets > self.limits.max_sheets:
            raise BadInput(
                "too_many_sheets",
                f"{self.subject} has too many sheets: more than {self.limits.max_sheets:,}, "
                "the most Assay reads.",
                hint="Delete the sheets no one needs, or split the data into several files.",
            )

    def add(self, rows: int, cells: int) -> None:
        self.check(rows, cells)
        self.rows += rows
        self.cells += cells

    def add_rows(self, widths: Iterable[int]) -> None:
        for width in widths:
            self.check_width(width)
            self.add(1, width)

    def check_width(self, columns: int) -> None:
        """Raise if a row is wider than flattentool can name its cells."""
        if columns > MAX_COLUMNS:
            raise BadInput(
                "too_many_columns",
                f"{self.subject} has too many columns: a row of {columns:,}, where the "
                f"most Assay reads is {MAX_COLUMNS:,} (A to ZZZ).",
                hint="Delete the columns no one needs: headings the schema does not name "
                "are often the cause.",
            )


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown spreadsheet format {fmt!r}; expected one of {FORMATS}")


def _size(count: int) -> str:
    if count < _MEGABYTE:
        return f"{math.ceil(count / 1024):,} KB"
    return f"{count / _MEGABYTE:,.1f} MB"


def _open_zip(path: Path, fmt: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise _damaged(fmt) from exc


def _damaged(fmt: str) -> BadInput:
    return BadInput(
        "damaged_spreadsheet",
        f"The file could not be opened as {_KIND[fmt]}: it is damaged or in another format.",
        hint="Open it in your spreadsheet program and save it again in that format.",
    )


# Reading a damaged zip or its XML fails in many ways; each of them means a damaged file.
_DAMAGE = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    ElementTree.ParseError,
    ValueError,
    KeyError,
    RecursionError,
)


@contextmanager
def _damage_is_bad_input(fmt: str) -> Iterator[None]:
    try:
        yield
    except _DAMAGE as exc:
        raise _damaged(fmt) from exc


def _check_unpacked_size(archive: zipfile.ZipFile, limits: SpreadsheetLimits) -> None:
    # The sizes come from the zip directory, so nothing is unpacked here; zipfile never
    # unpacks a member beyond the size the directory gives, so a lying directory cannot
    # get round this later either.
    members = archive.infolist()
    unpacked = sum(member.file_size for member in members)
    packed = max(1, sum(member.compress_size for member in members))
    if unpacked / packed > limits.max_ratio:
        raise BadInput(
            "compression_bomb",
            f"The file is compressed unusually tightly: unpacked, it would be "
            f"{unpacked / packed:,.0f} times its size, and the limit is {limits.max_ratio:,} "
            "times.",
            hint="Files like this are refused because they can overwhelm the server. If it "
            "is a genuine spreadsheet, save it again from your spreadsheet program.",
        )
    if unpacked > limits.max_uncompressed:
        raise BadInput(
            "too_large_unpacked",
            f"Unpacked, the file would take "
            f"{over_the_limit(unpacked, limits.max_uncompressed, _size)}.",
            hint="Split the data into smaller files.",
        )


# XLSX: flattentool loads every cell of the rectangle from A1 to the last row and column
# used (even cells that only hold formatting), so that rectangle is what is counted.

_CELL_REFERENCE = re.compile(r"([A-Za-z]{1,3})(\d+)")


def _tally_xlsx(archive: zipfile.ZipFile, tally: _Tally) -> None:
    members = {member: _root_tag(archive, member) for member in archive.infolist()}
    # The longest text at each number, whichever shared strings part openpyxl takes.
    parts = [
        _shared_string_lengths(archive, member, tally)
        for member, tag in members.items()
        if tag == "sst"
    ]
    shared = [max(lengths) for lengths in itertools.zip_longest(*parts, fillvalue=0)]
    elements = _element_tally(tally)
    for member, tag in members.items():
        if tag == "worksheet":
            tally.add_sheet()
            rows, columns = _sheet_extent(archive, member, tally, shared, elements)
            tally.check_width(columns)
            tally.add(rows, rows * columns)


def _shared_string_lengths(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, tally: _Tally
) -> list[int]:
    """The length of each shared string, in order: the cells refer to them by number."""
    lengths: list[int] = []
    limit = tally.limits.max_cells
    with archive.open(member) as stream:
        for _event, element in ElementTree.iterparse(stream, events=("end",)):
            if _local(element.tag) == "si":
                lengths.append(sum(len(part.text or "") for part in _shown_text(element)))
                element.clear()
            # More texts than cells can only be texts no cell uses, and openpyxl holds
            # them all: 20 million in a 5 MB file took a minute and 2 GB.
            if len(lengths) > limit:
                raise BadInput(
                    "too_many_shared_texts",
                    "The spreadsheet's list of shared texts holds more texts than the "
                    f"{limit:,} cells Assay reads over all its sheets: most of them are used "
                    "by no cell.",
                    hint="Open the file in your spreadsheet program and save it again, which "
                    "leaves out texts no cell uses; or split the data into smaller files.",
                )
    return lengths


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _root_tag(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> str | None:
    """The name of the member's root XML element; None for a member that is not XML."""
    # Worksheets are found by their content rather than by name, as openpyxl finds them
    # through the workbook's relationships, which may name them anything.
    if member.is_dir():
        return None
    with archive.open(member) as stream:
        try:
            for _event, element in ElementTree.iterparse(stream, events=("start",)):
                return _local(element.tag)
        except ElementTree.ParseError:
            return None
    return None


def _sheet_extent(
    archive: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    tally: _Tally,
    shared: list[int],
    elements: _Tally,
) -> tuple[int, int]:
    """(last row, last column) that hold a cell, read the way openpyxl reads them; the
    text of the cells that use a shared string is added to ``tally`` as they come, and
    the row and cell elements counted in ``elements`` (see ``_RowElements``)."""
    last_row = last_column = row_number = 0
    sheet_data = None
    counted = _RowElements(elements, "row", ("c",))
    with archive.open(member) as stream:
        for event, element in ElementTree.iterparse(stream, events=("start", "end")):
            name = _local(element.tag)
            if event == "start":
                sheet_data = element if name == "sheetData" else sheet_data
                counted.start(name)
                continue
            if name in _RANGES:
                last_row, last_column = _reaching(last_row, last_column, element.get("ref"))
                tally.check(last_row, last_row * last_column)
                continue
            if name != "row":
                continue
            counted.end_row()
            row_number = _int(element.get("r"), row_number + 1)
            row, column = _row_extent(element, row_number)
            tally.add_text(_shared_text(element, shared))
            last_row, last_column = max(last_row, row), max(last_column, column)
            tally.check(last_row, last_row * last_column)
            # Forget finished rows, so memory stays flat however long the sheet is.
            element.clear()
            if sheet_data is not None and len(sheet_data) and sheet_data[-1] is element:
                del sheet_data[-1]
    for part in _comment_parts(archive, member.filename):
        with archive.open(part) as stream:
            for _event, element in ElementTree.iterparse(stream):
                if _local(element.tag) == "comment":
                    last_row, last_column = _reaching(last_row, last_column, element.get("ref"))
                    tally.check(last_row, last_row * last_column)
                element.clear()
    return last_row, last_column


# openpyxl makes a cell for each cell of a merged range or of a hyperlink's range, and for
# each comment, wherever they are: a merged range to the last cell of the sheet, in a file
# of 5 KB, made 17 billion cells. So they count as far as they reach, as cells do.
_RANGES = ("mergeCell", "hyperlink")
_COMMENTS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/comments"


def _reaching(last_row: int, last_column: int, ref: str | None) -> tuple[int, int]:
    """(last row, last column) as far as a cell or range reference ("B2", "A1:XFD9") reaches."""
    for end in (ref or "").replace("$", "").split(":"):
        if found := _CELL_REFERENCE.fullmatch(end.strip()):
            last_row = max(last_row, int(found[2]))
            last_column = max(last_column, _column_number(found[1]))
    return last_row, last_column


def _comment_parts(archive: zipfile.ZipFile, sheet: str) -> list[str]:
    """The parts holding a sheet's comments, found through its relationships as openpyxl
    finds them."""
    folder, name = posixpath.split(sheet)
    try:
        relationships = ElementTree.fromstring(
            archive.read(posixpath.join(folder, "_rels", f"{name}.rels"))
        )
    except KeyError:
        return []  # no relationships, so no comments
    targets = [
        rel.get("Target", "")
        for rel in relationships.iter(_RELATIONSHIPS)
        if rel.get("Type") == _COMMENTS and rel.get("TargetMode") != "External"
    ]
    parts = [
        target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        for target in targets
    ]
    return [part for part in parts if part in archive.NameToInfo]


# The XML elements one row may be written with: cells, paragraphs, runs of text. A row is
# held whole until it ends; one ODS cell of 3 million paragraphs took 564 MB to count.
# The widest row, 18,278 cells of rich text, needs a few hundred thousand.
MAX_ROW_ELEMENTS = 500_000


# The rows of a sheet in Excel and LibreOffice. Excel writes a row element, with no cell in
# it, for each row given a fill or a height: rows formatted down to the last one took
# openpyxl 25 s and 1.3 GB, less than a sheet at the cells limit (72 s, 1.9 GB). So that
# many row elements more than the rows limit are read: one sheet's worth.
SHEET_ROWS = 1_048_576


def _element_tally(tally: _Tally) -> _Tally:
    """A tally of row and cell elements (see ``_RowElements``) for a file counted in ``tally``."""
    limits = replace(tally.limits, max_rows=tally.limits.max_rows + SHEET_ROWS)
    return _Tally(limits, tally.subject, f"{tally.scope}, counting the empty rows it writes")


class _RowElements:
    """The row and cell elements of a sheet, counted in ``tally`` as they start, and the
    elements inside each row, against MAX_ROW_ELEMENTS.

    Rows and cells with nothing in them are not in the rectangle counted, but each is read,
    and held until its row or sheet ends: 25 million empty rows, 450 MB of XML in a 5 MB
    file, outlasted any time allowed. As many elements as rows or columns are allowed."""

    def __init__(self, tally: _Tally, row: str, cells: tuple[str, ...]):
        self.tally, self.row, self.cells = tally, row, cells
        self.cells_in_row = 0
        self.in_row: int | None = None  # elements in the row open, if one is

    def start(self, name: str) -> None:
        if name == self.row:
            self.tally.add(1, 0)
            self.cells_in_row = self.in_row = 0
            return
        if self.in_row is None:
            return
        self.in_row += 1
        if self.in_row > MAX_ROW_ELEMENTS:
            raise BadInput(
                "row_too_complex",
                f"{self.tally.subject} has a row written with more than "
                f"{MAX_ROW_ELEMENTS:,} XML elements (cells, paragraphs, runs of text), far "
                "more than its data needs.",
                hint="Open the file in your spreadsheet program and save it again, or save "
                "the sheet as CSV; shorten a cell holding very many lines of text.",
            )
        if name in self.cells:
            self.cells_in_row += 1
            self.tally.check_width(self.cells_in_row)

    def end_row(self) -> None:
        self.in_row = None


def _row_extent(row: ElementTree.Element, row_number: int) -> tuple[int, int]:
    last_row = last_column = column = 0
    for cell in row:
        if _local(cell.tag) != "c":
            continue
        found = _CELL_REFERENCE.fullmatch(cell.get("r") or "")
        if found:
            column = _column_number(found[1])
            last_row = max(last_row, int(found[2]))
        else:
            column += 1
            last_row = max(last_row, row_number)
        last_column = max(last_column, column)
    return last_row, last_column


def _shown_text(item: ElementTree.Element) -> list[ElementTree.Element]:
    """The <t> elements of a shared string that openpyxl reads: its own, and its runs'
    (not the phonetic guides')."""
    runs = [child for child in item if _local(child.tag) == "r"]
    return [part for holder in [item, *runs] for part in holder if _local(part.tag) == "t"]


def _shared_text(row: ElementTree.Element, shared: list[int]) -> int:
    """The characters of the shared strings a row's cells use. (Text written in a cell
    itself takes room in the file, which the unpacked size limits already.)"""
    chars = 0
    for cell in row:
        if cell.get("t") == "s":
            for value in cell:
                if _local(value.tag) == "v":
                    chars += _shared_length(shared, value.text)
    return chars


def _shared_length(shared: list[int], text: str | None) -> int:
    """The length of the shared string a cell's value names, read as openpyxl reads it
    (int(), which takes " 2", "+2" and "-1", the last one)."""
    try:
        return shared[int(text or "")]
    except (ValueError, IndexError):
        return 0


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _int(text: str | None, default: int) -> int:
    """A positive whole number from an attribute; ``default`` for anything else."""
    try:
        number = int(float(text)) if text else default
    except (ValueError, OverflowError):
        return default
    return number if number > 0 else default


# ODS: read by streaming content.xml. The same reading feeds the limits and the conversion.

_TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = f"{{{_TABLE_NS}}}table"
_TABLE_NAME = f"{{{_TABLE_NS}}}name"
_ROW = f"{{{_TABLE_NS}}}table-row"
_ROWS_REPEATED = f"{{{_TABLE_NS}}}number-rows-repeated"
_CELL = f"{{{_TABLE_NS}}}table-cell"
_COVERED_CELL = f"{{{_TABLE_NS}}}covered-table-cell"
_COLUMNS_REPEATED = f"{{{_TABLE_NS}}}number-columns-repeated"
_ROWS_SPANNED = f"{{{_TABLE_NS}}}number-rows-spanned"
_COLUMNS_SPANNED = f"{{{_TABLE_NS}}}number-columns-spanned"
_VALUE_TYPE = f"{{{_OFFICE_NS}}}value-type"
_VALUE = f"{{{_OFFICE_NS}}}value"
_DATE_VALUE = f"{{{_OFFICE_NS}}}date-value"
_BOOLEAN_VALUE = f"{{{_OFFICE_NS}}}boolean-value"
_PARAGRAPH = f"{{{_TEXT_NS}}}p"
_SPACES = f"{{{_TEXT_NS}}}s"
_SPACE_COUNT = f"{{{_TEXT_NS}}}c"
_TAB = f"{{{_TEXT_NS}}}tab"
_LINE_BREAK = f"{{{_TEXT_NS}}}line-break"
_CELLS = (_CELL, _COVERED_CELL)
_NUMERIC_TYPES = {"float", "percentage", "currency"}
# A paragraph may ask for any number of spaces; real ones never need many.
_MAX_SPACES = 1000

# One row of an ODS table: (value, times repeated) runs, without trailing blank cells.
Runs = list[tuple[Any, int]]


def _tally_ods(archive: zipfile.ZipFile, tally: _Tally) -> None:
    elements = _element_tally(tally)
    for _table, runs, count, width in _ods_blocks(archive, elements=elements):
        tally.check_width(width)
        tally.add(count, count * width)
        # Repeated cells and rows are written out each time: their text counts each time.
        text = sum(len(str(value)) * times for value, times in runs if value is not None)
        tally.add_text(count * text)


def _ods_blocks(
    archive: zipfile.ZipFile, merged: list[Merged] | None = None, elements: _Tally | None = None
) -> Iterator[tuple[str, Runs, int, int]]:
    """The rows the conversion keeps, as (table, runs, times repeated, width in cells).

    Both the limits and ``_read_ods`` read the file through this, so the rows and cells
    counted are the ones built. Blank rows (no runs) are kept only when data follows them
    in the same table, and are as wide as the table's first row: flattentool must see
    each of them (see ``_read_ods``). A block repeated 0 times starts each table.
    """
    first_widths: dict[str, int] = {}
    blank_rows, table = 0, None
    for name, runs, repeated in _ods_rows(archive, merged, elements):
        if name != table:
            # Blank rows left over at the end of the previous table are never read.
            blank_rows, table = 0, name
            yield name, [], 0, 0
        if not runs:
            blank_rows += repeated
            continue
        if blank_rows:
            yield name, [], blank_rows, first_widths.get(name, 1)
            blank_rows = 0
        width = sum(count for _value, count in runs)
        first_widths.setdefault(name, width)
        yield name, runs, repeated, width


def _ods_rows(
    archive: zipfile.ZipFile, merged: list[Merged] | None = None, elements: _Tally | None = None
) -> Iterator[tuple[str, Runs, int]]:
    """Each row of each table as (table name, runs, times repeated); blank rows have no runs.
    Merged cells are added to ``merged``, if given; row and cell elements counted in
    ``elements``, if given (see ``_RowElements``).

    Every table starts with a row repeated 0 times, so that empty tables are seen too.
    """
    with archive.open("content.xml") as content:
        table, row_number = "", 1
        counted = _RowElements(elements, _ROW, _CELLS) if elements is not None else None
        for event, element in ElementTree.iterparse(content, events=("start", "end")):
            if event == "start" and counted is not None:
                counted.start(element.tag)
            if event == "start" and element.tag == _TABLE:
                table, row_number = element.get(_TABLE_NAME) or "", 1
                if elements is not None:
                    # Every table, even one named as the one before it (and converted
                    # with it): each is read, and each lets one more row element by.
                    elements.add_sheet()
                    elements.rows -= 1  # the blank row ending a table, which is not read
                yield table, [], 0
            elif event == "end" and element.tag == _ROW:
                if counted is not None:
                    counted.end_row()
                repeated = _int(element.get(_ROWS_REPEATED), 1)
                if merged is not None:
                    merged += _ods_merged(element, table, row_number)
                row_number += repeated
                yield table, _ods_runs(element), repeated
                element.clear()


def _ods_merged(row: ElementTree.Element, table: str, row_number: int) -> list[Merged]:
    found, column = [], 1
    for cell in row:
        if cell.tag not in (_CELL, _COVERED_CELL):
            continue
        rows = _int(cell.get(_ROWS_SPANNED), 1)
        columns = _int(cell.get(_COLUMNS_SPANNED), 1)
        if rows > 1 or columns > 1:
            found.append(
                Merged(table, row_number, column, row_number + rows - 1, column + columns - 1)
            )
        column += _int(cell.get(_COLUMNS_REPEATED), 1)
    return found


def _ods_runs(row: ElementTree.Element) -> Runs:
    runs: Runs = []
    blank = 0  # blank cells not yet added: only added if a value follows them
    for cell in row:
        if cell.tag not in (_CELL, _COVERED_CELL):
            continue
        repeated = _int(cell.get(_COLUMNS_REPEATED), 1)
        # A cell covered by a merged one reads as empty, as in XLSX.
        value = _ods_value(cell) if cell.tag == _CELL else None
        if value is None:
            blank += repeated
            continue
        if blank:
            runs.append((None, blank))
            blank = 0
        runs.append((value, repeated))
    return runs


def _ods_value(cell: ElementTree.Element) -> Any:
    kind = cell.get(_VALUE_TYPE)
    if kind in _NUMERIC_TYPES and (number := _ods_number(cell.get(_VALUE))) is not None:
        return number
    if kind == "date" and (moment := _ods_date(cell.get(_DATE_VALUE))) is not None:
        return moment
    if kind == "boolean" and cell.get(_BOOLEAN_VALUE) in ("true", "false"):
        # The value, not the text shown, which is in the saving program's language (WAHR).
        return cell.get(_BOOLEAN_VALUE) == "true"
    text = "\n".join(_ods_text(part) for part in cell if part.tag == _PARAGRAPH)
    return text or None


def _ods_number(text: str | None) -> int | float | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _ods_date(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _ods_text(element: ElementTree.Element) -> str:
    """A paragraph's text, with the spaces, tabs and line breaks ODS codes as elements."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == _SPACES:
            parts.append(" " * min(_int(child.get(_SPACE_COUNT), 1), _MAX_SPACES))
        elif child.tag == _TAB:
            parts.append("\t")
        elif child.tag == _LINE_BREAK:
            parts.append("\n")
        else:
            parts.append(_ods_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _read_ods(path: Path, merged: list[Merged] | None = None) -> dict[str, list[list[Any]]]:
    """Each table as a list of rows of values, the shape flattentool's ODS reader gives;
    its merged cells added to ``merged``."""
    tables: dict[str, list[list[Any]]] = {}
    with zipfile.ZipFile(path) as archive:
        for name, runs, count, width in _ods_blocks(archive, merged):
            rows = tables.setdefault(name, [])
            if runs:
                values = [value for value, repeated in runs for _ in range(repeated)]
                rows.extend(list(values) for _ in range(count))
            else:
                # flattentool numbers rows by counting the ones it is given and skips
                # empty ones, so blank rows stay, as empty strings, to keep later rows'
                # numbers right. It never changes a row, so one list serves them all.
                rows.extend([[""] * width] * count)
    return tables


# CSV -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedCSV:
    text: str
    encoding: str
    # Set when the file is not UTF-8: what the user should know, as a conversion warning.
    warning: str | None = None


# Five bytes mean nothing in Windows-1252: read them as Latin-1 does (control characters)
# rather than fail.
AS_LATIN_1 = "assay-as-latin-1"
codecs.register_error(AS_LATIN_1, lambda error: (chr(error.object[error.start]), error.start + 1))


def decode_csv(path: Path) -> DecodedCSV:
    """The CSV's text: UTF-8 (with or without a BOM), else Windows-1252, line by line.

    UTF-16 is read too, with its byte order mark or without. A line that is not
    UTF-8 is read as Windows-1252, and the others stay UTF-8: so a file that is mostly
    UTF-8 (rows pasted in from another program, a mark that a spreadsheet program added)
    keeps all its letters. The warning says which reading was used.
    """
    raw = path.read_bytes()
    if unmarked_utf16 := utf16_without_mark(raw):
        return DecodedCSV(raw.decode(unmarked_utf16, errors="replace"), unmarked_utf16)
    marked = raw.startswith(codecs.BOM_UTF8)
    if marked:
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return DecodedCSV(raw.decode("utf-8"), "utf-8-sig" if marked else "utf-8")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    if not marked and raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return DecodedCSV(raw.decode("utf-16", errors="replace"), "utf-16")
    line = _line_number(raw, first_bad)
    # Usually no UTF-8 letter at all (the file saved as Windows-1252): one fast decode.
    if raw.decode("utf-8", errors="ignore").isascii():
        text, utf8_letters = raw.decode("cp1252", errors=AS_LATIN_1), False
    else:
        text, utf8_letters = _line_by_line(raw.splitlines(keepends=True))
    if not utf8_letters:
        said = "starts with the mark of a UTF-8 file, but " if marked else ""
        warning = (
            f"The file {said}is not UTF-8 (line {line:,} is the first line that is not), so "
            "it was read as Windows-1252. If letters with accents look wrong, save the file "
            "as “CSV UTF-8” and upload it again."
        )
        return DecodedCSV(text, "cp1252", warning)
    warning = (
        f"The file is UTF-8 in places only (line {line:,} is the first line that is not): "
        "lines that are not were read as Windows-1252. If letters with accents look wrong "
        "on such lines, correct them, save the file as “CSV UTF-8” and upload it again."
    )
    return DecodedCSV(text, "utf-8+cp1252", warning)


def _line_number(raw: bytes, offset: int) -> int:
    """The line the byte at ``offset`` is on, whichever line ends the file uses."""
    ends = raw.count(b"\n", 0, offset) + raw.count(b"\r", 0, offset)
    return ends - raw.count(b"\r\n", 0, offset) + 1


def _line_by_line(lines: list[bytes]) -> tuple[str, bool]:
    """Each line as UTF-8 if it is, else as Windows-1252; and whether any line held UTF-8
    beyond ASCII."""
    decoded, utf8_letters = [], False
    for line in lines:
        try:
            decoded.append(line.decode("utf-8"))
            utf8_letters = utf8_letters or not line.isascii()
        except UnicodeDecodeError:
            decoded.append(line.decode("cp1252", errors=AS_LATIN_1))
    return "".join(decoded), utf8_letters


def _csv_delimiter(text: str) -> str:
    """The separator that reads the first rows as a table: as many values in the rows as
    headings, and more than one heading. Spreadsheet programs in many countries save CSV
    with semicolons, and a heading may hold a comma ("Notes, internal"), so counting the
    separators of the first line is not enough."""
    sample = text.lstrip("\r\n")[:SAMPLE_CHARS]
    return max(SEPARATORS, key=lambda separator: _reads_as_a_table(sample, separator))


SEPARATORS = (",", ";", "\t")  # in order of preference, where they read alike
SAMPLE_CHARS = 1 << 16
SAMPLE_ROWS = 20


def _reads_as_a_table(sample: str, separator: str) -> tuple[int, int, int, int]:
    """How well ``separator`` reads the sample: rows as long as the headings, then the
    fewest headings with spaces around them ("id;Amount, EUR" split at the comma gives
    " EUR"), then the number of headings, then the preference."""
    try:
        lines = io.StringIO(sample, newline="")  # lines end as they do: "\r" alone too
        rows = [row for row in islice(csv.reader(lines, delimiter=separator), SAMPLE_ROWS) if row]
    except csv.Error:
        return (-2, 0, 0, 0)
    if not rows or len(rows[0]) < 2:
        return (-1, 0, 0, -SEPARATORS.index(separator))
    headings, *values = rows
    if len(sample) == SAMPLE_CHARS and values:
        values.pop()  # perhaps cut short
    fitting = sum(len(row) == len(headings) for row in values)
    padded = sum(heading != heading.strip() for heading in headings)
    return (fitting, -padded, len(headings), -SEPARATORS.index(separator))


def _csv_rows(text: str) -> Iterator[list[str]]:
    """The CSV's rows, read leniently ('"a"b' is a value), but a row over several lines
    must be well quoted: a quote left open takes the lines after it into one value, and
    rows would vanish unchecked."""
    # Excel's "sep=;" line comes first, but for blank lines (which are skipped).
    declared = DECLARED_SEPARATOR.match(text.lstrip("\r\n"))
    delimiter = declared[1] if declared else _csv_delimiter(text)
    lines = _RowLines(text)
    reader = csv.reader(lines, delimiter=delimiter)
    start = 1  # the line the row being read starts on
    try:
        for row in reader:
            if len(lines.of_row) > 1:
                _check_quoting(lines.of_row, delimiter, start)
            lines.next_row()
            if row and declared:
                declared = None  # the sep= line itself: not a row
            else:
                yield row
            start = lines.start = reader.line_num + 1
    except csv.Error as exc:
        raise BadInput(
            "bad_csv",
            f"The CSV file could not be read at line {reader.line_num}: {exc}.",
            hint="Check the quotes around values on that line.",
        ) from exc


class _RowLines:
    """The text's lines, as csv.reader asks for them, keeping those of the current row."""

    def __init__(self, text: str) -> None:
        self.lines = io.StringIO(text, newline="")
        self.next_row()
        self.start = 1  # the line the row being read starts on

    def next_row(self) -> None:
        self.of_row: list[str] = []
        self.chars = 0  # in the row's lines

    def __iter__(self) -> _RowLines:
        return self

    def __next__(self) -> str:
        if len(self.of_row) > MAX_LINES_IN_A_ROW:
            raise _quote_not_closed(self.start, len(self.of_row) - 1, at_least=True)
        if self.chars > MAX_CHARS_IN_A_ROW:
            raise _row_too_long(self.start)
        line = next(self.lines)
        self.of_row.append(line)
        self.chars += len(line)
        return line


def _check_quoting(lines: list[str], delimiter: str, start: int) -> None:
    # Spaces after a closing quote ('"two\nlines" ,1') are read leniently, and do not
    # leave a quote open: the strict reader is not shown them.
    after_quote = re.compile(rf'"[ \t]+(?=[{re.escape(delimiter)}\r\n]|$)')
    row = after_quote.sub('"', "".join(lines))
    try:
        list(csv.reader(io.StringIO(row, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise _quote_not_closed(start, len(lines) - 1) from exc


def _row_too_long(start: int) -> BadInput:
    return BadInput(
        "bad_csv",
        f"The CSV file has a row, starting on line {start:,}, that runs on over several lines "
        f"for more than {MAX_CHARS_IN_A_ROW:,} characters, more than Assay reads as one row: "
        "most likely a quote in it is not closed.",
        hint='Close the quote; a quote that is part of a value is written twice (""). '
        "A value this long cannot be checked from a CSV file.",
    )


def _quote_not_closed(start: int, taken: int, at_least: bool = False) -> BadInput:
    lines = f"at least {taken:,} lines" if at_least else f"the {taken:,} line{'s' * (taken != 1)}"
    return BadInput(
        "bad_csv",
        f"The CSV file has a quote that is not closed where it should be, in the row that "
        f"starts on line {start:,}: {lines} after it would be read as part of one value.",
        hint='Close the quote; a quote that is part of a value is written twice ("").',
    )


def _csv_row_widths(text: str) -> Iterator[int]:
    # Every row has at least the headings' width: flattentool makes a cell for each heading.
    width = 0
    for row in _csv_rows(text):
        width = width or len(row)
        yield max(width, len(row))


@dataclass
class _CopiedCSV:
    folder: Path
    warnings: list[dict[str, Any]]
    blank_lines_before_headings: int = 0


def _csv_folder(path: Path, folder: Path, sheet: str) -> _CopiedCSV:
    """Copy the CSV, as comma-separated UTF-8, to the folder of sheets flattentool reads;
    and the warning about its encoding, if it has one."""
    decoded = decode_csv(path)
    copied = _CopiedCSV(folder, [])
    with (folder / f"{sheet}.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(_blank_rows_kept(_csv_rows(decoded.text), copied))
    place = {"sheet": sheet, "row": None, "column": None, "header": None}
    if decoded.warning is not None:
        copied.warnings.append({"message": decoded.warning, **place})
    if nuls := decoded.text.count("\x00"):  # flattentool's reading leaves them out
        line, _ = line_and_column(decoded.text, decoded.text.index("\x00"))
        message = (
            f"The file holds {nuls:,} NUL character{'s' if nuls > 1 else ''} (the first on "
            f"line {line:,}), which {'were' if nuls > 1 else 'was'} left out of the data."
        )
        copied.warnings.append({"message": message, **place})
    return copied


def _blank_rows_kept(rows: Iterator[list[str]], copied: _CopiedCSV) -> Iterator[list[str]]:
    """Blank lines after the headings, written as one empty cell: flattentool's reader
    drops blank lines, which numbered every later row too low; it skips a row of empty
    cells but counts it. Blank lines before the headings are left out, and counted: it
    takes the first line for the headings."""
    headed = False
    for row in rows:
        if not (row or headed):
            copied.blank_lines_before_headings += 1
            continue
        headed = True
        yield row or [""]
    if not headed:
        yield []  # a file of blank lines: one stays, for "no headings" to be said of it


def _shift_rows(cells: dict[str, list[Any]] | None, warnings_found: list[dict], by: int) -> None:
    """Rows numbered as the file has them, after ``by`` lines left out before the headings."""
    for places in (cells or {}).values():
        for number, place in enumerate(places):
            if len(place) == 4:
                sheet, column, row, heading = place
                places[number] = (sheet, column, row + by, heading)
            else:  # a whole row: (sheet, row)
                sheet, row = place
                places[number] = (sheet, row + by)
    for warning in warnings_found:
        if warning["row"] is not None:
            warning["row"] += by


# Spreadsheet to JSON ---------------------------------------------------------------------


@dataclass
class _Position:
    sheet: str
    row: int
    line: dict[Any, Any]
    headings: list[Any]  # the sheet's, as written: a repeated one is there twice


class _Tracked:
    """Remembers the row flattentool is converting, so a warning it raises can say where."""

    position: _Position | None = None
    headings: dict[str, list[Any]]  # by sheet, as flattentool read them

    def get_sheet_headings(self, sheet_name: str) -> list[Any]:
        self.position = None
        headings = super().get_sheet_headings(sheet_name)  # type: ignore[misc]
        self.headings = {**getattr(self, "headings", {}), sheet_name: headings or []}
        return headings

    def get_sheet_lines(self, sheet_name: str) -> Iterator[dict[Any, Any]]:
        lines = super().get_sheet_lines(sheet_name)  # type: ignore[misc]
        numeric = _numeric_headings(getattr(self, "parser", None))
        for index, line in enumerate(lines):
            # Numbered as flattentool numbers them: the headings are row 1.
            headings = getattr(self, "headings", {}).get(sheet_name, [])
            self.position = _Position(sheet_name, index + 2, line, headings)
            yield _true_and_false_as_written(line, numeric)


class _SettingsAsText:
    """flattentool's reading of a row of settings ("#" in cell A1), given only the row's
    texts: it reads each cell as text, and fails on a number or an empty cell, which
    Assay then took for a damaged file."""

    def get_sheet_configuration(self, sheet_name: str) -> list[str]:
        cells = super().get_sheet_configuration(sheet_name)  # type: ignore[misc]
        return [cell for cell in cells if isinstance(cell, str)]


def _numeric_headings(parser: Any) -> Callable[[Any], bool]:
    """Whether the schema says a heading's values are numbers, and not true or false too
    (flattentool reads a field of type ["number", "boolean"] as a number)."""
    types = parser.flattened if parser is not None else {}

    def is_numeric(heading: Any) -> bool:
        path = _field_path(str(heading))
        if types.get(path) not in NUMERIC:
            return False
        return "boolean" not in _types(_field_at(parser.root_schema_dict, path.split("/")))

    return is_numeric


NUMERIC = ("number", "integer")


def _field_at(schema: Any, parts: list[str]) -> Any:
    """The schema of the field at ``parts`` of the item schema flattentool reads (its
    $refs already replaced), through lists of objects; None where it cannot be found."""
    node = schema
    for part in parts:
        while isinstance(node, dict) and isinstance(node.get("items"), dict):
            node = node["items"]
        properties = node.get("properties") if isinstance(node, dict) else None
        node = properties.get(part) if isinstance(properties, dict) else None
    return node


def _true_and_false_as_written(
    line: dict[Any, Any], is_numeric: Callable[[Any], bool]
) -> dict[Any, Any]:
    """A TRUE or FALSE cell where the schema wants a number, as its text: flattentool
    would read it as 1 or 0, and a wrong value would pass as right. As text, it is said
    to be no number, at its cell."""
    for heading, value in line.items():
        if type(value) is bool and is_numeric(heading):
            line[heading] = "TRUE" if value else "FALSE"
    return line


class _XLSXReader(_Tracked, _SettingsAsText, XLSXInput):
    def configure_sheets(self) -> None:
        # Chart sheets hold no cells, and flattentool fails on them: leave them out.
        for name in list(self.sub_sheet_names):
            if not isinstance(self.workbook[name], Worksheet):
                self.sheet_names_map.pop(name)
                self.sub_sheet_names.remove(name)
        super().configure_sheets()


class _CSVAsWritten(CSVInput):
    """flattentool's CSV input, with the file opened as the csv module needs it
    (newline=""): flattentool's own opening turned every line break inside a quoted value,
    "\\r\\n" or "\\r", into "\\n"."""

    def get_sheet_headings(self, sheet_name: str) -> list[str]:
        if not super().get_sheet_headings(sheet_name):  # an ignored or empty sheet
            return []
        with self._opened(sheet_name) as handle:
            return next(csv.reader(NullCharacterFilter(handle)), [])

    def get_sheet_lines(self, sheet_name: str) -> Iterator[dict[Any, Any]]:
        with self._opened(sheet_name) as handle:
            lines = csv.DictReader(NullCharacterFilter(handle))
            for line in self.generate_rows(lines, sheet_name):
                if "" in line:  # a blank heading: not the field "", as in a workbook
                    line[""] = None  # (flattentool leaves out what is None)
                yield line

    def _opened(self, sheet_name: str) -> IO[str]:
        path = Path(self.input_name) / f"{sheet_name}.csv"
        return path.open(encoding=self.encoding, newline="")


class _CSVReader(_Tracked, _SettingsAsText, _CSVAsWritten):
    pass


class _ODSReader(_Tracked, _SettingsAsText, ODSInput):
    def read_sheets(self) -> None:
        # flattentool's own ODS reader skips cells covered by a merged cell, which shifts
        # the values after them into the wrong columns, reads a repeated row once, and
        # loses blank rows, which puts later rows' numbers out.
        self.merged: list[Merged] = []
        self.sheet_names_map = {
            name: _padded(rows)
            for name, rows in _read_ods(Path(self.input_name), self.merged).items()
        }
        self.sub_sheet_names = list(self.sheet_names_map)
        self.configure_sheets()


def _padded(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows at least as wide as the first (the headings'). ODS leaves out a row's empty
    cells at its end, and flattentool, reading a row as heading -> value with the last
    of a repeated heading winning, took a short row's value for the other column's."""
    width = len(rows[0]) if rows else 0
    return [row if len(row) >= width else [*row, *[None] * (width - len(row))] for row in rows]


_READERS: dict[str, type[_Tracked]] = {"xlsx": _XLSXReader, "ods": _ODSReader, "csv": _CSVReader}


def unflatten(
    path: Path,
    fmt: str,
    out_dir: Path,
    *,
    schema: LoadedSchema | None = None,
    schema_path: Path | None = None,
    root_list_path: str,
    id_name: str,
) -> Unflattened:
    """Convert the spreadsheet to ``out_dir/data.json`` and the two flattentool source maps.

    The schema, if any, is given loaded or as a file to load. Call ``check_limits`` first:
    this reads the whole file into memory.
    """
    _check_format(fmt)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Built before warnings are collected: the schema's quirks are not the user's concern.
    loaded = _schema_from(schema, schema_path)
    parser = _schema_parser(loaded, root_list_path)
    noted: list[dict[str, Any]] = []  # warnings about the file itself, before flattentool's
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        if fmt == "csv":
            copied = _csv_folder(path, Path(scratch), root_list_path)
            source, noted = copied.folder, copied.warnings
        else:
            # Uploads are stored without a suffix, and openpyxl refuses a file without one.
            source = Path(scratch) / f"data.{fmt}"
            source.symlink_to(path.resolve())
        reader: Any = _READERS[fmt](
            input_name=str(source), root_list_path=root_list_path, root_id=None, id_name=id_name
        )
        reader.parser = parser
        _read_sheets(reader, fmt)
        _check_settings_rows(reader, fmt)
        _check_main_sheet(reader, fmt, root_list_path, id_name)
        fields = _KnownFields(parser, loaded, root_list_path, id_name) if loaded else None
        raw_rows = _RawRows(reader, fmt, source)
        if fields is not None:
            blank_lines = copied.blank_lines_before_headings if fmt == "csv" else 0
            _check_heading_rows(raw_rows(), fields, fmt, blank_lines)
        noted += _leave_out_unrelated_sheets(reader, fields, root_list_path)
        # Not before: a sheet left out as notes may begin with a long text, not headings.
        _check_heading_depth(raw_rows())
        _check_heading_paths(raw_rows(), parser)
        if fmt == "xlsx":
            noted += _uncalculated_formulas(source, reader.workbook, reader.sheet_names_map)
            reader.merged = _merged_cells(reader.workbook, reader.sheet_names_map)
        if fmt in ("xlsx", "ods"):
            merged = [cells for cells in reader.merged if cells.sheet in reader.sheet_names_map]
            noted += _merge_warnings(merged, getattr(reader, "headings", {}))
        noted += _unread_values(raw_rows(), fmt, parser)
        _check_rows_per_item(raw_rows(), id_name, root_list_path)
        del raw_rows  # the lists: flattentool reads the file itself
        found, (items, cells, headings) = _convert(reader)
        _put_in_true_columns(cells, getattr(reader, "headings", {}))
        noted += _padded_headings(getattr(reader, "headings", {}), fields)
        noted += _headings_near_a_field(getattr(reader, "headings", {}), fields)
        _place_items_by_their_rows(cells, root_list_path)
        if fmt == "csv" and copied.blank_lines_before_headings:
            # Before the warnings that name rows in their text, so that it names them too.
            _shift_rows(cells, noted + found, copied.blank_lines_before_headings)
        noted += _merged_rows(items, cells, root_list_path, id_name, reader)
    json_path = out_dir / "data.json"
    _write_json(json_path, {root_list_path: items}, indent=2)
    cell_map, heading_map = _plain(cells), _plain(headings)
    columns = _sheet_columns(getattr(reader, "headings", {}))
    structures = _fields_inside_structures(parser.flattened if parser else {})
    _write_json(out_dir / CELL_MAP, cell_map)
    _write_json(out_dir / HEADING_MAP, heading_map)
    _write_json(out_dir / COLUMNS, columns)
    _write_json(out_dir / STRUCTURE_FIELDS, structures)
    return Unflattened(json_path, cell_map, heading_map, noted + found, columns, structures)


CELL_MAP, HEADING_MAP, COLUMNS = "cell_source_map.json", "heading_source_map.json", "columns.json"
STRUCTURE_FIELDS = "structure_fields.json"


def _sheet_columns(headings: dict[str, list[Any]]) -> dict[str, dict[str, str]]:
    """Each sheet's headings with their columns (of a repeated one, the last, whose value
    flattentool keeps): flattentool's heading map names only those with a value."""
    return {
        sheet: {
            str(heading): get_column_letter(index + 1)
            for heading, index in _last_columns(names).items()
            if heading not in (None, "")
        }
        for sheet, names in headings.items()
    }


# A formula cell with no saved result: <c r="C2"><f>5*2</f></c>, or an empty <v> after it.
# (A formula whose result is empty text has t="str" and an empty <v>: it was calculated.)
UNCALCULATED = re.compile(
    rb"<c (?P<attributes>[^>]*)>"
    rb"(?:<f[^>]*/>|<f[^>]*>(?P<formula>[^<]*)</f>)"
    rb"(?P<value><v\s*/>|<v></v>)?</c>"
)
OVERLAP = 1 << 16  # a formula cell's XML longer than this across two pieces is missed
CELL_REFERENCE = re.compile(rb'\br="(?P<column>[A-Z]+)(?P<row>[0-9]+)"')
MAX_FORMULA_WARNINGS = 100
_RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}sheet"
_RELATIONSHIP_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _uncalculated_formulas(path: Path, workbook: Any, read: Iterable[str]) -> list:
    """A warning for each formula with no saved result (as files written by programs
    rather than by a spreadsheet program have) in the sheets ``read``: openpyxl reads its
    cell as empty. Found in the sheets' XML as it streams by: 36 ms for 50,000 rows."""
    found: list[dict[str, Any]] = []
    with zipfile.ZipFile(path) as archive:
        for member, sheet in _sheet_files(archive).items():
            if sheet not in read:
                continue
            with archive.open(member) as stream:
                for column, row, formula in _formula_cells(stream):
                    found.append(_formula_warning(workbook[sheet], column, row, formula))
                    if len(found) >= MAX_FORMULA_WARNINGS:
                        return found
    return found


def _merged_cells(workbook: Any, read: Iterable[str]) -> list[Merged]:
    """The merged ranges of the XLSX sheets ``read``."""
    return [
        Merged(sheet, cells.min_row, cells.min_col, cells.max_row, cells.max_col)
        for sheet in read
        for cells in workbook[sheet].merged_cells.ranges
    ]


class Merged(NamedTuple):
    """A range of merged cells: rows and columns counted from 1."""

    sheet: str
    first_row: int
    first_column: int
    last_row: int
    last_column: int


def _merge_warnings(merged: list[Merged], headings: dict[str, list]) -> list[dict[str, Any]]:
    """A warning for each range of merged cells below the headings: only its first cell
    holds the value, and the others are read as empty (by openpyxl, and by our ODS
    reading), so a field the merge seems to fill in on several rows is missing from all
    but the first."""
    found = []
    for cells in sorted(
        merged, key=lambda cells: (cells.sheet, cells.first_row, cells.first_column)
    ):
        if cells.last_row < 2:
            continue  # in the headings' row: the columns under no heading are said
        first = get_column_letter(cells.first_column)
        last = get_column_letter(cells.last_column)
        names = headings.get(cells.sheet, [])
        heading = names[cells.first_column - 1] if cells.first_column <= len(names) else None
        found.append(
            {
                "message": f"The cells {first}{cells.first_row}:{last}{cells.last_row} are "
                f"merged, so only {first}{cells.first_row} holds their value: the others "
                "are read as empty. Unmerge them and fill in each cell.",
                "sheet": cells.sheet,
                "row": cells.first_row,
                "column": first,
                "header": None if heading is None else str(heading),
            }
        )
        if len(found) >= MAX_MERGE_WARNINGS:
            break
    return found


MAX_MERGE_WARNINGS = 100


def _sheet_files(archive: zipfile.ZipFile) -> dict[str, str]:
    """The workbook's sheets' names, by the file in the archive that holds each (none,
    if the workbook does not say: openpyxl read it, so the warnings are all that is lost)."""
    try:
        relationships = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    except (KeyError, ElementTree.ParseError):
        return {}
    targets = {rel.get("Id"): rel.get("Target", "") for rel in relationships.iter(_RELATIONSHIPS)}
    members = set(archive.namelist())
    files = {}
    for sheet in workbook.iter(_SHEET):
        target = targets.get(sheet.get(_RELATIONSHIP_ID), "")
        # "worksheets/sheet1.xml", "./worksheets/...", "../xl/worksheets/..." or "/xl/..."
        member = posixpath.normpath(posixpath.join("/xl", target)).lstrip("/")
        if member in members:
            files[member] = sheet.get("name")
    return files


def _formula_cells(stream: Any) -> Iterator[tuple[str, int, str]]:
    """(column, row, formula) of each formula cell with no saved result, read in pieces
    that overlap, each cell once."""
    seen: set[bytes] = set()
    tail = b""
    while piece := stream.read(1 << 20):
        for match in UNCALCULATED.finditer(tail + piece):
            attributes = match["attributes"]
            place = CELL_REFERENCE.search(attributes)
            empty_text = b't="str"' in attributes and match["value"]
            if place is None or empty_text or place[0] in seen:
                continue
            seen.add(place[0])
            formula = (match["formula"] or b"").decode("utf-8", "replace")
            yield place["column"].decode(), int(place["row"]), formula
        tail = piece[-OVERLAP:]


def _formula_warning(sheet: Any, column: str, row: int, formula: str) -> dict[str, Any]:
    heading = sheet[f"{column}1"].value
    shown = f"a formula (={html.unescape(formula)})" if formula else "a shared formula"
    return {
        "message": f"The cell holds {shown} with no saved result, so it was read as empty. "
        "Open the file in a spreadsheet program and save it again, so that its formulas "
        "are calculated.",
        "sheet": sheet.title,
        "row": row,
        "column": column,
        # As text, as flattentool reads a heading: a year or a date is no JSON string.
        "header": None if heading is None else str(heading),
    }


def _schema_from(schema: LoadedSchema | None, schema_path: Path | None) -> LoadedSchema | None:
    """The schema given, or the one in the file given, loaded as validation loads it."""
    if schema is not None and schema_path is not None:
        raise ValueError("give schema or schema_path, not both")
    # load_schema checks, offline, that every $ref resolves to a file beside the schema.
    return load_schema(schema_path) if schema_path is not None else schema


def _item_schema(schema: LoadedSchema | None, root_list_path: str) -> Any:
    """The schema of one item of the root list, as flattentool wants it.

    A profile's schema describes the whole document, with the list at ``root_list_path``;
    a schema without that list is taken to describe one item already.
    """
    if schema is None:
        return None
    root = _dereferenced(schema)
    node = root
    for name in root_list_path.split("/"):
        properties = node.get("properties") if isinstance(node, dict) else None
        node = properties.get(name) if isinstance(properties, dict) else None
    items = node.get("items") if isinstance(node, dict) else None
    return items if isinstance(items, dict) else root


def _dereferenced(schema: LoadedSchema) -> Any:
    """The schema with each $ref replaced by a copy of what it points to.

    References resolve only to the profile's own schema files, never over the network or
    from other files, whatever they name. flattentool follows a schema to its end, and a
    recursive one (a tree of organisations) has none: where tasks.refs cuts recursion, the
    definition is left as a bare object, and deeper columns are read as the data gives them.
    """
    expansion = _Expansion(RefIndex(schema.resources, schema.draft))
    return expansion.copy(schema.schema, schema.base_uri, Trail())


class _Expansion:
    def __init__(self, index: RefIndex) -> None:
        self.index = index
        self.nodes = 0

    def copy(self, node: Any, base: str, trail: Trail) -> Any:
        """The schema object ``node`` with its $refs replaced, and with what its $ref and
        allOf say merged in: flattentool reads neither."""
        if isinstance(node, bool):  # flattentool reads schemas as objects only
            return {} if node else {"not": {}}
        if not isinstance(node, dict):
            return node
        self.nodes += 1
        if self.nodes > MAX_SCHEMA_NODES:
            raise _unusable_schema("its $refs unfold into too many fields to list.")
        if trail.too_deep:
            raise _unusable_schema("its schemas are nested too deeply to list its fields.")
        base = self.index.base_inside(node, base)
        ref = node.get("$ref")
        if isinstance(ref, str) and self.index.ref_alone:
            # Beside the $ref, only the title counts: flattentool took it from jsonref.
            titled = {key: node[key] for key in ("title", "deprecated") if key in node}
            return _combined(self.followed(ref, base, trail), titled)
        inside = trail.inside()
        copied = {
            key: self.value(key, child, base, inside)
            for key, child in node.items()
            if key not in ("$ref", "allOf")
        }
        for branch in node.get("allOf") or []:
            copied = _combined(self.copy(branch, base, inside), copied)
        if isinstance(ref, str):
            copied = _combined(self.followed(ref, base, trail), copied)
        return _readable(copied) if isinstance(copied, dict) else copied

    def value(self, key: str, child: Any, base: str, trail: Trail) -> Any:
        """The value of a keyword of a schema object, its schemas' $refs replaced."""
        if key in ("$defs", "definitions"):
            return {}  # read where a $ref names them: as they are, only clutter
        if key in SCHEMA_MAPS and isinstance(child, dict):
            return {name: self.copy(schema, base, trail) for name, schema in child.items()}
        if key in SCHEMA_LISTS and isinstance(child, list):
            return [self.copy(schema, base, trail) for schema in child]
        if key in SCHEMA_KEYWORDS:
            return self.copy(child, base, trail)
        return child  # data, or words: a "$ref" there is not one

    def followed(self, ref: str, base: str, trail: Trail) -> Any:
        target, target_base = self.target(ref, base)
        onward = trail.through(target)
        if onward is None:  # recursion cut: what the definition is, not what it holds
            onward = trail
            if isinstance(target, dict):
                target = {key: target[key] for key in ("type", "title") if key in target}
        return self.copy(target, target_base, onward)

    def target(self, ref: str, base: str) -> tuple[Any, str]:
        target, target_base = self.index.resolve(ref, base)
        if target is not None:
            return target, target_base
        uri = urldefrag(urljoin(base, ref))[0]
        if not self.index.knows(uri):
            raise _unusable_schema(
                f"a $ref names “{uri}”, which is not one of the profile's schema files, "
                "and schemas are never fetched from elsewhere."
            )
        raise _unusable_schema(f"the $ref “{ref}” names a place that is not in “{uri}”.")


def _readable(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` as flattentool can read it. It wants an array's "items" as one schema, and
    of a type it knows: numbers, not integers; text, not true or false alone (those are
    then read as text, and validation says what is wrong with them)."""
    if isinstance(node.get("items"), list):  # items by position, before 2020-12
        node = {**node, "prefixItems": node["items"], "items": {}}
    if "type" not in node:
        node = _typed_by_alternatives(node)
    if "array" not in _types(node):
        return node
    items = _known_types(node.get("items"), {"string", "number", "array", "object"})
    if "array" in _types(items):  # a list of lists: of text or numbers, to flattentool
        items = {**items, "items": _known_types(items.get("items"), {"string", "number"})}
    return {**node, "items": items}


def _typed_by_alternatives(node: dict[str, Any]) -> dict[str, Any]:
    """A number, whole number or true/false that may also be null, said with "anyOf" or
    "oneOf" ([{"type": "integer"}, {"type": "null"}]), typed as such: flattentool reads
    a field without a "type" as text, and 3 would then fail "integer" as "3". Likewise
    a field that is one of several objects is an object."""
    branches = _branches(node)
    types = [_types(branch) for branch in branches]
    if not types or not all(types):
        return node
    kinds = set().union(*types)
    scalar = kinds - {"null"}
    if scalar == {"object"}:
        return _combined(_one_object(branches, kinds), node)
    if len(scalar) != 1 or not scalar <= {"integer", "number", "boolean"}:
        return node
    return {**node, "type": sorted(kinds)}


def _one_object(alternatives: list[dict[str, Any]], kinds: set[str]) -> dict[str, Any]:
    """Objects of several shapes (a person or a company), as one holding the fields of
    each: flattentool reads "party/name" only inside a field it knows is an object. A field
    in several shapes is read as any of them can be (as text where they differ)."""
    shapes: dict[str, list[Any]] = {}
    for alternative in alternatives:
        for name, schema in (alternative.get("properties") or {}).items():
            shapes.setdefault(name, []).append(schema)
    properties = {
        name: schemas[0] if _all_the_same(schemas) else _readable({"anyOf": schemas})
        for name, schemas in shapes.items()
    }
    return {"type": sorted(kinds), "properties": properties}


def _all_the_same(schemas: list[Any]) -> bool:
    return all(schema == schemas[0] for schema in schemas)


def _known_types(items: Any, known: set[str]) -> dict[str, Any]:
    """``items`` typed so that flattentool knows one of its types (else it reads text)."""
    items = items if isinstance(items, dict) else {}
    types = _types(items)
    if "integer" in types:
        types.add("number")
    if not types & known:
        types.add("string")
    return {**items, "type": sorted(types)} if types != _types(items) else items


def _types(node: Any) -> set[str]:
    kind = node.get("type") if isinstance(node, dict) else None
    return {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()


def _combined(first: Any, second: dict[str, Any]) -> Any:
    """Two schemas that both apply, as one for flattentool: the properties of both (those
    in both, combined), their required fields, and the second's other keywords."""
    if not isinstance(first, dict):
        return second or first
    combined = {**first, **second}
    for key in ("properties", "patternProperties"):
        mine, theirs = first.get(key), second.get(key)
        if isinstance(mine, dict) and isinstance(theirs, dict):
            both = {
                name: _combined(mine[name], schema)
                for name, schema in theirs.items()
                if name in mine
            }
            combined[key] = {**mine, **theirs, **both}
    mine, theirs = first.get("required"), second.get("required")
    if isinstance(mine, list) and isinstance(theirs, list):
        combined["required"] = [*mine, *(name for name in theirs if name not in mine)]
    return combined


def _unusable_schema(reason: str) -> BadInput:
    return BadInput(
        "schema_invalid",
        f"The schema cannot be used for spreadsheets: {reason}",
        hint="Check that every $ref names a file in the schema's folder. This is a "
        "problem with the schema, not with your data.",
    )


def _schema_parser(schema: LoadedSchema | None, root_list_path: str) -> SchemaParser | None:
    item_schema = _item_schema(schema, root_list_path)
    if item_schema is None:
        return None
    # The settings flattentool.unflatten uses.
    parser = SchemaParser(root_schema_dict=item_schema, rollup=True, root_id=None)
    with warnings.catch_warnings():
        # About the schema ("no properties" where recursion was cut): not the user's concern.
        warnings.simplefilter("ignore", FlattenToolWarning)
        try:
            parser.parse()
        except (FlattenToolError, LookupError, TypeError, AttributeError) as error:
            raise _unusable_schema(f"flattentool could not read it ({error}).") from error
    _keep_numbers_where_allowed(parser)
    return parser


# The kind, among flattentool's, of a field it would read as text though the schema allows
# a number too (a number or "N/A"): a number cell stays a number, anything else is text.
NUMBER_OR_TEXT = "number_or_text"


def _keep_numbers_where_allowed(parser: SchemaParser) -> None:
    """Read as NUMBER_OR_TEXT the fields flattentool reads as text whose schema allows a
    number, but no text of digits (a number or "N/A"): it made the cell 5 the text "5",
    which no alternative then took. Where any text will do (an id of "type": ["string",
    "integer"]) the text "5" is valid, and stays: a number there would not join the
    text "5" of another sheet's row, nor would 1.5 pass as it did."""
    texts = [path for path, kind in parser.flattened.items() if kind == "string"]
    for path in texts:
        node = _field_at(parser.root_schema_dict, path.split("/"))
        kinds = _alternatives(node)
        allows_a_number = any(_types(kind) & set(NUMERIC) for kind in kinds)
        if allows_a_number and not any(_any_text(kind) for kind in kinds):
            parser.flattened[path] = NUMBER_OR_TEXT


def _alternatives(node: Any) -> list[Any]:
    """A field's schema, or else its alternatives (anyOf, oneOf): each says what it takes."""
    if not isinstance(node, dict) or "type" in node:
        return [node]
    return _branches(node)


def _branches(node: dict[str, Any]) -> list[Any]:
    """The alternatives a schema gives (anyOf, then oneOf)."""
    return [branch for key in ("anyOf", "oneOf") for branch in node.get(key) or []]


# What may make a text schema refuse some texts: then "5" may not be one it takes.
TEXT_LIMITS = ("enum", "const", "pattern", "format", "minLength", "maxLength")


def _any_text(schema: Any) -> bool:
    """Whether ``schema`` takes any text, "5" among them."""
    if not isinstance(schema, dict) or "string" not in _types(schema):
        return False
    return not any(keyword in schema for keyword in TEXT_LIMITS)


def _read_sheets(reader: Any, fmt: str) -> None:
    try:
        reader.read_sheets()
    except OSError as exc:
        # The system's own (a full disk) have a number; openpyxl raises numberless ones
        # for what it cannot find in the file ("no valid workbook part").
        if exc.errno is None:
            raise _damaged(fmt) from exc
        raise
    except MemoryError:
        raise
    except Exception as exc:  # openpyxl fails in many ways on damaged files
        raise _damaged(fmt) from exc


class _RawRows:
    """Each sheet's rows as the file has them, headings first, for the checks before the
    conversion. Read once: each reading of an XLSX sheet parses its XML again, 2 s for
    10,000 rows, where a list of them costs a few bytes a cell."""

    def __init__(self, reader: Any, fmt: str, source: Path):
        self.reader, self.fmt, self.source = reader, fmt, source
        self.read: dict[str, list] = {}

    def __call__(self) -> Iterator[tuple[str, Iterator[list]]]:
        for sheet in self.reader.sheet_names_map:  # as far as they are still read
            if sheet not in self.read:
                self.read[sheet] = self._rows(sheet)
            yield sheet, iter(self.read[sheet])

    def _rows(self, sheet: str) -> list:
        if self.fmt == "xlsx":
            return list(self.reader.workbook[sheet].iter_rows(values_only=True))
        if self.fmt == "ods":
            return self.reader.sheet_names_map[sheet]  # read into memory already
        with (self.source / f"{sheet}.csv").open(encoding="utf-8", newline="") as handle:
            return list(csv.reader(handle))


def _unread_values(
    sheets: Iterator[tuple[str, Iterator[list]]], fmt: str, parser: SchemaParser | None
) -> list:
    """A warning for each column whose values flattentool leaves out unsaid: those past
    the last heading, those (but in a CSV, where they are read under the field "") under
    a blank heading, and those under a heading the schema says holds an object or a list
    of objects. Once per column, at its first value."""
    found = []
    for sheet, rows in sheets:
        headings = list(next(rows, []))
        structures = _structure_headings(headings, parser)
        reported: set[int] = set()
        for number, row in enumerate(rows, start=2):
            for index, value in enumerate(row):
                if value in (None, "") or index in reported:
                    continue
                past = index >= len(headings)
                if past or headings[index] in (None, ""):
                    reported.add(index)
                    found.append(_unheaded(sheet, number, index, past))
                elif index in structures:
                    reported.add(index)
                    found.append(_under_a_structure(sheet, number, index, *structures[index]))
    return found


def _structure_headings(headings: list[Any], parser: SchemaParser | None) -> dict[int, tuple]:
    """The columns whose heading names an object or a list of objects in the schema, each
    with its heading and its kind: flattentool reads the heading as that structure and drops
    the value written under it ("amount" holding 100, where "amount/value" was meant)."""
    if parser is None:
        return {}
    found = {}
    for index, heading in enumerate(headings):
        if not isinstance(heading, str):
            continue
        path = _field_path(heading)
        kind = parser.flattened.get(path)
        if kind in STRUCTURES:  # "array": of objects; a list of strings is read
            found[index] = (heading, path, kind, _heading_inside(path, parser.flattened))
    return found


STRUCTURES = ("object", "array")


def _heading_inside(path: str, flattened: dict[str, str]) -> str:
    """A heading for the first plain field inside ``path``, the least deep, with "/0"
    after each list: "documents" -> "documents/0/url"; "…" where the schema names none."""
    leaves = [
        name
        for name, kind in flattened.items()
        if name.startswith(f"{path}/") and kind not in STRUCTURES
    ]
    leaf = min(leaves, key=lambda name: name.count("/"), default=None)
    return _with_list_numbers(leaf, flattened) if leaf else f"{path}/…"


def _with_list_numbers(path: str, flattened: dict[str, str]) -> str:
    """``path`` as a heading, with "/0" after each list: "documents/url" -> "documents/0/url"."""
    parts, heading = path.split("/"), []
    for number, part in enumerate(parts, start=1):
        heading.append(part)
        if flattened.get("/".join(parts[:number])) == "array":
            heading.append("0")
    return "/".join(heading)


def _fields_inside_structures(flattened: dict[str, str]) -> dict[str, str]:
    """Each structure the schema names a field in, with the heading below its own of the
    field _heading_inside chooses: "amount" -> "value", "documents" -> "0/url". A missing
    object is then named by a heading that can be added: its own is read as no value.
    (Leaf by leaf, not _heading_inside for each: a large schema has thousands of both.)"""
    leaves = [name for name, kind in flattened.items() if kind not in STRUCTURES]
    found: dict[str, str] = {}
    for leaf in sorted(leaves, key=lambda name: name.count("/")):  # the least deep first
        parts = leaf.split("/")
        for depth in range(1, len(parts)):
            path = "/".join(parts[:depth])
            if flattened.get(path) in STRUCTURES and path not in found:
                found[path] = _below_names(_with_list_numbers(leaf, flattened), depth)
    return found


def _below_names(heading: str, count: int) -> str:
    """What a heading has below its first ``count`` names (list numbers aside):
    ("classifications/0/amount/value", 2) -> "value"; ("documents/0/url", 1) -> "0/url"."""
    parts = heading.split("/")
    for index, part in enumerate(parts):
        count -= not part.isdigit()
        if count == 0:
            return "/".join(parts[index + 1 :])
    return ""


def _under_a_structure(
    sheet: str, row: int, index: int, heading: str, path: str, kind: str, example: str
) -> dict[str, Any]:
    column = get_column_letter(index + 1)
    field = path.rsplit("/", 1)[-1]
    what = "an object" if kind == "object" else "a list of objects"
    return {
        "message": f"Column {column} has values that were not read: the schema says “{field}” "
        f"holds {what}, not a single value. Put each value under a heading for one of its "
        f"fields, such as “{example}”.",
        "sheet": sheet,
        "row": row,
        "column": column,
        "header": heading,
    }


def _unheaded(sheet: str, row: int, index: int, past: bool) -> dict[str, Any]:
    column = get_column_letter(index + 1)
    where = "past the last heading" if past else "under no heading"
    return {
        "message": f"Column {column} has values {where}, so they were not read. Give the "
        "column a heading, or move its values under one.",
        "sheet": sheet,
        "row": row,
        "column": column,
        "header": None,
    }


def _check_settings_rows(reader: Any, fmt: str) -> None:
    """Refuse a sheet whose first row holds flattentool's settings ("#" in cell A1, then
    "skipRows 1" or "headerRows 2", say), which move its headings and data down: Assay
    reads the headings from the first row of every sheet, and places what it says of a
    cell by that. (A "#" beside no setting flattentool knows is a heading like any other.)"""
    for sheet in reader.sheet_names_map:
        if settings := reader.sheet_configuration.get(sheet):
            where = "The CSV file" if fmt == "csv" else f"The sheet “{sheet}”"
            raise BadInput(
                "settings_row",
                f"{where} starts with a row of settings for flattentool (“#” in cell A1, "
                f"then {_settings_named(settings)}), which Assay does not follow: it reads "
                "the first row as the headings and each row below it as an item.",
                hint="Delete the row of settings and the rows it said to skip, above the "
                "headings (skipRows) and between them and the data (headerRows), so that the "
                "headings are in row 1 and the data starts in row 2.",
            )


def _settings_named(settings: dict[str, Any]) -> str:
    """The settings as the row writes them, “skipRows 1” and “headerRows 2” say (a
    setting that is True: its word alone)."""
    named = [f"“{key}”" if value is True else f"“{key} {value}”" for key, value in settings.items()]
    return ", ".join(named[:-1]) + f" and {named[-1]}" if len(named) > 1 else named[0]


def _check_main_sheet(reader: Any, fmt: str, sheet: str, id_name: str) -> None:
    names = [str(name) for name in reader.sheet_names_map]
    if sheet not in names:
        raise BadInput(
            "no_main_sheet",
            f"The spreadsheet has no sheet called “{sheet}”, which is where the data is "
            f"expected. {_sheets_it_has(names)}",
            hint=f"Rename the sheet that holds the data to “{sheet}” (capitals matter).",
        )
    try:
        headings = reader.get_sheet_headings(sheet) or []
    except (IndexError, KeyError, ValueError) as exc:
        raise _damaged(fmt) from exc
    if not any(heading not in (None, "") for heading in headings):
        where = "The CSV file" if fmt == "csv" else f"The sheet “{sheet}”"
        raise BadInput(
            "no_headings",
            f"{where} has no column headings: its first row should name the field each "
            f"column holds, such as “{id_name}”.",
            hint="Put the headings in the first row and the data in the rows below it.",
        )


# The names a heading may hold ("amount/value": two). Each is a level of nesting in the
# JSON, which is refused past a few hundred levels anyway; and 100,000 names in a heading
# of a 200 KB file kept the conversion busy past any time allowed.
MAX_HEADING_NAMES = 256


def _check_heading_depth(sheets: Iterator[tuple[str, Iterator[list]]]) -> None:
    for sheet, rows in sheets:
        for index, heading in enumerate(next(rows, [])):
            names = str(heading).count("/") + 1 if isinstance(heading, str) else 1
            if names > MAX_HEADING_NAMES:
                shown = heading[:40] + "…"
                column = get_column_letter(index + 1)
                raise BadInput(
                    "heading_too_deep",
                    f"The heading “{shown}” (sheet “{sheet}”, column {column}) goes "
                    f"{names:,} levels deep, where Assay reads at most {MAX_HEADING_NAMES}.",
                    hint="Each “/” in a heading goes a level further into the data: check "
                    "the heading against the template for this kind of data.",
                )


def _check_heading_rows(
    sheets: Iterator[tuple[str, Iterator[list]]],
    fields: _KnownFields,
    fmt: str,
    blank_lines: int = 0,
) -> None:
    """Refuse a sheet whose headings are below its first row (a title above them, say):
    read from the first row, every row of the main sheet would be an item missing every
    field, and another sheet would be left out unread, as notes. (``blank_lines``: those
    a CSV has before its first row, which are not read.)"""
    for sheet, rows in sheets:
        number = _row_of_headings_below_the_first(rows, fields)
        if number is not None:
            where = "The CSV file" if fmt == "csv" else f"The sheet “{sheet}”"
            raise BadInput(
                "headings_not_in_the_first_row",
                f"{where} has its column headings in row {number + blank_lines}, not in the "
                "first row: Assay reads the first row as the headings and each row below it "
                "as an item.",
                hint="Delete the rows above the headings and upload the file again.",
            )


def _row_of_headings_below_the_first(rows: Iterator[list], fields: _KnownFields) -> int | None:
    """The number of the first row below the first naming two fields, if the first names
    none."""
    first = list(next(rows, []))
    if any(_names_a_field(cell, fields) for cell in first):
        return None
    for number, row in enumerate(islice(rows, ROWS_LOOKED_AT_FOR_HEADINGS), start=2):
        if sum(_names_a_field(cell, fields) for cell in row) >= 2:
            return number
    return None


ROWS_LOOKED_AT_FOR_HEADINGS = 10


def _names_a_field(cell: Any, fields: _KnownFields) -> bool:
    return cell not in (None, "") and fields.named(cell)


def _check_heading_paths(
    sheets: Iterator[tuple[str, Iterator[list]]], parser: SchemaParser | None
) -> None:
    """Refuse headings that go where the schema's fields cannot hold them, with a value
    below them, naming each: flattentool stops on the first row with such a value, naming
    no column, and may take "id/" for the id itself without a word. (Over an empty column,
    an unused column of a template, say, such a heading is left alone, as flattentool
    leaves it.)"""
    flattened = parser.flattened if parser else {}
    found = []
    for sheet, rows in sheets:
        headings = list(next(rows, []))
        problems = {
            index: problem
            for index, heading in enumerate(headings)
            if isinstance(heading, str) and (problem := _path_problem(heading, flattened))
        }
        for index in sorted(_columns_with_values(rows, problems)):
            column = get_column_letter(index + 1)
            found.append(
                f"“{headings[index]}” (sheet “{sheet}”, column {column}) {problems[index]}"
            )
    if found:
        shown = "; ".join(found[:SHOWN_HEADINGS]) + ("…" if len(found) > SHOWN_HEADINGS else "")
        raise BadInput(
            "headings_against_the_schema",
            "The spreadsheet could not be converted to JSON, because of "
            f"{'this heading' if len(found) == 1 else f'{len(found)} headings'}: {shown}.",
            hint="Rename those columns to fields the schema describes, or delete them, and "
            "upload the file again.",
        )


def _columns_with_values(rows: Iterator[list], columns: Iterable[int]) -> set[int]:
    """Those of ``columns`` (indexes) with a value in any of ``rows``."""
    wanted, found = set(columns), set()
    for row in rows if wanted else ():
        found |= {
            index for index in wanted - found if index < len(row) and row[index] not in (None, "")
        }
        if found == wanted:
            break
    return found


SHOWN_HEADINGS = 5


def _path_problem(heading: str, flattened: dict[str, str]) -> str | None:
    """What is wrong with the path a heading writes, if the schema says so."""
    parts = [part.rstrip("[]") for part in heading.split("/")]
    path: list[str] = []
    for part, after in pairwise(parts):
        if part.isdigit():
            continue
        path.append(part)
        field, kind = "/".join(path), flattened.get("/".join(path))
        if kind is None or kind == "array" or (kind == "object" and not after.isdigit()):
            continue  # a field the schema does not name is read as it is written
        if kind == "object":
            return f"makes “{field}” a list, but the schema says it holds one object"
        if kind.endswith("_array"):  # string_array, number_array, array_array
            return f"goes inside “{field}”, a list written in one cell, separated by “;”"
        return f"goes inside “{field}”, but the schema says it holds a single value"
    return None


def _leave_out_unrelated_sheets(
    reader: Any, fields: _KnownFields | None, main_sheet: str
) -> list[dict[str, Any]]:
    """Leave out, with a warning, each sheet besides the main one whose headings name no
    field the schema knows: notes, a lookup table. flattentool would read its rows as more
    items, each reported as missing every required field."""
    if fields is None:
        return []  # without a schema, any heading may be a field
    found = []
    for sheet in [name for name in reader.sheet_names_map if str(name) != main_sheet]:
        try:
            headings = [h for h in reader.get_sheet_headings(sheet) if h not in (None, "")]
        except (IndexError, KeyError, ValueError):
            continue  # left to the conversion, which says what is wrong with the sheet
        if not headings or any(fields.named(heading) for heading in headings):
            continue  # no headings: its values are said to be unread, column by column
        reader.sheet_names_map.pop(sheet)
        reader.headings.pop(sheet, None)  # no warnings about a sheet not read
        if isinstance(reader.sub_sheet_names, list):
            reader.sub_sheet_names.remove(sheet)
        found.append(
            {
                "message": f"The sheet “{sheet}” was not read: none of its headings names a "
                "field of the data, so it is taken for notes or a table of reference. To have "
                f"it read, head its columns with field names, such as “{fields.id_name}”.",
                "sheet": sheet,
                "row": 1,
                "column": None,
                "header": None,
            }
        )
    return found


class _KnownFields:
    """Whether a heading names a field of the items: as flattentool knows them, or as the
    schema describes them (under anyOf or oneOf, or without a type, too)."""

    def __init__(self, parser: Any, loaded: LoadedSchema, root_list_path: str, id_name: str):
        self.flattened = parser.flattened if parser else {}
        self.described = schema_fields(
            loaded.schema, loaded.resources, loaded.base_uri, loaded.draft
        )
        self.items = f"/{escape(root_list_path)}/*"
        self.id_name = id_name

    def named(self, heading: Any) -> bool:
        if str(heading).count("/") >= MAX_HEADING_NAMES:
            return False  # too deep to read (a long note, say), and slow to look up
        path = _field_path(str(heading))
        if path == self.id_name or path in self.flattened:
            return True
        parts = [part.rstrip("[]") for part in str(heading).split("/")]
        pattern = "/".join("*" if part.isdigit() else escape(part) for part in parts)
        return self.described.describes(f"{self.items}/{pattern}")


def _field_path(heading: str) -> str:
    """A heading as flattentool looks it up in the schema: list indexes and "[]" left out."""
    parts = [part.rstrip("[]") for part in heading.split("/")]
    return "/".join(part for part in parts if not part.isdigit())


def _sheets_it_has(names: list[str]) -> str:
    if not names:
        return "It has no sheets at all."
    quoted = ", ".join(f"“{name}”" for name in names)
    return f"Its sheets are: {quoted}." if len(names) > 1 else f"Its only sheet is {quoted}."


def _convert(reader: Any) -> tuple[list[dict[str, Any]], tuple[Any, Any, Any]]:
    """Run flattentool's conversion, collecting its warnings with where they arose.

    The warnings machinery is global to the process: run one conversion at a time in it.
    """
    found: list[dict[str, Any]] = []
    about_headings: set[tuple[str, Any]] = set()
    show = warnings.showwarning

    def collect(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if not issubclass(category, FlattenToolWarning):
            show(message, category, *args, **kwargs)
            return
        described = _describe(str(message), reader.position, getattr(reader, "parser", None))
        if _NUMBER_HEADING.match(described["message"]):
            # Said again for every row, of the heading: once, at the heading's own row.
            if (described["message"], described["sheet"]) in about_headings:
                return
            about_headings.add((described["message"], described["sheet"]))
            described["row"] = 1
        found.append(described)

    with warnings.catch_warnings(), _corrected_reading():
        # "always": the same message for two cells must be reported twice.
        warnings.simplefilter("always", FlattenToolWarning)
        warnings.showwarning = collect
        try:
            result = reader.fancy_unflatten(with_cell_source_map=True, with_heading_source_map=True)
        except (OSError, MemoryError):
            raise
        except Exception as exc:  # flattentool fails in many ways on odd data
            raise _not_converted(exc, reader.position) from exc
    return found, result


@contextmanager
def _corrected_reading() -> Iterator[None]:
    """flattentool's reading of cells, with numbers read as the numbers they are, and
    lists of texts as lists of texts.

    Its conversion has no hook for this, so its function is replaced while it runs:
    like the warnings above, one conversion at a time in a process."""
    original = flattentool.input.convert_type

    def convert_type(type_string: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        if type_string == "integer" and _has_a_fraction(value):
            # flattentool reads 2.7 as int(2.7), 2, and the data passes. Kept as the number
            # it is, validation says that it should be a whole number.
            return value
        if type_string == "integer" and _decimal_text(value):
            # "1.0", which int() refuses: flattentool kept the text, which validation
            # refused as no number. Read as a number column reads it, validation judges it.
            return Decimal(value)
        if type_string == NUMBER_OR_TEXT:  # a number cell of a workbook; a CSV's are text
            type_string = "number" if type(value) in (int, float, Decimal) else "string"
        if type_string == "string_array":
            # A list of texts, split on ";" alone: flattentool splits on "," too, making
            # "Smith, John;Doe, Jane" lists in a list. (A list of lists is "array_array".)
            return str(value).split(";")
        return original(type_string, value, *args, **kwargs)

    flattentool.input.convert_type = convert_type
    try:
        yield
    finally:
        flattentool.input.convert_type = original


def _has_a_fraction(value: Any) -> bool:
    if type(value) not in (float, Decimal):
        return False
    try:
        return value != int(value)
    except (ValueError, OverflowError):  # not a number, or infinite: flattentool says so
        return False


def _decimal_text(value: Any) -> bool:
    """Text that writes a number with a point or an exponent: "1.0", "2.7", "1e3"."""
    if not isinstance(value, str) or value.strip().lstrip("+-").isdigit():
        return False  # none, or a whole number, which int() reads
    try:
        number = Decimal(value)
    except InvalidOperation:
        return False
    # "NaN", "Infinity" and what no float holds (1e400) stay text as written, with
    # flattentool's warning, as before.
    return number.is_finite() and math.isfinite(float(number))


INVISIBLE = "\ufeff\u200b\u00a0"  # a byte-order mark, a zero-width space, a no-break space


def _merged_rows(
    items: list[Any], cells: dict[str, Any], main_sheet: str, id_name: str, reader: Any
) -> list[dict[str, Any]]:
    """A warning for each item whose rows of the main sheet are not one: flattentool
    merges the rows that share an id into one item, which hides a duplicated id or row,
    and makes an item of rows of other sheets whose id no row of the main sheet has."""
    found = []
    clashing: set[int] | None = None  # looked for once, only if some item has merged rows
    for index, item in enumerate(items):
        rows = cells.get(f"{main_sheet}/{index}", [])
        identifier = item.get(id_name) if isinstance(item, dict) else None
        own = [row for sheet, row, *_ in rows if sheet == main_sheet]
        if len(own) > 1 and clashing is None:
            clashing = _rows_giving_one_field_twice(cells, main_sheet, id_name)
        if len(own) > 1 and index in (clashing or ()):
            listed = _listed_rows(own)
            message = (
                f"Rows {listed} of sheet “{main_sheet}” have the same {id_name} "
                f"“{identifier}”, so they were read as one item. If they are different "
                f"items, give each its own {id_name}; if a row is there twice, delete one."
            )
            found.append(_row_warning(message, main_sheet, own[1]))
        elif not own and rows:
            sheet, row, *_ = rows[0]
            has_ids = id_name in getattr(reader, "headings", {}).get(sheet, ())
            message = _orphan_row(sheet, row, identifier, id_name, main_sheet, has_ids)
            found.append(_row_warning(message, sheet, row))
    return found


SHOWN_ROWS = 10  # of the rows merged into one item, named in its warning


def _listed_rows(rows: list[int]) -> str:
    """ "2, 3 and 4", or past SHOWN_ROWS, "2, 3, … and 9,990 more"."""
    if len(rows) > SHOWN_ROWS:
        shown = ", ".join(f"{row:,}" for row in rows[:SHOWN_ROWS])
        return f"{shown} and {len(rows) - SHOWN_ROWS:,} more"
    return ", ".join(f"{row:,}" for row in rows[:-1]) + f" and {rows[-1]:,}"


def _orphan_row(
    sheet: str, row: int, identifier: Any, id_name: str, main_sheet: str, has_ids: bool
) -> str:
    """Why a row of another sheet became an item of its own."""
    if identifier is None and has_ids:
        return (
            f"Row {row:,} of sheet “{sheet}” has no {id_name}, so it was read as an item of "
            f"its own. Give it the {id_name} of the row of sheet “{main_sheet}” it belongs to."
        )
    if identifier is None:
        return (
            f"Row {row:,} of sheet “{sheet}” has no {id_name}, so it was read as an item of "
            f"its own. Give sheet “{sheet}” a column “{id_name}” holding the {id_name} of the "
            f"row of sheet “{main_sheet}” it belongs to."
        )
    return (
        f"Row {row:,} of sheet “{sheet}” has the {id_name} “{identifier}”, which no row of "
        f"sheet “{main_sheet}” has, so it was read as an item of its own. Check the "
        f"{id_name}, or add its row to sheet “{main_sheet}”."
    )


def _place_items_by_their_rows(cells: dict[str, Any], main_sheet: str) -> None:
    """Give each item the rows it was read from, where flattentool places it only by its
    cells: an item made of rows of another sheet that have no id to join them by. Its
    errors ("id" missing) are then placed at those rows, and its rows can be warned of."""
    prefix = f"{main_sheet}/"
    found: dict[str, list[list[Any]]] = {}
    for key, places in cells.items():
        if not key.startswith(prefix):
            continue
        index, inside, _ = key[len(prefix) :].partition("/")
        if not inside or not index.isdigit():
            continue
        if (item := prefix + index) in cells:
            continue
        rows = found.setdefault(item, [])
        for place in places:
            row = [place[0], place[2] if len(place) == 4 else place[1]]
            if row not in rows:
                rows.append(row)
    cells.update({item: sorted(rows, key=lambda row: row[1]) for item, rows in found.items()})


def _rows_giving_one_field_twice(cells: dict[str, Any], main_sheet: str, id_name: str) -> set[int]:
    """The items for which two rows of the main sheet give the same field (not the id,
    and not one in a list): a duplicate. Rows that each add entries to a list, under
    "items/0/id" say, are flattentool's way of writing a list over rows, and meant."""
    clashing: set[int] = set()
    prefix = f"{main_sheet}/"
    for path, places in cells.items():
        if not path.startswith(prefix) or len(places) < 2:
            continue
        index, _, field = path[len(prefix) :].partition("/")
        if not index.isdigit() or not field or field == id_name:
            continue
        if any(part.isdigit() for part in field.split("/")):
            continue  # inside a list
        # Cells only ([sheet, column, row, heading]): an object is placed by each row
        # that gives one of its fields ([sheet, row]), which is no clash by itself.
        rows = {place[2] for place in places if len(place) == 4 and place[0] == main_sheet}
        if len(rows) > 1:
            clashing.add(int(index))
    return clashing


# flattentool joins the rows of the main sheet that share an id into one item, in time
# that grows with the square of their number: 40,000 rows took 100 s, 5,000 about 1 s.
# (Rows of other sheets, the entries of an item's lists, cost far less: 8,000 took 3 s.)
MAX_ROWS_PER_ITEM = 5_000


def _check_rows_per_item(
    sheets: Iterator[tuple[str, Iterator[list]]], id_name: str, main_sheet: str
) -> None:
    """Refuse, before the conversion, a main sheet with more rows of one id than that."""
    rows_of: Counter = Counter()
    for sheet, rows in sheets:
        if sheet != main_sheet:
            continue
        headings = list(next(rows, []))
        if id_name not in headings:
            continue  # flattentool joins no rows by an id it does not read
        column = headings.index(id_name)
        rows_of.update(
            row[column] for row in rows if column < len(row) and row[column] not in (None, "")
        )
    if not rows_of:
        return
    identifier, count = rows_of.most_common(1)[0]
    if count > MAX_ROWS_PER_ITEM:
        raise BadInput(
            "too_many_rows_per_item",
            f"{count:,} rows of sheet “{main_sheet}” have the {id_name} “{identifier}”. "
            f"Rows that share an {id_name} are read as one item, and Assay reads at most "
            f"{MAX_ROWS_PER_ITEM:,} rows as one.",
            hint=f"If the rows are different items, give each its own {id_name}.",
        )


def _row_warning(message: str, sheet: str, row: int) -> dict[str, Any]:
    return {"message": message, "sheet": sheet, "row": row, "column": None, "header": None}


def _padded_headings(
    headings: dict[str, list[Any]], fields: _KnownFields | None
) -> list[dict[str, Any]]:
    """A warning for each heading with spaces or invisible characters around it: " id "
    names no field, and the report would show it, baffling, as "id" missing. (The field
    it misses is named only if the schema has it, or there is no schema to ask.)"""
    found = []
    for sheet, names in headings.items():
        for index, name in enumerate(names):
            if not isinstance(name, str):
                continue
            bare = name.strip(f" \t\r\n{INVISIBLE}")
            if name == bare or not bare:  # a blank heading is only a spacer column
                continue
            missed = fields is None or fields.named(bare)
            message = (
                f"The heading “{_shown(name)}” has spaces or invisible characters around it"
                f"{f', so it does not name the field “{bare}”' if missed else ''}. Remove them "
                "from the heading."
            )
            found.append(_heading_warning(message, sheet, index, name))
    return found


def _headings_near_a_field(
    headings: dict[str, list[Any]], fields: _KnownFields | None
) -> list[dict[str, Any]]:
    """A warning for each heading that names no field but for its capitals, spaces, "-"
    or "_": "award date" or "Award_Date" for "awardDate", "Amount / Value" for
    "amount/value"."""
    if fields is None:
        return []
    spelled: dict[str, str] = {}
    for path in [fields.id_name, *fields.flattened]:
        spelled.setdefault(_loosely(path), path)
    found = []
    for sheet, names in headings.items():
        for index, name in enumerate(names):
            if not isinstance(name, str) or name != name.strip() or fields.named(name):
                continue  # spaces around the whole heading are said by _padded_headings
            field = spelled.get(_loosely(_field_path(name)))
            if field is None:
                continue
            message = (
                f"The heading “{name}” names no field, but the schema has "
                f"“{_respelled(name, field)}”: write it as the schema does, as capitals and "
                "spaces count."
            )
            found.append(_heading_warning(message, sheet, index, name))
    return found


def _heading_warning(message: str, sheet: str, index: int, heading: str) -> dict[str, Any]:
    """A warning about the heading in column ``index`` (from 0) of a sheet's first row."""
    column = get_column_letter(index + 1)
    return {"message": message, "sheet": sheet, "row": 1, "column": column, "header": heading}


def _loosely(path: str) -> str:
    return "/".join(LOOSE.sub("", part).casefold() for part in path.split("/"))


LOOSE = re.compile(r"[\s_-]+")  # what a heading may have where the field has nothing


def _respelled(heading: str, field: str) -> str:
    """``heading`` with its field names as ``field`` spells them, its list numbers kept."""
    names = iter(field.split("/"))
    parts = [part.strip() for part in heading.split("/")]
    return "/".join(part if part.isdigit() else next(names, part) for part in parts)


def _shown(text: str) -> str:
    """``text`` with what cannot be seen written as an escape: "\\ufeffid", "Montant €"."""
    return "".join(
        f"\\u{ord(char):04x}" if char in INVISIBLE or not char.isprintable() else char
        for char in text
    )


def _put_in_true_columns(cells: dict[str, list[Any]] | None, headings: dict[str, list]) -> None:
    """Correct the columns of the cell source map after a repeated or blank heading.

    flattentool reads a row as a mapping from heading to value, where a repeated heading
    is one entry (its last column's value), and then numbers the entries as if each were
    a column: every column after the repeat is named one too far left, with the heading
    of that wrong column."""
    moves = {sheet: _column_moves(names) for sheet, names in headings.items()}
    moves = {sheet: sheet_moves for sheet, sheet_moves in moves.items() if sheet_moves}
    if not moves or not cells:
        return
    for places in cells.values():
        for number, place in enumerate(places):
            if len(place) != 4:
                continue  # a whole row (sheet, row): no column to correct
            sheet, column, row, _ = place
            if moved := moves.get(sheet, {}).get(column):
                true_column, heading = moved
                places[number] = (sheet, true_column, row, heading)


def _column_moves(headings: list[Any]) -> dict[str, tuple[str, Any]]:
    """For each column letter flattentool gives, the true one and its heading."""
    return {
        get_column_letter(entry + 1): (get_column_letter(index + 1), heading)
        for entry, (heading, index) in enumerate(_last_columns(headings).items())
        if entry != index
    }


def _last_columns(headings: list[Any]) -> dict[Any, int]:
    """Each heading's last column (whose value flattentool keeps), in the order the
    headings first appear (the order of flattentool's row mapping)."""
    last: dict[Any, int] = {}
    for index, heading in enumerate(headings):
        last[heading] = index
    return last


def _not_converted(error: Exception, position: _Position | None) -> BadInput:
    where = f" (sheet “{position.sheet}”, row {position.row})" if position else ""
    detail = f": {error}" if isinstance(error, FlattenToolError) and str(error) else "."
    return BadInput(
        "conversion_failed",
        f"The spreadsheet could not be converted to JSON{where}{detail}",
        hint="Check the column headings against the template for this kind of data.",
    )


# Where flattentool's warnings name a place. Only its English messages are understood;
# the others still get the sheet and row being converted when they were raised.
_SHEET_IN_MESSAGE = re.compile(r'sheet:? "(?P<sheet>[^"]*)"')
# Said of a heading (a number), but again for every row that has a value under it.
_NUMBER_HEADING = re.compile(r"^Column .* has been ignored because it is a number")
_HEADING_IN_MESSAGE = [
    re.compile(
        r'^Duplicate heading "(?P<header>.*)" found, '
        r"ignoring the data in columns? (?P<column>[A-Z]+)"
    ),
    re.compile(r'^Column "?(?P<header>.+?)"? has been ignored'),
]
_VALUE_IN_MESSAGE = [
    re.compile(r'the other cell has the value: "(?P<value>.*)"$'),
    re.compile(r'value(?: for boolean:)? "(?P<value>.*)"(?: found in|, returning)'),
]
# What else a message says of the cell whose value it quotes: its field, or its type.
_FIELD_IN_MESSAGE = re.compile(r'field "(?P<field>[^"]*)" in sheet')
_TYPE_IN_MESSAGE = {
    "in number column": "number",
    "in integer column": "integer",
    "for boolean": "boolean",
}


def _describe(message: str, position: _Position | None, parser: Any = None) -> dict[str, Any]:
    found = {"message": message, "sheet": None, "row": None, "column": None, "header": None}
    if position:
        found.update(sheet=position.sheet, row=position.row)
    if match := _SHEET_IN_MESSAGE.search(message):
        found["sheet"] = match["sheet"]
    if match := _first_match(_HEADING_IN_MESSAGE, message):
        found.update(header=match["header"], column=match.groupdict().get("column"))
    elif (match := _first_match(_VALUE_IN_MESSAGE, message)) and position:
        fits = _cell_said(message, parser.flattened if parser else {})
        found["header"] = _heading_with_value(position.line, match["value"], fits)
    if found["header"] is not None and found["column"] is None and position:
        found["column"] = _column_of(position.headings, found["header"])
    return found


def _first_match(patterns: list[re.Pattern[str]], text: str) -> re.Match[str] | None:
    return next((match for pattern in patterns if (match := pattern.search(text))), None)


def _cell_said(message: str, types: dict[str, str]) -> Callable[[str], bool]:
    """Whether a heading fits what ``message`` says of its cell beside its value."""
    if match := _FIELD_IN_MESSAGE.search(message):  # its own name: "currency", not its path
        field_name = match["field"]
        return lambda heading: _field_path(heading).rpartition("/")[2] == field_name
    kind = next((kind for words, kind in _TYPE_IN_MESSAGE.items() if words in message), None)
    return lambda heading: kind is not None and types.get(_field_path(heading)) == kind


def _heading_with_value(
    line: dict[Any, Any], value: str, fits: Callable[[str], bool]
) -> str | None:
    """The heading of the cell of the row holding ``value``: of those that do, the first
    that ``fits`` what the message says of it, or else the first (the same text may be in
    several cells: "TBC", say)."""
    holding = [
        str(heading) for heading, cell in line.items() if cell is not None and str(cell) == value
    ]
    return next((heading for heading in holding if fits(heading)), holding[0] if holding else None)


def _column_of(headings: list[Any], heading: str) -> str | None:
    """The column of ``heading`` (a heading's text: 2026 is "2026")."""
    columns = {str(name): index for name, index in _last_columns(headings).items()}
    return get_column_letter(columns[heading] + 1) if heading in columns else None


def _plain(source_map: dict[str, Any] | None) -> dict[str, Any]:
    """The source map as it reads back from JSON: lists, not tuples."""
    return {key: [list(place) for place in places] for key, places in (source_map or {}).items()}


def _write_json(path: Path, data: Any, indent: int | None = None) -> None:
    # orjson writes the source maps' tuples as lists, and is several times faster than
    # json here.
    options = orjson.OPT_PASSTHROUGH_DATETIME | (orjson.OPT_INDENT_2 if indent else 0)
    try:
        path.write_bytes(orjson.dumps(data, default=_flattentool_value, option=options))
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, which only json writes
        text = json.dumps(data, default=_flattentool_value, indent=indent, ensure_ascii=False)
        path.write_text(text, encoding="utf-8")


# Beyond this many digits a number in a cell stays text: no data means such a number, and
# Python refuses to write an integer of more than 4,300 digits.
MAX_DIGITS_READ = 300


def _flattentool_value(value: Any) -> Any:
    """flattentool's Decimal numbers and dates, written as its own encoder writes them.

    A Decimal becomes the float that any JSON reader, ours included, would read anyway,
    or the integer it is, up to MAX_DIGITS_READ digits; one JSON has no number for
    ("Infinity", "NaN") or past that stays a text, for the schema to say it is not a
    number."""
    if isinstance(value, Decimal):
        if not value.is_finite() or value.adjusted() > MAX_DIGITS_READ:
            return str(value)  # 1e999999 as an integer: a million digits, made slowly
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# Locating a place in the converted data --------------------------------------------------


def locate(
    cell_source_map: dict[str, Any],
    heading_source_map: dict[str, Any],
    pointer: str,
    missing_property: str | None = None,
    columns: dict[str, dict[str, str]] | None = None,
    structures: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """Where in the spreadsheet the data at the JSON Pointer came from.

    Returns {"sheet", "row", "column", "header"}; column and header are None for a whole
    row. A pointer inside a cell's value (an item of a list read from one cell) gives that
    cell, and one to an object or list gives its row. With ``missing_property``, the
    pointer is the object lacking it, and column and header say where it would go:
    found in ``columns`` (each sheet's headings, see unflatten) when given. A missing
    object or list of objects named in ``structures`` goes under a field inside it.
    """
    path = _source_map_key(pointer)
    place = _locate_key(cell_source_map, path)
    if place is None or missing_property is None:
        return place
    parts = [*path.split("/"), missing_property]
    sheet_columns = (columns or {}).get(place["sheet"], {})
    inside = (structures or {}).get(_field_path("/".join(_below_the_item(parts))))
    heading = _heading_for(parts, sheet_columns, structure=inside is not None)
    if heading is not None:
        return {**place, "column": sheet_columns[heading], "header": heading}
    if inside is not None or _in_its_own_columns(parts, sheet_columns):
        # Not _missing_column's: the same field of another entry of a list written across
        # columns is on this row, and a structure's own heading is read as no value.
        return {**place, "column": None, "header": _heading_to_add(parts, sheet_columns, inside)}
    where = _missing_column(cell_source_map, heading_source_map, place, path, missing_property)
    return {**place, **where}


def _heading_for(parts: list[str], columns: dict[str, str], structure: bool) -> str | None:
    """The heading of a sheet a missing property would be under: its own, with its list
    numbers ("classifications/1/code"), or else of the same field in another entry of
    its list, or else (for a missing object) its leftmost field's. A ``structure``'s own
    heading is not one: flattentool reads no value under it."""
    below = _below_the_item(parts)
    if "/".join(below) in columns and not structure:
        return "/".join(below)
    if _in_its_own_columns(parts, columns):
        # A list written across columns: the same field of another entry is another column
        # of the same row, so only a column inside its own (a missing object's) will do.
        inside = [heading for heading in columns if heading.startswith(f"{'/'.join(below)}/")]
        return _leftmost(inside, columns)
    wanted = "/".join(part for part in below if not part.isdigit())
    same_field = [heading for heading in columns if _field_path(heading) == wanted]
    inside = [heading for heading in columns if _field_path(heading).startswith(f"{wanted}/")]
    return _leftmost([] if structure else same_field, columns) or _leftmost(inside, columns)


def _heading_to_add(parts: list[str], columns: dict[str, str], inside: str | None) -> str:
    """The heading a missing property no column holds would be under: with its entry's
    own number where its list is written across columns, and for a structure, of the
    field ``inside`` it ("amount/value")."""
    if _in_its_own_columns(parts, columns):
        heading = "/".join(_below_the_item(parts))
    else:
        heading = _expected_heading(parts)
    return f"{heading}/{inside}" if inside is not None else heading


def _below_the_item(parts: list[str]) -> list[str]:
    """The parts of a path below the item (of the main list) it is in."""
    item_index = next((i for i, part in enumerate(parts) if part.isdigit()), len(parts))
    return parts[item_index + 1 :]


def _in_its_own_columns(parts: list[str], columns: dict[str, str]) -> bool:
    """Whether the list entry holding the path has columns of its own number, as
    "classifications/1/code": a list written across columns, not one entry a row."""
    below = _below_the_item(parts)
    numbers = [index for index, part in enumerate(below) if part.isdigit()]
    if not numbers:
        return False
    entry = "/".join(below[: numbers[-1] + 1])
    return any(heading.startswith(f"{entry}/") for heading in columns)


def _leftmost(headings: list[str], columns: dict[str, str]) -> str | None:
    return min(
        headings, key=lambda heading: column_index_from_string(columns[heading]), default=None
    )


def _source_map_key(pointer: str) -> str:
    parts = pointer.split("/")[1:] if pointer.startswith("/") else pointer.split("/")
    return "/".join(part.replace("~1", "/").replace("~0", "~") for part in parts if part != "")


def _locate_key(cell_source_map: dict[str, Any], key: str) -> dict[str, Any] | None:
    while key:
        places = cell_source_map.get(key)
        if places:
            return _place(places[0])
        key = key.rpartition("/")[0]
    return None


def _place(place: list[Any]) -> dict[str, Any]:
    if len(place) == 4:  # a cell: sheet, column letter, row, heading
        sheet, column, row, header = place
        return {"sheet": sheet, "row": row, "column": column, "header": header}
    sheet, row = place[0], place[1]  # a row
    return {"sheet": sheet, "row": row, "column": None, "header": None}


def _missing_column(
    cell_source_map: dict[str, Any],
    heading_source_map: dict[str, Any],
    parent: dict[str, Any],
    key: str,
    name: str,
) -> dict[str, Any]:
    parts = [*key.split("/"), name]
    heading_key = "/".join(part for part in parts if not part.isdigit())
    # The heading of the property itself or, for a missing object, of something in it.
    inside = sorted(other for other in heading_source_map if other.startswith(f"{heading_key}/"))
    candidates = [heading_key, *inside]
    for candidate in candidates:
        for sheet, header in heading_source_map.get(candidate, []):
            if sheet == parent["sheet"]:
                return {"column": _column_letter(cell_source_map, sheet, header), "header": header}
    return {"column": None, "header": _expected_heading(parts)}


def _expected_heading(parts: list[str]) -> str:
    """The heading flattentool reads into the property: the path below the item."""
    first_index = next((i for i, part in enumerate(parts) if part.isdigit()), -1)
    return "/".join("0" if part.isdigit() else part for part in parts[first_index + 1 :])


def _column_letter(cell_source_map: dict[str, Any], sheet: str, header: str) -> str | None:
    # The heading map has no column letters; the first cell read from that column has.
    for places in cell_source_map.values():
        for place in places:
            if len(place) == 4 and place[0] == sheet and place[3] == header:
                return place[1]
    return None


# JSON to spreadsheets --------------------------------------------------------------------


def flatten(
    json_path: Path,
    out_dir: Path,
    *,
    schema: LoadedSchema | None = None,
    schema_path: Path | None = None,
    root_list_path: str,
    id_name: str,
) -> Flattened:
    """Write the data as ``out_dir/data.xlsx`` and as CSV files in ``out_dir/data-csv.zip``.

    The schema, if any, is given loaded or as a file to load.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    xlsx, zipped = out_dir / XLSX_NAME, out_dir / CSV_ZIP_NAME
    options = {
        "schema": _item_schema(_schema_from(schema, schema_path), root_list_path),
        "main_sheet_name": root_list_path,
        "root_list_path": root_list_path,
        "id_name": id_name,
    }
    shape = _shape_of(json_path, root_list_path)
    if not shape.objects_in_the_list:
        raise _no_root_list(shape, root_list_path)
    if shape.top_event == "start_array":
        options["root_is_list"] = True  # the document is the list of items itself
    # Before flattentool, whose reading takes time that grows with the square of the
    # columns: 20,000 took half a minute, 200,000 seventeen.
    sheet, width = shape.widest_sheet()
    if width > MAX_XLSX_COLUMNS:
        raise _too_large_for_a_sheet(
            f"{width:,} columns", MAX_XLSX_COLUMNS, sheet or root_list_path
        )
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        readable = _readable_by_flattentool(json_path, Path(scratch))
        csv_folder = Path(scratch) / "csv"
        csv_sheets, xlsx_sheets = _write_sheets(readable, csv_folder, xlsx, options)
        _zip_folder(csv_folder, zipped)
    left_out = shape.items_in_the_list - shape.objects_in_the_list
    return Flattened(
        xlsx,
        zipped,
        cut_short=xlsx_sheets.cut_short,
        neutralised=csv_sheets.neutralised,
        left_out=left_out,
        numbers_as_text=xlsx_sheets.numbers_as_text,
        unjoined=csv_sheets.unjoined,
        beside_the_list=shape.beside,
        slashed=FirstFew.of(shape.slashed),
    )


class FirstFew(NamedTuple):
    """How many names there are, and the first MAX_NAMED of them."""

    count: int = 0
    names: tuple[str, ...] = ()

    def plus(self, name: str) -> FirstFew:
        names = self.names if len(self.names) == MAX_NAMED else (*self.names, name)
        return FirstFew(self.count + 1, names)

    @classmethod
    def of(cls, names: Collection[str]) -> FirstFew:
        return cls(len(names), tuple(islice(names, MAX_NAMED)))


MAX_NAMED = 10  # names kept of the fields the page warns about; it shows the first few


class Flattened(NamedTuple):
    xlsx: Path
    csv_zip: Path
    # Texts longer than an XLSX cell holds: the workbook has them cut short, the CSVs whole.
    cut_short: int
    # Formula-like texts: given a "'" in the CSVs, and written as text cells in the workbook.
    neutralised: int
    left_out: int = 0  # items of the list that are not objects: no row holds them
    numbers_as_text: int = 0  # in the workbook: too many digits for a cell
    # Rows of other sheets holding an entry whose item has no id: read back, they would
    # not go back into it.
    unjoined: int = 0
    # Fields beside the list (and on the way to it), which no sheet holds.
    beside_the_list: FirstFew = FirstFew()
    # The items' field names holding "/": read back, they are nested fields.
    slashed: FirstFew = FirstFew()


# The most characters an XLSX cell holds; the writer cuts longer text to this.
MAX_XLSX_TEXT = 32_767
# The most characters of a sheet's name, in Excel.
MAX_SHEET_NAME = 31
# Characters XML 1.0 has no place for: controls but tab and line ends, U+FFFE and U+FFFF.
NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# The significant digits a number in a cell keeps, in Excel and LibreOffice alike, and
# the largest power of ten it reaches (a double's, with room for the first digit).
MAX_CELL_DIGITS, MAX_CELL_EXPONENT = 15, 307


@dataclass
class _Shape:
    """What the streamed data's top level is, and whether it holds the root list."""

    root_list_prefix: str  # as ijson names the place: "grants", "a.b"
    top_event: str = ""
    has_root_list: bool = False
    # The list's items (the root list's, or the document's when it is a list), and how
    # many of them are objects: the rows.
    items_in_the_list: int = 0
    objects_in_the_list: int = 0
    # Where single values are, as ijson names the places: the columns, sheet by sheet.
    leaves: set[str] = default(default_factory=set)
    # Fields of the objects on the way to the list, but the one leading on to it: no
    # sheet holds them, as a row is an item of the list.
    beside: FirstFew = default(default_factory=FirstFew)
    # The items' field names holding "/", once each, in the order met: the headings use
    # "/" between a field and a field inside it, so they read back as nested fields.
    slashed: dict[str, None] = default(default_factory=dict)

    def read(self, events: Iterator[tuple[str, str, Any]]) -> None:
        # Every value of the data passes here: the loop is kept to a few comparisons.
        _, self.top_event, _ = next(events)  # ijson raises for an empty file
        rows, root, leaves = self._rows(), self.root_list_prefix, self.leaves
        in_a_list = self.top_event == "start_array"
        way, inside = self._way_to_the_list(), f"{rows}."
        for prefix, event, value in events:
            if event == "map_key":
                if prefix in way and value != way[prefix]:
                    self.beside = self.beside.plus(_field_name(prefix, value))
                elif "/" in value and (prefix == rows or prefix.startswith(inside)):
                    self.slashed[value] = None
            elif prefix == rows:
                # A value begins in the list itself (not in an object "grants": {"item": ...}).
                if in_a_list and event not in NOT_A_VALUE:
                    self.items_in_the_list += 1
                    self.objects_in_the_list += event == "start_map"
            elif event == "start_array" and prefix == root:
                self.has_root_list = in_a_list = True
            elif event in SINGLE_VALUES:
                leaves.add(prefix)

    def widest_sheet(self) -> tuple[str, int]:
        """The sheet with the most columns, as far as the data tells (a list of objects
        makes a sheet of its own), and how many."""
        rows = self._rows()
        columns: dict[str, int] = {}
        for leaf in self.leaves:
            if leaf.startswith(f"{rows}."):
                sheet = leaf[: leaf.rindex(".item.")] if ".item." in leaf else rows
                columns[sheet] = columns.get(sheet, 0) + 1
        sheet, width = max(columns.items(), key=lambda found: found[1], default=(rows, 0))
        name = sheet.removesuffix(".item").rsplit(".", 1)[-1] if sheet != rows else ""
        return name, width

    def _rows(self) -> str:
        """Where the items are, as ijson names the place."""
        return "item" if self.top_event == "start_array" else f"{self.root_list_prefix}.item"

    def _way_to_the_list(self) -> dict[str, str]:
        """Each object on the way to the list, as ijson names it, and the field leading on."""
        if self.top_event != "start_map":
            return {}
        steps = self.root_list_prefix.split(".")
        return {".".join(steps[:depth]): step for depth, step in enumerate(steps)}


def _field_name(prefix: str, key: str) -> str:
    """The field's path from the top, as the profile writes paths: "a/b"."""
    return f"{prefix.replace('.', '/')}/{key}" if prefix else key


NOT_A_VALUE = ("map_key", "end_map", "end_array")
SINGLE_VALUES = frozenset(("string", "number", "boolean", "null"))


def _no_root_list(shape: _Shape, root_list_path: str) -> BadInput:
    return BadInput(
        "no_root_list",
        f"The spreadsheets hold the items of the list “{root_list_path}”, one object a row, "
        f"and this data has none: {_what_it_has(shape, root_list_path)}.",
        hint="The validation report is not affected. To have spreadsheets, put the items in "
        f"a list under “{root_list_path}” at the top level, or make the whole document that "
        "list, or check against the profile made for this kind of data.",
    )


def _what_it_has(shape: _Shape, root_list_path: str) -> str:
    if shape.top_event == "start_array":
        the_list = "it is a list"
    elif shape.has_root_list:
        the_list = f"its list “{root_list_path}” is there"
    else:
        return {"start_map": f"its top level has no list “{root_list_path}”"}.get(
            shape.top_event, "it is a single value"
        )
    if not shape.items_in_the_list:
        return f"{the_list}, but empty"
    return f"{the_list}, but of plain values or lists, not of objects"


# What Excel and LibreOffice open: column XFD, row 1,048,576.
MAX_XLSX_COLUMNS, MAX_XLSX_ROWS = 16_384, 1_048_576


def _check_width(csv_folder: Path) -> None:
    """Refuse sheets a spreadsheet program cannot open (the CSVs are as flattentool
    will write the workbook)."""
    for path in sorted(csv_folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = csv.reader(handle)
            width = len(next(rows, []))
            height = 1 + sum(1 for _ in rows)
        if width > MAX_XLSX_COLUMNS:
            raise _too_large_for_a_sheet(f"{width:,} columns", MAX_XLSX_COLUMNS, path.stem)
        if height > MAX_XLSX_ROWS:
            raise _too_large_for_a_sheet(f"{height:,} rows", MAX_XLSX_ROWS, path.stem)


def _too_large_for_a_sheet(size: str, limit: int, sheet: str) -> BadInput:
    return BadInput(
        "too_large_for_a_sheet",
        f"The data makes {size} in the sheet “{sheet}”, more than the {limit:,} a "
        "spreadsheet can hold.",
        hint="The validation report is not affected. For columns, the fields listed there "
        "as not in the schema are often the cause; for rows, split the data.",
    )


def _write_sheets(
    source: Path, csv_folder: Path, xlsx: Path, options: dict[str, Any]
) -> tuple[_CSVSheets, _XLSXSheets]:
    """The CSVs and the workbook, from one reading of the data by flattentool (its own
    ``flatten`` reads the data afresh for each format)."""
    with warnings.catch_warnings():
        # Problems in the data are the validation report's business, not these files'.
        warnings.simplefilter("ignore", FlattenToolWarning)
        try:
            with _flattentool_reading(source, options) as reading:
                csv_sheets = _CSVSheets(
                    reading, options["main_sheet_name"], str(csv_folder), options["id_name"]
                )
                csv_sheets.write_sheets()
                _check_width(csv_folder)
                xlsx_sheets = _XLSXSheets(reading, options["main_sheet_name"], str(xlsx))
                xlsx_sheets.write_sheets()
        except (BadInput, OSError, MemoryError, RecursionError):
            # Said already; or not the data's shape: a resource, or nesting the runner explains.
            raise
        except Exception as exc:  # flattentool fails in many ways on data the schema lacks
            raise _not_flattened(exc) from exc
    return csv_sheets, xlsx_sheets


def _flattentool_reading(source: Path, options: dict[str, Any]) -> JSONParser:
    """The data as flattentool reads it into sheets, as ``flattentool.flatten`` does."""
    schema_parser = None
    if options["schema"]:
        schema_parser = SchemaParser(root_schema_dict=options["schema"], root_id=None)
        schema_parser.parse()
    return _JSONReading(
        json_filename=str(source),
        root_list_path=None if options.get("root_is_list") else options["root_list_path"],
        schema_parser=schema_parser,
        root_id=None,  # no "ocid" column: that is for one standard's data
        id_name=options["id_name"],
        # On disk rather than in memory, as flatten does: the sheets of a large file are big.
        persist=True,
    )


class _SheetNames:
    """Names for the sheets that spreadsheet programs and file systems take: none of the
    characters either forbids (a list named "a/b" would be a folder), at most ``limit``
    characters (Excel's 31), and no two the same but for capitals, which Excel and some
    file systems do not tell apart. Reading the files back needs only the main sheet's
    name, which is the profile's list and kept as it is where it can be."""

    FORBIDDEN = re.compile(r'[\\/?*\[\]:<>"|\x00-\x1f\ufffe\uffff]')

    def __init__(self, limit: int, reserved: frozenset[str] = frozenset()):
        self.limit = limit
        self.reserved = reserved  # names the program keeps for itself, in lower case
        self.taken: set[str] = set()

    def __call__(self, wanted: str, main: bool = False) -> str:
        """A name for the sheet of ``wanted``; the main sheet may take a reserved one, as
        reading the files back looks for it by its list's name."""
        clean = self.FORBIDDEN.sub("_", wanted)
        name, number = self._cut(clean, self.limit), 1
        while name.casefold() in self.taken or (not main and name.casefold() in self.reserved):
            number += 1
            suffix = f" ({number})"
            name = self._cut(clean, self.limit - len(suffix)) + suffix
        self.taken.add(name.casefold())
        return name

    @staticmethod
    def _cut(name: str, limit: int) -> str:
        # Excel refuses a name that begins or ends with "'": looked at once cut.
        return name[:limit].strip("' ") or "sheet"


class _JSONReading(JSONParser):
    """flattentool's reader, which leaves its files on disk (persist=True) when reading
    fails: it reads as it is made, before the caller's "with" can clean up. It joins a
    list of plain values into one cell with str(), which writes [true, null] as
    "True;None": Python's words, not the data's; it is given the data's own."""

    def parse_json_dict(self, json_dict: Any, *args: Any, **kwargs: Any) -> Any:
        return super().parse_json_dict(_json_words_in_lists(json_dict), *args, **kwargs)

    def parse(self) -> None:
        try:
            super().parse()
        except BaseException:
            transaction.abort()  # what it read since its last commit, which holds the files
            self.connection.close()
            self.db.close()
            for suffix in ("", ".lock", ".index", ".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    Path(self.zodb_db_location + suffix).unlink()
            raise


def _json_words_in_lists(item: Any) -> Any:
    """``item`` with the lists of plain values that hold true, false or null written as
    JSON writes them, and null left out, as it is from a field. (flattentool's reading
    gives OrderedDicts.)"""
    if not isinstance(item, dict):
        return item
    changed = {
        key: _json_words(value)
        for key, value in item.items()
        if type(value) is list and any(_needs_a_json_word(entry) for entry in value)
    }
    return {**item, **changed} if changed else item


def _needs_a_json_word(value: Any) -> bool:
    kind = type(value)
    if kind is list:
        return any(_needs_a_json_word(entry) for entry in value)
    return kind is bool or value is None


def _json_words(values: list[Any]) -> list[Any]:
    if any(isinstance(value, dict) for value in values):
        return values  # a list of objects: a sheet of its own, each value in its cell
    words = {True: "true", False: "false"}
    return [
        words[value]
        if type(value) is bool
        else _json_words(value)
        if type(value) is list
        else value
        for value in values
        if value is not None
    ]


class _CSVSheets(CSVOutput):
    """flattentool's CSV files, with a "'" put before formula-like text: a CSV cell has no
    type to say that it holds text. Values are seen here as they are in the data, so the
    text "-5" is given one and the number -5 is not. Written with a byte order mark, as
    Excel needs to read letters beyond ASCII in a CSV file."""

    neutralised = 0  # cells given a "'"
    unjoined = 0  # rows of other sheets whose entry's item has no id

    def __init__(self, parser: Any, main_sheet_name: str, output_name: str, id_name: str):
        super().__init__(parser, main_sheet_name, output_name)
        self.id_name = id_name

    def open(self) -> None:
        super().open()
        # 60 characters of up to 4 bytes each: within the 255 bytes a file name may have.
        self.names = _SheetNames(limit=60, reserved=WINDOWS_DEVICE_NAMES)

    def write_sheet(self, sheet_name: str, sheet: Any) -> None:
        headings = list(sheet)
        joins = _joins(headings, self.id_name) if sheet_name != self.main_sheet_name else {}
        path = Path(self.output_name) / f"{self.names(self.sheet_prefix + sheet_name)}.csv"
        with path.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle, lineterminator=self.line_terminator)
            writer.writerow(map(self._written, headings))
            for line in sheet.lines:
                writer.writerow([self._written(line.get(heading)) for heading in headings])
                self.unjoined += bool(joins) and _unjoined(line, joins)

    def _written(self, value: Any) -> Any:
        if type(value) is str and looks_like_a_formula(value):
            self.neutralised += 1
            return f"'{value}"
        return value


# Names Windows keeps for devices, with any extension: a zip holding "con.csv" does not
# unpack there.
WINDOWS_DEVICE_NAMES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{port}{n}" for port in ("com", "lpt") for n in range(1, 10)]
)


def _joins(headings: list[Any], id_name: str) -> dict[str, str]:
    """For each heading inside a list ("l1/0/l2/0/k"), the heading of the id that ties its
    row to the item the list is in ("l1/0/id"; "id" for a list of the root item): a row
    of another sheet is joined to its item by that id alone."""
    joins = {}
    for heading in headings:
        parts = str(heading).split("/")
        lists = [number for number, part in enumerate(parts) if part.isdigit()]
        if lists:
            item = parts[: lists[-2] + 1] if len(lists) > 1 else []
            joins[heading] = "/".join([*item, id_name])
    return joins


def _unjoined(line: dict[str, Any], joins: dict[str, str]) -> bool:
    """Whether the row holds an entry whose item has no id to tie it to."""
    return any(
        line.get(heading) not in (None, "") and line.get(item_id) in (None, "")
        for heading, item_id in joins.items()
    )


class _XLSXSheets(XLSXOutput):
    """flattentool's workbook, with formula-like text in text cells marked to stay text
    when edited (quotePrefix), where openpyxl would make it a live formula. Unlike a "'",
    this leaves the text as it is: the workbook uploaded again gives the same data.
    Numbers with more digits than a cell keeps are written as text, whole."""

    cut_short = 0  # texts longer than a cell holds: openpyxl cuts them to MAX_XLSX_TEXT
    numbers_as_text = 0

    def open(self) -> None:
        super().open()
        # Excel keeps a sheet named "History" for itself.
        self.names = _SheetNames(limit=MAX_SHEET_NAME, reserved=frozenset({"history"}))

    def write_sheet(self, sheet_name: str, sheet: Any) -> None:
        headings = list(sheet)
        name = self.names(self.sheet_prefix + sheet_name, main=sheet_name == self.main_sheet_name)
        worksheet = self.workbook.create_sheet(name)
        worksheet.append([self._cell(worksheet, heading) for heading in headings])
        for line in sheet.lines:
            worksheet.append([self._cell(worksheet, line.get(heading)) for heading in headings])

    def _cell(self, worksheet: Any, value: Any) -> Any:
        if type(value) is int or type(value) is Decimal:
            return self._number(worksheet, value)
        if type(value) is not str:
            return value
        # Characters no XLSX cell may hold go, as control characters go in flattentool's
        # own writer: lxml refuses to write U+FFFF, and the whole workbook with it.
        value = NOT_IN_XML.sub("", value)
        self.cut_short += len(value) > MAX_XLSX_TEXT
        # openpyxl writes the text of an error value ("#N/A") as that error, not as text.
        if not looks_like_a_formula(value) and value not in ERROR_CODES:
            return value
        return _text_cell(worksheet, value)

    def _number(self, worksheet: Any, number: int | Decimal) -> Any:
        if _fits_a_cell(number):
            return number
        self.numbers_as_text += 1
        return _text_cell(worksheet, str(number))


def _fits_a_cell(number: int | Decimal) -> bool:
    """Whether a cell, which holds a binary fraction, keeps the number as it is: it
    would show 12345678901234567890 as 12345678901234500000, and cannot hold 1e400."""
    exact = Decimal(number)
    if not exact.is_finite():
        return False
    significant = "".join(map(str, exact.as_tuple().digits)).rstrip("0")
    return len(significant) <= MAX_CELL_DIGITS and abs(exact.adjusted()) <= MAX_CELL_EXPONENT


def _text_cell(worksheet: Any, text: str) -> Any:
    """A cell that holds text and stays text when edited, whatever the text looks like."""
    cell = WriteOnlyCell(worksheet, value=text)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def _not_flattened(error: Exception) -> BadInput:
    if isinstance(error, FlattenToolError) and str(error):
        detail = str(error)
    else:
        # Its other failures (AttributeError, TypeError...) mean nothing to the user;
        # what sets them off is data of a shape other than the one the schema describes.
        detail = (
            "the converter stopped at a value it could not place in a sheet: a list that "
            "mixes plain values and objects, say, or a value of another shape than the "
            "schema describes."
        )
    return BadInput(
        "flatten_failed",
        f"The data could not be turned into spreadsheets: {detail}",
        hint="The validation report is not affected. If it lists errors, fixing them may "
        "let the conversion through.",
    )


def _zip_folder(folder: Path, target: Path) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.glob("*.csv")):
            archive.write(path, path.name)


def _shape_of(source: Path, root_list_path: str) -> _Shape:
    """What the data holds, read event by event, so that it is never all in memory."""
    shape = _Shape(root_list_path.replace("/", "."))
    with source.open("rb") as reader:
        _skip_byte_order_mark(reader)
        try:
            shape.read(ijson.parse(reader, use_float=False))
        except (ijson.JSONError, UnicodeDecodeError) as exc:  # the latter: "\udc00" alone
            raise BadInput("malformed_json", f"The JSON could not be read: {exc}.") from exc
    return shape


def _readable_by_flattentool(source: Path, scratch: Path) -> Path:
    """The data, or a copy without the byte order mark that flattentool's reader takes
    for bad JSON."""
    with source.open("rb") as reader:
        _skip_byte_order_mark(reader)
        if not reader.tell():
            return source
        copy = scratch / "data.json"
        with copy.open("wb") as writer:
            shutil.copyfileobj(reader, writer)
    return copy


def _skip_byte_order_mark(reader: BinaryIO) -> None:
    # The JSON reader accepts a UTF-8 byte order mark, but ijson takes it for bad JSON.
    if reader.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
        reader.seek(0)
