"""Peak memory of the current process."""

from __future__ import annotations

from pathlib import Path


def peak_rss() -> int:
    """The process's peak resident set, in bytes.

    VmHWM, not ru_maxrss: Linux starts a child's ru_maxrss at its parent's peak (it is
    kept across exec), and the benchmarks' parent has just made the data."""
    with Path("/proc/self/status").open() as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024
