"""Data where every item breaks the schema: what a worker's memory does with very many errors.

    .venv/bin/python bench/errors.py [--items 120000] [--repeat 1]

Each item breaks a `oneOf` (its amount is text, neither a number nor an object) and, in
the "plain" rows, the type of its id and a required field instead. The shapes:

streamed:    {"grants": [...]}, the schema checking each item alone: read item by item.
whole list:  the same, the schema judging the list as a whole too ("uniqueItems"): read
             whole (README, "Large files").
list:        a document that is the list itself, under a schema for a list: read whole.
valid:       the whole-list shape with no item broken, for what reading it whole takes.

Each runs `webapp.cli.validate_source` with the demo profile and the shape's schema (as
`manage.py validate FILE --schema SCHEMA` does) in its own subprocess; peak RSS is that
process's own (VmHWM), "start" the process before the data is touched. jsonschema-rs
makes every error of what it is given before it gives the first (2 KB each, 6 KB for a
oneOf's), so a document validated in one call held them all at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.memory import peak_rss  # noqa: E402
from bench.runs import report, run_variant  # noqa: E402

AMOUNT = {
    "oneOf": [
        {"type": "number", "minimum": 0},
        {"type": "object", "required": ["value", "currency"]},
    ]
}
ITEM = {
    "type": "object",
    "required": ["id", "title", "amount"],
    "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "amount": AMOUNT},
}
SHAPES = {  # name: (the document is the list, the list judged whole, what breaks)
    "streamed oneOf": (False, False, "oneOf"),
    "whole list oneOf": (False, True, "oneOf"),
    "list oneOf": (True, False, "oneOf"),
    "streamed plain": (False, False, "plain"),
    "whole list plain": (False, True, "plain"),
    "list plain": (True, False, "plain"),
    "valid, read whole": (False, True, ""),
}


def schema(is_list: bool, judged_whole: bool) -> dict[str, Any]:
    grants = {"type": "array", "items": ITEM, **({"uniqueItems": True} if judged_whole else {})}
    if is_list:
        return grants
    return {"type": "object", "required": ["grants"], "properties": {"grants": grants}}


def item(index: int, broken: str) -> dict[str, Any]:
    amount = {"value": 10, "currency": "GBP"}
    found = {"id": f"G-{index:06d}", "title": f"Grant {index}", "amount": amount}
    if broken == "oneOf":
        found["amount"] = f"{index} pounds"
    elif broken == "plain":
        found["id"] = index
        del found["title"]
    return found


def write_shape(folder: Path, name: str, items: int) -> Path:
    is_list, judged_whole, broken = SHAPES[name]
    listed = [item(index, broken) for index in range(items)]
    (folder / "data.json").write_bytes(orjson.dumps(listed if is_list else {"grants": listed}))
    (folder / "schema.json").write_text(json.dumps(schema(is_list, judged_whole)))
    return folder


def run_assay(folder: Path) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="webapp.settings",
        ASSAY_DATA_DIR=str(folder / "assay-data"),
        ASSAY_MAX_UPLOAD_BYTES=str(1 << 30),
    )
    import django

    django.setup()
    from webapp.cli import INVALID, VALID, choose_profile, validate_source
    from webapp.pipeline import get_pipeline

    get_pipeline()  # a worker has every task imported before its first job
    profile = choose_profile("demo", str(folder / "schema.json"), "demo")
    start_rss = peak_rss()
    started = time.perf_counter()
    outcome = validate_source(str(folder / "data.json"), profile, sample=False)
    assert outcome.code in (VALID, INVALID) and outcome.report, outcome.errors
    report(started, errors=outcome.report["error_count"], start_rss=start_rss)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=120_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the largest counts")
    parser.add_argument("--variant")
    parser.add_argument("path", nargs="?")
    args = parser.parse_args()
    if args.variant:
        run_assay(Path(args.path))
        return
    print(f"{args.items:,} items; peak RSS: the largest of {args.repeat} run(s)")
    print(
        f"{'shape':<18} {'MB':>5} {'errors':>7} {'seconds':>7} {'peak RSS MB':>11} "
        f"{'RSS/size':>8} {'start MB':>8} {'(RSS-start)/size':>16}"
    )
    for name in SHAPES:
        with tempfile.TemporaryDirectory(prefix="assay-bench-errors-") as folder:
            write_shape(Path(folder), name, args.items)
            size = (Path(folder) / "data.json").stat().st_size
            runs = [run_variant(__file__, "assay", folder) for _ in range(args.repeat)]
        row = {**min(runs, key=lambda run: run["seconds"]), "rss": max(r["rss"] for r in runs)}
        grown = (row["rss"] - row["start_rss"]) / size
        print(
            f"{name:<18} {size / 1e6:>5.1f} {row['errors']:>7} {row['seconds']:>7.2f} "
            f"{row['rss'] / 1e6:>11.0f} {row['rss'] / size:>8.1f} "
            f"{row['start_rss'] / 1e6:>8.0f} {grown:>16.1f}"
        )


if __name__ == "__main__":
    main()
