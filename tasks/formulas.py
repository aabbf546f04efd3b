"""Text that a spreadsheet program would take for a formula, made harmless.

Kept apart from tasks/spreadsheets.py so that writing a CSV of errors does not load
flattentool and its dependencies (about 23 MB and a quarter of a second in each process
that never converts a spreadsheet: the web processes, and workers given only JSON).
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@")


def looks_like_a_formula(text: str) -> bool:
    return text.lstrip(" \t\r\n").startswith(FORMULA_STARTS)


def neutralise(text: str) -> str:
    """Text for a CSV cell that a spreadsheet program shows as it is, never as a formula."""
    return f"'{text}" if looks_like_a_formula(text) else text
