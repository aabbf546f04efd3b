"""Where a schema's $refs lead, offline, for the checks that read a schema themselves.

Validation leaves $refs to the engines. The "not in the schema" check and the spreadsheet
converter follow them here, through one index of the profile's schema files, the
resources embedded in them (a nested "$id") and their named places ("$anchor", or an id of
"#grant" before draft 2019-09). Both cut recursion the same way (``Trail``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

# A definition met again inside itself (a tree of organisations, say) is followed once
# more, then cut: below the cut, each reader decides what to assume.
MAX_LOOPS = 1
MAX_SCHEMA_DEPTH = 128  # schema objects inside one another
MAX_SCHEMA_NODES = 100_000  # a schema whose $refs branch into more is hostile or broken

# Keywords whose values are schemas, lists of them, or maps of names to them.
SCHEMA_KEYWORDS = frozenset(
    {
        *("items", "additionalItems", "contains", "not", "if", "then", "else"),
        *("additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties"),
    }
)
SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems", "items"})
SCHEMA_MAPS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
    | {"dependencies"}  # before 2019-09: of schemas, or of lists of names
)
# Drafts in which a $ref stands alone: the keywords beside it, "$id" too, are ignored.
REF_ALONE_DRAFTS = frozenset({"4", "6", "7"})


def id_keyword(draft: str) -> str:
    return "id" if draft == "4" else "$id"


def escape(key: str) -> str:
    """A key written as a part of a JSON Pointer."""
    return key.replace("~", "~0").replace("/", "~1")


def unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


@dataclass(frozen=True)
class Trail:
    """How a schema object was reached: the $ref targets followed on the way, to see
    recursion; how many of them were met again; and how deep it is."""

    targets: tuple[int, ...] = ()
    loops: int = 0
    depth: int = 0

    @property
    def too_deep(self) -> bool:
        return self.depth > MAX_SCHEMA_DEPTH

    def inside(self) -> Trail:
        return Trail(self.targets, self.loops, self.depth + 1)

    def through(self, target: Any) -> Trail | None:
        """The trail on into a $ref's target, or None where recursion is cut."""
        loops = self.loops + (id(target) in self.targets)
        if loops > MAX_LOOPS:
            return None
        return Trail((*self.targets, id(target)), loops, self.depth + 1)


class RefIndex:
    """Every schema object a $ref may name, by URI: files, embedded resources, anchors."""

    def __init__(self, resources: dict[str, Any], draft: str = "2020-12") -> None:
        self.id_key = id_keyword(draft)
        self.ref_alone = draft in REF_ALONE_DRAFTS
        self.documents: dict[str, Any] = dict(resources)
        self.anchors: dict[tuple[str, str], Any] = {}
        self.bases: dict[int, str] = {}  # the base URI each schema object is read with
        for uri, document in resources.items():
            self._index(document, uri)

    def knows(self, uri: str) -> bool:
        return urldefrag(uri)[0] in self.documents

    def resolve(self, ref: str, base: str) -> tuple[Any, str]:
        """What ``ref``, written where ``base`` is the base URI, points to, and the base
        URI there; (None, base) for a place that is not in the index."""
        uri, fragment = urldefrag(urljoin(base, ref))
        node = self.documents.get(uri)
        if node is not None and fragment.startswith("/"):
            for part in fragment.split("/")[1:]:
                node = _step(node, unescape(unquote(part)))  # None stays None
        elif node is not None and fragment:
            node = self.anchors.get((uri, fragment))
        if node is None:
            return None, base
        # A pointer may pass into a resource embedded under its own id: its base, then.
        return node, self.bases.get(id(node), uri)

    def _index(self, node: Any, base: str) -> None:
        if not isinstance(node, dict):
            return
        self.bases.setdefault(id(node), base)
        base = self._identify(node, base)
        for child in subschemas(node):
            self._index(child, base)

    def _identify(self, node: dict[str, Any], base: str) -> str:
        """Index ``node`` under its id and anchor, if it has them; the base URI inside it."""
        name = self.own_id(node)
        if name is not None:
            uri, fragment = urldefrag(urljoin(base, name))
            if fragment:  # "#grant": a name for a place, not a new resource
                self.anchors.setdefault((uri, fragment), node)
            else:
                self.documents.setdefault(uri, node)
                base = uri
        for keyword in ("$anchor", "$dynamicAnchor"):  # a $ref may name either
            anchor = node.get(keyword)
            if isinstance(anchor, str):
                self.anchors.setdefault((urldefrag(base)[0], anchor), node)
        return base

    def base_inside(self, node: dict[str, Any], base: str) -> str:
        """The base URI within ``node``: its own id, if it gives one."""
        name = self.own_id(node)
        if name is not None and not urldefrag(name)[1]:
            return urldefrag(urljoin(base, name))[0]
        return base

    def own_id(self, node: dict[str, Any]) -> str | None:
        """The id ``node`` gives itself, unless it stands beside a $ref that ignores it."""
        name = node.get(self.id_key)
        if not isinstance(name, str) or (self.ref_alone and "$ref" in node):
            return None
        return name


def subschemas(node: dict[str, Any]) -> Iterator[Any]:
    """The schemas inside a schema object, where its keywords hold them."""
    for key, child in node.items():
        if key in SCHEMA_MAPS and isinstance(child, dict):
            yield from child.values()
        elif key in SCHEMA_LISTS and isinstance(child, list):
            yield from child
        elif key in SCHEMA_KEYWORDS:
            yield child


def _step(node: Any, part: str) -> Any:
    """The value at one part of a JSON Pointer: a key, or an index into a list."""
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return None
