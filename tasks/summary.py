"""Count what the data holds: a first look before any schema is applied."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.conf import settings

from process.runner import Inputs
from process.store import Subject
from process.task import Task
from tasks.parse_json import json_type, load_json


class Summary(Task):
    name = "summary"
    title = "Summarise the data"
    requires = ("parse_json",)
    uses_options = ("sample",)

    def is_applicable(self, submission: Subject) -> bool:
        return submission.format == "json"

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        data = load_json(submission, inputs)
        sample_size = settings.ASSAY_SAMPLE_ITEMS if submission.options.get("sample") else None
        lists = top_level_lists(data)
        if sample_size is not None:
            data = sample(data, sample_size)
        counts, depth = count_values(data)
        return {
            "top_level": json_type(data),
            "lists": [{"path": path, "items": items} for path, items in lists],
            "counts": dict(sorted(counts.items())),
            "max_depth": depth,
            "sampled": sample_size is not None and any(n > sample_size for _, n in lists),
            "sample_size": sample_size,
        }


def top_level_lists(data: Any) -> list[tuple[str, int]]:
    """The lists a publisher thinks of as "the items": the root array or root keys."""
    if isinstance(data, list):
        return [("/", len(data))]
    if isinstance(data, dict):
        return [(f"/{key}", len(value)) for key, value in data.items() if isinstance(value, list)]
    return []


def sample(data: Any, size: int) -> Any:
    if isinstance(data, list):
        return data[:size]
    if isinstance(data, dict):
        return {k: v[:size] if isinstance(v, list) else v for k, v in data.items()}
    return data


def count_values(data: Any) -> tuple[Counter[str], int]:
    """Count values by JSON type and find the deepest nesting, without recursion."""
    counts: Counter[str] = Counter()
    deepest = 0
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        counts[json_type(value)] += 1
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            stack.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            stack.extend((child, depth + 1) for child in value)
    return counts, deepest
