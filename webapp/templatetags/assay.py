"""Small display helpers for templates."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.template.defaultfilters import filesizeformat

from process.fetching import without_password

register = template.Library()


ENCODINGS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with a byte-order mark",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16 without a byte-order mark",
    "utf-16-be": "UTF-16 without a byte-order mark",
    "cp1252": "Windows-1252 (not UTF-8)",
}


@register.filter
def encoding_name(codec: str) -> str:
    """A text encoding as people name it: "UTF-8", not "utf-8-sig"."""
    return ENCODINGS.get(codec, codec)


@register.filter
def shown_name(submission: Any) -> str:
    """How a page's title names a submission: its file's name, its URL (no password in
    it), or what it was."""
    if submission.original_name:
        return submission.original_name
    if submission.url:
        return without_password(submission.url)
    return submission.get_source_display().lower()


@register.filter
def percent(done: int, total: int) -> int:
    return round(100 * done / total) if total else 0


@register.filter
def thousands(count: int) -> str:
    """20,000 rather than 20000, as every count on a page is written."""
    return f"{count:,}" if isinstance(count, int) else count


@register.filter
def plural_items(count: int) -> str:
    return f"{count:,} item" if count == 1 else f"{count:,} items"


@register.filter
def as_json(value: object) -> str:
    """A value as JSON text, so that "1" and 1 look different."""
    return json.dumps(value, ensure_ascii=False)


@register.filter
def first_few(names: list[Any], count: int) -> str:
    """The first three of ``count`` names, quoted: “a”, “b”, “c” and 4 more."""
    shown = [f"“{name if isinstance(name, str) else as_json(name)}”" for name in names[:3]]
    if count > len(shown):
        shown.append(f"{count - len(shown):,} more")
    if not shown:
        return ""
    *rest, last = shown
    return f"{', '.join(rest)} and {last}" if rest else last


@register.filter
def seconds(count: int) -> str:
    """A short duration, as the progress page's script writes it: "4 s", "3 min"."""
    return f"{count} s" if count < 90 else f"{int(count / 60 + 0.5)} min"  # as Math.round


register.filter("without_password", without_password)


@register.filter
def size(count: int) -> str:
    """A size in bytes for people: "100 MB", not filesizeformat's "100.0 MB"."""
    return filesizeformat(count).replace(".0\xa0", "\xa0")
