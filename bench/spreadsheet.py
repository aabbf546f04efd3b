"""A large XLSX to JSON with source maps: flattentool on its own, and Assay's converter.

    .venv/bin/python bench/spreadsheet.py [--rows 10000] [--keep]

flattentool: flattentool.unflatten, called directly, with both source maps.
assay:       tasks.spreadsheets.unflatten, which drives flattentool's readers itself to
             say where each warning arose (check_limits, which the pipeline runs first,
             is not included).
The workbook is shaped like the demo's examples: a "grants" sheet with one row per grant,
and "classifications" and "documents" sheets joined to it by id.
Each variant runs in its own subprocess; peak RSS is that process's own (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "profiles" / "demo" / "grants.schema.json"
sys.path.insert(0, str(ROOT))

from bench.runs import print_against_flattentool, report, run_variant  # noqa: E402

# The headings of examples/demo/grants-valid.xlsx (built by examples/build_examples.py).
ORGANISATION = ["id", "name", "address/postcode", "address/countryCode", "website"]
SHEETS = {
    "grants": [
        *["id", "title", "description", "amount/value", "amount/currency"],
        *["awardDate", "lastModified"],
        *[f"recipientOrganization/{heading}" for heading in ORGANISATION],
        *[f"fundingOrganization/{heading}" for heading in ORGANISATION],
        *["contact/name", "contact/email"],
    ],
    "classifications": ["id", *(f"classifications/0/{n}" for n in ("scheme", "code", "title"))],
    "documents": ["id", *(f"documents/0/{n}" for n in ("url", "title", "format"))],
}


def write_workbook(path: Path, rows: int) -> None:
    """One grant per row of the main sheet, from the same generator as bench/validation.py."""
    import random

    from openpyxl import Workbook

    from bench.datagen import grant

    rng = random.Random(7)
    items = [grant(index, rng) for index in range(rows)]
    # Write-only mode streams rows to disk, so building the file stays quick and small.
    workbook = Workbook(write_only=True)
    for name, headings in SHEETS.items():
        sheet = workbook.create_sheet(name)
        sheet.append(headings)
        for item in items:
            if name == "grants":
                sheet.append([value(item, heading) for heading in headings])
                continue
            # A sub-sheet: one row per list entry, with the grant's id to join it back.
            for entry in item.get(name, []):
                columns = [heading.split("/", 2)[2] for heading in headings[1:]]
                sheet.append([item["id"], *(value(entry, column) for column in columns)])
    workbook.save(path)


def value(data: Any, heading: str) -> Any:
    for key in heading.split("/"):
        data = data.get(key) if isinstance(data, dict) else None
    return data


def run_flattentool(path: Path, out_dir: Path) -> None:
    import flattentool
    import jsonref

    # flattentool wants the schema of one item of the root list, as Assay gives it; the
    # profile's schema describes the whole document, so pass its items, refs resolved.
    with SCHEMA.open() as handle:
        schema = jsonref.load(handle, base_uri=SCHEMA.as_uri())["properties"]["grants"]["items"]
    started = time.perf_counter()
    flattentool.unflatten(
        str(path),
        output_name=str(out_dir / "data.json"),
        input_format="xlsx",
        schema=schema,
        root_list_path="grants",
        id_name="id",
        cell_source_map=str(out_dir / "cell_source_map.json"),
        heading_source_map=str(out_dir / "heading_source_map.json"),
    )
    report(started)


def run_assay(path: Path, out_dir: Path) -> None:
    from tasks.spreadsheets import unflatten

    started = time.perf_counter()
    unflatten(path, "xlsx", out_dir, schema_path=SCHEMA, root_list_path="grants", id_name="id")
    report(started)


def measure(variant: str, path: Path, out_dir: Path) -> dict:
    result = run_variant(__file__, variant, str(path), str(out_dir))
    # Counted here, not in the child, so reading the output back does not add to its RSS.
    with (out_dir / "data.json").open() as handle:
        result["items"] = len(json.load(handle)["grants"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000, help="data rows in the main sheet")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        path, out_dir = map(Path, args.paths)
        out_dir.mkdir()
        {"flattentool": run_flattentool, "assay": run_assay}[args.variant](path, out_dir)
        return
    folder = Path(tempfile.mkdtemp(prefix="assay-bench-xlsx-"))
    try:
        path = folder / "grants.xlsx"
        write_workbook(path, args.rows)
        size = path.stat().st_size
        print(f"{args.rows:,} rows, {size / 1e6:.1f} MB")
        results = {
            variant: measure(variant, path, folder / variant)
            for variant in ("flattentool", "assay")
        }
        print_table(results, size)
        counts = {variant: row["items"] for variant, row in results.items()}
        assert len(set(counts.values())) == 1, f"the outputs differ in length: {counts}"
        assert counts["assay"] == args.rows, f"expected {args.rows} items: {counts}"
    finally:
        if args.keep:
            print(f"data kept in {folder}")
        else:
            shutil.rmtree(folder)


def print_table(results: dict[str, dict], size: int) -> None:
    print_against_flattentool(
        results, f"{'RSS/size':>9} items", lambda row: f"{row['rss'] / size:>9.1f} {row['items']:,}"
    )


if __name__ == "__main__":
    main()
