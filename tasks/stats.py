"""Statistics: how many items, how often each field is filled in, repeated ids and field
names, and profile extras."""

from __future__ import annotations

from collections import Counter
from operator import itemgetter
from typing import Any

from process.runner import Inputs
from process.store import Subject
from process.task import Task
from tasks.data import is_data
from tasks.scan import load_scan

TOP_VALUES = 10
# Fields listed with their coverage, in alphabetical order: data with very many names (a
# key per id, say) would make a report of megabytes, and a page no one reads.
MAX_COVERAGE_FIELDS = 5_000


class Stats(Task):
    name = "stats"
    title = "Statistics"
    # 6: ids repeated are given as the data has them (7, not "7"), and lists or objects
    # as JSON; 5: how many items are objects, and are in the file; 4: a document that is
    # a list has its elements counted as the items
    # 7: at most MAX_COVERAGE_FIELDS fields' coverage, and how many fields there are
    # 8: the objects that name a field more than once (read as its last value)
    version = 8
    requires = ("parse_json",)
    uses_options = ("sample",)

    def is_applicable(self, submission: Subject) -> bool:
        return is_data(submission)

    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        scan = load_scan(submission, inputs)
        return {
            "lists": [{"path": path, "items": count} for path, count in scan.checked_lists],
            # The root list's whole length: in sample mode, more than were checked.
            "items_in_file": dict(scan.lists).get(scan.items_pattern.removesuffix("/*") or "/"),
            "root_list_path": "" if scan.root_is_list else submission.get_profile().root_list_path,
            "items": scan.items,
            # Of the whole list, sample or not: those a spreadsheet row can hold.
            "objects": scan.objects,
            **coverage_of_fields(scan.walk.counts, scan.items_pattern, scan.items),
            "duplicate_ids": duplicates(scan.ids),
            # Each object and name given twice or more in it, the first few with where.
            "repeated_fields": scan.repeated.as_dict(),
            "distinct": [distinct(pattern, scan.distinct[pattern]) for pattern in scan.distinct],
        }


def coverage_of_fields(counts: Counter[str], items_pattern: str, items: int) -> dict[str, Any]:
    """The first MAX_COVERAGE_FIELDS fields' coverage, and how many fields there are."""
    fields = sorted(pattern for pattern in counts if pattern.startswith(f"{items_pattern}/"))
    listed = {pattern: counts[pattern] for pattern in fields[:MAX_COVERAGE_FIELDS]}
    return {"coverage": coverage(listed, items_pattern, items), "fields": len(fields)}


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


def duplicates(ids: Counter) -> dict[str, Any]:
    """Ids used more than once, from counts by ``counting_key``."""
    # The repeated ones first, then sorted: most ids are not, and sorting all is slow.
    # As the data has them: 7 is not "7" (a list or an object is its JSON text).
    repeated = [(value, count) for (_, value), count in ids.items() if count > 1]
    repeated.sort(key=itemgetter(1), reverse=True)  # as most_common(): ties keep their order
    return {"count": len(repeated), "examples": repeated[:TOP_VALUES]}


def distinct(pattern: str, values: Counter) -> dict[str, Any]:
    top = [(value, count) for (_, value), count in values.most_common(TOP_VALUES)]
    return {"path": pattern, "distinct": len(values), "top": top}
