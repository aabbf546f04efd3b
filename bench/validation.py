"""A large JSON from submission to report: the bare floor, the naive path and Assay.

    .venv/bin/python bench/validation.py [--items 40000] [--skip-naive] [--repeat 3]

floor: one orjson parse + one jsonschema-rs validation, in one process.
floor-gc: the same with the garbage collector paused while parsing, as Assay does.
naive: json.load + python jsonschema iter_errors.
assay: webapp.cli.validate_source with the demo profile, as `manage.py validate` runs it:
       the file is copied and hashed (as an upload is) and the pipeline's main tasks run
       in-process, up to the report; no database, no results page. The links task sends
       no requests: they wait on remote servers (bench/links.py measures them); finding
       the links in the data is still done and timed.
Each runs in its own subprocess; peak RSS is that process's ru_maxrss. "start RSS" is
the process before the data is touched (for Assay: Django and every task imported), so
"RSS - start" is what the data itself costs. A file this large has the second half of its
list read by a forked copy of Assay's process (ASSAY_READ_IN_TWO_BYTES): "2nd RSS" is that
copy's peak RSS, which counts the pages it shares with its parent, and "2nd own" what it
held alone at its end (its private pages: what it added to the machine's memory).
worker-one: the worker's job with every file read in one process (ASSAY_READ_IN_TWO_BYTES=0).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "profiles" / "demo"
SCHEMA = SCHEMA_DIR / "grants.schema.json"
sys.path.insert(0, str(ROOT))

from bench.memory import peak_rss, private_now  # noqa: E402
from bench.runs import report, run_variant  # noqa: E402


def resources() -> dict[str, dict]:
    documents = [json.loads(path.read_text()) for path in SCHEMA_DIR.glob("*.json")]
    return {document["$id"]: document for document in documents}


def run_floor(path: Path, pause_gc: bool = False) -> int:
    import gc

    import jsonschema_rs
    import orjson

    registry = jsonschema_rs.Registry(list(resources().items()))
    validator = jsonschema_rs.validator_for(
        json.loads(SCHEMA.read_text()), registry=registry, validate_formats=True
    )
    start_rss = peak_rss()
    started = time.perf_counter()
    if pause_gc:  # what Assay's runner does for parsed data (process/runner.py Memo)
        gc.disable()
    data = orjson.loads(path.read_bytes())
    if pause_gc:
        gc.freeze()
        gc.enable()
    errors = sum(1 for _ in validator.iter_errors(data))
    report(started, errors=errors, start_rss=start_rss)
    return errors


def run_floor_without_gc(path: Path) -> int:
    return run_floor(path, pause_gc=True)


def run_naive(path: Path) -> int:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        (uri, Resource.from_contents(document)) for uri, document in resources().items()
    )
    validator = Draft202012Validator(
        json.loads(SCHEMA.read_text()),
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    start_rss = peak_rss()
    started = time.perf_counter()
    with path.open() as handle:
        errors = sum(1 for _ in validator.iter_errors(json.load(handle)))
    report(started, errors=errors, start_rss=start_rss)
    return errors


def start_django(path: Path, name: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="webapp.settings",
        # Next to the data, so it goes when the data folder does.
        ASSAY_DATA_DIR=str(path.parent / f"assay-data-{name}"),
        ASSAY_MAX_UPLOAD_BYTES=str(1 << 30),
    )
    import django

    django.setup()
    import tasks.links
    from webapp.pipeline import get_pipeline

    # Remote servers are not asked (see the docstring): every link is "not checked".
    tasks.links.check_cached = lambda url, *_: {"ok": False, "error": "not checked", "code": ""}
    get_pipeline()  # a worker has every task imported before its first job
    _measure_second_half(path.parent / f"second-half-{name}.json")


def _measure_second_half(written: Path) -> None:
    """Have the forked process that reads a list's second half write down its memory."""
    import tasks.scan

    written.unlink(missing_ok=True)  # from an earlier round
    read = tasks.scan._later_half

    def measured(*args):
        half = read(*args)
        written.write_text(json.dumps({"rss": peak_rss(), "own": private_now()}))
        return half

    tasks.scan._later_half = measured


def second_half(path: Path, name: str) -> dict:
    written = path.parent / f"second-half-{name}.json"
    return json.loads(written.read_text()) if written.exists() else {"rss": 0, "own": 0}


def run_worker_in_one(path: Path) -> int:
    os.environ["ASSAY_READ_IN_TWO_BYTES"] = "0"
    return run_worker(path, "worker-one")


def run_worker(path: Path, name: str = "worker") -> int:
    start_django(path, name)
    from django.core.management import call_command

    from process.files import chunks_of
    from webapp.jobs import process_submission
    from webapp.models import Submission
    from webapp.submissions import create_submission

    call_command("migrate", verbosity=0)
    with path.open("rb") as handle:  # the upload, done by the web process
        submission = create_submission(
            source=Submission.Source.FILE, profile="demo", chunks=chunks_of(handle), name="a.json"
        )
    start_rss = peak_rss()
    started = time.perf_counter()
    process_submission(str(submission.id))
    submission.refresh_from_db()
    report_output = submission.store.output("report")
    assert submission.state == Submission.State.DONE and report_output, submission.state
    errors = report_output.data["error_count"]
    report(started, errors=errors, start_rss=start_rss, second=second_half(path, name))
    return 0


def run_assay(path: Path) -> int:
    start_django(path, "cli")
    from webapp.cli import INVALID, VALID, validate_source
    from webapp.profiles import get_profiles

    profile = get_profiles()["demo"]
    start_rss = peak_rss()
    started = time.perf_counter()
    outcome = validate_source(str(path), profile, sample=False)
    assert outcome.code in (VALID, INVALID) and outcome.report, outcome.errors
    errors = outcome.report["error_count"]
    report(started, errors=errors, start_rss=start_rss, second=second_half(path, "cli"))
    return 0


def measure(variant: str, path: Path) -> dict:
    return run_variant(__file__, variant, str(path))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=40_000)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    parser.add_argument("--variant")
    parser.add_argument("path", nargs="?")
    args = parser.parse_args()
    if args.variant:
        variants = {
            "floor": run_floor,
            "floor-gc": run_floor_without_gc,
            "naive": run_naive,
            "assay": run_assay,
            "worker": run_worker,
            "worker-one": run_worker_in_one,
        }
        variants[args.variant](Path(args.path))
        return
    from bench.datagen import grants_json

    with tempfile.TemporaryDirectory(prefix="assay-bench-data-") as folder:
        path = Path(folder) / "grants.json"
        path.write_bytes(grants_json(args.items))
        size = path.stat().st_size
        print(f"{args.items:,} items, {size / 1e6:.1f} MB")
        variants = ["floor", "floor-gc", "assay", "worker", "worker-one"]
        variants += [] if args.skip_naive else ["naive"]
        # Round after round, so that a noisy moment hits every variant alike.
        rounds = [
            {variant: measure(variant, path) for variant in variants} for _ in range(args.repeat)
        ]
    print(f"best of {args.repeat} runs each")
    print_table({variant: best(rounds, variant) for variant in variants}, size)


def best(rounds: list[dict[str, dict]], variant: str) -> dict:
    """The fastest run's time, and the largest peak RSS of any run (the second process's
    too)."""
    runs = [found[variant] for found in rounds]
    fastest = min(runs, key=lambda run: run["seconds"])
    seconds = [run["second"] for run in runs if run.get("second")]
    second = max(seconds, key=lambda second: second["rss"]) if seconds else None
    return {**fastest, "rss": max(run["rss"] for run in runs), "second": second}


def print_table(results: dict[str, dict], size: int) -> None:
    floor = results["floor"]["seconds"]
    header = f"{'variant':<10} {'seconds':>7} {'x floor':>8} {'peak RSS MB':>12} {'RSS/size':>9}"
    print(header, f"{'start RSS MB':>12} {'(RSS-start)/size':>16} errors  2nd RSS MB  2nd own MB")
    for variant, row in results.items():
        grown = (row["rss"] - row["start_rss"]) / size
        second = row.get("second") or {"rss": 0, "own": 0}
        print(
            f"{variant:<10} {row['seconds']:>7.2f} {row['seconds'] / floor:>8.2f} "
            f"{row['rss'] / 1e6:>12.0f} {row['rss'] / size:>9.1f} "
            f"{row['start_rss'] / 1e6:>12.0f} {grown:>16.1f} {row['errors']:>6} "
            f"{second['rss'] / 1e6:>11.0f} {second['own'] / 1e6:>11.0f}"
        )
    if "naive" in results:
        naive = results["naive"]["seconds"]
        # The floor's own ratio bounds what any reading that makes Python objects can reach.
        for variant in ("floor", "floor-gc", "assay", "worker", "worker-one"):
            speedup = naive / results[variant]["seconds"]
            print(f"{variant} is {speedup:.1f}x faster than the naive path")


if __name__ == "__main__":
    main()
