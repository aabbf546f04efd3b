"""Reading a large JSON document one item at a time, so that memory stays small.

Most data files are one object holding one long list ("grants": [...]) beside a few
small fields. ``ItemStream`` reads such a file in pieces: it hands out the items of that
list one by one, each forgotten once the checks have seen it, and keeps the rest of the
document (the "skeleton", with the list left empty). Memory then holds a piece of text,
an item and the rest of the document, not the whole tree (six to eight times the file).

Anything unusual (a syntax error, UTF-16, an unpaired surrogate escape, a repeated key,
numbers the standard library reads differently from orjson) raises
``NotStreamable``, and the caller reads the file whole with ``tasks.data.parse``, which
gives the exact message. So streaming never changes what is accepted, only how fast.

The items are read a run at a time by orjson, twice as fast as the standard library's
scanner, where the text shows where a run may end: before an item that starts as the
first one did (``{"id":``, say), after a comma. A guess that falls inside an item (the same
text in a list within it) does not parse, and the items are then read one by one. A run
that parses is exactly the items it holds: JSON read from the left cannot be read
otherwise, so text that parses as complete values up to a comma ends where the list's
items do.
"""

from __future__ import annotations

import codecs
import json
import json.scanner
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from tasks.data import LONG_DIGIT_RUN, may_hold_a_long_integer
from tasks.repeated import strings_in_text

PIECE = 1 << 20  # bytes read at a time, at least (more while one value is longer)
NUMBERS = (int, float)
WHITESPACE = re.compile(r"[ \t\n\r]*")
# A "\ud800"-style escape not in a pair: orjson refuses it, the standard library does not.
# This finds a high one not followed by a low one, and every low one; whether a low one
# follows a high one is asked separately (a lookbehind here made the search 70x slower).
LOW = r"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
SURROGATE = re.compile(rf"\\u[dD](?:[89abAB][0-9a-fA-F]{{2}}(?!{LOW})|[c-fC-F][0-9a-fA-F]{{2}})")
HIGH = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}")
ESCAPE_LENGTH = 6
# A decoding error this close to the end of the text read may only mean "read more".
NEAR_THE_END = 32
RUN = 25_000  # characters of items read by orjson at once, at least
RUN_WINDOW = 4 * RUN  # and at most: items longer than the difference are read one by one
GUESSES = 3  # tries at the end of one run before the items are read one by one
PLACES_LOOKED_AT = 64  # where the opening is found, at most, in those tries
SPLIT_WINDOW = 1 << 20  # bytes in which a comma to split a list at is looked for
CHECKED_AFTER = 1 << 16  # bytes after such a comma looked at (see comma_near)
STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
QUOTE = ord('"')


class NotStreamable(Exception):
    """This document must be read whole (to say exactly what is wrong, or for its shape)."""


def finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NotStreamable("a number too large")
    return value


def no_constants(name: str) -> None:
    raise NotStreamable(f"{name} is not JSON")


# Anything the whole reading refuses is left to it, so that its message is the one given.
# Integers are read exactly, however long, as the whole reading does (tasks.data.parse).
DECODER = json.JSONDecoder(parse_float=finite_float, parse_constant=no_constants)
# The decoder's scanner itself, without raw_decode's wrapping: called once per item.
SCAN_ONCE = json.scanner.make_scanner(DECODER)


class ItemStream:
    """The items of the list at ``key`` of a JSON object, read one at a time.

    After ``items()`` is exhausted, ``skeleton`` holds the document with that list empty
    (its keys in their order) and ``count`` the number of items read. ``strings`` is the
    number of strings in the text read (names and values: see tasks/repeated.py): with
    ``counted_items``, in the skeleton and the text of those first items and of the rest
    of the run they were read in, whose items number ``counted``."""

    def __init__(self, path: Path, key: str, counted_items: int | None = None):
        self.path = path
        self.key = key
        self.skeleton: dict[str, Any] = {}
        self.count = 0
        self.counted_items = counted_items
        self.counted = 0
        self.strings = 0
        self.runs: _Runs | None = None
        self.handle: _Bounded | None = None
        # The reading stopped at the end set by stop_at(), between two items of the list.
        self.stopped = False

    def items(self) -> Iterator[Any]:
        with self.path.open("rb") as handle:
            self.handle = _Bounded(handle)
            text = _Text(self.handle)
            try:
                yield from self._document(text)
            except (RecursionError, ValueError) as error:  # JSONDecodeError is a ValueError
                raise NotStreamable(str(error)) from None
            self.strings = text.strings

    @property
    def opening(self) -> str | None:
        """How the list's items start in the text (``{"id":``), once the first is read."""
        return self.runs.opening if self.runs else None

    def stop_at(self, end: int) -> bool:
        """Read no further than byte ``end``, a comma between two of the list's items (see
        items_after): the list then ends there, and the rest of the document is not read.
        False if the text already read goes past it."""
        if self.handle is None or self.handle.read_bytes > end:
            return False
        self.handle.end = end
        return True

    def items_after(self, comma: int) -> Iterator[Any]:
        """The list's items after the comma at byte ``comma``, which must be between two of
        them, then the document's members after the list, into ``skeleton``."""
        self.skeleton[self.key] = []  # so that a second list of that name is refused
        with self.path.open("rb") as handle:
            handle.seek(comma + 1)
            text = _Text(handle)
            try:
                yield from self._list(text, continued=True)
                if text.separator("}"):
                    yield from self._members(text)
                if text.next_char() != "":
                    raise NotStreamable("text after the document")
            except (RecursionError, ValueError) as error:
                raise NotStreamable(str(error)) from None
            self.strings = text.strings

    def _document(self, text: _Text) -> Iterator[Any]:
        if text.next_char() != "{":
            raise NotStreamable("the document is not an object")
        text.pos += 1
        if text.next_char() == "}":
            text.pos += 1
        else:
            yield from self._members(text)
        if not self.stopped and text.next_char() != "":
            raise NotStreamable("text after the document")

    def _members(self, text: _Text) -> Iterator[Any]:
        while True:
            name = text.value()
            if not isinstance(name, str) or name in self.skeleton:
                raise NotStreamable("a member without a name, or a repeated one")
            text.expect(":")
            if name == self.key and text.next_char() == "[":
                self.skeleton[name] = []
                text.pos += 1
                yield from self._list(text)
                if self.stopped:
                    return
            else:
                self.skeleton[name] = text.value()
            if not text.separator("}"):
                return

    def _list(self, text: _Text, continued: bool = False) -> Iterator[Any]:
        """The list's items, from its start or, ``continued``, after a comma in it."""
        if not continued and text.next_char() == "]":
            text.pos += 1
            return
        runs = self.runs = _Runs()
        limit = self.counted_items
        while True:
            text.counting = limit is None or self.count < limit
            items = runs.read(text) or [runs.one(text)]
            self.count += len(items)
            if text.counting:
                self.counted = self.count
            yield from items
            if self.handle is not None and self.handle.end is not None and not text.next_char():
                self.stopped = True  # at the end set: the comma after is not read
                return
            if not text.separator("]"):
                text.counting = True  # the rest of the document
                return


class _Runs:
    """Reading items a run at a time (see the module's docstring). Where runs keep failing
    they are left alone for a while, longer each time: text that never ends a run would
    otherwise be searched again at every item."""

    LESSONS = 3  # items read to learn how an item starts, before giving up on runs

    def __init__(self) -> None:
        self.opening: str | None = None
        self.lessons = self.LESSONS
        self.skip = 0  # items to read one by one before trying a run again
        self.misses = 0

    def one(self, text: _Text) -> Any:
        """One item, read alone; the first ones show how an item's text starts."""
        if self.opening is not None or not self.lessons:
            return text.value()
        self.lessons -= 1
        text.skip_whitespace()
        opening = text.opening(text.pos)
        item = text.value()
        if type(item) is dict:
            self.opening = opening
        return item

    def read(self, text: _Text) -> list[Any]:
        """The items of a run, after which the text is at a comma; or none."""
        if self.opening is None or text.long_integers:
            return []
        if self.skip:
            self.skip -= 1
            return []
        items = text.run(self.opening)
        if items:
            self.misses = 0
        else:
            self.misses = min(self.misses + 1, 10)
            self.skip = 2**self.misses
        return items


class _Bounded:
    """A file read no further than ``end``, which may be set while it is read."""

    def __init__(self, handle: BinaryIO):
        self.handle = handle
        self.end: int | None = None
        self.read_bytes = 0

    def read(self, size: int) -> bytes:
        if self.end is not None:
            size = max(0, min(size, self.end - self.read_bytes))
        raw = self.handle.read(size)
        self.read_bytes += len(raw)
        return raw


class _Text:
    """Decoded text read from a file a piece at a time, with a reading position."""

    def __init__(self, handle: BinaryIO | _Bounded):
        self.handle = handle
        head = handle.read(4)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
            raise NotStreamable("UTF-16 or another encoding than UTF-8")
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buffer = ""
        self.pos = 0
        self.checked = 0  # the text before this has no unpaired surrogate escape
        self.finished = False
        # An integer orjson would read as a float may be in the file: runs are not read.
        self.long_integers = False
        self.last_bytes = b""  # the end of the last piece read, where a long one may start
        self.strings = 0  # in the values read while counting (see tasks/repeated.py)
        self.counting = True
        self._add(head)

    def value(self, scan: Callable[[str, int], tuple[Any, int]] = SCAN_ONCE) -> Any:
        """The JSON value at the position, reading more text until it is complete; read by
        ``scan``, a JSON scanner (tasks/repeated.py has one that keeps objects otherwise)."""
        while True:
            self.skip_whitespace()
            try:
                value, end = scan(self.buffer, self.pos)
            except StopIteration:
                self._read_more_or_give_up(len(self.buffer))
                continue
            except json.JSONDecodeError as error:
                truncated = error.msg.startswith("Unterminated string")
                self._read_more_or_give_up(len(self.buffer) if truncated else error.pos)
                continue
            # A number at the end of what is read, "2." say, may go on in the next piece.
            near_the_end = end > len(self.buffer) - NEAR_THE_END and not self.finished
            if near_the_end and type(value) in NUMBERS:
                self.read_more()
                continue
            if self.counting:
                self.strings += strings_in_text(self.buffer, self.pos, end)
            self.pos = end
            return value

    def opening(self, start: int) -> str | None:
        """The text from ``start``, where an object begins, up to its first name's colon."""
        if self.buffer[start : start + 1] != "{":
            return None
        name_at = WHITESPACE.match(self.buffer, start + 1).end()
        try:
            _, name_end = SCAN_ONCE(self.buffer, name_at)
        except (StopIteration, ValueError):
            return None  # not in the text held: the object is long
        colon = WHITESPACE.match(self.buffer, name_end).end()
        return self.buffer[start : colon + 1] if self.buffer[colon : colon + 1] == ":" else None

    def run(self, opening: str) -> list[Any]:
        """The values from the position up to a comma before ``opening``, read by orjson,
        leaving the position at that comma; or none, the position unmoved.

        The opening is looked for between RUN and RUN_WINDOW characters on, so that each
        try costs the same however much text is held (a huge value read just before)."""
        self.skip_whitespace()
        if len(self.buffer) - self.pos < RUN_WINDOW and not self.finished:
            self.read_more()
            if self.long_integers:  # in the piece just read: orjson would read it as a float
                return []
        at, end = self.pos + RUN, self.pos + RUN_WINDOW
        looked_at = 0
        for _ in range(GUESSES):
            comma = None
            # ':{"id":' is an object's field, not an item; a comma must come before.
            while comma is None:
                at = self.buffer.find(opening, at + 1, end)
                looked_at += 1
                if at < 0 or looked_at > PLACES_LOOKED_AT:
                    return []
                comma = self._comma_before(at)
            try:
                items = orjson.loads(f"[{self.buffer[self.pos : comma]}]")
            except orjson.JSONDecodeError:
                continue  # the opening was inside an item: the next one may not be
            if self.counting:
                self.strings += strings_in_text(self.buffer, self.pos, comma)
            self.pos = comma
            return items
        return []

    def _comma_before(self, at: int) -> int | None:
        before = at - 1
        while self.buffer[before] in " \t\n\r":
            before -= 1
        return before if self.buffer[before] == "," else None

    def _read_more_or_give_up(self, where: int) -> None:
        """After a decoding error at ``where``: read on if the text may just have stopped
        short there, else give up (a real error, which the whole reading will describe)."""
        if self.finished or where < len(self.buffer) - NEAR_THE_END:
            raise NotStreamable("not well-formed JSON")
        self.read_more()

    def next_char(self) -> str:
        """The next character that is not whitespace ("" at the end of the file)."""
        self.skip_whitespace()
        while self.pos >= len(self.buffer) and not self.finished:
            self.read_more()
            self.skip_whitespace()
        return self.buffer[self.pos : self.pos + 1]

    def skip_whitespace(self) -> None:
        self.pos = WHITESPACE.match(self.buffer, self.pos).end()

    def expect(self, char: str) -> None:
        if self.next_char() != char:
            raise NotStreamable(f"expected {char!r}")
        self.pos += 1

    def separator(self, closing: str) -> bool:
        """True after a comma (more follows), False after ``closing``."""
        char = self.next_char()
        if char not in {",", closing}:
            raise NotStreamable(f"expected ',' or {closing!r}")
        self.pos += 1
        return char == ","

    def read_more(self) -> None:
        # What was read is forgotten: first make sure it held no unpaired surrogate.
        self._check_surrogates(self.pos)
        self.buffer = self.buffer[self.pos :]
        self.checked = max(0, self.checked - self.pos)
        self.pos = 0
        # Twice as much as is held, so that one huge item costs linear time, not quadratic.
        self._add(self.handle.read(max(PIECE, len(self.buffer) * 2)))

    def _add(self, raw: bytes) -> None:
        try:
            piece = self.decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as error:
            raise NotStreamable("not UTF-8") from error
        self.finished = not raw
        self.buffer += piece
        self._look_for_long_integers(raw)
        # A pair of escapes may straddle two pieces: the last ones wait for the next.
        end = len(self.buffer)
        self._check_surrogates(end if self.finished else end - 2 * ESCAPE_LENGTH)

    def _look_for_long_integers(self, raw: bytes) -> None:
        if not self.long_integers:
            overlap = len(LONG_DIGIT_RUN) - 1
            across = self.last_bytes + raw[:overlap]  # a run may straddle two pieces
            self.long_integers = may_hold_a_long_integer(raw) or may_hold_a_long_integer(across)
            self.last_bytes = raw[-overlap:]

    def _check_surrogates(self, upto: int) -> None:
        """Refuse an unpaired surrogate escape starting before ``upto`` (and after what was
        checked before), once the text after it, where its partner would be, is here."""
        start = max(0, self.checked - 2 * ESCAPE_LENGTH)
        for found in SURROGATE.finditer(self.buffer, start):
            at = found.start()
            if at >= upto:
                break
            if self._escaped(at):
                continue  # a backslash written as "\\", then text that reads "ud800"
            before = at - ESCAPE_LENGTH
            low = found.group()[2] in "cdefCDEF"
            paired = low and HIGH.fullmatch(self.buffer, before, at) and not self._escaped(before)
            if not paired:
                raise NotStreamable("an unpaired surrogate escape")
        self.checked = max(self.checked, upto)

    def _escaped(self, at: int) -> bool:
        """Whether the backslash at ``at`` is itself escaped: an odd number come before it."""
        first = at
        while first > 0 and self.buffer[first - 1] == "\\":
            first -= 1
        return (at - first) % 2 == 1


def comma_near(path: Path, offset: int, opening: str | None) -> int | None:
    """The byte offset of the first comma after ``offset`` that comes right before
    ``opening`` (how the list's items start) and seems to be between two items (see
    _inside_an_item). Where the list is split (ItemStream.stop_at and items_after); a long
    list in an item can still mislead it, which the reading of the first half then finds:
    it does not end between two items."""
    if opening is None:
        return None
    sought = opening.encode()
    with path.open("rb") as handle:
        handle.seek(offset)
        text = handle.read(SPLIT_WINDOW)
    at = text.find(sought)
    while at >= 0:
        comma = _comma_before(text, at)
        inside = 0 if comma is None else _inside_an_item(text, comma)
        if comma is not None and not inside:
            return offset + comma
        at = text.find(sought, max(at + 1, inside))  # past the item it was in, if it was
    return None


def _comma_before(text: bytes, at: int) -> int | None:
    before = at - 1
    while before >= 0 and text[before] in b" \t\n\r":
        before -= 1
    return before if before >= 0 and text[before] == ord(",") else None


def _inside_an_item(text: bytes, comma: int) -> int:
    """Where the brackets in the CHECKED_AFTER bytes after ``comma`` show it to be inside
    an item, or 0. After a comma between two items, the brackets opened before it close
    at the end of the list and of the document, after which none opens: after one in a
    list inside an item, that list's and its item's close, and then the next item opens
    (or the list and the document close as well)."""
    depth = 0
    for found in STRING_OR_BRACKET.finditer(text, comma, comma + CHECKED_AFTER):
        first = text[found.start()]
        if first == QUOTE:
            continue
        opens = first in b"[{"
        if opens and depth <= -2:  # after the document closed, if it is not an item
            return found.start()
        depth += 1 if opens else -1
        if depth <= -3:
            return found.start()
    return 0
