"""Memory of the current process: its peak, and what it holds alone."""

from __future__ import annotations

from pathlib import Path


def peak_rss() -> int:
    """The process's peak resident set, in bytes.

    VmHWM, not ru_maxrss: Linux starts a child's ru_maxrss at its parent's peak (it is
    kept across exec), and the benchmarks' parent has just made the data."""
    with Path("/proc/self/status").open() as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def private_now() -> int:
    """What the process holds that no other does, now: the pages it has written since it
    was forked, or loaded alone (a forked process shares the rest with its parent)."""
    with Path("/proc/self/smaps_rollup").open() as rollup:
        fields = dict(line.split(":", 1) for line in rollup if line.startswith("Private"))
    return sum(int(value.split()[0]) * 1024 for value in fields.values())
