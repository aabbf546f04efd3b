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
