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
"""

from __future__ import annotations

import codecs
import json
import json.scanner
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

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
    (its keys in their order) and ``count`` the number of items read."""

    def __init__(self, path: Path, key: str):
        self.path = path
        self.key = key
        self.skeleton: dict[str, Any] = {}
        self.count = 0

    def items(self) -> Iterator[Any]:
        with self.path.open("rb") as handle:
            text = _Text(handle)
            try:
                yield from self._document(text)
            except (RecursionError, ValueError) as error:  # JSONDecodeError is a ValueError
                raise NotStreamable(str(error)) from None

    def _document(self, text: _Text) -> Iterator[Any]:
        if text.next_char() != "{":
            raise NotStreamable("the document is not an object")
        text.pos += 1
        if text.next_char() == "}":
            text.pos += 1
        else:
            yield from self._members(text)
        if text.next_char() != "":
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
            else:
                self.skeleton[name] = text.value()
            if not text.separator("}"):
                return

    def _list(self, text: _Text) -> Iterator[Any]:
        if text.next_char() == "]":
            text.pos += 1
            return
        while True:
            item = text.value()
            self.count += 1
            yield item
            if not text.separator("]"):
                return


class _Text:
    """Decoded text read from a file a piece at a time, with a reading position."""

    def __init__(self, handle: BinaryIO):
        self.handle = handle
        head = handle.read(4)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
            raise NotStreamable("UTF-16 or another encoding than UTF-8")
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.buffer = ""
        self.pos = 0
        self.checked = 0  # the text before this has no unpaired surrogate escape
        self.finished = False
        self._add(head)

    def value(self) -> Any:
        """The JSON value at the position, reading more text until it is complete."""
        while True:
            self.skip_whitespace()
            try:
                value, end = SCAN_ONCE(self.buffer, self.pos)
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
            self.pos = end
            return value

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
        # A pair of escapes may straddle two pieces: the last ones wait for the next.
        end = len(self.buffer)
        self._check_surrogates(end if self.finished else end - 2 * ESCAPE_LENGTH)

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
