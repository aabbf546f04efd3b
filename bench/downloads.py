"""JSON to spreadsheets (the deferred downloads): flattentool on its own, and Assay's.

    .venv/bin/python bench/downloads.py [--items 10000] [--repeat 3]

flattentool: flattentool.flatten called directly, once for the XLSX and once for the
             CSVs, as a caller of its public function makes both.
assay:       tasks.spreadsheets.flatten, which writes both files from one reading of the
             data, keeps formula-like text from running, and zips the CSVs.
The data is bench/validation.py's grants, with the demo profile's schema.
Each variant runs in its own subprocess; peak RSS is that process's own (VmHWM).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "profiles" / "demo" / "grants.schema.json"
sys.path.insert(0, str(ROOT))

from bench.runs import print_against_flattentool, report, run_variant  # noqa: E402


def run_flattentool(path: Path, out_dir: Path) -> None:
    import flattentool
    import jsonref

    # The schema of one item, refs resolved, as bench/spreadsheet.py gives it.
    with SCHEMA.open() as handle:
        schema = jsonref.load(handle, base_uri=SCHEMA.as_uri())["properties"]["grants"]["items"]
    started = time.perf_counter()
    for output_format, name in (("xlsx", "data.xlsx"), ("csv", "csv")):
        flattentool.flatten(
            str(path),
            output_name=str(out_dir / name),
            output_format=output_format,
            schema=schema,
            main_sheet_name="grants",
            root_list_path="grants",
            id_name="id",
        )
    report(started)


def run_assay(path: Path, out_dir: Path) -> None:
    from tasks.spreadsheets import flatten

    started = time.perf_counter()
    flatten(path, out_dir, schema_path=SCHEMA, root_list_path="grants", id_name="id")
    report(started)


def measure(variant: str, path: Path, out_dir: Path) -> dict:
    result = run_variant(__file__, variant, str(path), str(out_dir))
    result["rows"] = main_sheet_rows(out_dir / "data.xlsx")
    return result


def main_sheet_rows(xlsx: Path) -> int:
    from openpyxl import load_workbook

    workbook = load_workbook(xlsx, read_only=True)
    return sum(1 for _ in workbook["grants"].iter_rows()) - 1  # less the headings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        path, out_dir = map(Path, args.paths)
        out_dir.mkdir()
        {"flattentool": run_flattentool, "assay": run_assay}[args.variant](path, out_dir)
        return
    from bench.datagen import grants_json

    variants = ("flattentool", "assay")
    with tempfile.TemporaryDirectory(prefix="assay-bench-downloads-") as folder:
        path = Path(folder) / "grants.json"
        path.write_bytes(grants_json(args.items))
        size = path.stat().st_size
        print(f"{args.items:,} items, {size / 1e6:.1f} MB of JSON")
        # Round after round, so that a noisy moment hits both variants alike.
        rounds = [
            {
                variant: measure(variant, path, Path(folder) / f"{variant}-{run}")
                for variant in variants
            }
            for run in range(args.repeat)
        ]
    results = {
        variant: min((r[variant] for r in rounds), key=lambda row: row["seconds"])
        for variant in variants
    }
    print(f"best of {args.repeat} runs each")
    print_table(results)
    rows = {variant: row["rows"] for variant, row in results.items()}
    assert set(rows.values()) == {args.items}, f"expected {args.items} rows: {rows}"


def print_table(results: dict[str, dict]) -> None:
    print_against_flattentool(results, f"{'rows':>7}", lambda row: f"{row['rows']:>7,}")


if __name__ == "__main__":
    main()
