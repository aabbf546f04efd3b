"""Spreadsheet limits, CSV decoding, conversion to JSON and back, and locating cells."""

from __future__ import annotations

import codecs
import csv
import io
import json
import random
import re
import tempfile
import tracemalloc
import zipfile
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import CoveredTableCell, Table, TableCell, TableRow
from odf.text import P
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font

from process.errors import BadInput
from tasks import spreadsheets
from tasks.schema import LoadedSchema, is_valid, iter_errors, load_schema
from tasks.spreadsheets import (
    MAX_COLUMNS,
    MAX_XLSX_TEXT,
    Flattened,
    SpreadsheetLimits,
    Unflattened,
    _heading_inside,
    _read_ods,
    check_limits,
    decode_csv,
    flatten,
    locate,
    unflatten,
)
from tests.conftest import LocalServer

# The whole document's schema, as a profile has it: the grants list, each grant defined
# by reference, with a nested object, a list of strings and a list of objects.
SCHEMA = {
    "type": "object",
    "required": ["grants"],
    "properties": {"grants": {"type": "array", "items": {"$ref": "#/definitions/Grant"}}},
    "definitions": {
        "Grant": {
            "type": "object",
            "required": ["id", "title", "amount"],
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "amount": {
                    "type": "object",
                    "required": ["value", "currency"],
                    "properties": {
                        "value": {"type": "number"},
                        "currency": {"type": "string"},
                    },
                },
                "tags": {"type": "array", "items": {"type": "string"}},
                "items": {"type": "array", "items": {"$ref": "#/definitions/Item"}},
            },
        },
        "Item": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "description": {"type": "string"},
                "quantity": {"type": "integer"},
            },
        },
    },
}

HEADINGS = ["id", "title", "amount/value", "amount/currency", "tags"]
GRANT_ROWS = [
    ["G1", "Community orchard", 12000, "GBP", "food;trees"],
    ["G2", "Café", 500.5, None, "food"],
]
ITEM_ROWS = [
    ["id", "items/0/id", "items/0/description", "items/0/quantity"],
    ["G1", "I1", "Spade", 3],
]
GRANTS = [
    {
        "id": "G1",
        "title": "Community orchard",
        "amount": {"value": 12000, "currency": "GBP"},
        "tags": ["food", "trees"],
    },
    {"id": "G2", "title": "Café", "amount": {"value": 500.5}, "tags": ["food"]},
]
WITH_ITEMS = [
    {**GRANTS[0], "items": [{"id": "I1", "description": "Spade", "quantity": 3}]},
    GRANTS[1],
]

LIMITS = SpreadsheetLimits(
    max_bytes=10_000_000,
    max_rows=1_000,
    max_cells=10_000,
    max_ratio=100,
    max_uncompressed=50_000_000,
)

Sheets = dict[str, list[list[Any]]]


class Span:
    """An ODS cell merged across ``columns`` columns."""

    def __init__(self, value: Any, columns: int):
        self.value = value
        self.columns = columns


@pytest.fixture
def schema(tmp_path: Path) -> Path:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    return path


def write_xlsx(path: Path, sheets: Sheets) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def edited_xlsx(plain: Path, path: Path, member: str, old: bytes, new: bytes) -> Path:
    """A copy of the workbook ``plain`` with ``old`` replaced in one file of its archive,
    as other programs write it (openpyxl cannot)."""
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == member:
                assert old in content
                content = content.replace(old, new)
            target.writestr(info, content)
    return path


def write_ods(path: Path, sheets: Sheets) -> Path:
    document = OpenDocumentSpreadsheet()
    for name, rows in sheets.items():
        table = Table(name=name)
        for row in rows:
            table.addElement(ods_row(row))
        document.spreadsheet.addElement(table)
    document.save(str(path))
    return path


def ods_row(values: list[Any], **attributes: Any) -> TableRow:
    row = TableRow(**attributes)
    for value in values:
        if isinstance(value, Span):
            row.addElement(ods_cell(value.value, numbercolumnsspanned=value.columns))
            for _ in range(value.columns - 1):
                row.addElement(CoveredTableCell())
        else:
            row.addElement(ods_cell(value))
    return row


def ods_cell(value: Any, **attributes: Any) -> TableCell:
    if value is None:
        return TableCell(**attributes)
    if isinstance(value, bool):
        cell = TableCell(valuetype="boolean", booleanvalue=str(value).lower(), **attributes)
        return with_text(cell, str(value).upper())
    if isinstance(value, int | float):
        return with_text(TableCell(valuetype="float", value=value, **attributes), str(value))
    return with_text(TableCell(valuetype="string", **attributes), str(value))


def with_text(cell: TableCell, text: str) -> TableCell:
    cell.addElement(P(text=text))
    return cell


def write_csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(["" if value is None else value for value in row] for row in rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_sheets(path: Path, fmt: str, sheets: Sheets) -> Path:
    if fmt == "xlsx":
        return write_xlsx(path, sheets)
    if fmt == "ods":
        return write_ods(path, sheets)
    return write_csv(path, next(iter(sheets.values())))


def convert(path: Path, fmt: str, schema: Path | None) -> Unflattened:
    return unflatten(
        path,
        fmt,
        path.parent / f"{path.stem}-out",
        schema_path=schema,
        root_list_path="grants",
        id_name="id",
    )


def grants(result: Unflattened) -> list[dict[str, Any]]:
    return json.loads(result.json_path.read_text(encoding="utf-8"))["grants"]


def refusal(call: Any, *args: Any) -> BadInput:
    with pytest.raises(BadInput) as caught:
        call(*args)
    return caught.value


# Conversion to JSON -----------------------------------------------------------------------


def test_xlsx_becomes_json_typed_by_the_schema_with_sub_sheets_merged(
    tmp_path: Path, schema: Path
) -> None:
    path = write_xlsx(
        tmp_path / "grants.xlsx", {"grants": [HEADINGS, *GRANT_ROWS], "items": ITEM_ROWS}
    )
    result = convert(path, "xlsx", schema)
    assert grants(result) == WITH_ITEMS
    assert result.warnings == []


def test_ods_becomes_the_same_json_as_xlsx(tmp_path: Path, schema: Path) -> None:
    path = write_ods(
        tmp_path / "grants.ods", {"grants": [HEADINGS, *GRANT_ROWS], "items": ITEM_ROWS}
    )
    assert grants(convert(path, "ods", schema)) == WITH_ITEMS


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_a_workbook_stored_without_a_suffix_converts(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    # Uploads are stored as "original/data", whatever their name was.
    written = write_sheets(tmp_path / f"grants.{fmt}", fmt, {"grants": [HEADINGS, *GRANT_ROWS]})
    stored = written.rename(tmp_path / "data")
    assert grants(convert(stored, fmt, schema)) == GRANTS


def test_csv_becomes_the_same_json_as_xlsx(tmp_path: Path, schema: Path) -> None:
    path = write_csv(tmp_path / "grants.csv", [HEADINGS, *GRANT_ROWS])
    assert grants(convert(path, "csv", schema)) == GRANTS


def test_a_schema_of_one_item_works_like_the_whole_documents_schema(tmp_path: Path) -> None:
    item_schema = tmp_path / "grant.json"
    item_schema.write_text(
        json.dumps({**SCHEMA["definitions"]["Grant"], "definitions": SCHEMA["definitions"]})
    )
    path = write_xlsx(tmp_path / "grants.xlsx", {"grants": [HEADINGS, *GRANT_ROWS]})
    assert grants(convert(path, "xlsx", item_schema)) == GRANTS


# The Grant definition as a file of its own, which a profile's schema may refer to.
GRANT_SCHEMA = {**SCHEMA["definitions"]["Grant"], "definitions": SCHEMA["definitions"]}


def schema_referring_to(folder: Path, ref: str) -> Path:
    """A schema whose grants are defined by ``ref``."""
    grants_list = {"type": "array", "items": {"$ref": ref}}
    path = folder / "schema.json"
    path.write_text(json.dumps({**SCHEMA, "properties": {"grants": grants_list}}))
    return path


def to_json(schema: Path | LoadedSchema, folder: Path) -> Any:
    path = write_xlsx(folder / "grants.xlsx", {"grants": [HEADINGS, *GRANT_ROWS]})
    keyword = "schema" if isinstance(schema, LoadedSchema) else "schema_path"
    return unflatten(
        path, "xlsx", folder / "out", root_list_path="grants", id_name="id", **{keyword: schema}
    )


def to_spreadsheets(schema: Path | LoadedSchema, folder: Path) -> Any:
    source = folder / "data.json"
    source.write_text(json.dumps({"grants": GRANTS}))
    keyword = "schema" if isinstance(schema, LoadedSchema) else "schema_path"
    return flatten(
        source, folder / "out", root_list_path="grants", id_name="id", **{keyword: schema}
    )


def test_a_ref_to_a_file_beside_the_schema_is_followed(tmp_path: Path) -> None:
    (tmp_path / "grant.json").write_text(json.dumps(GRANT_SCHEMA))
    schema = schema_referring_to(tmp_path, "grant.json")
    assert grants(to_json(schema, tmp_path)) == GRANTS  # "tags" split: the schema was read


@pytest.mark.parametrize("convert_with", [to_json, to_spreadsheets])
def test_a_ref_to_a_url_is_never_fetched(
    tmp_path: Path, http_server: LocalServer, convert_with: Any
) -> None:
    http_server.serve("/grant.json", json.dumps(GRANT_SCHEMA).encode())
    schema = schema_referring_to(tmp_path, http_server.url("/grant.json"))
    error = refusal(convert_with, schema, tmp_path)
    assert error.code == "schema_invalid"
    assert http_server.hits == []


@pytest.mark.parametrize("convert_with", [to_json, to_spreadsheets])
def test_a_ref_to_a_missing_file_is_the_schema_s_fault(tmp_path: Path, convert_with: Any) -> None:
    schema = schema_referring_to(tmp_path, "missing.json")
    error = refusal(convert_with, schema, tmp_path)
    assert error.code == "schema_invalid"
    assert "missing.json" in error.message


@pytest.mark.parametrize("convert_with", [to_json, to_spreadsheets])
@pytest.mark.parametrize("ref", ["http://127.0.0.1:{port}/grant.json", "grant.json"])
def test_refs_resolve_only_from_the_files_the_schema_was_loaded_with(
    tmp_path: Path, http_server: LocalServer, convert_with: Any, ref: str
) -> None:
    # A schema loaded without the checks load_schema makes, holding no other files: the
    # conversion itself must still refuse to fetch what its $ref names, or to read it
    # from the disk, even though the file is there.
    http_server.serve("/grant.json", json.dumps(GRANT_SCHEMA).encode())
    (tmp_path / "grant.json").write_text(json.dumps(GRANT_SCHEMA))
    root = {
        **SCHEMA,
        "$id": (tmp_path / "schema.json").as_uri(),
        "properties": {
            "grants": {"type": "array", "items": {"$ref": ref.format(port=http_server.port)}}
        },
    }
    loaded = LoadedSchema(schema=root, draft="2020-12", resources={root["$id"]: root}, sha256="")
    error = refusal(convert_with, loaded, tmp_path)
    assert error.code == "schema_invalid"
    assert "not one of the profile's schema files" in error.message
    assert http_server.hits == []


@pytest.mark.parametrize(
    ("draft", "naming"),
    [
        ("https://json-schema.org/draft/2020-12/schema", {"$anchor": "grant"}),
        ("http://json-schema.org/draft-07/schema#", {"$id": "#grant"}),
    ],
)
def test_a_ref_to_a_named_place_is_followed(tmp_path: Path, draft: str, naming: dict) -> None:
    definitions = {**SCHEMA["definitions"], "Grant": {**SCHEMA["definitions"]["Grant"], **naming}}
    grants_list = {"type": "array", "items": {"$ref": "#grant"}}
    path = tmp_path / "schema.json"
    path.write_text(
        json.dumps(
            {
                **SCHEMA,
                "$schema": draft,
                "definitions": definitions,
                "properties": {"grants": grants_list},
            }
        )
    )
    assert grants(to_json(path, tmp_path)) == GRANTS  # "tags" split: the schema was read
    xlsx = to_spreadsheets(path, tmp_path).xlsx
    headings = [cell.value for cell in openpyxl.load_workbook(xlsx)["grants"][1]]
    assert headings[:4] == ["id", "title", "amount/value", "amount/currency"]


def recursive_schema(folder: Path, *links: str) -> Path:
    """Grants to organisations, each organisation linked by ``links`` to more of them."""
    organisation = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "staff": {"type": "integer"},
            **{link: {"$ref": "#/definitions/Org"} for link in links},
        },
    }
    grant = {"type": "object", "properties": {"id": {"type": "string"}, "to": organisation}}
    path = folder / "schema.json"
    path.write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {"grants": {"type": "array", "items": grant}},
                "definitions": {"Org": organisation},
            }
        )
    )
    return path


def test_a_recursive_schema_converts_as_deep_as_the_data_goes(tmp_path: Path) -> None:
    schema = recursive_schema(tmp_path, "parent")
    headings = ["id", "to/staff", "to/parent/staff", "to/parent/parent/parent/name"]
    path = write_csv(tmp_path / "grants.csv", [headings, ["G1", "12", "3", "Top"]])
    (grant,) = grants(convert(path, "csv", schema))
    # Counts are numbers where the schema was followed, and deeper columns are still read.
    parent = {"staff": 3, "parent": {"parent": {"name": "Top"}}}
    assert grant == {"id": "G1", "to": {"staff": 12, "parent": parent}}
    xlsx = to_spreadsheets(schema, tmp_path).xlsx
    assert openpyxl.load_workbook(xlsx)["grants"]["A1"].value == "id"


def test_a_schema_that_recurses_many_ways_converts_quickly(tmp_path: Path) -> None:
    # Each organisation links to four more: a few levels down, millions of columns.
    schema = recursive_schema(tmp_path, "parent", "partner", "funder", "owner")
    headings = ["id", "to/owner/funder/partner/parent/name"]
    path = write_csv(tmp_path / "grants.csv", [headings, ["G1", "Top"]])
    (grant,) = grants(convert(path, "csv", schema))
    assert grant["to"]["owner"]["funder"]["partner"]["parent"] == {"name": "Top"}


def grants_schema(item: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"grants": {"type": "array", "items": item}}, **extra}


COUNTED = {"type": "object", "properties": {"id": {"type": "string"}, "n": {"type": "integer"}}}
TAGGED = {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}}
NUMBERED = {"properties": {"id": {"type": "string"}, "n": {"type": "integer"}}}
# Five kinds of thing, each linking to each of the others (organisation, person, place...).
KINDS = [f"K{number}" for number in range(5)]
LINKED = {
    kind: {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            **{f"to{other}": {"$ref": f"#/$defs/{other}"} for other in KINDS if other != kind},
        },
    }
    for kind in KINDS
}


@pytest.mark.parametrize(
    ("schema", "headings", "row", "expected"),
    [
        pytest.param(
            grants_schema(
                {"type": "object", "properties": {"definitions": {"type": "array", "items": {}}}}
            ),
            ["id", "definitions"],
            ["G1", "a;b"],
            {"id": "G1", "definitions": ["a", "b"]},
            id="a field named definitions",
        ),
        pytest.param(
            grants_schema(
                {"$ref": "https://example.org/grant.json"},
                **{"$defs": {"g": {"$id": "https://example.org/grant.json", **COUNTED}}},
            ),
            ["id", "n"],
            ["G1", "3"],
            {"id": "G1", "n": 3},
            id="a resource embedded under its own $id",
        ),
        pytest.param(
            grants_schema(
                {"$ref": "#/$defs/either/anyOf/0"}, **{"$defs": {"either": {"anyOf": [COUNTED]}}}
            ),
            ["id", "n"],
            ["G1", "3"],
            {"id": "G1", "n": 3},
            id="a pointer through a list",
        ),
        pytest.param(
            grants_schema({"type": "object", "properties": {"any": True, "list": {"items": True}}}),
            ["id", "any"],
            ["G1", "3"],
            {"id": "G1", "any": "3"},
            id="boolean schemas",
        ),
        pytest.param(
            grants_schema({"$ref": "#/$defs/tagged", **NUMBERED}, **{"$defs": {"tagged": TAGGED}}),
            ["id", "n", "tags"],
            ["G1", "3", "a;b"],
            {"id": "G1", "n": 3, "tags": ["a", "b"]},
            id="keywords beside a $ref",
        ),
        pytest.param(
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                **grants_schema(
                    {"$ref": "#/$defs/tagged", **NUMBERED}, **{"$defs": {"tagged": TAGGED}}
                ),
            },
            ["id", "n", "tags"],
            ["G1", "3", "a;b"],
            {"id": "G1", "n": "3", "tags": ["a", "b"]},
            id="keywords beside a $ref, ignored in draft 7 as validation ignores them",
        ),
        pytest.param(
            grants_schema({"properties": {"n": {"type": "array", "items": {"type": "integer"}}}}),
            ["id", "n"],
            ["G1", "1;2"],
            {"id": "G1", "n": [1, 2]},
            id="a list of whole numbers",
        ),
        pytest.param(
            grants_schema({"properties": {"tags": {"type": "array"}}}),
            ["id", "tags"],
            ["G1", "a;b"],
            {"id": "G1", "tags": ["a", "b"]},
            id="a list with nothing said of its items",
        ),
        pytest.param(
            grants_schema(
                {"properties": {"flags": {"type": "array", "items": {"type": "boolean"}}}}
            ),
            ["id", "flags"],
            ["G1", "true;no"],
            {"id": "G1", "flags": ["true", "no"]},  # text: validation then says what is wrong
            id="a list of true or false",
        ),
        pytest.param(
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                **grants_schema(
                    {"properties": {"pair": {"type": "array", "items": [{}, {"type": "integer"}]}}}
                ),
            },
            ["id", "pair"],
            ["G1", "x;2"],
            {"id": "G1", "pair": ["x", "2"]},  # as a list of text, the most flattentool can
            id="items by position in draft 7",
        ),
        pytest.param(
            grants_schema(
                {**COUNTED, "examples": [{"$ref": "elsewhere.json"}], "x-note": {"$ref": "#/no"}}
            ),
            ["id", "n"],
            ["G1", "3"],
            {"id": "G1", "n": 3},
            id="a $ref in data and in words is not followed",
        ),
        pytest.param(
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                **grants_schema(
                    {"$id": "https://other.example/sub.json", "$ref": "#/definitions/counted"},
                    definitions={"counted": COUNTED},
                ),
            },
            ["id", "n"],
            ["G1", "3"],
            {"id": "G1", "n": 3},
            id="an id beside a $ref, ignored in draft 7",
        ),
        pytest.param(
            grants_schema(
                {"allOf": [{"$ref": "#/$defs/tagged"}, NUMBERED]}, **{"$defs": {"tagged": TAGGED}}
            ),
            ["id", "n", "tags"],
            ["G1", "3", "a;b"],
            {"id": "G1", "n": 3, "tags": ["a", "b"]},
            id="allOf",
        ),
        pytest.param(
            grants_schema(
                {"type": "object", "properties": {"to": {"$ref": "#/$defs/K0"}}},
                **{"$defs": LINKED},
            ),
            ["id", "to/n", "to/toK1/toK2/toK3/toK4/toK0/n"],
            ["G1", "1", "7"],
            {"id": "G1", "to": {"n": 1, "toK1": {"toK2": {"toK3": {"toK4": {"toK0": {"n": 7}}}}}}},
            id="kinds of thing linked each to each",
        ),
    ],
)
def test_schemas_of_many_shapes_convert(
    tmp_path: Path, schema: dict, headings: list[str], row: list[str], expected: dict
) -> None:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema))
    data = write_csv(tmp_path / "grants.csv", [headings, row])
    (grant,) = grants(convert(data, "csv", path))
    assert grant == expected


def test_without_a_schema_lists_stay_text_and_numbers_stay_numbers(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "grants.xlsx", {"grants": [HEADINGS, GRANT_ROWS[0]]})
    (grant,) = grants(convert(path, "xlsx", None))
    assert grant["tags"] == "food;trees"
    assert grant["amount"]["value"] == 12000


def test_dates_currencies_and_percentages_read_the_same_from_ods_and_xlsx(
    tmp_path: Path, schema: Path
) -> None:
    headings = ["id", "awardDate", "amount/value", "share"]
    xlsx = write_xlsx(
        tmp_path / "grants.xlsx", {"grants": [headings, ["G1", date(2024, 1, 5), 12, 0.25]]}
    )
    # ODS cells show formatted text but hold the plain value: the value is what counts.
    row = TableRow()
    row.addElement(ods_cell("G1"))
    row.addElement(with_text(TableCell(valuetype="date", datevalue="2024-01-05"), "05/01/24"))
    row.addElement(with_text(TableCell(valuetype="currency", currency="GBP", value=12), "£12.00"))
    row.addElement(with_text(TableCell(valuetype="percentage", value=0.25), "25%"))
    document = OpenDocumentSpreadsheet()
    table = Table(name="grants")
    table.addElement(ods_row(headings))
    table.addElement(row)
    document.spreadsheet.addElement(table)
    ods = tmp_path / "grants.ods"
    document.save(str(ods))
    expected = [
        {
            "id": "G1",
            "awardDate": "2024-01-05T00:00:00+00:00",
            "amount": {"value": 12},
            "share": "0.25",  # not in the schema, and flattentool keeps decimals as text then
        }
    ]
    assert grants(convert(xlsx, "xlsx", schema)) == expected
    assert grants(convert(ods, "ods", schema)) == expected


def test_chart_sheets_are_left_out(tmp_path: Path, schema: Path) -> None:
    path = write_xlsx(tmp_path / "grants.xlsx", {"grants": [HEADINGS, GRANT_ROWS[0]]})
    workbook = openpyxl.load_workbook(path)
    chart = BarChart()
    chart.add_data(Reference(workbook["grants"], min_col=3, min_row=1, max_row=2))
    workbook.create_chartsheet("Chart").add_chart(chart)
    workbook.save(path)
    check_limits(path, "xlsx", LIMITS)
    assert grants(convert(path, "xlsx", schema)) == GRANTS[:1]


def test_the_source_maps_are_written_next_to_the_json(tmp_path: Path, schema: Path) -> None:
    path = write_xlsx(tmp_path / "grants.xlsx", {"grants": [HEADINGS, *GRANT_ROWS]})
    result = convert(path, "xlsx", schema)
    assert result.json_path == tmp_path / "grants-out" / "data.json"
    written = json.loads((result.json_path.parent / "cell_source_map.json").read_text())
    assert written == result.cell_source_map
    headings = json.loads((result.json_path.parent / "heading_source_map.json").read_text())
    assert headings == result.heading_source_map
    assert result.cell_source_map["grants/0/amount/value"] == [["grants", "C", 2, "amount/value"]]


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "csv"])
def test_columns_after_a_repeated_or_blank_heading_are_placed_where_they_are(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    # flattentool named every column after a repeat one column too far left.
    headings = ["id", None, "title", None, "amount/value", "title", "amount/currency"]
    row = ["G1", "spacer", "First", "spacer", 5, "Second", "GBP"]
    path = write_sheets(tmp_path / f"grants.{fmt}", fmt, {"grants": [headings, row]})
    result = convert(path, fmt, schema)
    places = result.cell_source_map
    assert places["grants/0/amount/value"] == [["grants", "E", 2, "amount/value"]]
    assert places["grants/0/amount/currency"] == [["grants", "G", 2, "amount/currency"]]
    # The last of the repeated columns is the one read, and named.
    assert grants(result)[0]["title"] == "Second"
    assert places["grants/0/title"] == [["grants", "F", 2, "title"]]


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_a_fraction_in_a_whole_number_column_is_kept_for_validation_to_refuse(
    tmp_path: Path, fmt: str
) -> None:
    item = {"properties": {"id": {"type": "string"}, "count": {"type": "integer"}}}
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"properties": {"grants": {"items": item}}}))
    rows = [["id", "count"], ["G1", 2.7], ["G2", 3]]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, schema)
    # flattentool alone reads 2.7 as int(2.7), 2, and the data passes.
    assert [grant["count"] for grant in grants(result)] == [2.7, 3]


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "csv"])
def test_numbers_beyond_64_bits_and_beyond_json_are_read_not_crashed_on(
    tmp_path: Path, fmt: str
) -> None:
    item = {"properties": {"id": {"type": "string"}, "n": {"type": "number"}}}
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"properties": {"grants": {"items": item}}}))
    big = 12345678901234567890123
    rows = [["id", "n"], ["G1", big if fmt == "csv" else 1e20], ["G2", 7]]
    if fmt == "csv":
        rows += [["G3", "Infinity"], ["G4", "-inf"], ["G5", "NaN"], ["G6", "1e999999"]]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, schema)
    values = [grant["n"] for grant in grants(result)]
    assert values[:2] == [big if fmt == "csv" else 10**20, 7]  # exact, however long
    if fmt == "csv":  # no JSON number holds these (nor data a million digits long): text,
        # which the schema then refuses
        assert values[2:] == ["Infinity", "-Infinity", "NaN", "1E+999999"]


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "csv"])
def test_a_number_that_may_be_null_is_read_as_a_number(tmp_path: Path, fmt: str) -> None:
    nullable = {
        "code": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "ratio": {"oneOf": [{"type": "number"}, {"type": "null"}]},
        "open": {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
        "label": {"anyOf": [{"type": "number"}, {"type": "string"}]},  # any text: text
    }
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"properties": {"grants": {"items": {"properties": nullable}}}}))
    rows = [["id", "code", "ratio", "open", "label"], ["G1", 3, 0.5, True, 7]]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, schema)
    [grant] = grants(result)
    assert (grant["code"], grant["ratio"], grant["open"]) == (3, 0.5, True)
    # Where any text will do, "7" is valid, and a text as another sheet's "7" is.
    assert grant["label"] == "7"


DRAFT_7 = "http://json-schema.org/draft-07/schema#"
PARTY = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    **grants_schema(
        {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "party": {
                    "oneOf": [{"$ref": "#/definitions/Person"}, {"$ref": "#/definitions/Company"}]
                },
            },
        }
    ),
    "definitions": {
        "Person": {
            "type": "object",
            "required": ["age"],
            "properties": {
                "name": {"type": "string"},
                "age": {"type": "integer"},
                "id": {"type": "integer"},
            },
        },
        "Company": {
            "type": "object",
            "required": ["number"],
            "properties": {
                "name": {"type": "string"},
                "number": {"type": "string"},
                "id": {"type": "string"},
            },
        },
    },
}


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_a_number_cell_stays_a_number_where_the_schema_allows_a_number_or_text(
    tmp_path: Path, fmt: str
) -> None:
    score = {"oneOf": [{"type": "number"}, {"type": "string", "enum": ["N/A"]}]}
    item = {"properties": {"id": {"type": "string"}, "score": score}}
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(grants_schema(item)))
    rows = [["id", "score"], ["G1", 5], ["G2", "N/A"], ["G3", 2.5], ["G4", "5"]]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, path)
    # flattentool read the number 5 as the text "5", which neither alternative takes.
    assert [grant["score"] for grant in grants(result)] == [5, "N/A", 2.5, "5"]
    assert not result.warnings
    errors = iter_errors({"grants": grants(result)}, load_schema(path))
    assert [error.path for error in errors] == ["/grants/3/score"]  # a text cell: text


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_an_id_that_may_be_text_or_a_number_joins_its_rows_whatever_the_cell(
    tmp_path: Path, fmt: str
) -> None:
    # As OCDS types its ids: a number cell in one sheet and a text cell in another are
    # the same id, and 1.5 is a valid text.
    either = {"type": ["string", "integer"]}
    entry = {"type": "object", "properties": {"id": either, "name": {"type": "string"}}}
    item = {"properties": {"id": either, "items": {"type": "array", "items": entry}}}
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(grants_schema(item)))
    sheets = {
        "grants": [["id", "items/0/id"], [1, 1.5]],
        "items": [["id", "items/0/name"], ["1", "Spade"]],
    }
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, sheets), fmt, path)
    assert [grant["id"] for grant in grants(result)] == ["1"]  # one item, not two
    assert not list(iter_errors({"grants": grants(result)}, load_schema(path)))


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_list_of_texts_is_split_on_semicolons_alone(tmp_path: Path, fmt: str) -> None:
    texts = {"type": "array", "items": {"type": "string"}}
    pairs = {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}
    item = {"properties": {"id": {"type": "string"}, "names": texts, "pairs": pairs}}
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(grants_schema(item)))
    rows = [["id", "names", "pairs"], ["G1", "Smith, John;Doe, Jane", "a,b;c"]]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, path)
    [grant] = grants(result)
    assert grant["names"] == ["Smith, John", "Doe, Jane"]  # not [["Smith", " John"], ...]
    assert grant["pairs"] == [["a", "b"], ["c"]]  # a list of lists: "," too
    assert not list(iter_errors({"grants": [grant]}, load_schema(path)))


def test_a_csv_number_written_with_a_point_in_a_whole_number_column_is_a_number(
    tmp_path: Path,
) -> None:
    item = {"properties": {"id": {"type": "string"}, "count": {"type": "integer"}}}
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"$schema": DRAFT_7, **grants_schema(item)}))
    rows = [["id", "count"], ["G1", "1.0"], ["G2", "1e3"], ["G3", "2.7"], ["G4", "NaN"]]
    rows += [["G5", "1e400"]]
    result = convert(write_csv(tmp_path / "g.csv", rows), "csv", path)
    # flattentool kept "1.0" as text, which validation said to write without quotes.
    assert [grant["count"] for grant in grants(result)] == [1, 1000, 2.7, "NaN", "1e400"]
    # No number: text as written, and said.
    assert [warning["row"] for warning in result.warnings] == [5, 6]
    errors = iter_errors({"grants": grants(result)}, load_schema(path))
    assert [(error.path, error.message) for error in errors] == [
        ("/grants/2/count", "should be a whole number, not a number with a fractional part"),
        ("/grants/3/count", "should be a whole number, not text"),
        # (Said of a cell without the quotes: see ErrorGroups.)
        ("/grants/4/count", "should be a whole number, not text: write it without quotes"),
    ]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_field_that_is_one_of_several_objects_is_read_as_an_object(
    tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(PARTY))
    rows = [
        ["id", "party/name", "party/age", "party/number", "party/id"],
        ["G1", "Ann", 30, None, None],
        ["G2", "Acme", None, "0123", "C7"],
    ]
    # Refused before: "party/name" goes inside “party”, but the schema says it holds a
    # single value.
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, path)
    assert grants(result) == [
        {"id": "G1", "party": {"name": "Ann", "age": 30}},
        # A field each shape types its own way (an id) is read as text.
        {"id": "G2", "party": {"name": "Acme", "number": "0123", "id": "C7"}},
    ]
    assert is_valid({"grants": grants(result)}, load_schema(path))


def test_formula_warnings_find_sheets_however_the_workbook_names_their_files(
    tmp_path: Path, schema: Path
) -> None:
    rows = [HEADINGS, ["G1", "Orchard", "=5*2", "GBP", "food"]]
    plain = write_xlsx(tmp_path / "plain.xlsx", {"grants": rows})
    rels = "xl/_rels/workbook.xml.rels"
    path = edited_xlsx(
        plain, tmp_path / "grants.xlsx", rels, b'"/xl/worksheets/', b'"./worksheets/'
    )
    result = convert(path, "xlsx", schema)
    assert [w["column"] for w in result.warnings if "formula" in w["message"]] == ["C"]


def test_a_formula_never_calculated_is_a_warning_at_its_cell(tmp_path: Path, schema: Path) -> None:
    # Files written by programs hold formulas without results: each is read as empty.
    rows = [HEADINGS, ["G1", "Orchard", "=5*2", "GBP", "food"], GRANT_ROWS[1]]
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", schema)
    assert "value" not in grants(result)[0]["amount"]
    [warning] = [w for w in result.warnings if "formula" in w["message"]]
    assert warning["message"].startswith("The cell holds a formula (=5*2) with no saved result")
    assert (warning["sheet"], warning["row"], warning["column"], warning["header"]) == (
        "grants",
        2,
        "C",
        "amount/value",
    )


def test_merged_cells_below_the_headings_are_a_warning_at_their_first_cell(
    tmp_path: Path, schema: Path
) -> None:
    path = write_xlsx(tmp_path / "g.xlsx", {"grants": [HEADINGS, *GRANT_ROWS, GRANT_ROWS[0]]})
    workbook = openpyxl.load_workbook(path)
    workbook["grants"].merge_cells("F1:G1")  # in the headings' row: said otherwise
    workbook["grants"].merge_cells("B3:B4")  # "Café" seems to be the title of both
    workbook.save(path)
    result = convert(path, "xlsx", schema)
    [merged] = [w for w in result.warnings if "merged" in w["message"]]
    assert merged == {
        "message": "The cells B3:B4 are merged, so only B3 holds their value: the others are "
        "read as empty. Unmerge them and fill in each cell.",
        "sheet": "grants",
        "row": 3,
        "column": "B",
        "header": "title",
    }


def test_merged_cells_of_an_ods_sheet_are_a_warning_at_their_first_cell(
    tmp_path: Path, schema: Path
) -> None:
    document = OpenDocumentSpreadsheet()
    table = Table(name="grants")
    table.addElement(ods_row(HEADINGS))
    table.addElement(ods_row(GRANT_ROWS[0]))
    merged = TableRow()  # "Café" merged down over the next row, as in the XLSX test
    for index, value in enumerate(GRANT_ROWS[1]):
        merged.addElement(ods_cell(value, **({"numberrowsspanned": 2} if index == 1 else {})))
    table.addElement(merged)
    covered = TableRow()
    for index, value in enumerate(GRANT_ROWS[0]):
        covered.addElement(CoveredTableCell() if index == 1 else ods_cell(value))
    table.addElement(covered)
    document.spreadsheet.addElement(table)
    path = tmp_path / "g.ods"
    document.save(str(path))
    result = convert(path, "ods", schema)
    [merged_warning] = [w for w in result.warnings if "merged" in w["message"]]
    assert merged_warning["message"].startswith("The cells B3:B4 are merged, so only B3 holds")
    assert (merged_warning["row"], merged_warning["column"]) == (3, "B")
    assert merged_warning["header"] == "title"


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "csv"])
def test_a_heading_with_spaces_around_it_is_a_warning_at_its_cell(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    rows = [["id", " title ", "amount/value\u00a0", "notes "], ["G1", "Orchard", 5, "n"]]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, schema)
    padded = [w for w in result.warnings if "spaces or invisible characters" in w["message"]]
    assert [(w["column"], w["header"]) for w in padded] == [
        ("B", " title "),
        ("C", "amount/value\u00a0"),
        ("D", "notes "),
    ]
    assert "does not name the field “title”" in padded[0]["message"]
    # The schema has no field "notes": none is said to be missed.
    assert padded[2]["message"].endswith("around it. Remove them from the heading.")


def test_ods_true_and_false_are_read_from_their_value_not_their_language(
    tmp_path: Path,
) -> None:
    schema = tmp_path / "schema.json"
    item = {"properties": {"id": {"type": "string"}, "open": {"type": "boolean"}}}
    schema.write_text(json.dumps({"properties": {"grants": {"items": item}}}))
    document = OpenDocumentSpreadsheet()
    table = Table(name="grants")
    table.addElement(ods_row(["id", "open"]))
    for grant, value, shown in [("G1", "true", "WAHR"), ("G2", "false", "FAUX")]:
        row = ods_row([grant])  # as German and French LibreOffice save them
        cell = TableCell(valuetype="boolean", booleanvalue=value)
        row.addElement(with_text(cell, shown))
        table.addElement(row)
    document.spreadsheet.addElement(table)
    document.save(str(tmp_path / "grants.ods"))
    result = convert(tmp_path / "grants.ods", "ods", schema)
    assert [grant["open"] for grant in grants(result)] == [True, False]
    assert result.warnings == []


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "csv"])
def test_warnings_after_a_repeated_heading_name_the_right_column(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    rows = [["id", "title", "title", "amount/value"], ["G1", "a", "b", "lots"]]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, schema)
    [warning] = [w for w in result.warnings if "Non-numeric" in w["message"]]
    assert (warning["column"], warning["header"]) == ("D", "amount/value")
    assert result.cell_source_map["grants/0/amount/value"][0][1] == "D"


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_a_short_row_after_a_repeated_heading_keeps_its_columns(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    # ODS leaves out a row's empty cells at its end, and flattentool then took "Orchard"
    # for the second "title" column's. As in XLSX, and as the warning says, the first
    # "title" column is ignored, in every row.
    rows = [["id", "title", "title", "amount/value"], ["G1", "Orchard"], ["G2", "x", "y", 5]]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, schema)
    assert [grant.get("title") for grant in grants(result)] == [None, "y"]
    assert result.cell_source_map["grants/1/title"] == [["grants", "C", 3, "title"]]
    [warning] = result.warnings
    assert warning["message"].startswith('Duplicate heading "title" found, ignoring the data')


def test_blank_lines_before_a_csv_s_headings_are_skipped_and_rows_keep_their_numbers(
    tmp_path: Path, schema: Path
) -> None:
    path = write_csv(
        tmp_path / "grants.csv", [[], [], HEADINGS, GRANT_ROWS[0], ["G2", "x", "lots"]]
    )
    result = convert(path, "csv", schema)
    assert [grant["id"] for grant in grants(result)] == ["G1", "G2"]
    assert result.cell_source_map["grants/1/id"] == [["grants", "A", 5, "id"]]
    [warning] = [w for w in result.warnings if "Non-numeric" in w["message"]]
    assert (warning["row"], warning["column"]) == (5, "C")


def test_a_duplicate_row_after_blank_lines_in_a_csv_is_named_by_its_row_in_the_file(
    tmp_path: Path, schema: Path
) -> None:
    path = write_csv(tmp_path / "grants.csv", [[], [], HEADINGS, GRANT_ROWS[0], GRANT_ROWS[0]])
    [warning] = convert(path, "csv", schema).warnings
    assert warning["message"].startswith("Rows 4 and 5 of sheet “grants” have the same id")
    assert warning["row"] == 5


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "csv"])
def test_values_that_no_heading_names_are_a_warning_once_per_column(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    rows = [
        ["id", None, "title"],
        ["G1", None, "Orchard", "stray", "more"],
        ["G2", "spacer note", "Cafe", "stray again"],
    ]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, schema)
    said = [(w["column"], w["row"]) for w in result.warnings if "were not read" in w["message"]]
    assert sorted(said) == sorted([("D", 2), ("E", 2), ("B", 3)])
    assert [set(grant) for grant in grants(result)] == [{"id", "title"}] * 2  # no field ""
    assert result.cell_source_map["grants/1/title"][0][1] == "C"


def test_rows_after_blank_lines_in_a_csv_keep_their_numbers(tmp_path: Path, schema: Path) -> None:
    rows = [HEADINGS, GRANT_ROWS[0], [], [], GRANT_ROWS[1]]
    path = write_csv(tmp_path / "grants.csv", rows)
    result = convert(path, "csv", schema)
    assert [grant["id"] for grant in grants(result)] == [GRANT_ROWS[0][0], GRANT_ROWS[1][0]]
    assert result.cell_source_map["grants/1/id"] == [["grants", "A", 5, "id"]]


# Locating cells --------------------------------------------------------------------------


@pytest.fixture
def converted(tmp_path: Path, schema: Path) -> Unflattened:
    path = write_xlsx(
        tmp_path / "grants.xlsx", {"grants": [HEADINGS, *GRANT_ROWS], "items": ITEM_ROWS}
    )
    return convert(path, "xlsx", schema)


def where(result: Unflattened, pointer: str, missing: str | None = None) -> dict[str, Any] | None:
    maps = (result.cell_source_map, result.heading_source_map)
    return locate(*maps, pointer, missing, result.columns, result.structures)


def test_locate_a_value_gives_its_cell(converted: Unflattened) -> None:
    assert where(converted, "/grants/1/amount/value") == {
        "sheet": "grants",
        "row": 3,
        "column": "C",
        "header": "amount/value",
    }


def test_locate_a_value_from_a_sub_sheet_gives_that_sheet(converted: Unflattened) -> None:
    assert where(converted, "/grants/0/items/0/quantity") == {
        "sheet": "items",
        "row": 2,
        "column": "D",
        "header": "items/0/quantity",
    }


def test_locate_a_list_item_read_from_one_cell_gives_that_cell(converted: Unflattened) -> None:
    assert where(converted, "/grants/0/tags/1") == {
        "sheet": "grants",
        "row": 2,
        "column": "E",
        "header": "tags",
    }


def test_locate_an_object_gives_its_row(converted: Unflattened) -> None:
    expected = {"sheet": "grants", "row": 3, "column": None, "header": None}
    assert where(converted, "/grants/1") == expected
    assert where(converted, "/grants/1/amount") == expected


def test_locate_a_missing_required_property_gives_the_column_it_belongs_in(
    converted: Unflattened,
) -> None:
    # Grant G2 has no currency: row 3, where column D holds the other grants' currencies.
    assert where(converted, "/grants/1/amount", "currency") == {
        "sheet": "grants",
        "row": 3,
        "column": "D",
        "header": "amount/currency",
    }


def test_locate_a_missing_property_with_no_column_names_the_heading_to_add(
    tmp_path: Path, schema: Path
) -> None:
    path = write_xlsx(tmp_path / "grants.xlsx", {"grants": [["id", "amount/value"], ["G1", 5]]})
    result = convert(path, "xlsx", schema)
    assert where(result, "/grants/0", "title") == {
        "sheet": "grants",
        "row": 2,
        "column": None,
        "header": "title",
    }
    assert where(result, "/grants/0/amount", "currency") == {
        "sheet": "grants",
        "row": 2,
        "column": None,
        "header": "amount/currency",
    }


def test_locate_a_missing_object_points_at_a_column_inside_it(tmp_path: Path, schema: Path) -> None:
    rows = [["id", "amount/value"], ["G1", 5], ["G2", None]]
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", schema)
    assert where(result, "/grants/1", "amount") == {
        "sheet": "grants",
        "row": 3,
        "column": "B",
        "header": "amount/value",
    }


def test_a_missing_property_of_a_list_entry_is_placed_in_that_entry_s_column(
    tmp_path: Path, schema: Path
) -> None:
    headings = ["id", "items/0/id", "items/0/description", "items/1/id", "items/1/description"]
    rows = [headings, ["G1", "I1", "Spade", "I2", None], ["G2", "I3", None, "I4", "Fork"]]
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", schema)
    assert where(result, "/grants/0/items/1", "description") == {
        "sheet": "grants",
        "row": 2,
        "column": "E",
        "header": "items/1/description",
    }
    assert where(result, "/grants/1/items/0", "description")["column"] == "C"


def test_a_missing_property_of_a_list_entry_without_its_column_names_its_own_heading(
    tmp_path: Path, schema: Path
) -> None:
    # Not column C, which holds the first entry's description, on the same row.
    headings = ["id", "items/0/id", "items/0/description", "items/1/id"]
    rows = [headings, ["G1", "I1", "Spade", "I2"]]
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", schema)
    assert where(result, "/grants/0/items/1", "description") == {
        "sheet": "grants",
        "row": 2,
        "column": None,
        "header": "items/1/description",
    }


def test_a_missing_property_is_placed_in_its_column_when_no_row_fills_it(
    tmp_path: Path, schema: Path
) -> None:
    rows = [["id", "title", "amount/value"], ["G1", None, 5], ["G2", None, 6]]
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", schema)
    assert where(result, "/grants/1", "title") == {
        "sheet": "grants",
        "row": 3,
        "column": "B",
        "header": "title",
    }


def test_a_missing_object_is_placed_at_its_leftmost_column(tmp_path: Path, schema: Path) -> None:
    rows = [["id", "amount/value", "amount/currency"], ["G1", 5, "GBP"], ["G2", None, None]]
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", schema)
    assert where(result, "/grants/1", "amount")["header"] == "amount/value"


@pytest.mark.parametrize(
    ("rows", "column"),
    [
        ([["id", "title"], ["G1", "Orchard"]], None),
        # A heading "amount", whose values are not read (a warning says so), is not it.
        ([["id", "title", "amount"], ["G1", "Orchard", 100]], None),
        ([["id", "amount/value", "amount/currency", "amount"], ["G1", None, None, 100]], "B"),
    ],
)
def test_a_missing_object_is_named_by_a_heading_of_a_field_inside_it(
    tmp_path: Path, schema: Path, rows: list[list[Any]], column: str | None
) -> None:
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", schema)
    assert where(result, "/grants/0", "amount") == {
        "sheet": "grants",
        "row": 2,
        "column": column,
        "header": "amount/value",
    }


def test_a_warning_quoting_a_value_held_by_several_cells_names_the_right_one(
    tmp_path: Path, schema: Path
) -> None:
    rows = [
        HEADINGS[:4],
        ["G1", "TBC", "TBC", "GBP"],  # a number column, and text, say "TBC"
        ["G2", "EUR", 1, "GBP"],
        ["G2", "EUR", 1, "EUR"],  # read into G2, whose currency is GBP
    ]
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", schema)
    number = next(w for w in result.warnings if "Non-numeric" in w["message"])
    assert (number["row"], number["column"], number["header"]) == (2, "C", "amount/value")
    merged = next(w for w in result.warnings if 'field "currency"' in w["message"])
    assert (merged["row"], merged["column"], merged["header"]) == (4, "D", "amount/currency")


def test_locate_outside_the_converted_data_gives_none(converted: Unflattened) -> None:
    assert where(converted, "") is None
    assert where(converted, "/grants") is None
    assert where(converted, "/publisher/name") is None
    assert where(converted, "/grants/9/title") is None


# CSV encodings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        (b"\xef\xbb\xbfid,title\r\nG1,Caf\xc3\xa9\r\n", "utf-8-sig"),
        (b"id,title\r\nG1,Caf\xc3\xa9\r\n", "utf-8"),
        (b"id,title\r\nG1,Caf\xe9\r\n", "cp1252"),
        (b"id,title\r\nG1,Caf\xe9 \x81\r\n", "cp1252"),  # 0x81 means nothing in cp1252
        (b"id,title\r\nG1,Caf\xc3\xa9 \xe2\x82\xac5\r\nG2,Na\xefve\r\n", "utf-8+cp1252"),
        # The mark says UTF-8, the rest was saved by a program that writes Windows-1252.
        (b"\xef\xbb\xbfid,title\r\nG1,Caf\xe9\r\n", "cp1252"),
        # UTF-16 saved without its byte order mark, known by the zero bytes of the headings.
        ("id,title\r\nG1,Café Łódź 日本\r\n".encode("utf-16-le"), "utf-16-le"),
        ("id,title\r\nG1,Café\r\n".encode("utf-16-be"), "utf-16-be"),
    ],
)
def test_csv_is_read_in_its_encoding(tmp_path: Path, raw: bytes, encoding: str) -> None:
    path = tmp_path / "grants.csv"
    path.write_bytes(raw)
    decoded = decode_csv(path)
    assert (decoded.text.splitlines()[0], decoded.encoding) == ("id,title", encoding)
    # The byte order mark is gone, so the first heading is still "id".
    grant, *_others = grants(convert(path, "csv", None))
    assert grant["id"] == "G1"
    assert grant["title"].startswith("Café")


@pytest.mark.parametrize("blank", ["", "\r\n"])
@pytest.mark.parametrize("separator", [";", ",", "\t", "|"])
def test_excel_s_sep_line_names_the_separator_and_is_not_a_row(
    tmp_path: Path, schema: Path, separator: str, blank: str
) -> None:
    path = tmp_path / "grants.csv"
    lines = [f"sep={separator}", separator.join(HEADINGS[:3]), separator.join(["G1", "Cafe", "5"])]
    path.write_text(blank + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    result = convert(path, "csv", schema)
    assert grants(result) == [{"id": "G1", "title": "Cafe", "amount": {"value": 5}}]
    row = 2 + len(blank.split("\r\n")) - 1  # as Excel shows it: the sep= line hidden
    assert result.cell_source_map["grants/0/amount/value"] == [["grants", "C", row, "amount/value"]]


@pytest.mark.parametrize("separator", [";", "\t"])
def test_blank_lines_do_not_hide_a_csv_s_separator(
    tmp_path: Path, schema: Path, separator: str
) -> None:
    path = tmp_path / "grants.csv"
    lines = ["", separator.join(HEADINGS[:2]), separator.join(["G1", "Cafe"])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert grants(convert(path, "csv", schema)) == [{"id": "G1", "title": "Cafe"}]


def test_windows_1252_that_looks_like_utf8_in_places_is_still_read_as_such(
    tmp_path: Path,
) -> None:
    # "Ö" and a closing quote are, byte for byte, a UTF-8 letter; the "é" after them on
    # the line is not.
    title = "Ö\u2019s café"
    path = tmp_path / "grants.csv"
    path.write_bytes(f"id,title\nG1,{title}\n".encode("cp1252"))
    assert decode_csv(path).text == f"id,title\nG1,{title}\n"


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"id,title\nG1,Tea\nG2,Caf\xe9\n", "is not UTF-8 (line 3 is the first"),
        (b"\xef\xbb\xbfid,title\nG1,Caf\xe9\n", "starts with the mark of a UTF-8 file, but"),
        (b"id,title\nG1,Caf\xe9 \x81\n", "so it was read as Windows-1252"),
        (b"id,title\nG1,Caf\xc3\xa9\nG2,Na\xefve\n", "in places only (line 3 is the first"),
        (b"id,title\rG1,Tea\rG2,Caf\xe9\r", "(line 3 is the first"),
        (b"id,title\r\nG1,Tea\r\nG2,Caf\xe9\r\n", "(line 3 is the first"),
        (b'id,title\rG1,"two\nlines"\rG2,Caf\xc3\xa9\rG3,Caf\xe9\r', "(line 5 is the first"),
    ],
)
def test_csv_not_in_utf8_is_read_with_a_warning_saying_so(
    tmp_path: Path, raw: bytes, said: str
) -> None:
    path = tmp_path / "grants.csv"
    path.write_bytes(raw)
    result = convert(path, "csv", None)
    (warning, *others) = result.warnings
    assert said in warning["message"]
    assert "save the file as “CSV UTF-8”" in warning["message"]
    assert (warning["sheet"], others) == ("grants", [])


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_csv_mostly_in_utf8_keeps_its_letters_and_the_others(tmp_path: Path, end: bytes) -> None:
    lines = [b"\xef\xbb\xbfid,title", b'G1,"Caf\xc3\xa9\n\xe2\x82\xac5"', b"G2,Na\xefve \x80 \x81"]
    path = tmp_path / "grants.csv"
    path.write_bytes(end.join(lines) + end)
    first, second = grants(convert(path, "csv", None))
    assert (first["title"], second["title"]) == ("Café\n€5", "Naïve € \x81")


def test_csv_in_utf8_has_no_encoding_warning(tmp_path: Path) -> None:
    path = tmp_path / "grants.csv"
    path.write_bytes("\ufeffid,title\nG1,Café\n".encode())
    assert convert(path, "csv", None).warnings == []


def test_csv_separated_by_semicolons_is_read(tmp_path: Path, schema: Path) -> None:
    path = tmp_path / "grants.csv"
    path.write_text("id;title;amount/value\nG1;Orchard, north side;12\n", encoding="utf-8")
    (grant,) = grants(convert(path, "csv", schema))
    assert grant == {"id": "G1", "title": "Orchard, north side", "amount": {"value": 12}}


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("id;title;Notes, internal\r\nG1;Orchard;a\r\nG2;Pond;b\r\n", {"Notes, internal": "a"}),
        ("id,title,Notes; internal\nG1,Orchard,a\n", {"Notes; internal": "a"}),
        ('id,title,"a;b;c"\nG1,"x;y",1;2\n', {"title": "x;y", "a;b;c": "1;2"}),
        ("id\ttitle\tNotes, internal; more\rG1\tOrchard\ta\r", {"Notes, internal; more": "a"}),
        ("id;title;Notes, internal\n", {}),  # headings alone
        ("id;Amount, EUR\nG1;1234,56\nG2;99,5\n", {"Amount, EUR": "1234,56"}),  # read alike
    ],
)
def test_the_separator_is_the_one_that_reads_the_rows_as_a_table(
    tmp_path: Path, text: str, first: dict[str, str]
) -> None:
    path = tmp_path / "grants.csv"
    path.write_text(text, encoding="utf-8", newline="")
    result = convert(path, "csv", None)
    items = grants(result)
    assert (items[0] if items else {}).items() >= first.items()
    assert not [w for w in result.warnings if "spaces" in w["message"]]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ods"])
def test_headings_below_a_title_row_are_refused_saying_where_they_are(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    rows = [["Grants made by the Riverside Fund, 2026"], [], HEADINGS, *GRANT_ROWS]
    path = write_sheets(tmp_path / f"grants.{fmt}", fmt, {"grants": rows})
    with pytest.raises(BadInput) as refused:
        convert(path, fmt, schema)
    assert refused.value.code == "headings_not_in_the_first_row"
    assert "column headings in row 3, not in the first row" in refused.value.message
    assert "Delete the rows above the headings" in refused.value.hint
    # Without a schema, no heading is known to name a field: read as it is.
    assert grants(convert(path, fmt, None))


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
@pytest.mark.parametrize("above", [[], ["Items bought"]], ids=["blank", "title"])
def test_headings_of_another_sheet_below_its_first_row_are_refused_too(
    tmp_path: Path, schema: Path, fmt: str, above: list[str]
) -> None:
    # Not left out as notes, unread, with the data said to be valid.
    sheets = {"grants": [HEADINGS, *GRANT_ROWS], "items": [above, *ITEM_ROWS]}
    path = write_sheets(tmp_path / f"grants.{fmt}", fmt, sheets)
    refused = refusal(convert, path, fmt, schema)
    assert refused.code == "headings_not_in_the_first_row"
    assert "The sheet “items” has its column headings in row 2, not" in refused.message


@pytest.mark.parametrize(
    ("heading", "problem"),
    [
        ("title/sub", "goes inside “title”, but the schema says it holds a single value"),
        ("amount/0/value", "makes “amount” a list, but the schema says it holds one object"),
        ("tags/0", "goes inside “tags”, a list written in one cell, separated by “;”"),
        ("items/0/quantity/0", "goes inside “items/quantity”, but the schema says"),
        ("id/", "goes inside “id”"),  # else read as the id itself, without a word
    ],
)
def test_headings_the_schema_cannot_hold_are_refused_naming_each(
    tmp_path: Path, schema: Path, heading: str, problem: str
) -> None:
    rows = [[*HEADINGS, heading], [*GRANT_ROWS[0], "v"]]
    with pytest.raises(BadInput) as refused:
        convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", schema)
    assert refused.value.code == "headings_against_the_schema"
    assert f"“{heading}” (sheet “grants”, column F) {problem}" in refused.value.message


@pytest.mark.parametrize("heading", ["title/sub", "amount/0/value", "tags/0", "id/"])
def test_a_heading_the_schema_cannot_hold_over_an_empty_column_is_left_alone(
    tmp_path: Path, schema: Path, heading: str
) -> None:
    # An unused column of a template: flattentool reads nothing from it, and fails on nothing.
    rows = [[*HEADINGS, heading], [*GRANT_ROWS[0], None], [*GRANT_ROWS[1], None]]
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", schema)
    assert [grant["id"] for grant in grants(result)] == ["G1", "G2"]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_a_heading_too_many_levels_deep_is_refused_naming_it(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    # 100,000 levels in a 200 KB file kept the conversion busy for good; 1,000 crashed it.
    deep = "/".join(["a", "0"] * 500)
    path = write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": [["id", deep], ["G1", "x"]]})
    error = refusal(convert, path, fmt, schema)
    assert (error.code, error.message) == (
        "heading_too_deep",
        "The heading “a/0/a/0/a/0/a/0/a/0/a/0/a/0/a/0/a/0/a/0/…” (sheet “grants”, column B) "
        "goes 1,000 levels deep, where Assay reads at most 256.",
    )
    shallow = "/".join(["a", "0"] * 128)
    path = write_sheets(tmp_path / f"h.{fmt}", fmt, {"grants": [["id", shallow], ["G1", "x"]]})
    assert grants(convert(path, fmt, schema))[0]["id"] == "G1"


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_a_sheet_of_notes_beginning_with_a_long_text_of_many_slashes_is_left_out(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    # Guidance with a link for each field: a note, not a heading 421 levels deep.
    links = " ".join(f"https://standard.example.org/docs/fields/{n}/" for n in range(70))
    notes = [[f"Read the guidance before filling in this template: {links}"], ["x"]]
    path = write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": [HEADINGS], "notes": notes})
    result = convert(path, fmt, schema)
    assert [warning["sheet"] for warning in result.warnings] == ["notes"]
    assert result.warnings[0]["message"].startswith("The sheet “notes” was not read")


def test_headings_of_fields_the_schema_does_not_name_are_read_as_written(
    tmp_path: Path, schema: Path
) -> None:
    headings = ["notes/0/text", "notes/1/by", "items/0/id", "extra/a/0/b", "extra/a/1/c"]
    rows = [[*HEADINGS, *headings], [*GRANT_ROWS[0], "n", "m", "I1", "x", "y"]]
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", schema)
    grant = grants(result)[0]
    assert grant["notes"] == [{"text": "n"}, {"by": "m"}]
    assert grant["extra"] == {"a": [{"b": "x"}, {"c": "y"}]}


def test_the_row_of_headings_below_a_title_counts_the_blank_lines_of_a_csv(
    tmp_path: Path, schema: Path
) -> None:
    path = tmp_path / "grants.csv"
    path.write_text("\n\nGrants 2026\n\nid,title,amount/value\nG1,Orchard,5\n")
    with pytest.raises(BadInput, match="has its column headings in row 5, not in the first"):
        convert(path, "csv", schema)


TITLES = ["Identifier", "Title", "Amount", "Currency", "Tags"]  # a second row of headings


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ods"])
@pytest.mark.parametrize(
    ("first", "above", "below", "named"),
    [
        (["#", "skipRows 1"], [["Grants 2026"]], [], "“skipRows 1”"),
        (["#", "headerRows 2"], [], [TITLES], "“headerRows 2”"),
        (
            ["#", "skipRows 1", "headerRows 2"],
            [["Grants 2026"]],
            [TITLES],
            "“skipRows 1” and “headerRows 2”",
        ),
    ],
    ids=["skipRows", "headerRows", "both"],
)
def test_a_row_of_flattentool_settings_is_refused_saying_what_to_delete(
    tmp_path: Path, schema: Path, fmt: str, first: list, above: list, below: list, named: str
) -> None:
    # Followed, every row was named as if the headings were in row 1, and columns that
    # were read were said to have values under no heading.
    rows = [first, *above, HEADINGS, *below, *GRANT_ROWS]
    path = write_sheets(tmp_path / f"grants.{fmt}", fmt, {"grants": rows})
    for schema_given in (schema, None):
        refused = refusal(convert, path, fmt, schema_given)
        assert refused.code == "settings_row"
        where = "The CSV file" if fmt == "csv" else "The sheet “grants”"
        assert refused.message.startswith(
            f"{where} starts with a row of settings for flattentool (“#” in cell A1, then {named}"
        )
        assert refused.message.endswith(
            "which Assay does not follow: it reads the first row as the headings and each row "
            "below it as an item."
        )
        assert refused.hint == (
            "Delete the row of settings and the rows it said to skip, above the headings "
            "(skipRows) and between them and the data (headerRows), so that the headings are "
            "in row 1 and the data starts in row 2."
        )


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_a_row_of_settings_on_another_sheet_is_refused_naming_that_sheet(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    sheets = {"grants": [HEADINGS, *GRANT_ROWS], "items": [["#", "ignore"], *ITEM_ROWS]}
    refused = refusal(convert, write_sheets(tmp_path / f"g.{fmt}", fmt, sheets), fmt, schema)
    assert refused.code == "settings_row"
    assert refused.message.startswith(
        "The sheet “items” starts with a row of settings for flattentool (“#” in cell A1, "
        "then “ignore”), which Assay does not follow"
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ods"])
def test_a_hash_in_cell_a1_beside_no_setting_flattentool_knows_is_a_heading(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    # flattentool reads such a first row as the headings, not as settings: a row above the
    # real headings is refused as a title row is, and not taken for a damaged file for the
    # number in it (flattentool failed on it).
    for above, row in ([["#"]], 2), ([["#", "skipRows", 1], ["Grants 2026"]], 3):
        path = write_sheets(
            tmp_path / f"above{row}.{fmt}", fmt, {"grants": [*above, HEADINGS, *GRANT_ROWS]}
        )
        refused = refusal(convert, path, fmt, schema)
        assert refused.code == "headings_not_in_the_first_row"
        assert f"column headings in row {row}, not in the first row" in refused.message
    # A column of row numbers headed "#" is read as any other heading.
    numbered = [["#", *HEADINGS], *([number, *row] for number, row in enumerate(GRANT_ROWS, 1))]
    result = convert(write_sheets(tmp_path / f"n.{fmt}", fmt, {"grants": numbered}), fmt, schema)
    assert [grant["id"] for grant in grants(result)] == ["G1", "G2"]
    assert result.cell_source_map["grants/1/id"] == [["grants", "B", 3, "id"]]


def test_a_csv_value_longer_than_the_csv_module_s_own_limit_is_read(
    tmp_path: Path, schema: Path
) -> None:
    long = "x" * 200_000  # the module's default limit is 131,072 characters
    path = tmp_path / "grants.csv"
    path.write_text(f'id,title\nG1,"{long}"\nG2,{long}\n', encoding="utf-8")
    check_limits(path, "csv", LIMITS)
    assert [grant["title"] for grant in grants(convert(path, "csv", schema))] == [long, long]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "ods"])
def test_rows_merged_for_sharing_an_id_are_each_said(tmp_path: Path, schema: Path, fmt: str):
    rows = [
        ["id", "title", "amount/value"],  # an object too, which the source map places by row
        ["G1", "Orchard", 10],
        ["G2", "Pond", 20],
        ["G1", "Orchard", 10],  # there twice: flattentool merges it without a word
        ["G3", "Hedge", 30],
    ]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, schema)
    assert [grant["id"] for grant in grants(result)] == ["G1", "G2", "G3"]
    [warning] = [w for w in result.warnings if "the same id" in w["message"]]
    assert warning["message"] == (
        "Rows 2 and 4 of sheet “grants” have the same id “G1”, so they were read as one "
        "item. If they are different items, give each its own id; if a row is there twice, "
        "delete one."
    )
    assert (warning["sheet"], warning["row"]) == ("grants", 4)


def test_many_merged_rows_are_counted_past_the_first_ones(tmp_path: Path, schema: Path):
    rows = [["id", "title"], *[["G1", "Orchard"]] * 12]
    result = convert(write_sheets(tmp_path / "g.csv", "csv", {"grants": rows}), "csv", schema)
    [warning] = [w for w in result.warnings if "the same id" in w["message"]]
    assert warning["message"].startswith(
        "Rows 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more of sheet “grants” have the same id"
    )


@pytest.mark.parametrize("fmt", ["csv", "ods"])
def test_more_rows_of_one_id_than_can_be_read_as_one_item_are_refused_before_reading(
    tmp_path: Path, schema: Path, fmt: str, monkeypatch
):
    # flattentool takes time that grows with the square of the rows it joins into one item.
    monkeypatch.setattr(spreadsheets, "MAX_ROWS_PER_ITEM", 3)
    rows = [["id", "title"], ["G1", "A"], ["G2", "B"], *[["G1", "A"]] * 3]
    with pytest.raises(BadInput) as caught:
        convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, schema)
    assert caught.value.code == "too_many_rows_per_item"
    assert caught.value.message == (
        "4 rows of sheet “grants” have the id “G1”. Rows that share an id are read as one "
        "item, and Assay reads at most 3 rows as one."
    )
    assert caught.value.hint == "If the rows are different items, give each its own id."
    rows.pop()  # as many as it may
    result = convert(write_sheets(tmp_path / f"h.{fmt}", fmt, {"grants": rows}), fmt, schema)
    assert len(grants(result)) == 2


def test_rows_of_another_sheet_sharing_an_id_are_not_counted_against_the_limit(
    tmp_path: Path, schema: Path, monkeypatch
):
    # They are the entries of an item's lists, which flattentool joins far faster.
    monkeypatch.setattr(spreadsheets, "MAX_ROWS_PER_ITEM", 3)
    documents = [["id", "documents/0/url"], *[["G1", "https://example.org/d"]] * 5]
    sheets = {"grants": [["id", "title"], ["G1", "A"]], "documents": documents}
    result = convert(write_sheets(tmp_path / "g.ods", "ods", sheets), "ods", schema)
    assert len(grants(result)[0]["documents"]) == 5


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_rows_that_each_add_to_a_list_of_one_item_are_not_said(tmp_path: Path, fmt: str):
    rows = [
        ["id", "title", "items/0/id", "items/0/description"],
        ["G1", "Orchard", "I1", "Spade"],
        ["G1", None, "I2", "Rake"],  # flattentool's way of writing a list over rows
    ]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, None)
    assert [item["id"] for item in grants(result)[0]["items"]] == ["I1", "I2"]
    assert not [w for w in result.warnings if "the same id" in w["message"]]


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_rows_of_another_sheet_with_an_id_the_main_sheet_lacks_are_said(
    tmp_path: Path, schema: Path, fmt: str
):
    items = [*ITEM_ROWS, ["G1", "I2", "Rake", 1], ["G9", "I3", "Hoe", 2]]  # G9: a typo
    path = write_sheets(
        tmp_path / f"g.{fmt}", fmt, {"grants": [HEADINGS, *GRANT_ROWS], "items": items}
    )
    result = convert(path, fmt, schema)
    said = [w for w in result.warnings if "read as" in w["message"]]
    # Two rows of "items" for G1 are its two items, as meant: only G9's row is said.
    assert [(w["sheet"], w["row"], w["message"]) for w in said] == [
        (
            "items",
            4,
            "Row 4 of sheet “items” has the id “G9”, which no row of sheet “grants” has, so "
            "it was read as an item of its own. Check the id, or add its row to sheet “grants”.",
        )
    ]


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_rows_of_another_sheet_without_an_id_column_are_said_and_their_errors_placed(
    tmp_path: Path, schema: Path, fmt: str
):
    items = [["items/0/id", "items/0/description"], ["I1", "Spade"], ["I2", "Rake"]]
    path = write_sheets(
        tmp_path / f"g.{fmt}", fmt, {"grants": [HEADINGS, *GRANT_ROWS], "items": items}
    )
    result = convert(path, fmt, schema)
    said = [
        (w["sheet"], w["row"], w["message"]) for w in result.warnings if "read as" in w["message"]
    ]
    assert said == [
        (
            "items",
            row,
            f"Row {row} of sheet “items” has no id, so it was read as an item of its own. Give "
            "sheet “items” a column “id” holding the id of the row of sheet “grants” it "
            "belongs to.",
        )
        for row in (2, 3)
    ]
    # An error about such an item ("id" missing) is placed at its row.
    first_orphan = f"/grants/{len(GRANT_ROWS)}"
    place = locate(result.cell_source_map, result.heading_source_map, first_orphan, "id")
    assert (place["sheet"], place["row"]) == ("items", 2)


def test_a_row_of_another_sheet_with_its_id_cell_empty_is_told_to_fill_it(
    tmp_path: Path, schema: Path
):
    items = [*ITEM_ROWS, [None, "I2", "Rake", 1]]
    path = write_xlsx(tmp_path / "g.xlsx", {"grants": [HEADINGS, *GRANT_ROWS], "items": items})
    said = [
        w["message"] for w in convert(path, "xlsx", schema).warnings if "read as" in w["message"]
    ]
    assert said == [
        f"Row {len(items)} of sheet “items” has no id, so it was read as an item of its own. "
        "Give it the id of the row of sheet “grants” it belongs to."
    ]


def test_true_where_the_schema_allows_a_number_or_true_is_not_called_no_number(
    tmp_path: Path,
) -> None:
    flag = {"type": ["number", "boolean"]}
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(grants_schema({"type": "object", "properties": {"flag": flag}})))
    rows = [["id", "flag"], ["G1", True], ["G2", 2]]
    result = convert(write_xlsx(tmp_path / "g.xlsx", {"grants": rows}), "xlsx", schema)
    flags = [grant["flag"] for grant in grants(result)]
    assert "TRUE" not in flags and flags[1] == 2
    assert not [w for w in result.warnings if "TRUE" in w["message"]]


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_true_in_a_number_column_is_no_number_not_one(tmp_path: Path, schema: Path, fmt: str):
    rows = [["id", "title", "amount/value"], ["G1", True, True], ["G2", "t", False]]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, schema)
    # As text, the schema then says it is no number, at its cell; a title is text anyway.
    assert [grant["amount"]["value"] for grant in grants(result)] == ["TRUE", "FALSE"]
    assert grants(result)[0]["title"] == "True"
    said = [(w["row"], w["column"]) for w in result.warnings if "TRUE" in w["message"]]
    assert said == [(2, "C")]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_heading_that_differs_from_a_field_by_case_or_spaces_is_said(
    tmp_path: Path, schema: Path, fmt: str
):
    rows = [["ID", "Title", "amount / value", "tags"], ["G1", "Orchard", 5, "food"]]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, schema)
    said = {w["header"]: w["message"] for w in result.warnings if "names no field" in w["message"]}
    assert said == {
        "ID": "The heading “ID” names no field, but the schema has “id”: write it as the "
        "schema does, as capitals and spaces count.",
        "Title": "The heading “Title” names no field, but the schema has “title”: write it as "
        "the schema does, as capitals and spaces count.",
        "amount / value": "The heading “amount / value” names no field, but the schema has "
        "“amount/value”: write it as the schema does, as capitals and spaces count.",
    }


@pytest.mark.parametrize("heading", ["award date", "Award_Date", "award-date", "AWARDDATE"])
def test_a_heading_written_as_words_names_the_field_it_means(tmp_path: Path, heading: str):
    schema = tmp_path / "schema.json"
    award = {"type": "object", "properties": {"awardDate": {"type": "string"}}}
    schema.write_text(json.dumps(grants_schema(award)))
    rows = [["id", heading], ["G1", "2024-01-01"]]
    result = convert(write_xlsx(tmp_path / "g.xlsx", {"grants": rows}), "xlsx", schema)
    said = [w["message"] for w in result.warnings if "names no field" in w["message"]]
    assert said == [
        f"The heading “{heading}” names no field, but the schema has “awardDate”: write it "
        "as the schema does, as capitals and spaces count."
    ]


def test_a_quote_never_closed_is_refused_rather_than_swallowing_the_rows_after_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "grants.csv"
    path.write_text('id,title\nG1,"The ""big"" one\nG2,lost\nG3,lost too\n', encoding="utf-8")
    error = refusal(check_limits, path, "csv", LIMITS)
    assert error.code == "bad_csv"
    assert "quote that is not closed where it should be, in the row that starts on line 2" in (
        error.message
    )
    assert "the 2 lines after it" in error.message


def test_a_quote_closed_by_a_later_value_s_quote_is_refused(tmp_path: Path) -> None:
    # Every row between vanished, silently, into one value.
    path = tmp_path / "grants.csv"
    path.write_text('id,title,n\nG1,"5\' tall,1\nG2,lost,2\nG3,"quoted",x\nG4,kept,4\n')
    error = refusal(check_limits, path, "csv", LIMITS)
    assert "not closed where it should be, in the row that starts on line 2" in error.message
    assert "the 2 lines after it" in error.message


def test_a_quote_open_to_the_end_of_a_long_file_is_refused_naming_its_row(
    tmp_path: Path,
) -> None:
    path = tmp_path / "grants.csv"
    path.write_text('id,title\nG1,"open\n' + "G,x\n" * 40_000)
    error = refusal(check_limits, path, "csv", LIMITS)
    assert "quote that is not closed where it should be, in the row that starts on line 2" in (
        error.message
    )
    assert "at least 10,000 lines after it" in error.message  # read no further


def test_a_quote_open_over_a_few_very_long_lines_is_refused_early(tmp_path: Path) -> None:
    path = tmp_path / "grants.csv"
    path.write_text('id,title\nG1,"open\n' + ("x" * 1_000_000 + "\n") * 8)
    error = refusal(check_limits, path, "csv", LIMITS)
    assert error.message.startswith(
        "The CSV file has a row, starting on line 2, that runs on over several lines for more "
        "than 5,000,000 characters"
    )


def test_spaces_after_a_closing_quote_do_not_make_a_row_over_lines_refused(
    tmp_path: Path, schema: Path
) -> None:
    path = tmp_path / "grants.csv"
    path.write_text('id,title,amount/value\nG1,"two\nlines" ,1\n')
    check_limits(path, "csv", LIMITS)
    assert grants(convert(path, "csv", schema))[0]["title"] == "two\nlines "


def test_quotes_inside_a_value_and_values_over_several_lines_are_still_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "grants.csv"
    path.write_text('id,title\nG1,5\'11" tall\nG2,"two\nlines"\nG3,"end', encoding="utf-8")
    check_limits(path, "csv", LIMITS)
    titles = [grant["title"] for grant in grants(convert(path, "csv", None))]
    assert titles == ["5'11\" tall", "two\nlines", "end"]


def test_line_breaks_inside_a_csv_value_are_kept_as_written(tmp_path: Path) -> None:
    path = tmp_path / "grants.csv"
    path.write_bytes(
        b'id,title\r\nG1,"Windows\r\nbreak"\r\nG2,"old Mac\rbreak"\r\nG3,"Unix\nbreak"\r\n'
    )
    titles = [grant["title"] for grant in grants(convert(path, "csv", None))]
    assert titles == ["Windows\r\nbreak", "old Mac\rbreak", "Unix\nbreak"]


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_nul_characters_left_out_of_a_csv_are_said_to_be(tmp_path: Path, end: bytes) -> None:
    path = tmp_path / "grants.csv"
    path.write_bytes(end.join([b"id,title", b"G1,ok", b"G2,ab\x00cd\x00", b""]))
    result = convert(path, "csv", None)
    assert [grant["title"] for grant in grants(result)] == ["ok", "abcd"]
    assert [warning["message"] for warning in result.warnings] == [
        "The file holds 2 NUL characters (the first on line 3), which were left out of the data."
    ]


# Warnings --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "csv"])
def test_text_in_a_number_column_is_a_warning_at_its_cell(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    rows = [HEADINGS, GRANT_ROWS[0], ["G2", "Café", "lots", "GBP", None]]
    result = convert(write_sheets(tmp_path / f"grants.{fmt}", fmt, {"grants": rows}), fmt, schema)
    assert result.warnings == [
        {
            "message": 'Non-numeric value "lots" found in number column, '
            "returning as string instead.",
            "sheet": "grants",
            "row": 3,
            "column": "C",
            "header": "amount/value",
        }
    ]
    assert grants(result)[1]["amount"]["value"] == "lots"


def test_the_same_bad_value_twice_gives_two_warnings(tmp_path: Path, schema: Path) -> None:
    rows = [["id", "items/0/quantity"], ["G1", "some"], ["G2", "some"]]
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", schema)
    assert [(w["row"], w["column"], w["header"]) for w in result.warnings] == [
        (2, "B", "items/0/quantity"),
        (3, "B", "items/0/quantity"),
    ]


def test_a_duplicate_heading_is_a_warning_naming_the_ignored_column(
    tmp_path: Path, schema: Path
) -> None:
    rows = [["id", "title", "title"], ["G1", "First", "Second"]]
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", schema)
    (warning,) = result.warnings
    assert warning["message"].startswith('Duplicate heading "title" found')
    assert (warning["sheet"], warning["column"], warning["header"]) == ("grants", "B", "title")


def test_a_heading_that_is_a_number_is_one_warning_at_the_heading(tmp_path: Path) -> None:
    rows = [["id", 2026], ["G1", 5], ["G2", 6]]  # flattentool says so for each row
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", None)
    (warning,) = result.warnings
    assert warning["message"] == 'Column "2026" has been ignored because it is a number.'
    assert (warning["sheet"], warning["row"], warning["column"]) == ("grants", 1, "B")


def test_a_column_that_clashes_with_another_is_a_warning_at_its_row(tmp_path: Path) -> None:
    rows = [["id", "amount", "amount/value"], ["G1", "lots", 5]]
    result = convert(write_xlsx(tmp_path / "grants.xlsx", {"grants": rows}), "xlsx", None)
    (warning,) = result.warnings
    assert "has been ignored" in warning["message"]
    assert (warning["sheet"], warning["row"], warning["column"]) == ("grants", 2, "C")
    assert warning["header"] == "amount/value"


# Refusals --------------------------------------------------------------------------------


def test_a_workbook_without_the_expected_sheet_is_refused_naming_its_sheets(
    tmp_path: Path, schema: Path
) -> None:
    path = write_xlsx(tmp_path / "grants.xlsx", {"Sheet1": [HEADINGS], "Notes": [["hello"]]})
    error = refusal(convert, path, "xlsx", schema)
    assert error.code == "no_main_sheet"
    assert error.message == (
        "The spreadsheet has no sheet called “grants”, which is where the data is expected. "
        "Its sheets are: “Sheet1”, “Notes”."
    )
    assert "Rename" in error.hint


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
@pytest.mark.parametrize("rows", [[], [[None, None], ["G1", "Orchard"]]], ids=["empty", "blank"])
def test_a_sheet_without_headings_is_refused(
    tmp_path: Path, schema: Path, fmt: str, rows: list[list[Any]]
) -> None:
    path = write_sheets(tmp_path / f"grants.{fmt}", fmt, {"grants": rows})
    error = refusal(convert, path, fmt, schema)
    assert error.code == "no_headings"
    assert error.message == (
        "The sheet “grants” has no column headings: its first row should name the field "
        "each column holds, such as “id”."
    )


def test_a_csv_of_blank_lines_is_refused_for_lack_of_headings(tmp_path: Path) -> None:
    path = tmp_path / "grants.csv"
    path.write_text("\n\n")
    error = refusal(convert, path, "csv", None)
    assert error.message.startswith("The CSV file has no column headings")


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_a_zero_byte_spreadsheet_is_refused(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"grants.{fmt}"
    path.write_bytes(b"")
    error = refusal(check_limits, path, fmt, LIMITS)
    assert (error.code, error.message) == ("empty_file", "The file is empty.")
    assert refusal(convert, path, fmt, None).code == "damaged_spreadsheet"


@pytest.mark.parametrize(
    ("fmt", "kind"),
    [("xlsx", "an Excel workbook (XLSX)"), ("ods", "an OpenDocument spreadsheet (ODS)")],
)
def test_a_file_that_is_not_a_spreadsheet_is_refused(tmp_path: Path, fmt: str, kind: str) -> None:
    path = tmp_path / f"grants.{fmt}"
    path.write_text("id,title\nG1,Orchard\n")
    error = refusal(check_limits, path, fmt, LIMITS)
    assert error.code == "damaged_spreadsheet"
    assert error.message == (
        f"The file could not be opened as {kind}: it is damaged or in another format."
    )
    assert refusal(convert, path, fmt, None).code == "damaged_spreadsheet"


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_a_zip_that_is_not_a_spreadsheet_is_refused(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"grants.{fmt}"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    if fmt == "ods":
        assert refusal(check_limits, path, fmt, LIMITS).code == "damaged_spreadsheet"
    else:
        check_limits(path, fmt, LIMITS)  # no worksheet to count
    assert refusal(convert, path, fmt, None).code == "damaged_spreadsheet"


def test_a_workbook_whose_parts_are_misnamed_is_damaged_not_a_crash(tmp_path: Path) -> None:
    # A macro workbook saved as .xlsx, say: openpyxl finds no workbook part it reads.
    plain = write_xlsx(tmp_path / "plain.xlsx", {"grants": [HEADINGS, *GRANT_ROWS]})
    path = edited_xlsx(
        plain,
        tmp_path / "grants.xlsx",
        "[Content_Types].xml",
        b"spreadsheetml.sheet.main+xml",
        b"spreadsheetml.unknown+xml",
    )
    assert refusal(convert, path, "xlsx", None).code == "damaged_spreadsheet"


# Formulas and merged cells ---------------------------------------------------------------


def test_a_formula_with_a_saved_result_reads_as_that_result(tmp_path: Path, schema: Path) -> None:
    # Excel and LibreOffice save each formula's result next to it: add one by hand.
    plain = write_xlsx(
        tmp_path / "plain.xlsx", {"grants": [["id", "amount/value"], ["G1", "=100+20"]]}
    )
    sheet, calculated = "xl/worksheets/sheet1.xml", b"<f>100+20</f><v>120</v>"
    path = edited_xlsx(plain, tmp_path / "grants.xlsx", sheet, b"<f>100+20</f><v></v>", calculated)
    result = convert(path, "xlsx", schema)
    assert grants(result) == [{"id": "G1", "amount": {"value": 120}}]
    assert result.warnings == []  # a calculated formula is nothing to warn about


def test_a_formula_whose_result_is_empty_text_is_nothing_to_warn_about(
    tmp_path: Path, schema: Path
) -> None:
    # =IF(...,"",...) saved by a spreadsheet program: an empty text result, t="str".
    plain = write_xlsx(tmp_path / "plain.xlsx", {"grants": [["id", "title"], ["G1", '=""']]})
    old, new = b'<c r="B2"><f>""</f><v></v></c>', b'<c r="B2" t="str"><f>""</f><v></v></c>'
    path = edited_xlsx(plain, tmp_path / "grants.xlsx", "xl/worksheets/sheet1.xml", old, new)
    assert convert(path, "xlsx", schema).warnings == []


def test_a_text_formula_with_no_value_at_all_is_warned_about(tmp_path: Path, schema: Path) -> None:
    # Marked as text, but never calculated: no <v> at all.
    plain = write_xlsx(tmp_path / "plain.xlsx", {"grants": [["id", "title"], ["G1", "=A2"]]})
    old, new = b'<c r="B2"><f>A2</f><v></v></c>', b'<c r="B2" t="str"><f>A2</f></c>'
    path = edited_xlsx(plain, tmp_path / "grants.xlsx", "xl/worksheets/sheet1.xml", old, new)
    [warning] = convert(path, "xlsx", schema).warnings
    assert warning["message"].startswith("The cell holds a formula (=A2) with no saved result")


def test_merged_cells_in_xlsx_keep_their_value_in_the_first_cell_only(
    tmp_path: Path, schema: Path
) -> None:
    path = write_xlsx(
        tmp_path / "grants.xlsx", {"grants": [HEADINGS[:4], ["G1", "Orchard", 5, "GBP"], ["G2"]]}
    )
    workbook = openpyxl.load_workbook(path)
    workbook["grants"].merge_cells("B2:B3")  # title down two rows
    workbook["grants"].merge_cells("C2:D2")  # value across into currency
    workbook.save(path)
    assert grants(convert(path, "xlsx", schema)) == [
        {"id": "G1", "title": "Orchard", "amount": {"value": 5}},
        {"id": "G2"},
    ]


def test_merged_cells_in_ods_keep_their_value_in_the_first_cell_only(
    tmp_path: Path, schema: Path
) -> None:
    # flattentool's own ODS reader would move "GBP" into the amount column.
    rows = [["id", "title", "amount/value", "amount/currency"], ["G1", Span("Orchard", 2), "GBP"]]
    result = convert(write_ods(tmp_path / "grants.ods", {"grants": rows}), "ods", schema)
    assert grants(result) == [{"id": "G1", "title": "Orchard", "amount": {"currency": "GBP"}}]
    assert where(result, "/grants/0/amount/currency")["column"] == "D"


def test_ods_rows_keep_their_numbers_after_blank_and_repeated_rows(
    tmp_path: Path, schema: Path
) -> None:
    document = OpenDocumentSpreadsheet()
    table = Table(name="grants")
    table.addElement(ods_row(["id", "title"]))
    table.addElement(ods_row([None], numberrowsrepeated=2))  # rows 2 and 3 blank
    table.addElement(ods_row(["G1", "Same"], numberrowsrepeated=2))  # rows 4 and 5
    table.addElement(ods_row(["G2", "Last"]))
    # How LibreOffice ends a sheet: the million rows below the data, all blank.
    table.addElement(ods_row([None], numberrowsrepeated=1_048_000))
    document.spreadsheet.addElement(table)
    path = tmp_path / "grants.ods"
    document.save(str(path))
    check_limits(path, "ods", LIMITS)
    result = convert(path, "ods", schema)
    # The two identical rows are one grant, G1, read from both rows.
    assert grants(result) == [{"id": "G1", "title": "Same"}, {"id": "G2", "title": "Last"}]
    assert result.cell_source_map["grants/0/id"] == [
        ["grants", "A", 4, "id"],
        ["grants", "A", 5, "id"],
    ]
    assert where(result, "/grants/1/title")["row"] == 6


def ods_table(name: str, *rows: TableRow) -> Table:
    table = Table(name=name)
    for row in rows:
        table.addElement(row)
    return table


def save_ods(path: Path, *tables: Table) -> Path:
    document = OpenDocumentSpreadsheet()
    for table in tables:
        document.spreadsheet.addElement(table)
    document.save(str(path))
    return path


def wide_then_blank(path: Path, width: int, blank_rows: int) -> Path:
    """One heading repeated across ``width`` columns, ``blank_rows`` blank rows, one grant."""
    heading = TableRow()
    heading.addElement(ods_cell("id", numbercolumnsrepeated=width))
    blank = ods_row([None], numberrowsrepeated=blank_rows)
    return save_ods(path, ods_table("grants", heading, blank, ods_row(["G1"])))


def test_an_ods_whose_blank_rows_stretch_to_a_wide_first_row_is_refused(tmp_path: Path) -> None:
    # Under 2 KB that would become 40 million cells: every blank row is read as wide as
    # the first row.
    path = wide_then_blank(tmp_path / "bomb.ods", width=10_000, blank_rows=4_000)
    assert path.stat().st_size < 10_000
    limits = SpreadsheetLimits(10_000_000, 10_000, 100_000, 100, 50_000_000)
    error = refusal(check_limits, path, "ods", limits)
    assert error.code == "too_many_cells"
    assert "the limit is 100,000 cells" in error.message


def test_blank_ods_rows_are_read_as_one_shared_row(tmp_path: Path) -> None:
    # 4 million cells to walk through, within the limits, but one row's worth in memory.
    path = wide_then_blank(tmp_path / "sparse.ods", width=2_000, blank_rows=2_000)
    tracemalloc.start()
    try:
        rows = _read_ods(path)["grants"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (len(rows), sum(len(row) for row in rows)) == (2_002, 2_000 + 2_000 * 2_000 + 1)
    assert peak < 4 * 1024 * 1024  # copies of the blank row would take over 32 MB


def grants_rows(*extra: TableRow) -> Table:
    headings = ods_row(["id", "title", *[f"extra/{number}" for number in range(28)]])
    return ods_table("grants", headings, *extra)


# Made afresh for each test: an odfpy element belongs to the document it is added to.
ODS_SHAPES: dict[str, Callable[[], list[Table]]] = {
    "blank rows between rows of data": lambda: [
        grants_rows(
            ods_row(["G1", "Orchard"]),
            ods_row([None], numberrowsrepeated=5),
            ods_row(["G2", "Café"]),
            ods_row([None], numberrowsrepeated=1_000),
        )
    ],
    "blank rows above the headings": lambda: [
        ods_table(
            "grants",
            ods_row([None], numberrowsrepeated=3),
            ods_row(["id", "title"]),
            ods_row(["G1", "Orchard"], numberrowsrepeated=4),
        )
    ],
    # Blank rows at the end of a table are never read, even when a later table has the
    # same name and so adds to its rows.
    "a table name used twice": lambda: [
        grants_rows(ods_row(["G1", "Orchard"]), ods_row([None], numberrowsrepeated=100_000)),
        ods_table("other", ods_row(["x"])),
        ods_table("grants", ods_row(["G2", "Café"])),
    ],
}


@pytest.mark.parametrize("shape", ODS_SHAPES)
def test_the_ods_limits_count_every_row_and_cell_the_conversion_reads(
    tmp_path: Path, shape: str
) -> None:
    path = save_ods(tmp_path / "grants.ods", *ODS_SHAPES[shape]())
    rows = [row for table in _read_ods(path).values() for row in table]
    read_rows, read_cells = len(rows), sum(len(row) for row in rows)

    def limits(max_rows: int, max_cells: int) -> SpreadsheetLimits:
        return SpreadsheetLimits(10_000_000, max_rows, max_cells, 1_000, 50_000_000)

    check_limits(path, "ods", limits(read_rows, read_cells))
    too_few_rows = refusal(check_limits, path, "ods", limits(read_rows - 1, read_cells))
    too_few_cells = refusal(check_limits, path, "ods", limits(read_rows, read_cells - 1))
    assert (too_few_rows.code, too_few_cells.code) == ("too_many_rows", "too_many_cells")


# Limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "csv"])
def test_an_ordinary_spreadsheet_is_within_the_limits(tmp_path: Path, fmt: str) -> None:
    path = write_sheets(tmp_path / f"grants.{fmt}", fmt, {"grants": [HEADINGS, *GRANT_ROWS]})
    check_limits(path, fmt, LIMITS)


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "grants.csv", [HEADINGS, *GRANT_ROWS])
    limits = SpreadsheetLimits(10, 1_000, 1_000, 100, 1_000_000)
    error = refusal(check_limits, path, "csv", limits)
    assert error.code == "file_too_large"
    # Not "1 KB; the limit is 1 KB": sizes alike when rounded are given in bytes.
    assert error.message == f"The file is {path.stat().st_size:,} bytes; the limit is 10 bytes."


def test_a_zip_bomb_is_refused_quickly_without_being_unpacked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bomb.xlsx"
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet1.xml", "w") as member,
    ):
        for _ in range(50):
            member.write(bytes(1024 * 1024))  # 50 MB of zeros, about 50 KB packed

    def refuse_to_unpack(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("check_limits unpacked a member of a zip bomb")

    monkeypatch.setattr(zipfile.ZipFile, "open", refuse_to_unpack)
    error = refusal(check_limits, path, "xlsx", LIMITS)
    assert error.code == "compression_bomb"
    assert re.fullmatch(
        r"The file is compressed unusually tightly: unpacked, it would be [\d,]+ times its "
        r"size, and the limit is 100 times\.",
        error.message,
    )


def test_too_much_unpacked_data_is_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "grants.xlsx", {"grants": [HEADINGS, *GRANT_ROWS]})
    limits = SpreadsheetLimits(10_000_000, 1_000, 1_000, 1_000, max_uncompressed=1_000)
    error = refusal(check_limits, path, "xlsx", limits)
    assert error.code == "too_large_unpacked"
    assert error.message.startswith("Unpacked, the file would take ")
    assert error.message.endswith("; the limit is 1 KB.")


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "csv"])
def test_too_many_rows_are_refused_stating_the_limit(tmp_path: Path, fmt: str) -> None:
    rows = [["id", "title"]] + [[f"G{number}", "Orchard"] for number in range(10)]
    path = write_sheets(tmp_path / f"grants.{fmt}", fmt, {"grants": rows})
    limits = SpreadsheetLimits(10_000_000, 10, 1_000, 100, 50_000_000)
    error = refusal(check_limits, path, fmt, limits)
    assert error.code == "too_many_rows"
    if fmt == "csv":
        assert error.message == "The CSV file has too many rows: the limit is 10 rows."
    else:
        assert error.message == (
            "The spreadsheet has too many rows: the limit is 10 rows over all its sheets."
        )


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "csv"])
def test_too_many_cells_are_refused_stating_the_limit(tmp_path: Path, fmt: str) -> None:
    # 90 cells a sheet: two sheets of them, or four rows of CSV, are over 100.
    rows = [[f"heading {number}" for number in range(30)], ["x"] * 30, ["y"] * 30]
    if fmt == "csv":
        rows.append(["z"] * 30)
    path = write_sheets(tmp_path / f"grants.{fmt}", fmt, {"grants": rows, "more": rows})
    limits = SpreadsheetLimits(10_000_000, 1_000, 100, 100, 50_000_000)
    error = refusal(check_limits, path, fmt, limits)
    assert error.code == "too_many_cells"
    assert "has too many cells: the limit is 100 cells" in error.message


@pytest.mark.parametrize("fmt", ["ods", "csv"])
def test_more_columns_than_flattentool_can_name_are_refused_plainly(
    tmp_path: Path, fmt: str, schema: Path
) -> None:
    # Past column ZZZ, the conversion failed saying only to check the headings.
    def sheet(columns: int) -> dict[str, list[list[str]]]:
        headings = ["id", *(f"note {number}" for number in range(columns - 1))]
        return {"grants": [headings, ["G1"] + ["x"] * (columns - 1)]}

    limits = SpreadsheetLimits(10_000_000, 1_000, 1_000_000, 1_000, 500_000_000)
    path = write_sheets(tmp_path / f"wide.{fmt}", fmt, sheet(MAX_COLUMNS + 1))
    error = refusal(check_limits, path, fmt, limits)
    assert error.code == "too_many_columns"
    assert f"has too many columns: a row of {MAX_COLUMNS + 1:,}, where" in error.message
    path = write_sheets(tmp_path / f"widest.{fmt}", fmt, sheet(MAX_COLUMNS))
    check_limits(path, fmt, limits)
    [converted] = grants(convert(path, fmt, schema))
    assert converted["id"] == "G1"


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_one_long_text_used_by_many_cells_counts_each_time(tmp_path: Path, fmt: str) -> None:
    # 100 KB once in the file (a shared string, or one row repeated), 4 MB once read.
    long = "".join(random.Random(7).choices("abcdefgh", k=100_000))
    if fmt == "xlsx":  # as Excel writes it: the text once, in the shared strings
        main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
        cells = '<c r="A{0}" t="inlineStr"><is><t>G</t></is></c><c r="B{0}" t="s"><v>0</v></c>'
        rows = "".join(f'<row r="{row}">{cells.format(row)}</row>' for row in range(1, 41))
        with zipfile.ZipFile(path := tmp_path / "g.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(
                "xl/sharedStrings.xml", f'<sst xmlns="{main}"><si><t>{long}</t></si></sst>'
            )
            archive.writestr(
                "xl/worksheets/sheet1.xml",
                f'<worksheet xmlns="{main}"><sheetData>{rows}</sheetData></worksheet>',
            )
    else:
        document = OpenDocumentSpreadsheet()
        table = Table(name="grants")
        table.addElement(ods_row(["id", "title"]))
        table.addElement(ods_row(["G", long], numberrowsrepeated=40))
        document.spreadsheet.addElement(table)
        document.save(str(path := tmp_path / "g.ods"))
    assert path.stat().st_size < 200_000
    limits = SpreadsheetLimits(10_000_000, 1_000, 1_000, 1_000, max_uncompressed=3_000_000)
    error = refusal(check_limits, path, fmt, limits)
    assert error.code == "too_much_text"
    assert error.message == (
        "The spreadsheet's cells hold more text than Assay reads: more than 2.9 MB over all "
        "its sheets, counting a text each time a cell uses it."
    )
    check_limits(path, fmt, replace(limits, max_uncompressed=5_000_000))  # 4 MB: read


@pytest.mark.parametrize("index", ["1", " 1", "+1", "-1", "0_1"])
@pytest.mark.parametrize("decoy", [False, True])
def test_a_shared_string_counts_however_its_number_is_written(
    tmp_path: Path, index: str, decoy: bool
) -> None:
    # openpyxl reads the number with int(): " 1", "+1", "0_1" and "-1" (the last) too;
    # and whichever part of shared strings it takes, the longest text counts.
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    shared = f'<sst xmlns="{main}"><si><t>id</t></si><si><r><t>{"x" * 100_000}</t></r></si></sst>'
    cell = f'<c r="A{{0}}" t="s"><v>{index}</v></c>'
    rows = "".join(f'<row r="{row}">{cell.format(row)}</row>' for row in range(1, 41))
    with zipfile.ZipFile(path := tmp_path / "g.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", shared)
        if decoy:
            archive.writestr("xl/zz.xml", f'<sst xmlns="{main}"><si><t>a</t></si></sst>')
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{main}"><sheetData>{rows}</sheetData></worksheet>',
        )
    limits = SpreadsheetLimits(10_000_000, 1_000, 1_000, 1_000, max_uncompressed=3_000_000)
    assert refusal(check_limits, path, "xlsx", limits).code == "too_much_text"


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_empty_row_and_cell_elements_count_against_the_limits(tmp_path, monkeypatch, fmt):
    # Nothing in them, so not in the rectangle that is converted, but each is read: 25
    # million empty rows in a 5 MB file kept the conversion busy for good.
    monkeypatch.setattr(spreadsheets, "SHEET_ROWS", 0)

    def with_blanks(rows: int, cells: int) -> Path:
        if fmt == "ods":
            blanks = [ods_row([]) for _ in range(rows)] + [ods_row([None] * cells)]
            return save_ods(
                tmp_path / "g.ods",
                ods_table("grants", *map(ods_row, [HEADINGS, *GRANT_ROWS]), *blanks),
            )
        written = write_xlsx(tmp_path / "plain.xlsx", {"grants": [HEADINGS, *GRANT_ROWS]})
        with zipfile.ZipFile(written) as original:
            parts = {name: original.read(name) for name in original.namelist()}
        blanks = '<row r="4">' + '<c r="A4"/>' * cells + "</row>" + "<row/>" * rows
        sheet = "xl/worksheets/sheet1.xml"
        parts[sheet] = parts[sheet].replace(b"</sheetData>", f"{blanks}</sheetData>".encode())
        with zipfile.ZipFile(path := tmp_path / "g.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
        return path

    limits = replace(LIMITS, max_rows=10_000, max_ratio=10_000)
    error = refusal(check_limits, with_blanks(10_000, 1), fmt, limits)
    assert error.message == (
        "The spreadsheet has too many rows: the limit is 10,000 rows over all its sheets, "
        "counting the empty rows it writes."
    )
    error = refusal(check_limits, with_blanks(0, MAX_COLUMNS + 1), fmt, limits)
    assert error.message == (
        f"The spreadsheet has too many columns: a row of {MAX_COLUMNS + 1:,}, where the most "
        f"Assay reads is {MAX_COLUMNS:,} (A to ZZZ)."
    )
    check_limits(with_blanks(9_000, MAX_COLUMNS), fmt, limits)


def test_rows_formatted_down_to_the_end_of_the_sheet_are_read_whatever_the_rows_limit(
    tmp_path: Path,
) -> None:
    # Excel writes a row element for each row given a fill or a height, with no cell in
    # it: down to row 1,048,576, openpyxl read them in 25 s and 1.3 GB, less than a sheet
    # at the cells limit takes.
    written = write_xlsx(tmp_path / "plain.xlsx", {"grants": [HEADINGS, *GRANT_ROWS]})
    with zipfile.ZipFile(written) as original:
        parts = {name: original.read(name) for name in original.namelist()}
    formatted = "".join(
        f'<row r="{n}" spans="1:5" s="1" customFormat="1" ht="18" customHeight="1"/>'
        for n in range(4, 5_000)
    )
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = parts[sheet].replace(b"</sheetData>", f"{formatted}</sheetData>".encode())
    with zipfile.ZipFile(path := tmp_path / "g.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    check_limits(path, "xlsx", replace(LIMITS, max_ratio=10_000))


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_a_row_written_with_very_many_elements_is_refused(tmp_path, monkeypatch, fmt):
    # A row is held whole until it ends: one ODS cell of 3 million paragraphs took 564 MB
    # to count. Elements outside the rows (merged ranges, after the last) do not count.
    monkeypatch.setattr(spreadsheets, "MAX_ROW_ELEMENTS", 1_000)

    def with_a_cell_of_lines(lines: int) -> Path:
        if fmt == "ods":
            cell = TableCell(valuetype="string")
            for line in range(lines):
                cell.addElement(P(text=f"line {line}"))
            row = ods_row(["G-9"])
            row.addElement(cell)
            rows = [*map(ods_row, [HEADINGS, *GRANT_ROWS]), row]
            return save_ods(tmp_path / "g.ods", ods_table("grants", *rows))
        written = write_xlsx(tmp_path / "plain.xlsx", {"grants": [HEADINGS, *GRANT_ROWS]})
        with zipfile.ZipFile(written) as original:
            parts = {name: original.read(name) for name in original.namelist()}
        runs = "".join(f"<r><t>line {line}</t></r>" for line in range(lines))
        row = f'<row r="9"><c r="A9" t="inlineStr"><is>{runs}</is></c></row>'
        merged = "".join(f'<mergeCell ref="B{n}:C{n}"/>' for n in range(10, 510)) * 3
        sheet = "xl/worksheets/sheet1.xml"
        parts[sheet] = parts[sheet].replace(b"</sheetData>", f"{row}</sheetData>".encode())
        parts[sheet] = parts[sheet].replace(
            b"</worksheet>", f'<mergeCells count="1500">{merged}</mergeCells></worksheet>'.encode()
        )
        with zipfile.ZipFile(path := tmp_path / "g.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
        return path

    limits = replace(LIMITS, max_ratio=10_000)
    error = refusal(check_limits, with_a_cell_of_lines(1_000), fmt, limits)
    assert (error.code, error.message) == (
        "row_too_complex",
        "The spreadsheet has a row written with more than 1,000 XML elements (cells, "
        "paragraphs, runs of text), far more than its data needs.",
    )
    check_limits(with_a_cell_of_lines(300), fmt, limits)


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_more_sheets_than_assay_reads_are_refused(tmp_path, fmt):
    # Converting takes longer than in proportion to their number: 3,000 sheets, 16 s.

    def with_sheets(count: int) -> Path:
        others = {f"notes {n}": [["note"], [n]] for n in range(count - 1)}
        if fmt == "xlsx":
            return write_xlsx(tmp_path / "g.xlsx", {"grants": [HEADINGS, *GRANT_ROWS], **others})
        tables = [ods_table(name, *map(ods_row, rows)) for name, rows in others.items()]
        grants = ods_table("grants", *map(ods_row, [HEADINGS, *GRANT_ROWS]))
        return save_ods(tmp_path / "g.ods", grants, *tables)

    limits = replace(LIMITS, max_sheets=3)
    error = refusal(check_limits, with_sheets(4), fmt, limits)
    assert (error.code, error.message) == (
        "too_many_sheets",
        "The spreadsheet has too many sheets: more than 3, the most Assay reads.",
    )
    check_limits(with_sheets(3), fmt, limits)


def test_ods_tables_of_one_name_count_as_sheets_each(tmp_path: Path) -> None:
    # Not one sheet: 3 million tables named alike, each letting one more empty row by,
    # took 14 s and 1.4 GB to count.
    grants = ods_table("grants", *map(ods_row, [HEADINGS, *GRANT_ROWS]))
    notes = [ods_table("notes", ods_row([]), ods_row([])) for _ in range(3)]
    error = refusal(
        check_limits,
        save_ods(tmp_path / "g.ods", grants, *notes),
        "ods",
        replace(LIMITS, max_sheets=3),
    )
    assert (error.code, error.message) == (
        "too_many_sheets",
        "The spreadsheet has too many sheets: more than 3, the most Assay reads.",
    )


def test_more_shared_texts_than_cells_are_refused_before_openpyxl_holds_them(
    tmp_path: Path,
) -> None:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    written = write_xlsx(tmp_path / "plain.xlsx", {"grants": [HEADINGS, *GRANT_ROWS]})
    with zipfile.ZipFile(written) as original:
        parts = {name: original.read(name) for name in original.namelist()}

    def with_texts(count: int) -> Path:
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{main}">{"<si><t>a</t></si>" * count}</sst>'
        with zipfile.ZipFile(path := tmp_path / "g.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
        return path

    limits = replace(LIMITS, max_ratio=1_000)
    error = refusal(check_limits, with_texts(LIMITS.max_cells + 1), "xlsx", limits)
    assert (error.code, error.message) == (
        "too_many_shared_texts",
        "The spreadsheet's list of shared texts holds more texts than the 10,000 cells Assay "
        "reads over all its sheets: most of them are used by no cell.",
    )
    check_limits(with_texts(LIMITS.max_cells), "xlsx", limits)


def test_a_stray_formatted_cell_counts_the_whole_rectangle_up_to_it(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "grants.xlsx", {"grants": [HEADINGS, *GRANT_ROWS]})
    workbook = openpyxl.load_workbook(path)
    workbook["grants"]["CV500"].font = Font(bold=True)  # no value: formatting only
    workbook.save(path)
    # 500 rows by 100 columns: what flattentool would walk through.
    error = refusal(check_limits, path, "xlsx", LIMITS)
    assert error.code == "too_many_cells"
    check_limits(path, "xlsx", SpreadsheetLimits(10_000_000, 1_000, 50_000, 100, 50_000_000))


COMMENTS_RELATIONSHIP = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId9" Target="../comments9.xml" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/comments"/></Relationships>'
)


@pytest.mark.parametrize(
    "reach",
    [
        '<mergeCells count="1"><mergeCell ref="A4:Z500"/></mergeCells>',
        '<hyperlinks><hyperlink ref="A4:Z500" location="A1"/></hyperlinks>',
        '<hyperlinks><hyperlink ref="CV500" location="A1"/></hyperlinks>',
        "comment",
    ],
    ids=["merged", "link-range", "link", "comment"],
)
def test_cells_a_merge_a_link_or_a_comment_reaches_count_as_cells(
    tmp_path: Path, reach: str
) -> None:
    # openpyxl makes every cell they cover, though no row holds one: a few bytes asking
    # for the sheet's last cell hung the conversion.
    written = write_xlsx(tmp_path / "plain.xlsx", {"grants": [HEADINGS, *GRANT_ROWS]})
    sheet = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(written) as original:
        parts = {name: original.read(name) for name in original.namelist()}
    if reach == "comment":
        main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
        parts["xl/comments9.xml"] = (
            f'<comments xmlns="{main}"><authors><author>A</author></authors><commentList>'
            '<comment ref="CV500" authorId="0"><text><t>Note</t></text></comment>'
            "</commentList></comments>"
        ).encode()
        parts["xl/worksheets/_rels/sheet1.xml.rels"] = COMMENTS_RELATIONSHIP.encode()
    else:
        parts[sheet] = parts[sheet].replace(b"</worksheet>", f"{reach}</worksheet>".encode())
    with zipfile.ZipFile(path := tmp_path / "grants.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    # 500 rows by 26 or 100 columns, where the rows hold 3 by 5.
    error = refusal(check_limits, path, "xlsx", LIMITS)
    assert error.code == "too_many_cells"
    check_limits(path, "xlsx", replace(LIMITS, max_cells=50_000))


# JSON to spreadsheets --------------------------------------------------------------------

FORMULA_LIKE = ["=1+2", "+44 20 7946 0000", "-x", "@SUM(A1)", " =HYPERLINK()", "\t-1+1"]


@pytest.fixture
def flattened(tmp_path: Path, schema: Path) -> Flattened:
    data = {
        "grants": [
            {**WITH_ITEMS[0], "amount": {"value": -5, "currency": "GBP"}},
            {"id": "G2", "title": FORMULA_LIKE[0], "tags": FORMULA_LIKE[1:]},
        ]
    }
    source = tmp_path / "data.json"
    source.write_text(json.dumps(data))
    return flatten(
        source, tmp_path / "out", schema_path=schema, root_list_path="grants", id_name="id"
    )


def xlsx_rows(path: Path, sheet: str) -> list[tuple[Any, ...]]:
    return list(openpyxl.load_workbook(path)[sheet].iter_rows(values_only=True))


def zipped_csv(path: Path, name: str) -> list[list[str]]:
    with zipfile.ZipFile(path) as archive:
        return list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"))))


def test_flatten_writes_an_xlsx_and_a_zip_of_csvs_holding_the_data(
    flattened: Flattened, tmp_path: Path
) -> None:
    xlsx, zipped = flattened.xlsx, flattened.csv_zip
    assert (xlsx, zipped) == (tmp_path / "out" / "data.xlsx", tmp_path / "out" / "data-csv.zip")
    assert openpyxl.load_workbook(xlsx).sheetnames == ["grants", "items"]
    assert xlsx_rows(xlsx, "grants")[:2] == [
        ("id", "title", "amount/value", "amount/currency", "tags"),
        ("G1", "Community orchard", -5, "GBP", "food;trees"),
    ]
    assert xlsx_rows(xlsx, "items")[1][:4] == ("G1", "I1", "Spade", 3)
    assert zipfile.ZipFile(zipped).namelist() == ["grants.csv", "items.csv"]
    # With a byte order mark: Excel reads a CSV file without one as in a local encoding.
    assert zipfile.ZipFile(zipped).read("grants.csv").startswith(codecs.BOM_UTF8 + b"id,")
    assert zipped_csv(zipped, "grants.csv")[1] == [
        "G1",
        "Community orchard",
        "-5",
        "GBP",
        "food;trees",
    ]


def test_formula_like_text_is_kept_from_running_in_both_files_but_numbers_stay_numbers(
    flattened: Flattened,
) -> None:
    xlsx, zipped = flattened.xlsx, flattened.csv_zip
    joined_tags = ";".join(FORMULA_LIKE[1:])
    assert flattened.neutralised == 2  # cells: the title, and the tags joined; for the page
    # The workbook has the text as it is, in text cells that stay text when edited.
    sheet = openpyxl.load_workbook(xlsx)["grants"]
    for cell, text in [(sheet["B3"], "=1+2"), (sheet["E3"], joined_tags)]:
        assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", True)
    assert (sheet["C2"].value, sheet["C2"].quotePrefix) == (-5, False)  # still a number
    # A CSV cell cannot say it holds text: there, a "'" is put before it.
    assert zipped_csv(zipped, "grants.csv")[2][1] == "'=1+2"
    assert zipped_csv(zipped, "grants.csv")[2][4] == f"'{joined_tags}"
    assert zipped_csv(zipped, "grants.csv")[1][2] == "-5"


def test_the_workbook_read_again_gives_the_formula_like_texts_back_unchanged(
    flattened: Flattened, tmp_path: Path, schema: Path
) -> None:
    again = unflatten(
        flattened.xlsx,
        "xlsx",
        tmp_path / "again",
        schema_path=schema,
        root_list_path="grants",
        id_name="id",
    )
    second = grants(again)[1]
    assert (second["title"], second["tags"]) == (FORMULA_LIKE[0], FORMULA_LIKE[1:])


def test_text_that_reads_as_an_error_value_stays_text_in_the_workbook(tmp_path: Path) -> None:
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"grants": [{"id": "G1", "title": "#N/A", "note": "#REF!"}]}))
    made = flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
    cells = openpyxl.load_workbook(made.xlsx)["grants"][2]
    assert [(cell.value, cell.data_type) for cell in cells] == [
        ("G1", "s"),
        ("#N/A", "s"),  # not Excel's "value not available", which openpyxl wrote
        ("#REF!", "s"),
    ]


def test_a_list_of_plain_values_is_joined_in_the_data_s_words(tmp_path: Path) -> None:
    source = tmp_path / "data.json"
    item = {"id": "G1", "scores": [1, None, 3], "flags": [True, False], "grid": [[True, None]]}
    source.write_text(json.dumps({"grants": [item]}))
    made = flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
    expected = ("G1", "1;3", "true;false", "true")  # not "1;None;3", "True;False"
    assert xlsx_rows(made.xlsx, "grants")[1] == expected
    assert zipped_csv(made.csv_zip, "grants.csv")[1] == list(expected)


def test_no_csv_file_takes_a_name_windows_keeps_for_a_device(tmp_path: Path) -> None:
    source = tmp_path / "data.json"
    item = {"id": "G1", "con": [{"a": 1}], "Aux": [{"b": 2}], "com1": [{"c": 3}]}
    source.write_text(json.dumps({"grants": [item]}))
    made = flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
    names = zipfile.ZipFile(made.csv_zip).namelist()
    assert sorted(names) == ["Aux (2).csv", "com1 (2).csv", "con (2).csv", "grants.csv"]


def test_flatten_reads_json_that_starts_with_a_byte_order_mark(
    tmp_path: Path, schema: Path
) -> None:
    source = tmp_path / "data.json"
    source.write_bytes(codecs.BOM_UTF8 + json.dumps({"grants": GRANTS}).encode())
    made = flatten(
        source, tmp_path / "out", schema_path=schema, root_list_path="grants", id_name="id"
    )
    assert [row[0] for row in xlsx_rows(made.xlsx, "grants")] == ["id", "G1", "G2"]


def test_texts_too_long_for_an_xlsx_cell_are_counted_and_kept_whole_in_the_csvs(
    tmp_path: Path,
) -> None:
    long = "x" * 140_000  # past the csv module's default limit on reading, too
    source = tmp_path / "data.json"
    grants = [{"id": "G1", "title": long}, {"id": "G2", "title": "short", "notes": long}]
    source.write_text(json.dumps({"grants": grants}))
    made = flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
    assert made.cut_short == 2
    assert xlsx_rows(made.xlsx, "grants")[1][1] == long[:MAX_XLSX_TEXT]
    assert zipped_csv(made.csv_zip, "grants.csv")[1][1] == long


def test_data_of_a_shape_the_schema_does_not_describe_is_refused_saying_why(
    tmp_path: Path, schema: Path
) -> None:
    # The schema says a title is text; flattentool fails on a list of mixed items there.
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"grants": [{"id": "G1", "title": ["a", {"b": 1}]}]}))
    error = refusal(
        lambda: flatten(
            source, tmp_path / "out", schema_path=schema, root_list_path="grants", id_name="id"
        )
    )
    assert error.code == "flatten_failed"
    assert error.message.startswith("The data could not be turned into spreadsheets: ")
    assert "validation report" in error.hint


@pytest.mark.parametrize(
    ("data", "has"),
    [
        ([1, 2, 3], "it is a list, but of plain values or lists, not of objects"),
        ([[{"id": "G1"}]], "it is a list, but of plain values or lists, not of objects"),
        ([], "it is a list, but empty"),
        ({"grants": [1, 2, 3]}, "its list “grants” is there, but of plain values or lists, "
         "not of objects"),
        ({"grants": []}, "its list “grants” is there, but empty"),
        ({"records": [{"id": "G1"}]}, "its top level has no list “grants”"),
        ({"grants": {"id": "G1"}}, "its top level has no list “grants”"),
        ({"grants": {"item": {"id": "G1"}}}, "its top level has no list “grants”"),
        (5, "it is a single value"),
    ],
)  # fmt: skip
def test_data_without_the_root_list_is_refused_not_given_empty_sheets(
    tmp_path: Path, schema: Path, data: Any, has: str
) -> None:
    source = tmp_path / "data.json"
    source.write_text(json.dumps(data))
    error = refusal(
        lambda: flatten(
            source, tmp_path / "out", schema_path=schema, root_list_path="grants", id_name="id"
        )
    )
    assert error.code == "no_root_list"
    assert error.message.endswith(f"one object a row, and this data has none: {has}.")
    assert not (tmp_path / "out" / "data.xlsx").exists()


def test_texts_are_counted_as_the_sheets_hold_them(tmp_path: Path, schema: Path) -> None:
    # A field name is one heading, however many items have it; what no sheet holds (a
    # field beside the list) is not counted; texts joined into one cell count as one.
    longest = "=" + "x" * (MAX_XLSX_TEXT - 1)  # fits: the workbook adds no "'"
    halves = ["y" * (MAX_XLSX_TEXT // 2 + 1)] * 2  # too long once joined with ";"
    grants = [{"-x": "=a", "t": longest}, {"-x": "+b", "tags": halves}]
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"grants": grants, "meta": "=not in a sheet"}))
    made = flatten(  # the schema says tags are texts, which flattentool joins
        source, tmp_path / "out", schema_path=schema, root_list_path="grants", id_name="id"
    )
    assert (made.neutralised, made.cut_short) == (4, 1)  # "-x" once, "=a", "+b", longest
    headings, first, _ = xlsx_rows(made.xlsx, "grants")
    assert dict(zip(headings, first, strict=True))["t"] == longest


def test_numbers_a_cell_would_change_are_text_in_the_workbook_and_come_back_whole(
    tmp_path: Path, schema: Path
) -> None:
    values = ["12345678901234567890", "3.14159265358979323846", "1e400", "1e20", "2.5", "-7"]
    source = tmp_path / "data.json"
    items = ",".join(
        f'{{"id": "G{n}", "title": "t", "amount": {{"value": {value}, "currency": "GBP"}}}}'
        for n, value in enumerate(values)
    )
    source.write_text(f'{{"grants": [{items}]}}')
    made = flatten(
        source, tmp_path / "out", schema_path=schema, root_list_path="grants", id_name="id"
    )
    assert made.numbers_as_text == 3
    cells = [row[2] for row in openpyxl.load_workbook(made.xlsx)["grants"].iter_rows(min_row=2)]
    assert [(cell.value, cell.data_type) for cell in cells] == [
        ("12345678901234567890", "s"),
        ("3.14159265358979323846", "s"),
        ("1E+400", "s"),
        (1e20, "n"),
        (2.5, "n"),
        (-7, "n"),
    ]
    # Read back, each is the number it was (as a JSON reader reads a fraction, a float);
    # a number no reader could hold stays text, which the schema then refuses.
    again = unflatten(
        made.xlsx,
        "xlsx",
        tmp_path / "again",
        schema_path=schema,
        root_list_path="grants",
        id_name="id",
    )
    read_back = [grant["amount"]["value"] for grant in grants(again)]
    assert read_back == [12345678901234567890, 3.141592653589793, "1E+400", 1e20, 2.5, -7]


def test_sheet_names_are_ones_that_spreadsheet_programs_and_file_systems_take(
    tmp_path: Path,
) -> None:
    long = "a_list_with_a_name_longer_than_a_sheet_allows"
    item = {
        "id": "G1",
        "a/b": [{"c": 1}],  # would be a folder "a" in the zip
        "bad:name?*[]": [{"c": 2}],  # characters Excel forbids in a sheet's name
        f"{long}_one": [{"c": 3}],  # the same first 31 characters
        f"{long}_two": [{"c": 4}],
        "Documents": [{"c": 5}],  # the same but for capitals
        "documents": [{"c": 6}],
    }
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"grants": [item]}))
    made = flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
    sheets = openpyxl.load_workbook(made.xlsx).sheetnames
    files = zipfile.ZipFile(made.csv_zip).namelist()
    for names, limit in [(sheets, 31), ([name.removesuffix(".csv") for name in files], 200)]:
        assert "grants" in names  # the main sheet's name, which reading it back needs
        assert len(names) == 7 == len({name.casefold() for name in names})
        assert all(len(name) <= limit and not set(name) & set("\\/?*[]:") for name in names)
    assert {"a_b", "a_list_with_a_name_longer_t (2)", "documents (2)"} < set(sheets)


def test_characters_a_workbook_cannot_hold_are_left_out_of_it_not_fatal(tmp_path: Path) -> None:
    item = {"id": "G1", "title": "T\uffff\x01", "k\ufffe": "v", "l\uffff": [{"a": "b"}]}
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"grants": [item]}))
    made = flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
    workbook = openpyxl.load_workbook(made.xlsx)
    assert workbook.sheetnames == ["grants", "l_"]
    assert xlsx_rows(made.xlsx, "grants") == [("id", "title", "k"), ("G1", "T", "v")]
    assert zipped_csv(made.csv_zip, "grants.csv")[1] == ["G1", "T\uffff\x01", "v"]  # whole


def test_long_names_of_letters_beyond_ascii_make_file_names_a_file_system_takes(
    tmp_path: Path,
) -> None:
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"grants": [{"id": "G1", "€" * 150: [{"a": 1}]}]}))
    made = flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
    names = zipfile.ZipFile(made.csv_zip).namelist()
    assert max(len(name.encode()) for name in names) <= 255
    assert "€" * 31 in openpyxl.load_workbook(made.xlsx).sheetnames


def test_a_list_named_history_reads_back_though_excel_keeps_that_name(tmp_path: Path) -> None:
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"history": [{"id": "G1", "History": [{"a": 1}]}]}))
    made = flatten(source, tmp_path / "out", root_list_path="history", id_name="id")
    assert openpyxl.load_workbook(made.xlsx).sheetnames == ["history", "History (2)"]
    again = unflatten(made.xlsx, "xlsx", tmp_path / "again", root_list_path="history", id_name="id")
    assert json.loads(again.json_path.read_text())["history"][0]["id"] == "G1"


def test_a_sheet_name_cut_short_does_not_end_in_an_apostrophe(tmp_path: Path) -> None:
    source = tmp_path / "data.json"
    name = "x" * 30 + "'s list"  # cut at 31 characters: "xxx...x'"
    source.write_text(json.dumps({"grants": [{"id": "G1", name: [{"a": 1}]}]}))
    made = flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
    assert openpyxl.load_workbook(made.xlsx).sheetnames == ["grants", "x" * 30]


def test_a_conversion_that_fails_leaves_no_files_of_flattentool_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where flattentool keeps them
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"grants": [{"id": "G1", "title": ["a", {"b": 1}]}]}))
    assert (
        refusal(
            lambda: flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
        ).code
        == "flatten_failed"
    )
    assert list(scratch.iterdir()) == []


def test_a_lone_surrogate_in_the_data_is_refused_as_unreadable(tmp_path: Path) -> None:
    source = tmp_path / "data.json"
    source.write_text('{"grants": [{"id": "\\udc00"}]}')
    error = refusal(
        lambda: flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
    )
    assert error.code == "malformed_json"


@pytest.mark.parametrize(
    ("grants", "unjoined"),
    [
        # Entries of a list in a list's items with no id: b, c and e lose their item.
        (
            [
                {
                    "id": "G1",
                    "l1": [{"k": "a", "l2": [{"k": "b"}, {"k": "c"}]}, {"l2": [{"k": "e"}]}],
                }
            ],
            3,
        ),
        ([{"id": "G1", "l1": [{"id": "A", "l2": [{"k": "b"}]}]}], 0),  # tied by "l1/0/id"
        ([{"title": "no id", "l1": [{"k": "a"}]}, {"id": "G2", "l1": [{"k": "b"}]}], 1),
        ([{"id": "G1", "l1": [{"k": "a"}]}], 0),  # tied by the grant's id
    ],
)
def test_rows_that_could_not_be_tied_back_to_their_item_are_counted(
    tmp_path: Path, grants: list, unjoined: int
) -> None:
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"grants": grants}))
    made = flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
    assert made.unjoined == unjoined


MANY = {f"f{number:02}": number for number in range(12)}


@pytest.mark.parametrize(
    ("data", "root", "beside", "slashed"),
    [
        # Keys with "/" beside the list are in no sheet: said once, as beside it.
        ({"grants": [{"id": "G1"}], "meta": {"a/b": 1}, "x": [{"c/d": 1}]}, "grants",
         (2, ("meta", "x")), (0, ())),
        # Each name once, in the order met, wherever it is in the items.
        ({"d": {"grants": [{"id": "G1", "a/b": 1, "l": [{"a/b": 2, "c/d": 3}]}], "n": 1}, "v": 2},
         "d/grants", (2, ("d/n", "v")), (2, ("a/b", "c/d"))),
        ([{"id": "G1", "a/b": {"c/d": 1}}], "grants", (0, ()), (2, ("a/b", "c/d"))),
        ({**MANY, "grants": [{"id": "G1"}]}, "grants", (12, tuple(MANY)[:10]), (0, ())),
    ],
)  # fmt: skip
def test_fields_no_sheet_holds_and_names_that_read_back_nested_are_counted(
    tmp_path: Path, data: Any, root: str, beside: tuple, slashed: tuple
) -> None:
    source = tmp_path / "data.json"
    source.write_text(json.dumps(data))
    made = flatten(source, tmp_path / "out", root_list_path=root, id_name="id")
    assert (made.beside_the_list, made.slashed) == (beside, slashed)


def test_a_document_that_is_a_list_of_items_becomes_the_main_sheet(
    tmp_path: Path, schema: Path
) -> None:
    source = tmp_path / "data.json"
    source.write_text(json.dumps(GRANTS))
    made = flatten(
        source, tmp_path / "out", schema_path=schema, root_list_path="grants", id_name="id"
    )
    assert xlsx_rows(made.xlsx, "grants")[1] == (
        "G1",
        "Community orchard",
        12000,
        "GBP",
        "food;trees",
    )
    assert [row[0] for row in zipped_csv(made.csv_zip, "grants.csv")] == ["id", "G1", "G2"]


def test_data_too_wide_for_a_spreadsheet_is_refused_before_writing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spreadsheets, "MAX_XLSX_COLUMNS", 10)  # as 16,384 is, for Excel
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"grants": [{"id": "G1", **{f"f{i}": i for i in range(12)}}]}))
    error = refusal(
        lambda: flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
    )
    assert error.code == "too_large_for_a_sheet"
    assert "13 columns in the sheet “grants”, more than the 10" in error.message


@pytest.mark.parametrize(
    ("item", "said"),
    [
        ({f"f{i}": i for i in range(12)}, "12 columns in the sheet “grants”"),
        ({"docs": [{f"f{i}": i for i in range(12)}]}, "12 columns in the sheet “docs”"),
    ],
)
def test_data_too_wide_is_refused_before_flattentool_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, item: dict, said: str
) -> None:
    # flattentool's reading takes time that grows with the square of the columns.
    monkeypatch.setattr(spreadsheets, "MAX_XLSX_COLUMNS", 10)
    monkeypatch.setattr(spreadsheets, "_flattentool_reading", None)  # never reached
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"grants": [item, {"f0": 0}]}))
    error = refusal(
        lambda: flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
    )
    assert error.code == "too_large_for_a_sheet"
    assert f"{said}, more than the 10" in error.message


def test_data_too_long_for_a_spreadsheet_is_refused_before_writing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spreadsheets, "MAX_XLSX_ROWS", 5)  # as 1,048,576 is, for Excel
    source = tmp_path / "data.json"
    source.write_text(json.dumps({"grants": [{"id": f"G{i}"} for i in range(5)]}))
    error = refusal(
        lambda: flatten(source, tmp_path / "out", root_list_path="grants", id_name="id")
    )
    assert "6 rows in the sheet “grants”, more than the 5" in error.message
    assert not (tmp_path / "out" / "data.xlsx").exists()


def test_flattened_xlsx_converts_back_to_the_same_data(flattened: Flattened, schema: Path) -> None:
    (grant, _formulas) = grants(convert(flattened.xlsx, "xlsx", schema))
    assert grant == {**WITH_ITEMS[0], "amount": {"value": -5, "currency": "GBP"}}


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "csv"])
def test_a_value_under_a_heading_the_schema_says_is_an_object_is_a_warning(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    # flattentool reads "amount" as the object it is in the schema and drops the 12000.
    rows = [["id", "title", "amount", "items"], ["G1", "Orchard", None], ["G2", "Cafe", 12000, "x"]]
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, {"grants": rows}), fmt, schema)
    assert "amount" not in grants(result)[1]
    said = [w for w in result.warnings if "were not read" in w["message"]]
    assert [(w["column"], w["row"], w["header"]) for w in said] == [
        ("C", 3, "amount"),
        ("D", 3, "items"),
    ]
    assert "“amount” holds an object" in said[0]["message"]
    assert "such as “amount/value”" in said[0]["message"]
    assert "“items” holds a list of objects" in said[1]["message"]
    assert "such as “items/0/id”" in said[1]["message"]


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("amount", "amount/value"),  # the nearest plain field, not the object inside
        ("amount/converted", "amount/converted/value"),
        ("parts", "parts/0/where/x"),
        ("parts/where", "parts/0/where/x"),  # an object in a list
        ("empty", "empty/…"),  # the schema names nothing inside
    ],
)
def test_the_heading_suggested_for_a_structure_names_a_plain_field(path: str, heading: str):
    flattened = {
        "amount": "object",
        "amount/converted": "object",
        "amount/converted/value": "number",
        "amount/value": "number",
        "parts": "array",
        "parts/where": "object",
        "parts/where/x": "string",
        "empty": "object",
    }
    assert _heading_inside(path, flattened) == heading


def test_a_list_of_strings_under_its_own_heading_is_read_without_a_warning(
    tmp_path: Path, schema: Path
) -> None:
    result = convert(write_csv(tmp_path / "g.csv", [HEADINGS, *GRANT_ROWS]), "csv", schema)
    assert grants(result)[0]["tags"] == ["food", "trees"]
    assert not [w for w in result.warnings if "were not read" in w["message"]]


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_a_sheet_whose_headings_name_no_field_is_left_out_with_a_warning(
    tmp_path: Path, schema: Path, fmt: str
) -> None:
    sheets = {
        "grants": [HEADINGS, *GRANT_ROWS],
        # With the warnings a sheet that is read would have: none are given for it.
        "Notes": [[" Made by the grants team "], ["Updated in May"], ["=1+1"]],
        "items": ITEM_ROWS,  # a sheet of the data: its rows join their grants
        "more": [["title"], ["A grant without an id"]],  # a field: read, and it shows
    }
    result = convert(write_sheets(tmp_path / f"g.{fmt}", fmt, sheets), fmt, schema)
    assert grants(result) == [*WITH_ITEMS, {"title": "A grant without an id"}]
    [warning] = [w for w in result.warnings if w["sheet"] == "Notes"]
    assert warning["message"].startswith("The sheet “Notes” was not read: none of its headings")
    assert (warning["sheet"], warning["row"]) == ("Notes", 1)


def test_a_sheet_of_fields_the_schema_describes_under_any_of_is_read(tmp_path: Path) -> None:
    # flattentool does not know a field described only under anyOf.
    item = {
        "properties": {"id": {"type": "string"}},
        "anyOf": [{"properties": {"note": {"type": "string"}}}],
    }
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"properties": {"grants": {"items": item}}}))
    sheets = {"grants": [["id"], ["G1"]], "more": [["note"], ["hello"]]}
    result = convert(write_sheets(tmp_path / "g.xlsx", "xlsx", sheets), "xlsx", schema)
    assert grants(result) == [{"id": "G1"}, {"note": "hello"}]
    assert not [w for w in result.warnings if "was not read" in w["message"]]


def test_without_a_schema_every_sheet_is_read(tmp_path: Path) -> None:
    sheets = {"grants": [["id"], ["G1"]], "Notes": [["note"], ["hello"]]}
    path = write_sheets(tmp_path / "g.xlsx", "xlsx", sheets)
    result = unflatten(path, "xlsx", tmp_path / "out", root_list_path="grants", id_name="id")
    assert grants(result) == [{"id": "G1"}, {"note": "hello"}]
