"""What every benchmark does: run each variant in a fresh process, and report its result."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.memory import peak_rss

ROOT = Path(__file__).resolve().parent.parent


def run_variant(script: str, variant: str, *args: str) -> dict[str, Any]:
    """``script --variant VARIANT ARGS...`` in a fresh Python: the last line it prints is
    its result, as JSON. Its stderr is not captured, so a failing variant shows why."""
    command = [sys.executable, script, "--variant", variant, *args]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(started: float, **extra: Any) -> None:
    """Print a variant's result: its time since ``started``, its peak RSS, and ``extra``."""
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rss": peak_rss(), **extra}))


def print_against_flattentool(results: dict[str, dict], extra: str, cell) -> None:
    """A table of each variant's time, its ratio to flattentool's, its peak RSS, and one
    more column headed ``extra`` whose values ``cell(row)`` writes."""
    base = results["flattentool"]["seconds"]
    print(f"{'variant':<12} {'seconds':>8} {'x flattentool':>13} {'peak RSS MB':>12} {extra}")
    for variant, row in results.items():
        print(
            f"{variant:<12} {row['seconds']:>8.2f} {row['seconds'] / base:>13.2f} "
            f"{row['rss'] / 1e6:>12.0f} {cell(row)}"
        )
