"""Where fields are: in the data (one walk, shared) and in the schema.

Paths are written as patterns: JSON Pointers with every array index replaced by "*",
e.g. "/grants/*/amount/value", so that 40,000 items make one line, not 40,000.
"""

from __future__ import annotations

import functools
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from tasks.refs import MAX_SCHEMA_NODES, RefIndex, Trail, escape, unescape

EXAMPLES = 3


@dataclass
class FieldWalk:
    """How often each path pattern occurs in the data, and how many values of each type."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Values of each type but text, and list entries: text, most values by far, is counted
    # as what is left (see types), which made the walk a fifth faster.
    others: dict[Any, int] = field(default_factory=lambda: defaultdict(int))
    visited: int = 0  # values given to visit()
    # The patterns visit() was given: the root list's items, given one at a time.
    given: set[str] = field(default_factory=set)
    # Child patterns by parent pattern and key, made once each (see _walk).
    children: dict[str | None, dict] = field(default_factory=dict, repr=False)

    @property
    def types(self) -> dict[type, int]:
        """How many values of each type: every value is one visited, or a field's, or a
        list's entry."""
        found = {kind: count for kind, count in self.others.items() if kind not in TALLIES}
        if texts := self.values - sum(found.values()):
            found[str] = texts
        return found

    @property
    def values(self) -> int:
        """How many values it has met: each one visited, each field, each list's entry."""
        return self.visited + self.others.get(FIELDS, 0) + self.others.get(ENTRIES, 0)

    @property
    def strings(self) -> int:
        """How many strings the values visited hold: the fields' names and text values."""
        return self.others.get(FIELDS, 0) + self.types.get(str, 0)

    @property
    def max_depth(self) -> int:
        """How many levels below the root the deepest value is: a field's value, or a
        list's entry ("/*/*" in [[1]])."""
        entries = (kids[None] for kids in self.children.values() if None in kids)
        patterns = [*self.counts, *self.given, *entries]
        return max((pattern.count("/") for pattern in patterns), default=0)

    def add(self, other: FieldWalk) -> None:
        """Count what ``other`` met as well, after what this met (for a file read in two)."""
        for tally, more in ((self.counts, other.counts), (self.others, other.others)):
            for key, count in more.items():
                tally[key] += count
        self.visited += other.visited
        self.given |= other.given
        for pattern, kids in other.children.items():
            self.children.setdefault(pattern, {}).update(kids)

    def visit(self, value: Any, pattern: str = "") -> None:
        """Count ``value``, found at ``pattern``, and everything inside it."""
        self.visited += 1
        if pattern not in self.given:
            self.given.add(pattern)
        kind = type(value)
        if kind is not str:
            self.others[kind] += 1
            if kind is dict or kind is list:
                _walk(value, pattern, self.counts, self.others, self.children)


# The keys under which FieldWalk.others counts list entries, and fields of objects.
ENTRIES = "list entries"
FIELDS = "fields"
TALLIES = {ENTRIES, FIELDS}


def walk_fields(data: Any) -> FieldWalk:
    """One pass over the data; the hot loop of every check, so written for speed."""
    walk = FieldWalk()
    walk.visit(data)
    return walk


def _walk(value: Any, pattern: str, counts: dict, others: dict, children: dict) -> None:
    # Child patterns are cached per parent: building strings for each of a million
    # values is what made the straightforward version three times slower. (A missing
    # key is rare: try costs less than .get() here.)
    try:
        kids = children[pattern]
    except KeyError:
        kids = children[pattern] = {}
    if type(value) is dict:
        others[FIELDS] += len(value)
        for key, child in value.items():
            try:
                child_pattern = kids[key]
            except KeyError:
                child_pattern = kids[key] = f"{pattern}/{escape(key)}"
            counts[child_pattern] += 1
            kind = type(child)
            if kind is not str:
                others[kind] += 1
                if kind is dict or kind is list:
                    _walk(child, child_pattern, counts, others, children)
        return
    if not value:
        return  # no entries: none at the pattern of entries (FieldWalk.max_depth)
    try:
        child_pattern = kids[None]
    except KeyError:
        child_pattern = kids[None] = f"{pattern}/*"
    others[ENTRIES] += len(value)
    for child in value:
        kind = type(child)
        if kind is not str:
            others[kind] += 1
            if kind is dict or kind is list:
                _walk(child, child_pattern, counts, others, children)


def values_in(value: Any) -> int:
    """How many values ``value`` holds, itself included, as FieldWalk counts them."""
    if type(value) is dict:
        return 1 + sum(map(values_in, value.values()))
    if type(value) is list:
        return 1 + sum(map(values_in, value))
    return 1


def _find(value: Any, parts: list[str], pointer: str, found: list, limit: int) -> None:
    if len(found) >= limit:
        return
    if not parts:
        found.append((pointer, value))
        return
    head, rest = parts[0], parts[1:]
    if head == "*" and isinstance(value, list):
        for index, child in enumerate(value):
            _find(child, rest, f"{pointer}/{index}", found, limit)
            if len(found) >= limit:
                return
    elif isinstance(value, dict) and head in value:
        _find(value[head], rest, f"{pointer}/{escape(head)}", found, limit)


def pattern_parts(pattern: str) -> list[str]:
    """A path pattern split as a JSON Pointer: "/grants/*/" ends in the empty-string key."""
    return [unescape(part) for part in pattern.split("/")[1:]] if pattern else []


def values_at(value: Any, parts: list[str]) -> list[Any]:
    """Every value at a split path pattern; made for speed, as it is asked of every item."""
    nodes = [value]
    for part in parts:
        if part == "*":
            found = [child for node in nodes if type(node) is list for child in node]
            found += [node[part] for node in nodes if type(node) is dict and part in node]
        else:
            found = [node[part] for node in nodes if type(node) is dict and part in node]
        if not found:
            return found
        nodes = found
    return nodes


def places_at(
    value: Any, parts: list[str], pointer: str = "", limit: int = sys.maxsize
) -> list[tuple[str, Any]]:
    """The first (pointer, value) pairs at a split path pattern, in document order,
    stopping as soon as ``limit`` are found; ``pointer`` is where ``value`` is."""
    found: list[tuple[str, Any]] = []
    _find(value, parts, pointer, found, limit)
    return found


def places_of_each(
    value: Any, sought: dict[str, tuple[list[str], int]], pointer: str = ""
) -> dict[str, list[tuple[str, Any]]]:
    """What places_at finds for each of several patterns (``sought``: each one's split
    parts, and how many places it needs), in one walk of ``value``: a walk per pattern took
    three minutes for one item holding 200,000 list entries, each with a field of its own."""
    branches = _Branch()
    for pattern, (parts, limit) in sought.items():
        branch = branches
        for part in parts:
            branch = branch.kids.setdefault(part, _Branch())
        branch.ends[pattern] = limit
    found: dict[str, list[tuple[str, Any]]] = {pattern: [] for pattern in sought}
    _gather(value, branches, pointer, found)
    return found


@dataclass
class _Branch:
    """The patterns sought, as a tree of their parts: those that end here, with how many
    places each needs, and the branches by the next part."""

    ends: dict[str, int] = field(default_factory=dict)
    kids: dict[str, _Branch] = field(default_factory=dict)


def _gather(value: Any, branch: _Branch, pointer: str, found: dict[str, list]) -> None:
    for pattern, limit in branch.ends.items():
        if len(found[pattern]) < limit:
            found[pattern].append((pointer, value))
    if isinstance(value, list) and "*" in branch.kids:
        entries = branch.kids["*"]
        for index, child in enumerate(value):
            _gather(child, entries, f"{pointer}/{index}", found)
    elif isinstance(value, dict):
        # Each pattern takes one key of an object, so its places stay in document order
        # whichever of the two is gone through.
        keys = branch.kids if len(branch.kids) < len(value) else value
        for key in keys:
            if key in value and key in branch.kids:
                _gather(value[key], branch.kids[key], f"{pointer}/{escape(key)}", found)


@dataclass
class SchemaFields:
    """The path patterns a schema describes.

    A pattern may hold a segment standing for the keys of an object that its
    patternProperties or additionalProperties describe: WILD, then the regular expression
    the keys match (none: any key the object's properties do not name)."""

    known: set[str] = field(default_factory=set)
    # Keys below which anything is described: those of patternProperties and
    # additionalProperties schemas that say nothing of what the values hold.
    open: set[str] = field(default_factory=set)
    # Schemas not read to the end (recursion cut, too big): anything deeper goes.
    unread: set[str] = field(default_factory=set)
    # Fields whose values the schema says are links ("format": "uri").
    links: set[str] = field(default_factory=set)
    nodes: int = field(default=0, repr=False)  # schema nodes read, against MAX_SCHEMA_NODES
    # Of each set above, its size and its patterns with keys' segments, split (see _wild).
    _wild_cache: dict[int, tuple[int, list[list[str]]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def describes(self, pattern: str) -> bool:
        if self._holds(self.known, pattern):
            return True
        # Up from the nearest level. Below a field the schema describes (the nearest known
        # one) only what its schema names is described, however open the keys above it.
        settled = False
        while "/" in pattern:
            pattern = pattern.rsplit("/", 1)[0]
            if pattern in self.unread:
                return True
            if pattern in self.known:  # named by the schema: not one of a pattern's keys
                settled = True
                continue
            if not settled and self._holds(self.open, pattern):
                return True
            settled = settled or self._holds(self.known, pattern)
        return False

    def _holds(self, patterns: set[str], pattern: str) -> bool:
        """Whether ``pattern`` is one of ``patterns``, or fits one with keys' segments."""
        if pattern in patterns:
            return True
        parts = pattern.split("/")
        return any(
            len(wild) == len(parts) and all(map(_fits, parts, wild))
            for wild in self._wild(patterns)
        )

    def _wild(self, patterns: set[str]) -> list[list[str]]:
        """The patterns with keys' segments, split; worked out again only as they grow."""
        size, split = self._wild_cache.get(id(patterns), (-1, []))
        if size != len(patterns):
            split = [pattern.split("/") for pattern in patterns if WILD in pattern]
            self._wild_cache[id(patterns)] = (len(patterns), split)
        return split

    def is_additional(self, pattern: str) -> bool:
        """Undescribed, and the top of its branch: "/grants/*/notes", not what is inside."""
        # The nearest field above: "/m/*/*/b" sits in the field "/m", whatever the arrays
        # between.
        parent = pattern.rsplit("/", 1)[0]
        while parent.endswith("/*"):
            parent = parent[:-2]
        return not self.describes(pattern) and (not parent or self.describes(parent))


WILD = "\x00"  # begins a segment standing for keys (see SchemaFields)


def _fits(part: str, wild: str) -> bool:
    """Whether a data pattern's segment fits a schema pattern's: the same, or a key that
    a keys' segment's regular expression matches."""
    if not wild.startswith(WILD):
        return part == wild
    keys = ecma_matcher(wild[1:])
    return keys is None or keys.is_valid(unescape(part))


@functools.lru_cache(maxsize=256)
def ecma_matcher(expression: str) -> Any:
    """A check of texts (keys, values) against a regular expression, read as the fast
    engine reads it: by jsonschema-rs, as ECMA-262 (\\p{L} included). Never Python's re,
    which on some expressions takes exponential time in the text's length. None for any
    text: no expression, or one it cannot read (a key is then better taken as described)."""
    if not expression:
        return None
    try:
        return jsonschema_rs.validator_for({"pattern": expression})
    except (jsonschema_rs.ValidationError, ValueError):
        return None


def schema_fields(
    schema: dict, resources: dict[str, dict], base_uri: str = "", draft: str = "2020-12"
) -> SchemaFields:
    """The fields ``schema`` describes. Where recursion is cut (see tasks.refs), or the
    schema is too big to follow, whatever lies deeper counts as described."""
    found = SchemaFields()
    index = RefIndex(resources, draft)
    _collect(schema, "", base_uri or schema.get(index.id_key, ""), index, found, Trail())
    return found


def _collect(
    node: Any, pattern: str, base: str, index: RefIndex, found: SchemaFields, trail: Trail
) -> None:
    """Note the fields ``node`` describes at ``pattern``."""
    if not isinstance(node, dict):
        return
    found.nodes += 1
    if trail.too_deep or found.nodes > MAX_SCHEMA_NODES:
        found.unread.add(pattern)
        return
    base = index.base_inside(node, base)
    for keyword in REFERENCES:
        if isinstance(node.get(keyword), str):
            _follow(node[keyword], pattern, base, index, found, trail)
    if index.ref_alone and isinstance(node.get("$ref"), str):
        return  # what stands beside it is ignored, as the validators ignore it
    if node.get("format") in {"uri", "iri"} and WILD not in pattern:
        found.links.add(pattern)  # (links are looked for at fields' own paths)
    if _spelt_out(node):
        # Its value written out whole: whatever is inside it is described, as a list's
        # entries and their fields.
        keys = {f"{pattern}/{WILD}", f"{pattern}/*/{WILD}"}
        found.known.update({f"{pattern}/*", *keys})
        found.open.update(keys)
    trail = trail.inside()
    for key, child in (node.get("properties") or {}).items():
        found.known.add(f"{pattern}/{escape(key)}")
        _collect(child, f"{pattern}/{escape(key)}", base, index, found, trail)
    keys = [(regex, child) for regex, child in (node.get("patternProperties") or {}).items()]
    keys += [
        ("", node[keyword])
        for keyword in OPEN_OBJECT_KEYWORDS
        if isinstance(node.get(keyword), dict)
    ]
    for regex, child in keys:
        keys_pattern = f"{pattern}/{WILD}{regex}"
        found.known.add(keys_pattern)
        if _says_what_it_holds(child):
            _collect(child, keys_pattern, base, index, found, trail)
        else:
            found.open.add(keys_pattern)
    for child in _item_schemas(node):
        found.known.add(f"{pattern}/*")
        _collect(child, f"{pattern}/*", base, index, found, trail)
    for child in _same_place_schemas(node):
        _collect(child, pattern, base, index, found, trail)


def _spelt_out(node: dict) -> bool:
    """Whether a "const" or an "enum" gives an object or a list as the value."""
    values = [node["const"]] if "const" in node else node.get("enum")
    return isinstance(values, list) and any(isinstance(value, (dict, list)) for value in values)


def _says_what_it_holds(schema: Any) -> bool:
    """Whether a schema for an object's keys names fields inside their values. One that
    does not ({}, {"type": "string"}, a $ref) leaves anything below them described."""
    if not isinstance(schema, dict):
        return False
    closed = any(schema.get(keyword) is False for keyword in OPEN_OBJECT_KEYWORDS)
    return closed or any(keyword in schema for keyword in STRUCTURE_KEYWORDS)


STRUCTURE_KEYWORDS = ("properties", "patternProperties", "items", "prefixItems")

# Static readings of the dynamic references: each is followed to where it first points.
REFERENCES = ("$ref", "$dynamicRef", "$recursiveRef")
OPEN_OBJECT_KEYWORDS = ("additionalProperties", "unevaluatedProperties")


def _follow(
    ref: str, pattern: str, base: str, index: RefIndex, found: SchemaFields, trail: Trail
) -> None:
    target, target_base = index.resolve(ref, base)
    onward = trail.through(target)
    if onward is None:
        found.unread.add(pattern)
    else:
        _collect(target, pattern, target_base, index, found, onward)


def _item_schemas(node: dict) -> list:
    """Schemas for the items of a list: each says what an item may hold."""
    items = node.get("items")
    schemas = list(items) if isinstance(items, list) else [items] if items else []
    schemas += [node.get(keyword) for keyword in ("additionalItems", "unevaluatedItems")]
    schemas.append(node.get("contains"))
    return [schema for schema in schemas if isinstance(schema, dict)] + list(
        node.get("prefixItems") or []
    )


def _same_place_schemas(node: dict) -> list:
    """Schemas that describe the same value as ``node`` does, when they apply."""
    schemas = [
        child for keyword in ("allOf", "anyOf", "oneOf") for child in node.get(keyword) or []
    ]
    schemas += [node.get(keyword) for keyword in ("then", "else", "if")]
    for keyword in ("dependentSchemas", "dependencies"):  # dependencies: or lists of names
        schemas += list((node.get(keyword) or {}).values())
    return schemas
