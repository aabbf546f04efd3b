"""Fields named twice in one JSON object, found without reading the data twice.

JSON readers keep the last of two members with one name: {"a": 1, "a": 2} reads as
{"a": 2}, so the first value is never checked, and another program may read that one.
Asking the reader about each object would slow every reading down. Instead the text and
the data read from it are counted alike. Every string of the text, a field's name or a
value, stands between two quotes, and a quote inside a string is written after a
backslash: so the quotes of the text, less the escaped ones, are twice its strings. The
data read holds as many strings (names and text values, which the field walk counts
anyway) unless a member was dropped, which took its name with it. Only when the two
counts differ is the text read again, by the standard library, to say where.

The counts are exact, whitespace and escapes ("\\u0061" is "a") included, so the second
reading is for data with a repeated name only; it keeps little but what it finds.
"""

from __future__ import annotations

import json
import json.scanner
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, AnyStr

import orjson

from tasks.data import decode
from tasks.refs import escape

if TYPE_CHECKING:
    from tasks.reading import _Text

EXAMPLES = 10  # places kept, the first in the document; the count is of them all
PIECE = 1 << 20  # bytes of a file counted at a time


@dataclass
class Repeated:
    """The objects in which a name is given more than once, in document order."""

    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, pointer: str, name: str, times: int) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append({"path": pointer, "field": name, "times": times})

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "examples": self.examples}


# Counting ---------------------------------------------------------------------------------


def strings_in_text(text: AnyStr, start: int = 0, end: int | None = None) -> int:
    """The strings (names and values) in complete JSON values between ``start`` and ``end``."""
    quote, backslash = ('"', "\\") if isinstance(text, str) else (b'"', b"\\")
    end = len(text) if end is None else end
    quotes = text.count(quote, start, end)
    if text.find(backslash, start, end) >= 0:  # most text has none: one quick look
        quotes -= _escaped_quotes(text, quote, backslash, start, end)
    return quotes // 2


def _escaped_quotes(text: AnyStr, quote: AnyStr, backslash: AnyStr, start: int, end: int) -> int:
    """Quotes after an odd number of backslashes: '\\"' is a quote in a string, '\\\\"' a
    backslash that ends one. Each count is of the quotes after at least so many."""
    escaped, sign, run = 0, 1, backslash + quote
    for _ in range(LONG_RUN):
        found = text.count(run, start, end)
        if not found:
            return escaped
        escaped += sign * found
        sign, run = -sign, backslash + run
    # A count per backslash of the longest run took quadratic time: 40,000 backslashes
    # before a quote, half a minute. Such text is measured run by run instead.
    runs = RUNS_BEFORE_QUOTES[type(text)].finditer(text, start, end)
    return sum((len(found.group()) - 1) % 2 for found in runs)


# Backslashes before a quote counted with str.count, one count each; a longer run is
# measured with a regular expression (whole runs only: each starts after no backslash).
LONG_RUN = 16
RUNS_BEFORE_QUOTES = {str: re.compile(r'(?<!\\)\\+"'), bytes: re.compile(rb'(?<!\\)\\+"')}


def strings_in_file(path: Path) -> int:
    """The strings in a JSON file, counted a piece at a time."""
    total, carried = 0, b""
    with path.open("rb") as handle:
        while piece := handle.read(PIECE):
            piece = carried + piece
            # Backslashes at the end go with the next piece, to the quote they may escape.
            kept = len(piece.rstrip(b"\\"))
            total += _quotes_less_escaped(piece, kept)
            carried = piece[kept:]
    return total // 2


def _quotes_less_escaped(piece: bytes, end: int) -> int:
    quotes = piece.count(b'"', 0, end)
    if piece.find(b"\\", 0, end) >= 0:
        quotes -= _escaped_quotes(piece, b'"', b"\\", 0, end)
    return quotes


def strings_in(value: Any) -> int:
    """The strings in data already read (for the parts the field walk does not visit)."""
    try:
        return strings_in_text(orjson.dumps(value))
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, or very deep data
        return _strings_counted(value)


def _strings_counted(value: Any) -> int:
    total, pending = 0, [value]
    while pending:
        node = pending.pop()
        if type(node) is dict:
            total += len(node)
            pending.extend(node.values())
        elif type(node) is list:
            pending.extend(node)
        elif type(node) is str:
            total += 1
    return total


# Finding where ----------------------------------------------------------------------------


class _Holder:
    """What the second reading keeps of an object or a list: the names given more than once
    in it, and the places inside it that hold some."""

    __slots__ = ("inside", "is_list", "names")

    def __init__(self, names: list[tuple[str, int]], inside: list, is_list: bool = False):
        self.names = names
        self.inside: list[tuple[str | int, _Holder]] = inside
        self.is_list = is_list


def find_repeated(path: Path, sample_size: int | None = None) -> Repeated:
    """Where names are given twice in the JSON file; with a sample size, in the first
    items of each top-level list and the rest of the document (what a sample checks)."""
    found = Repeated()
    root = _read(path, sample_size)
    if root is None:
        return found
    pending: list[tuple[str, _Holder]] = [("", root)]
    while pending:  # depth first, in document order: the last pushed is taken first
        pointer, holder = pending.pop()
        for name, times in holder.names:
            found.add(pointer, name, times)
        inside = [(f"{pointer}/{escape(str(key))}", child) for key, child in holder.inside]
        pending.extend(reversed(inside))
    return found


def _read(path: Path, size: int | None) -> _Holder | None:
    """The file as the second reading keeps it, the items of its top-level lists read one
    at a time (with a sample size, those past it not kept): read whole as text, one
    character beyond U+FFFF took four bytes for each of the file's, 300 MB for 51 MB."""
    from tasks.reading import NotStreamable, _Text  # which counts strings with this module

    try:
        with path.open("rb") as handle:
            text = _Text(handle)
            text.counting = False
            return _document(text, size)
    except NotStreamable:  # what the first reading took is streamed; this is a safeguard
        root = _kept(json.loads(decode(path.read_bytes()), object_pairs_hook=_object))
        return root and _sampled(root, size)


def _document(text: _Text, size: int | None) -> _Holder | None:
    """The document, its top-level lists read an item at a time (_list)."""
    char = text.next_char()
    if char == "[":
        return _list(text, size)
    if char != "{":
        return _kept(text.value(SCAN_KEEPING))
    text.pos += 1
    if text.next_char() == "}":
        return None
    pairs = []
    while True:
        name = text.value(SCAN_KEEPING)
        text.expect(":")
        value = _list(text, size) if text.next_char() == "[" else text.value(SCAN_KEEPING)
        pairs.append((name, value))
        if not text.separator("}"):
            return _object(pairs)


def _list(text: _Text, size: int | None) -> _Holder | None:
    """A top-level list, at its "[": its items kept, the sample's."""
    text.pos += 1
    if text.next_char() == "]":
        text.pos += 1
        return None
    inside: list[tuple[str | int, _Holder]] = []
    index = 0
    while True:
        held = _kept(text.value(SCAN_KEEPING))
        if held is not None and (size is None or index < size):
            inside.append((index, held))
        index += 1
        if not text.separator("]"):
            return _Holder([], inside, is_list=True) if inside else None


def _object(pairs: list[tuple[str, Any]]) -> _Holder | None:
    """An object as the second reading keeps it: nothing, where no name is repeated."""
    names: list[tuple[str, int]] = []
    if len({name for name, _ in pairs}) < len(pairs):
        names = [(name, n) for name, n in Counter(name for name, _ in pairs).items() if n > 1]
    inside = [(name, held) for name, value in pairs if (held := _kept(value)) is not None]
    return _Holder(names, inside) if names or inside else None


def _kept(value: Any) -> _Holder | None:
    if type(value) is _Holder:
        return value
    if type(value) is list:
        inside = [
            (index, held) for index, item in enumerate(value) if (held := _kept(item)) is not None
        ]
        return _Holder([], inside, is_list=True) if inside else None
    return None


def _sampled(root: _Holder, size: int | None) -> _Holder:
    """The root without the items of its top-level lists past the sample."""
    if size is None:
        return root
    if root.is_list:
        kept = [(index, held) for index, held in root.inside if index < size]
        return _Holder([], kept, is_list=True)
    inside = [(key, _sampled(held, size) if held.is_list else held) for key, held in root.inside]
    return _Holder(root.names, inside)


# The standard library's scanner, keeping each object as _object does.
SCAN_KEEPING = json.scanner.make_scanner(json.JSONDecoder(object_pairs_hook=_object))
