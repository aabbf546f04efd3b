"""Text that a spreadsheet program would take for a formula, made harmless.

Kept apart from tasks/spreadsheets.py so that writing a CSV of errors does not load
flattentool and its dependencies (about 23 MB and a quarter of a second in each process
that never converts a spreadsheet: the web processes, and workers given only JSON).
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@")


def neutralise(text: str) -> str:
    """Text a spreadsheet program shows as it is, never as a formula (CSV and XLSX alike)."""
    return f"'{text}" if text.lstrip(" \t\r\n").startswith(FORMULA_STARTS) else text
