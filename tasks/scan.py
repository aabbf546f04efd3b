"""One reading of the data for every check: each item is read once, and every check
looks at it before it is forgotten.

Validation, the field walk, additional fields, statistics and links all need to see every
item. Reading a 50 MB file whole makes a tree of over 300 MB; so, when the data is an
object holding the profile's root list, the items are streamed (tasks/reading.py) and the
checks keep only what they report: counts, a bounded number of errors and examples.
Otherwise (another shape, a schema that judges the list as a whole, a file the streaming
reader leaves to orjson) the document is read whole and the same checks walk it, its
items still validated a batch at a time where the schema allows (_whole_in_batches).

The reading also counts the strings of the text it reads: where the data read holds
fewer, an object named a field twice, and only then is the file read again to say where
(tasks/repeated.py).

The checking tasks share one ``Scan`` per run through the run's memo; a task run on its
own (after an upgrade, say) makes a scan of its own.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings

from process.errors import BadInput, TaskError
from process.forked import Forked, ForkFailed
from process.runner import Inputs
from process.store import Subject
from tasks.data import (
    SPREADSHEETS,
    data_path,
    json_type,
    load_data,
    parse,
    sample,
    sample_size,
    top_level_lists,
)
from tasks.fields import (
    EXAMPLES,
    FieldWalk,
    SchemaFields,
    escape,
    pattern_parts,
    places_at,
    places_of_each,
    values_at,
    values_in,
)
from tasks.profile_schema import (
    described_fields,
    has_schema,
    link_patterns,
    load_profile_schema,
)
from tasks.reading import ItemStream, NotStreamable, comma_near
from tasks.repeated import Repeated, find_repeated, strings_in, strings_in_file
from tasks.schema import (
    MAX_ITEMS_KEPT,
    MAX_VALUE_CHARS,
    SHOWN_ENTRIES,
    ErrorGroups,
    LoadedSchema,
    SchemaError,
    batch_errors,
    checks_items_alone,
    engine_for,
    engine_for_values,
    items_needed_for_rest,
    iter_errors,
    judges_the_whole_list,
    moved_along,
    rest_errors,
    truncate,
    without_items_rule,
)

logger = logging.getLogger(__name__)

# Items validated per call: a few, so they are checked while still in the processor's
# cache (500 at a time took twice as long; bench/validation.py).
BATCH = 25
# Additional fields looked for in each item while short of examples: each costs every
# item a look until it has them (a field met once stays short), so there is a bound.
MAX_WATCHED = 50
# Additional fields given examples at all, the first met: the report lists 500 (data with
# a field name per id has hundreds of thousands, whose examples took 80 MB).
MAX_EXAMPLED = 2_000
TOO_LONG = "…" * (MAX_VALUE_CHARS + 1)  # stands for the rest of a list too long to show
MAX_PLACES = 5  # places kept per link
# The second half of a file read in two notes the places of this many times as many
# links: those the first half notes may be among them (see LinkPlaces.add_after).
LATER_LINKS = 10
LATER_WAIT = 10  # seconds the second half may take beyond twice the first's


@dataclass
class Plan:
    """What the checks need to know before reading: the schema, and what to look for."""

    key: str  # the root list's key
    loaded: LoadedSchema | None = None
    described: SchemaFields | None = None
    links: list[str] = field(default_factory=list)
    id_name: str = "id"
    distinct: tuple[str, ...] = ()
    sample_size: int | None = None
    # False reads the file whole, as for shapes that cannot stream (tests compare the two).
    stream: bool = True
    # False validates a document read whole in one call, even where its items could be
    # validated a batch at a time: what the tests hold the batches to.
    batches: bool = True
    # A document that is itself a list: its elements are the items, whatever the key.
    root_is_list: bool = False
    from_a_spreadsheet: bool = False  # the data was converted from one

    @classmethod
    def for_submission(cls, submission: Subject) -> Plan:
        profile = submission.get_profile()
        try:
            loaded = load_profile_schema(profile) if has_schema(profile) else None
        except TaskError:
            loaded = None  # the validation step says what is wrong with the schema
        described = loaded and described_fields(loaded)
        return cls(
            key=profile.root_list_path,
            loaded=loaded,
            described=described,
            links=link_patterns(submission),
            id_name=profile.id_name,
            distinct=profile.distinct_fields,
            sample_size=sample_size(submission),
            from_a_spreadsheet=submission.format in SPREADSHEETS,
        )

    @property
    def can_stream(self) -> bool:
        return self.stream and (self.loaded is None or checks_items_alone(self.loaded, self.key))

    @property
    def items_pattern(self) -> str:
        return f"{self.list_pointer}/*"

    @property
    def list_key(self) -> str | None:
        """The root list's key in the document; None where the document is the list."""
        return None if self.root_is_list else self.key

    @property
    def list_pointer(self) -> str:
        return "" if self.root_is_list else f"/{escape(self.key)}"


@dataclass
class LinkPlaces:
    """Each distinct link, up to a limit, with where it appears."""

    limit: int
    places: dict[str, list[str]] = field(default_factory=dict)
    appears: Counter[str] = field(default_factory=Counter)
    # Beyond the limit, only how many more there are: hashes take less room than text.
    others: set[int] = field(default_factory=set)

    def wants_place(self, url: str) -> bool:
        pointers = self.places.get(url)
        return len(self.places) < self.limit if pointers is None else len(pointers) < MAX_PLACES

    def add(self, url: str, pointer: str) -> None:
        if self.wants_place(url):
            self.places.setdefault(url, []).append(pointer)
        if url in self.places:
            self.appears[url] += 1
        else:
            self.others.add(hash(url))

    def add_after(self, later: LinkPlaces, move: Callable[[str], str]) -> bool:
        """Note the links ``later`` met, in data after the data of those noted here, each
        place moved by ``move`` to its place in the whole. False where that cannot be done
        exactly: a link noted here that ``later`` met only past its own limit."""
        for url, pointers in later.places.items():
            mine = self.places.get(url)
            if mine is None:
                if len(self.places) >= self.limit:
                    self.others.add(hash(url))
                    continue
                mine = self.places[url] = []
            mine += [move(pointer) for pointer in pointers[: MAX_PLACES - len(mine)]]
            self.appears[url] += later.appears[url]
        self.others |= later.others
        return later.others.isdisjoint(map(hash, self.places))

    def only_counts(self, urls: list[str]) -> bool:
        """Count ``urls`` if none of them needs its place noted; say whether that was so."""
        if len(self.places) < self.limit or not self.places.keys().isdisjoint(urls):
            return False
        self.others.update(map(hash, urls))
        return True


@dataclass
class Scan:
    """What the checks found in one reading of the data."""

    top_level: str  # the JSON type of the whole document
    lists: list[tuple[str, int]]  # the top-level lists and their lengths
    checked_lists: list[tuple[str, int]]  # the same, as far as the checks looked
    items: int  # items of the root list checked
    objects: int  # items of the whole root list that are objects: what spreadsheet rows hold
    items_pattern: str  # where they are: "/grants/*", or "/*" in a document that is a list
    root_is_list: bool  # the document is itself the list of items
    walk: FieldWalk
    errors: ErrorGroups | None
    validation_failure: BadInput | None  # why the data could not be checked, if it could not
    examples: dict[str, list[dict[str, Any]]]  # of additional fields
    links: LinkPlaces
    ids: Counter
    distinct: dict[str, Counter]
    # Names given twice in one object (read as the last value): found after the reading.
    repeated: Repeated = field(default_factory=Repeated)


def load_scan(submission: Subject, inputs: Inputs) -> Scan:
    return inputs.memo("scan", lambda: scan(submission, inputs))


def scan(submission: Subject, inputs: Inputs) -> Scan:
    plan = Plan.for_submission(submission)
    return scan_file(data_path(submission), plan, lambda: load_data(submission, inputs))


def scan_file(path: Path, plan: Plan, read_whole: Callable[[], Any] | None = None) -> Scan:
    """Stream the file when its shape and the schema allow; else read it whole."""
    if plan.can_stream:
        try:
            return _streamed(path, plan)
        except NotStreamable:
            pass  # read whole below, which says precisely what is wrong, if anything is
    data = read_whole() if read_whole else parse(path.read_bytes())
    scan = _whole(data, plan)
    if not plan.from_a_spreadsheet:
        unread = _cut_parts(data, plan.sample_size)
        scan.repeated = _repeated(path, plan, strings_in_file(path), scan.walk, unread)
    return scan


def _streamed(path: Path, plan: Plan) -> Scan:
    if _read_in_two(path, plan):
        try:
            scan = _read_in_halves(path, plan)
        except NotReadInTwo as why:  # slower than it could be: worth an operator's look
            logger.info("the data is read in one process: %s", why)
        else:
            logger.debug("the data was read in two processes, a half each")
            return scan
    return _streamed_in_one(path, plan)


class NotReadInTwo(Exception):
    """Why a file is read in one process after all: said in words, for the log."""


def _read_in_two(path: Path, plan: Plan) -> bool:
    """Whether to read the file's two halves at once. A sample is read in one (its items
    are the first few); so is a spreadsheet's data, whose errors are placed in cells."""
    least = settings.ASSAY_READ_IN_TWO_BYTES
    return (
        least > 0
        and hasattr(os, "fork")
        and plan.sample_size is None
        and not plan.from_a_spreadsheet
        and path.stat().st_size >= least
    )


def _read_in_halves(path: Path, plan: Plan) -> Scan:
    """The scan of a large file whose main list is read a half at a time, at once: the
    second half by a forked copy of this process, from a comma between two items near
    the middle of the file; what it found is then added to what this found in the first
    half, as if this had read on. Raises NotReadInTwo where that cannot be done, or not
    exactly (a guessed comma inside an item, say)."""
    started = time.monotonic()
    stream = ItemStream(path, plan.key)
    checks = Checks(plan, validate_in_batches=True)
    later: Forked | None = None
    items = stream.items()
    try:
        with _collector_paused():
            for index, item in enumerate(items):
                checks.item(index, item)
                if later is None:  # the first item has shown how the items start
                    later = _read_later_half(path, plan, stream)
            if not stream.stopped:
                raise NotReadInTwo("the list ends before the middle of the file")
            checks.flush()
            if why := checks.why_not_first():
                raise NotReadInTwo(why)  # and the second half is stopped
            # The copy reads as much as this did: far longer means it is stuck (on a lock
            # another thread held when it was made, say), and this reads on alone.
            half = later.result(timeout=LATER_WAIT + 2 * (time.monotonic() - started))
            checks.add_after(half.found)
            skeleton = _joined(stream.skeleton, half.skeleton, plan.key)
            _check_rest(checks, skeleton)
    except NotStreamable as error:  # read in one process, which says what is wrong
        why = f"the first half did not end between two items, or is not well-formed ({error})"
        raise NotReadInTwo(why) from None
    except ForkFailed as error:
        raise NotReadInTwo(f"the second half could not be read ({error})") from None
    finally:
        items.close()
        if later is not None:
            later.stop()
    scan = checks.result(skeleton, _lists(skeleton, plan.key, stream.count + half.count))
    scan.repeated = _repeated(path, plan, stream.strings + half.strings, scan.walk, [])
    return scan


@dataclass
class LaterHalf:
    """What the checks found in the second half of a file's main list (see Checks.add_after),
    and what was read of the document after the list."""

    found: dict[str, Any]
    count: int  # items read
    strings: int  # in the text read (see ItemStream)
    skeleton: dict[str, Any]  # the list's name, then the members after it


def _read_later_half(path: Path, plan: Plan, stream: ItemStream) -> Forked:
    """Start reading the second half of the list in a forked copy of this process, and
    stop ``stream`` where it starts."""
    comma = comma_near(path, path.stat().st_size // 2, stream.opening)
    if comma is None:
        raise NotReadInTwo("no comma before an item's opening found near the middle")
    if not stream.stop_at(comma):
        raise NotReadInTwo("the first piece of text read goes past the middle")
    return Forked(lambda: _later_half(path, plan, comma))


def _later_half(path: Path, plan: Plan, comma: int) -> LaterHalf:
    """Read in the forked copy: the list's items after ``comma``, checked as if they were
    the first (their places are moved when they are added to the first half's)."""
    stream = ItemStream(path, plan.key)
    checks = Checks(
        plan, validate_in_batches=True, link_limit=LATER_LINKS * settings.ASSAY_MAX_LINKS
    )
    for index, item in enumerate(stream.items_after(comma)):
        checks.item(index, item)
    checks.flush()
    if why := checks.why_not_later():
        raise NotReadInTwo(why)
    return LaterHalf(checks.found(), stream.count, stream.strings, stream.skeleton)


def _joined(first: dict[str, Any], later: dict[str, Any], key: str) -> dict[str, Any]:
    """The document's members read before the list (with it) and after it."""
    after = {name: value for name, value in later.items() if name != key}
    if not after.keys().isdisjoint(first):  # which the reading in one process refuses
        raise NotReadInTwo("a name is given both before and after the list")
    return {**first, **after}


def _streamed_in_one(path: Path, plan: Plan) -> Scan:
    # A spreadsheet's conversion names each field once: its text need not be counted.
    counted_items = 0 if plan.from_a_spreadsheet else plan.sample_size
    stream = ItemStream(path, plan.key, counted_items)
    checks = Checks(plan, validate_in_batches=True)
    counted_beyond: list[Any] = []  # past the sample, read in one run with its last items
    # Streamed items make no reference cycles and live briefly: the cyclic collector
    # would only slow the reading down (see process/runner.py Memo).
    with _collector_paused():
        items = stream.items()
        if plan.sample_size is not None:
            items = _keeping_counted_beyond(items, stream, plan.sample_size, counted_beyond)
        _check_items(checks, items)
        skeleton = stream.skeleton
        _check_rest(checks, skeleton)
    scan = checks.result(skeleton, _lists(skeleton, plan.key, stream.count))
    if not plan.from_a_spreadsheet:
        unread = [counted_beyond, *_cut_parts(skeleton, plan.sample_size)]
        scan.repeated = _repeated(path, plan, stream.strings, scan.walk, unread)
    return scan


def _keeping_counted_beyond(
    items: Iterator[Any], stream: ItemStream, size: int, kept: list[Any]
) -> Iterator[Any]:
    """The items, keeping in ``kept`` those past the sample whose text was counted: read
    in one run with the sample's last items, they are not walked (see _repeated)."""
    for index, item in enumerate(items):
        if size <= index < stream.counted:
            kept.append(item)
        yield item


def _repeated(
    path: Path, plan: Plan, in_text: int, walk: FieldWalk, unread: list[list[Any]]
) -> Repeated:
    """Names given twice, looked for only where the text holds more strings than the data
    read from it: the counted text's are the walk's, and those of its parts not walked."""
    read = walk.strings + sum(strings_in(part) for part in unread if part)
    return Repeated() if read == in_text else find_repeated(path, plan.sample_size)


def _cut_parts(data: Any, size: int | None) -> list[list[Any]]:
    """The items past the sample of each top-level list, as ``sample`` leaves them out."""
    if size is None:
        return []
    if isinstance(data, list):
        return [data[size:]]
    if isinstance(data, dict):
        return [value[size:] for value in data.values() if isinstance(value, list)]
    return []


def _whole(data: Any, plan: Plan) -> Scan:
    if isinstance(data, list):
        plan = replace(plan, root_is_list=True)
    items = _root_list(data, plan)
    if items is not None and plan.batches and _batchable(plan):
        return _whole_in_batches(data, items, plan)
    checked = sample(data, plan.sample_size) if plan.sample_size else data
    checks = Checks(plan, validate_in_batches=False)
    if isinstance(checked, list):
        _check_items(checks, checked)
        checks.rest([])
    elif isinstance(checked, dict) and isinstance(checked.get(plan.key), list):
        _check_items(checks, checked[plan.key])
        checks.rest({key: [] if key == plan.key else value for key, value in checked.items()})
    else:
        checks.rest(checked)
    if checks.errors is not None:
        checks.cut_lists = _cut_lists(data, plan.sample_size)
        checks.check_whole(checked)
        if checked is not data:
            try:
                checks.errors.add_first(_least_length_errors(data, checked, plan))
            except BadInput as failure:  # too deep to check, as check_whole tells
                checks.failure = failure
    if checked is not data:  # the items past the sample are objects or not all the same
        whole = data if isinstance(data, list) else data.get(plan.key)
        checks.objects = sum(type(item) is dict for item in whole) if type(whole) is list else 0
    return checks.result(data, top_level_lists(data))


def _root_list(data: Any, plan: Plan) -> list[Any] | None:
    """The root list of a document read whole, if it has one."""
    if plan.root_is_list:
        return data
    found = data.get(plan.key) if isinstance(data, dict) else None
    return found if isinstance(found, list) else None


def _batchable(plan: Plan) -> bool:
    """Whether a document read whole can have its items checked in batches. A sample is
    validated in one call, as its items are few (ASSAY_SAMPLE_ITEMS)."""
    return (
        plan.loaded is not None
        and plan.sample_size is None
        and checks_items_alone(plan.loaded, plan.list_key, whole_list=True)
    )


def _whole_in_batches(data: Any, items: list[Any], plan: Plan) -> Scan:
    """A document read whole, checked as a streamed one is: its items a batch at a time.
    jsonschema-rs makes every error of what it is given before it gives the first, at 2 KB
    each, 6 KB a oneOf's: validated in one call, a 7.7 MB list of 120,000 items that
    each broke a oneOf took a worker to 1 GB (bench/errors.py)."""
    checks = Checks(plan, validate_in_batches=True)
    if judges_the_whole_list(plan.loaded, plan.list_key):
        checks.whole_list = items
    _check_items(checks, items)
    if plan.root_is_list:
        _check_rest(checks, [])
    else:
        _check_rest(checks, {key: [] if key == plan.key else value for key, value in data.items()})
    return checks.result(data, top_level_lists(data))


def _least_length_errors(data: Any, checked: Any, plan: Plan) -> list[SchemaError]:
    """The root list's minItems, where the sample cut it short: judged on the whole list,
    when it is short enough to be judged cheaply or shorter than its own minItems."""
    needed = items_needed_for_rest(plan.loaded, plan.key)
    whole = data.get(plan.key) if isinstance(data, dict) else None
    if not isinstance(whole, list) or len(whole) <= plan.sample_size:
        return []  # not cut by the sample
    if len(whole) >= max(needed, SHORT_LIST):
        return []  # long enough for the least length the list's own schema sets
    pointer = f"/{escape(plan.key)}"
    return [
        error
        for error in iter_errors({**checked, plan.key: whole}, plan.loaded)
        if error.path == pointer and error.validator == "minItems"
    ]


# A list this long is checked whole for its length, whatever rule sets its least one (a
# minItems through a $ref, say), in milliseconds. A longer list is long enough for
# all but the rarest least lengths; its own schema's minItems is still judged.
SHORT_LIST = MAX_ITEMS_KEPT


# The rules a list cut short by the sample breaks only if the whole list does: the type,
# too many items (a count, or past those a closed list names: "items": false after
# prefixItems, "additionalItems": false), two the same, too many that match. Any other
# (minItems, contains, enum, not, anyOf, unevaluatedItems after a contains...) may judge
# the sample otherwise than the list.
SAMPLE_SAFE_RULES = {"type", "maxItems", "items", "additionalItems", "uniqueItems", "maxContains"}
# In a schema with any of these, even those may come from a branch that applies to the
# sample only ("then": {"maxItems": 0}); the error does not say so (through a $ref its
# schema path is the target's), so then no error about a cut list is kept.
CONDITIONS = {"if", "then", "else", "not", "anyOf", "oneOf", "dependentSchemas", "dependencies"}
# Rules at the top level that may look at a list in it as a whole.
WHOLE_VALUE_RULES = {"anyOf", "oneOf", "not", "enum", "const"}
# Rules that hang on others' verdicts: a branch that a cut list breaks on the sample alone
# loses the fields it evaluated (allOf, anyOf, a $ref...).
UNEVALUATED_RULES = {"unevaluatedProperties", "unevaluatedItems"}
APPLICATORS = CONDITIONS | {"allOf", "$ref", "$dynamicRef", "$recursiveRef"}


def has_conditions(loaded: LoadedSchema, keywords: set[str] = CONDITIONS) -> bool:
    """Whether the schema, or a file it refers to, holds a condition (or one of the
    ``keywords``) anywhere. (A field so named counts too: an error then lost, never one
    made up.)"""
    pending: list[Any] = [loaded.schema, *loaded.resources.values()]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if not keywords.isdisjoint(node):
                return True
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False


def _cut_lists(data: Any, size: int | None) -> set[str]:
    """The pointers of the top-level lists a sample of ``size`` items cut short."""
    if size is None:
        return set()
    if isinstance(data, list):
        return {""} if len(data) > size else set()
    if isinstance(data, dict):
        return {f"/{escape(key)}" for key, value in data.items() if _longer(value, size)}
    return set()


def _longer(value: Any, size: int) -> bool:
    return isinstance(value, list) and len(value) > size


def _check_items(checks: Checks, items: Iterable[Any]) -> None:
    """The root list's items, the sample's checked, the others only counted."""
    size = checks.plan.sample_size
    for index, item in enumerate(items):
        if size is None or index < size:
            checks.item(index, item)
        else:
            checks.beyond_the_sample(item)


def _check_rest(checks: Checks, skeleton: Any) -> None:
    """The document without the root list's items, after them (see Checks.rest)."""
    size = checks.plan.sample_size
    # The main list's length is judged on its first items, kept whole (see head).
    checks.cut_lists = _cut_lists(skeleton, size) - {checks.plan.list_pointer}
    checks.rest(sample(skeleton, size) if size else skeleton)


def _lists(skeleton: dict[str, Any], key: str, count: int) -> list[tuple[str, int]]:
    lists = top_level_lists(skeleton)
    return [(path, count if path == f"/{escape(key)}" else items) for path, items in lists]


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _collector_running_for(engine: str) -> Iterator[None]:
    """The cyclic collector on while python jsonschema finds errors (any engine but the
    fast one), as streamed items are checked with it paused: its errors hold cycles (an
    error and its context, the functions ast.literal_eval makes for a "required" error's
    field name), which only the collector frees. Left paused, 1.2 MB of empty items after
    one with a field named "" (checked by python jsonschema from there on) took a worker
    to 1.2 GB."""
    paused = not gc.isenabled()
    if engine != "fast" and paused:
        gc.enable()
    try:
        yield
    finally:
        if paused:
            gc.disable()


class Checks:
    """Every check's tally, fed one item at a time and then the rest of the document."""

    def __init__(self, plan: Plan, validate_in_batches: bool, link_limit: int | None = None):
        self.plan = plan
        self.walk = FieldWalk()
        self.engine = "fast"  # until a field with an empty name is met (see _new_fields)
        self.errors = (
            ErrorGroups(settings.ASSAY_MAX_STORED_ERRORS, spreadsheet=plan.from_a_spreadsheet)
            if plan.loaded
            else None
        )
        self.batch: list[Any] | None = [] if validate_in_batches and plan.loaded else None
        self.batch_start = 0
        self.values_validated = 0  # the values of the items validated (FieldWalk.values)
        self.failure: BadInput | None = None
        # The first items: as many as the list's minItems needs to judge it, and enough
        # to show the document as the value of an error about it (see _errors_outside).
        self.head: list[Any] = []
        self.head_size = items_needed_for_rest(plan.loaded, plan.list_key) if plan.loaded else 0
        self.head_chars = 0  # the length of the head as JSON, while it is short
        # The whole list, in a document read whole, for the rules that judge it whole.
        self.whole_list: list[Any] | None = None
        self.beyond = 0  # items past the sample, in sample mode
        self.cut_lists: set[str] = set()  # pointers of the lists a sample cut short
        self.items = 0
        self.objects = 0
        self.examples: dict[str, list[dict[str, Any]]] = {}
        self.wanted: dict[str, int] = {}  # additional fields short of examples: count seen
        self.most_wanted = 0  # the most there have been at once
        self.links = LinkPlaces(link_limit or settings.ASSAY_MAX_LINKS)
        self.ids: Counter = Counter()
        self.distinct = {pattern: Counter() for pattern in plan.distinct}
        self.described = plan.described
        self.id_name = plan.id_name
        self.items_pattern = prefix = plan.items_pattern
        self.items_pointer = f"{plan.list_pointer}/"
        # Links and counted values inside the items, looked for a batch of items at a time.
        self.watched = [(*found, True) for found in _relative(plan.links, prefix)]
        self.watched += [(*found, False) for found in _relative(plan.distinct, prefix)]
        self.unwatched: list[Any] = []  # items not yet looked at for them
        self.unwatched_start = 0  # the index of the first

    def item(self, index: int, item: Any) -> None:
        """One item of the root list: the hot loop, so it skips what the item lacks."""
        self.items += 1
        counts = self.walk.counts
        known = len(counts)
        self.walk.visit(item, self.items_pattern)
        if len(counts) > known:
            self._new_fields(known)
        if self.described is not None and (self.wanted or len(counts) > known):
            self._examples(item, f"{self.items_pointer}{index}", self.items_pattern, known)
        if self.watched:
            self.unwatched.append(item)
            if len(self.unwatched) >= BATCH:
                self._watch()
        if type(item) is dict:  # counting_key(), written out: this runs for every item
            self.objects += 1
            value = item.get(self.id_name)
            kind = type(value)
            self.ids[(kind is bool, value) if kind in HASHABLE else counting_key(value)] += 1
        if self.batch is not None:
            self.batch.append(item)
            if len(self.batch) >= BATCH:
                self._validate_batch()

    def _new_fields(self, known: int) -> None:
        """Fields met for the first time (the last counted, past ``known``): one with an
        empty name sends what is validated from then on to the other engine (engine_for)."""
        if self.engine == "fast":
            self.engine = engine_for(
                islice(reversed(self.walk.counts), len(self.walk.counts) - known)
            )

    def _watch(self) -> None:
        """Links and counted values in the items not yet looked at: a batch at a time, as
        one look at many items costs much less than one at each (bench/validation.py)."""
        items, start = self.unwatched, self.unwatched_start
        self.unwatched = []
        self.unwatched_start += len(items)
        urls = []
        for pattern, parts, is_link in self.watched:
            found = values_at(items, ["*", *parts])
            if is_link:
                urls += _links_among(found)
            else:
                self.distinct[pattern].update(map(counting_key, found))
        # None found: no place to note (empty items, say, looked at one by one before).
        if urls and not self.links.only_counts(urls):
            # Some link needs its place noted: item by item, as the places are in
            # document order (and the first links met are the ones checked).
            link_parts = [parts for _, parts, is_link in self.watched if is_link]
            for offset, item in enumerate(items):
                for parts in link_parts:
                    self._links(item, parts, f"{self.items_pointer}{start + offset}")

    def flush(self) -> None:
        """Check the items met but not yet checked for links or against the schema."""
        if self.unwatched:
            self._watch()
        if self.batch:
            self._validate_batch()

    def found(self) -> dict[str, Any]:
        """What the items met have shown, for add_after."""
        names = ("walk", "errors", "head", "items", "objects", "examples", "most_wanted")
        names += ("links", "ids", "distinct")
        return {name: getattr(self, name) for name in names}

    def why_not_first(self) -> str | None:
        """Why what these checks found cannot have what later checks find added exactly
        (add_after), as far as these tell: then the later need not be waited for."""
        if self.engine != "fast" or self.failure is not None:
            # The later items were checked as if neither had happened.
            return "the first half has a field with an empty name, or data too deep"
        if self.most_wanted > MAX_WATCHED:
            # Then a field may keep the examples of the item it was first met in.
            return "more fields are short of examples than are watched"
        return None

    def why_not_later(self) -> str | None:
        """Why what these checks found cannot be added after what earlier checks found
        exactly, as far as these tell: then it need not be sent."""
        if self.engine != "fast" or self.failure is not None:
            # Which items the other engine checked, or which errors data too deep lost,
            # hangs on where the batches start: at the later items' first, not as before.
            return "the second half has a field with an empty name, or data too deep"
        if self.errors is not None and self.errors.ungrouped:
            return "the second half has more kinds of error than are grouped"
        if self.most_wanted > MAX_WATCHED:
            return "more fields are short of examples than are watched"
        return None

    def add_after(self, later: dict[str, Any]) -> None:
        """Add what other checks ``found()`` in the items after those met here (the second
        half of a file read in two), as if these had met them; both flushed, neither with
        a reason not to be (why_not_first, why_not_later). Raises NotReadInTwo where that
        cannot be done exactly, leaving it half done."""
        if len(self.wanted) + later["most_wanted"] > MAX_WATCHED:
            raise NotReadInTwo("more fields are short of examples than are watched")
        if self._examples_missed(later):
            raise NotReadInTwo("a field short of examples met in the second half got none there")
        # A JSON Pointer inside the later items' item i is inside item i + self.items.
        move = functools.partial(moved_along, at=self.items_pointer.count("/"), shift=self.items)
        if not self.links.add_after(later["links"], move):
            raise NotReadInTwo("a link placed in the first half is past the second's limit")
        self.walk.add(later["walk"])
        self.values_validated = self.walk.values
        if self.errors is not None:
            self.errors.add_after(later["errors"], move)
        self._keep_head(later["head"])
        self.batch_start += later["items"]
        self.unwatched_start += later["items"]
        self.items += later["items"]
        self.objects += later["objects"]
        self._add_examples(later["examples"], move)
        self.ids.update(later["ids"])
        for pattern, counted in later["distinct"].items():
            self.distinct[pattern].update(counted)

    def _examples_missed(self, later: dict[str, Any]) -> bool:
        """Whether a field short of examples here was met in the later items only after
        as many fields new to them as are given examples (MAX_EXAMPLED): none were kept."""
        counts, kept = later["walk"].counts, later["examples"]
        return any(
            len(examples) < EXAMPLES and counts.get(pattern) and pattern not in kept
            for pattern, examples in self.examples.items()
        )

    def _add_examples(self, later: dict[str, list[dict[str, Any]]], move: Callable) -> None:
        for pattern, examples in later.items():
            mine = self.examples.get(pattern)
            if mine is None:
                if len(self.examples) >= MAX_EXAMPLED:
                    continue
                mine = self.examples[pattern] = []
            more = examples[: EXAMPLES - len(mine)]
            mine += ({**example, "path": move(example["path"])} for example in more)

    def beyond_the_sample(self, item: Any) -> None:
        """An item past the sample: not checked, but the list's length rules need the
        first ones (minItems), and the list's length shown in an error about it."""
        self.beyond += 1
        self.objects += type(item) is dict
        if self.batch:
            self._validate_batch()  # the sample's last items go into the head first
        if self.batch is not None and len(self.head) < self.head_size:
            self._keep_head([item])

    def rest(self, rest: Any) -> None:
        """The document without the root list's items."""
        if self.unwatched:
            self._watch()  # the last items' links come before the rest's
        known = len(self.walk.counts)
        self.walk.visit(rest)
        self._new_fields(known)
        if self.described is not None:
            self._examples(rest, "", "", known)
        for pattern in self.plan.links:
            self._links(rest, pattern_parts(pattern), "")
        for pattern in self.plan.distinct:
            parts = pattern_parts(pattern)
            self.distinct[pattern].update(map(counting_key, values_at(rest, parts)))
        if self.batch is not None:  # validating as the items came: the last ones, the rest
            self._validate_batch()
            if self.failure is None:
                self._errors_outside(rest)

    def result(self, data: Any, lists: list[tuple[str, int]]) -> Scan:
        size = self.plan.sample_size
        self.ids.pop(counting_key(None), None)
        return Scan(
            top_level=json_type(data),
            lists=lists,
            checked_lists=[(path, min(n, size) if size else n) for path, n in lists],
            items=self.items,
            objects=self.objects,
            items_pattern=self.items_pattern,
            root_is_list=self.plan.root_is_list,
            walk=self.walk,
            errors=self.errors,
            validation_failure=self.failure,
            examples=self.examples,
            links=self.links,
            ids=self.ids,
            distinct=self.distinct,
        )

    def check(self, errors: Iterator[SchemaError], engine: str) -> None:
        """Count the errors ``engine`` finds (``errors``, as yet unread)."""
        try:
            with _collector_running_for(engine):
                for error in errors:
                    self.errors.add(error)
        except BadInput as failure:  # the validator gave up (data nested too deeply)
            self.failure = failure
            self.batch = None  # and checks no more; the other checks go on

    def check_whole(self, data: Any) -> None:
        """Validate the whole document, keeping errors outside the items first as the
        streamed reading does."""
        outside: list[SchemaError] = []
        engine = engine_for_values(self.engine, self.walk.values)

        def inside_the_items() -> Iterator[SchemaError]:
            for error in self._judged(iter_errors(data, self.plan.loaded, engine)):
                if error.path.startswith(self.items_pointer):
                    yield error
                else:
                    outside.append(error)

        self.check(inside_the_items(), engine)
        self.errors.add_first(outside)

    def _validate_batch(self) -> None:
        self._keep_head(self.batch)
        start = self.batch_start
        self.batch_start += len(self.batch)
        batch, self.batch = self.batch, []
        # The values walked since the last batch: its items' (and the rest's, at the end).
        values, self.values_validated = self.walk.values - self.values_validated, self.walk.values
        if engine_for_values(self.engine, values) == self.engine:
            key, loaded = self.plan.list_key, self.plan.loaded
            self.check(batch_errors(batch, start, key, loaded, self.engine), self.engine)
            return
        # A large item among them, or large items: each goes alone, a large one to the
        # engine for large data.
        for offset, item in enumerate(batch):
            engine = engine_for_values(self.engine, values_in(item))
            self.check(
                batch_errors([item], start + offset, self.plan.list_key, self.plan.loaded, engine),
                engine,
            )

    def _keep_head(self, items: list[Any]) -> None:
        for item in items:
            short = self.head_chars <= MAX_VALUE_CHARS
            if len(self.head) >= max(self.head_size, SHOWN_ENTRIES) and not short:
                return
            self.head.append(item)
            if short:  # as truncate() measures it, with the ", " between items
                self.head_chars += len(json.dumps(item, ensure_ascii=False, default=str)) + 2

    def _errors_outside(self, rest: Any) -> None:
        """Errors outside the items, from the rest of the document with the list's first
        items (or, where rules judge the list as a whole, the whole list of a document
        read whole, without the items' rule); kept ahead of the items' errors, so that a
        long list does not crowd them out."""
        key, loaded = self.plan.list_key, self.plan.loaded
        engine = self.engine  # errors about the list as a whole, and the rest: a few
        if self.whole_list is not None:  # its items' errors are found: its rule is left out
            rest, loaded = _with_list(rest, key, self.whole_list), without_items_rule(loaded, key)
        else:
            if key is None or (isinstance(rest, dict) and isinstance(rest.get(key), list)):
                listed = self.head
                if len(listed) < self.batch_start + self.beyond:
                    # An error about the whole document shows it, truncated: its list as
                    # the first items and "…". This long text makes the head truncate
                    # the same.
                    listed = [*listed, TOO_LONG]
                rest = _with_list(rest, key, listed)
            # Its own values, not all those walked: the items before it made no rest large.
            engine = engine_for_values(self.engine, values_in(rest))
        try:
            with _collector_running_for(engine):
                found = list(self._judged(rest_errors(rest, key, loaded, engine)))
        except BadInput as failure:
            self.failure = failure
            return
        self.errors.add_first(found)

    def _judged(self, errors: Iterator[SchemaError]) -> Iterator[SchemaError]:
        """Errors but those about a list the sample cut short that the sample may break
        though the list keeps them."""
        if not self.cut_lists:
            yield from errors
            return
        conditional = has_conditions(self.plan.loaded)
        applied = has_conditions(self.plan.loaded, APPLICATORS)
        for error in errors:
            if error.path in self.cut_lists:
                if conditional or error.validator not in SAMPLE_SAFE_RULES:
                    continue
            elif error.path == "" and (
                error.validator in WHOLE_VALUE_RULES
                or (applied and error.validator in UNEVALUATED_RULES)
            ):
                continue  # the document holds a cut list: its sample is not it
            yield error

    def _examples(self, value: Any, pointer: str, prefix: str, known: int) -> None:
        """The first few examples of each additional field, as they are met."""
        counts = self.walk.counts
        if len(counts) > known:  # new fields (the last ones counted): any additional?
            new = list(islice(reversed(counts), len(counts) - known))
            for pattern in reversed(new):  # in the order met: the first have examples
                if len(self.examples) < MAX_EXAMPLED and self.described.is_additional(pattern):
                    self.examples[pattern] = []
                    self.wanted[pattern] = 0  # found in this value, just below
            self.most_wanted = max(self.most_wanted, len(self.wanted))
        sought = {}
        for pattern, seen in self.wanted.items():
            if counts[pattern] == seen or not pattern.startswith(prefix):
                continue  # not in this value
            self.wanted[pattern] = counts[pattern]
            needed = EXAMPLES - len(self.examples[pattern])
            sought[pattern] = (pattern_parts(pattern[len(prefix) :]), needed)
        if not sought:
            return  # as for most items, once the first have given their examples
        for pattern, places in places_of_each(value, sought, pointer).items():
            found = self.examples[pattern]
            found += ({"path": at, "value": truncate(example)} for at, example in places)
            # Every item is asked about each field still short of examples: with very many
            # rare fields, a field keeps the examples of the item it was first met in.
            if len(found) >= EXAMPLES or len(self.wanted) > MAX_WATCHED:
                del self.wanted[pattern]

    def _links(self, value: Any, parts: list[str], pointer: str) -> None:
        if self.links.only_counts(_links_among(values_at(value, parts))):
            return
        for at, url in places_at(value, parts, pointer):
            if is_link(url):
                self.links.add(url, at)


def _with_list(rest: Any, key: str | None, items: list[Any]) -> Any:
    """The document without the root list's items (``rest``) with ``items`` in it."""
    return items if key is None else {**rest, key: items}


def _relative(patterns: Any, prefix: str) -> list[tuple[str, list[str]]]:
    """Patterns at or inside the items, each with its parts after the items' own pattern."""
    return [
        (pattern, pattern_parts(pattern[len(prefix) :]))
        for pattern in patterns
        if pattern == prefix or pattern.startswith(f"{prefix}/")
    ]


def _links_among(values: list[Any]) -> list[str]:
    return [url for url in values if is_link(url)]


def is_link(value: Any) -> bool:
    """An http or https URL; its scheme in any case (HTTPS://), as URLs are read."""
    return type(value) is str and (
        value.startswith(LINK_SCHEMES) or value[:8].lower().startswith(LINK_SCHEMES)
    )


HASHABLE = {str, int, float, bool, type(None)}
LINK_SCHEMES = ("http://", "https://")


def counting_key(value: Any) -> tuple[bool, Any]:
    """A counting key: true is not 1, and a list or object (unhashable) counts by its JSON
    text, its keys sorted (as a report shows it)."""
    if type(value) in HASHABLE:
        return type(value) is bool, value
    return False, json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
