"""Statistics: how many items, how often each field is filled in, and profile extras."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from process.runner import Inputs
from process.store import Subject
from process.task import Task
from tasks.data import is_data, load_checked_data, top_level_lists
from tasks.fields import escape, walk_fields

TOP_VALUES = 10


class Stats(Task):
    name = "stats"
    title = "Statistics"
    version = 2
    requires = ("parse_json",)
    uses_options = ("sample",)

    def is_applicable(self, submission: Subject) -> bool:
        return is_data(submission)

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        profile = submission.get_profile()
        data = load_checked_data(submission, inputs)
        walk = inputs.memo("fields", lambda: walk_fields(data))
        items_pattern = f"/{escape(profile.root_list_path)}/*"
        items = _items(data, profile.root_list_path)
        return {
            "lists": [{"path": path, "items": count} for path, count in top_level_lists(data)],
            "root_list_path": profile.root_list_path,
            "items": len(items),
            "coverage": coverage(walk.counts, items_pattern, len(items)),
            "duplicate_ids": duplicates(items, profile.id_name),
            "distinct": [distinct(data, pattern) for pattern in profile.distinct_fields],
        }


def _items(data: Any, root_list_path: str) -> list:
    items = data.get(root_list_path) if isinstance(data, dict) else None
    return items if isinstance(items, list) else []


def coverage(counts: Counter[str], items_pattern: str, items: int) -> list[dict[str, Any]]:
    """Per field of the items: how many times it occurs and, when once per item, in what share."""
    rows = []
    for pattern, count in sorted(counts.items()):
        if not pattern.startswith(f"{items_pattern}/"):
            continue
        once_per_item = "/*" not in pattern[len(items_pattern) :]
        percent = round(100 * count / items, 1) if once_per_item and items else None
        rows.append({"path": pattern[len(items_pattern) :], "count": count, "percent": percent})
    return rows


def duplicates(items: list, id_name: str) -> dict[str, Any]:
    ids = Counter(_key(item.get(id_name)) for item in items if isinstance(item, dict))
    ids.pop(_key(None), None)
    repeated = [(str(value), count) for (_, value), count in ids.most_common() if count > 1]
    return {"count": len(repeated), "examples": repeated[:TOP_VALUES]}


def distinct(data: Any, pattern: str) -> dict[str, Any]:
    values = Counter(_key(value) for value in values_at(data, pattern))
    top = [(value, count) for (_, value), count in values.most_common(TOP_VALUES)]
    return {"path": pattern, "distinct": len(values), "top": top}


def values_at(data: Any, pattern: str) -> Iterator[Any]:
    """Every value at a path pattern such as "/grants/*/amount/currency"."""
    nodes = [data]
    for part in pattern.strip("/").split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if part == "*":
            nodes = [child for node in nodes if isinstance(node, list) for child in node]
        else:
            nodes = [node[key] for node in nodes if isinstance(node, dict) and key in node]
    yield from nodes


def _key(value: Any) -> tuple[bool, Any]:
    """A counting key: true is not 1, and a list or object (unhashable) counts by its text."""
    return type(value) is bool, _hashable(value)


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)
