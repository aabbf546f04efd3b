"""JSON Schema: loading a profile's schema offline, and validation errors in plain words.

Two engines give the same errors: "fast" (jsonschema-rs, used by the pipeline) and
"reference" (python jsonschema, the yardstick the tests hold the fast one to). Where the
pipeline cannot use the fast one, it uses "python": python jsonschema reading values as
jsonschema-rs does (_reading_as_the_fast_one); "large" chooses between the two.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

import attrs
import jsonschema
import jsonschema_rs
import jsonschema_specifications
import referencing
import referencing.exceptions
import referencing.jsonschema

from process.errors import BadInput, too_deep
from tasks.fields import escape
from tasks.refs import SCHEMA_LISTS, SCHEMA_MAPS, id_keyword

DRAFTS = {
    "draft-04": "4",
    "draft-06": "6",
    "draft-07": "7",
    "2019-09": "2019-09",
    "2020-12": "2020-12",
}
DEFAULT_DRAFT = "2020-12"
REFERENCE_VALIDATORS = {
    "4": jsonschema.Draft4Validator,
    "6": jsonschema.Draft6Validator,
    "7": jsonschema.Draft7Validator,
    "2019-09": jsonschema.Draft201909Validator,
    "2020-12": jsonschema.Draft202012Validator,
}
FAST_VALIDATORS = {
    "4": jsonschema_rs.Draft4Validator,
    "6": jsonschema_rs.Draft6Validator,
    "7": jsonschema_rs.Draft7Validator,
    "2019-09": jsonschema_rs.Draft201909Validator,
    "2020-12": jsonschema_rs.Draft202012Validator,
}
SPECIFICATIONS = {
    "4": referencing.jsonschema.DRAFT4,
    "6": referencing.jsonschema.DRAFT6,
    "7": referencing.jsonschema.DRAFT7,
    "2019-09": referencing.jsonschema.DRAFT201909,
    "2020-12": referencing.jsonschema.DRAFT202012,
}
MAX_VALUE_CHARS = 80
SHOWN_ENTRIES = 3  # of a list or object too long to show whole
# Keywords whose errors are about a field that is absent, so the error has no value.
MISSING_VALIDATORS = {"required", "dependentRequired", "dependencies"}


@dataclass(frozen=True, eq=False)
class LoadedSchema:
    """A schema and every file beside it, keyed by the URI a ``$ref`` would use."""

    schema: dict[str, Any]
    draft: str
    resources: dict[str, Any]
    sha256: str
    # How an error names the file its rule is in, by each URI above: "" for the schema's
    # own, else the file's path in the schema's folder (or a meta-schema's URI).
    files: dict[str, str] = field(default_factory=dict)

    @property
    def base_uri(self) -> str:
        return self.schema.get(id_keyword(self.draft), "")


def load_schema(path: Path) -> LoadedSchema:
    """Read a schema file; ``$ref``s resolve to the ``*.json`` files in its folder only."""
    try:
        return _load_schema(path)
    except RecursionError:  # checking it against the meta-schema takes frames per level
        raise _faulty_schema(f"The schema {path.name} is nested too deeply to be read.") from None


NOT_YOUR_DATA = "This is a problem with the schema, not with your data."


def _faulty_schema(message: str) -> BadInput:
    return BadInput("schema_invalid", message, hint=NOT_YOUR_DATA)


def _load_schema(path: Path) -> LoadedSchema:
    try:
        raw = path.read_bytes()
    except OSError as exc:  # removed or made unreadable since the profile was checked
        raise _faulty_schema(
            f"The schema file {path.name} cannot be read: {exc.strerror}."
        ) from None
    schema = _parse_schema(raw, path.name)
    draft = draft_of(schema)
    schema = _validation_meta_schema(schema)
    _check_against_metaschema(schema, draft, path.name)
    id_key = id_keyword(draft)
    if not schema.get(id_key):
        # Give the root a base URI so relative $refs mean the same in both engines.
        schema = {**schema, id_key: path.resolve().as_uri()}
    resources, files = _neighbours(path, schema, draft)
    loaded = LoadedSchema(schema, draft, resources, hashlib.sha256(raw).hexdigest(), files)
    fast_validator(loaded)  # An unresolvable $ref or bad regex fails here, not mid-run.
    return loaded


def draft_of(schema: dict[str, Any]) -> str:
    declared = schema.get("$schema")
    if not declared:
        return DEFAULT_DRAFT
    for marker, draft in DRAFTS.items():
        if isinstance(declared, str) and marker in declared:
            return draft
    raise BadInput(
        "schema_draft",
        f"The schema declares “{declared}”, a JSON Schema version Assay does not support.",
        hint="Use draft 4, 6, 7, 2019-09 or 2020-12.",
    )


def _validation_meta_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` declaring its draft's own meta-schema where it declares the draft's
    hyper-schema: that adds links for hypermedia, nothing that checks data, and neither
    engine knows it ("Unknown meta-schema")."""
    declared = schema.get("$schema")
    if isinstance(declared, str) and "hyper-schema" in declared:
        meta_schema = REFERENCE_VALIDATORS[draft_of(schema)].META_SCHEMA
        return {**schema, "$schema": meta_schema["$schema"]}
    return schema


def _parse_schema(raw: bytes, name: str) -> dict[str, Any]:
    try:
        schema = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise BadInput(
            "schema_json",
            f"The schema file {name} is not valid JSON: {error}",
            hint=NOT_YOUR_DATA,
        ) from None
    if not isinstance(schema, dict):
        raise _faulty_schema(f"The schema file {name} does not hold a JSON object.")
    return schema


def _check_against_metaschema(schema: dict[str, Any], draft: str, name: str) -> None:
    cls = REFERENCE_VALIDATORS[draft]
    try:
        cls.check_schema(schema, format_checker=_all_but_regex(cls.FORMAT_CHECKER))
    except jsonschema.SchemaError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "the top level"
        raise _faulty_schema(
            f"The schema {name} is not a valid JSON Schema: at {where}, {error.message}."
        ) from None


def _all_but_regex(checker: jsonschema.FormatChecker) -> jsonschema.FormatChecker:
    """The meta-schema's format checks but "regex": patterns are ECMA-262, which the fast
    engine reads as it is built (load_schema), and Python's re refuses some (\\p{L})."""
    kept = jsonschema.FormatChecker(formats=())
    for name, (check, raises) in checker.checkers.items():
        if name != "regex":
            kept.checks(name, raises)(check)
    return kept


def _neighbours(
    path: Path, root: dict[str, Any], draft: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The root and every file of its folder that a $ref names, under each URI a $ref
    may use; and the name of each one's file (see LoadedSchema.files).

    Only files a $ref reaches are read: the folder may hold other JSON (the data, even)."""
    id_key = id_keyword(draft)
    folder = path.parent.resolve()
    resources: dict[str, Any] = {}
    files = {root[id_key].rstrip("#"): ""}
    pending: list[tuple[str, Any]] = [(root[id_key], root)]
    read: set[Path] = {path.resolve()}
    while pending:
        base, document = pending.pop()
        resources[base] = document
        for target in _ref_targets(document, base, id_key):
            if target in META_SCHEMAS:
                # "Any schema": the standard's own meta-schema, which ships with jsonschema.
                if not _can_follow(target, draft):
                    raise _faulty_schema(f"The schema cannot be used: {_other_drafts(target)}")
                if target not in resources:
                    pending.append((target, META_SCHEMAS.contents(target)))
                    files[target.rstrip("#")] = target.rstrip("#")
                continue
            file = _profile_file(target, root[id_key], folder)
            if file is None or file in read:
                continue  # an unknown target fails when the validator is built
            read.add(file)
            neighbour = _parse_schema(file.read_bytes(), file.name)
            neighbour = _validation_meta_schema(neighbour)
            own_id = neighbour.get(id_key)
            for uri in {target, file.as_uri()} - {own_id}:
                resources[uri] = neighbour
            base = own_id.rstrip("#") if isinstance(own_id, str) else target
            for uri in {target, file.as_uri(), base}:
                files[uri] = file.relative_to(folder).as_posix()
            pending.append((base, neighbour))
    return resources, files


# The meta-schemas of every draft, by URI: read offline, as python jsonschema reads them.
META_SCHEMAS = jsonschema_specifications.REGISTRY


def _other_drafts(meta_schema: str) -> str:
    return (
        f"a $ref names {meta_schema.rstrip('#')}, the meta-schema of another draft than the "
        "schema's own, which Assay cannot check against."
    )


def _can_follow(meta_schema: str, draft: str) -> bool:
    """Another draft's meta-schema is not followed: the engines' agreement is tested draft
    by draft, not across them (and a draft Assay does not read cannot be)."""
    try:
        return draft_of(META_SCHEMAS.contents(meta_schema)) == draft
    except BadInput:  # draft 3's: the $ref is then refused as another draft's, as it is
        return False


def _profile_file(target: str, root_uri: str, folder: Path) -> Path | None:
    """The file in the profile's folder that a $ref's document URI names, if any.

    A URI below the root schema's own (its file, or its $id) names the file at the same
    place below the folder; a URI elsewhere on the web (a standard's other files, say)
    names the file of the same name in the folder. Nothing outside the folder is read."""
    below = root_uri.rsplit("/", 1)[0] + "/"
    if target.startswith(below):
        relative = unquote(target[len(below) :])
    elif target.startswith("file:"):
        return None  # a file outside the profile's folder
    else:
        relative = unquote(target.rsplit("/", 1)[-1])
    file = (folder / relative).resolve()
    return file if file.is_relative_to(folder) and file.is_file() else None


def _ref_targets(node: Any, base: str, id_key: str = "$id") -> set[str]:
    """The documents (URIs without fragments) that the $refs inside ``node`` point to,
    each read against the base of where it stands (a nested $id changes it)."""
    targets: set[str] = set()
    stack: list[tuple[Any, str]] = [(node, base)]
    while stack:
        current, here = stack.pop()
        if isinstance(current, dict):
            own = current.get(id_key)
            if isinstance(own, str) and not own.startswith("#"):  # "#x": a name, not a base
                here = urljoin(here, own)
            ref = current.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                targets.add(urldefrag(urljoin(here, ref)).url)
            stack.extend((child, here) for child in current.values())
        elif isinstance(current, list):
            stack.extend((child, here) for child in current)
    return targets


@functools.lru_cache(maxsize=8)
def fast_validator(loaded: LoadedSchema) -> Any:
    try:
        # The registry holds the profile's files; its default retriever fetches nothing.
        # Each file is read in the draft it declares, or else in the schema's own, as
        # python jsonschema reads them (a registry's draft would override what they say).
        registry = jsonschema_rs.Registry(
            [(uri, _declaring(doc, loaded.draft)) for uri, doc in loaded.resources.items()]
        )
        return FAST_VALIDATORS[loaded.draft](
            loaded.schema,
            validate_formats=True,
            formats=_later_formats(loaded.draft),
            registry=registry,
            offline=True,
        )
    except (ValueError, jsonschema_rs.ReferencingError) as error:
        raise _unusable(error) from None


def _unusable(error: Exception) -> BadInput:
    if (
        isinstance(error, jsonschema_rs.ValidationError)
        and type(error.kind).__name__ != "Referencing"
    ):  # the schema breaks its meta-schema as the fast engine reads it: a bad pattern
        where = "/".join(str(part) for part in error.instance_path) or "the top level"
        return _faulty_schema(
            f"The schema is not a valid JSON Schema: at {where}, {_plain_meta_fault(error)}."
        )
    return BadInput(
        "schema_invalid",
        f"The schema cannot be used: {_plain_schema_fault(str(error))}",
        hint="Check that every $ref names a place in the schema, or a file in the schema's folder.",
    )


# The formats 2020-12 defines that an older draft did not, which the fast engine does not
# check in that draft: python jsonschema's checks check them there, as the reference does.
FORMATS_LATER_THAN = {
    "4": {
        "uri-reference", "json-pointer", "relative-json-pointer", "uri-template",
        "idn-hostname", "duration", "uuid",
    },
    "6": {"relative-json-pointer", "idn-hostname", "duration", "uuid"},
    "7": {"duration", "uuid"},
}  # fmt: skip


def _later_formats(draft: str) -> dict[str, Any]:
    return {
        name: functools.partial(_conforms, name=name) for name in FORMATS_LATER_THAN.get(draft, ())
    }


def _plain_meta_fault(error: Any) -> str:
    if type(error.kind).__name__ == "Format" and error.kind.format == "regex":
        return f"“{error.instance}” is not a regular expression (patterns are ECMA-262)"
    return error.message


UNRESOLVED = re.compile(r"^Resource '(?P<uri>[^']*)' is not present in a registry")
NO_SUCH_PLACE = re.compile(r"^Pointer '(?P<pointer>[^']*)' does not exist")


def _plain_schema_fault(message: str) -> str:
    """The fast engine's words for what it cannot use in a schema, made plain."""
    if match := UNRESOLVED.match(message):
        if match["uri"] in META_SCHEMAS:
            return _other_drafts(match["uri"])
        return f"a $ref names {match['uri']}, which is not a file in the schema's folder."
    if match := NO_SUCH_PLACE.match(message):
        return f"a $ref points to “{match['pointer']}”, which the document it names lacks."
    return message.split("\n", 1)[0]  # its first line: what follows is the engine's context


def _declaring(document: Any, draft: str) -> Any:
    """A schema file that declares its draft: ``draft`` where it declares none."""
    if isinstance(document, dict) and "$schema" not in document:
        return {"$schema": REFERENCE_VALIDATORS[draft].META_SCHEMA["$schema"], **document}
    return document


def reference_validator(loaded: LoadedSchema, as_the_fast_one: bool = False) -> Any:
    """python jsonschema's validator; ``as_the_fast_one``: reading values as jsonschema-rs
    does (_reading_as_the_fast_one)."""
    specification = SPECIFICATIONS[loaded.draft]
    registry: referencing.Registry = referencing.Registry().with_resources(
        (uri, referencing.Resource.from_contents(doc, default_specification=specification))
        for uri, doc in loaded.resources.items()
    )
    classes = READING_AS_THE_FAST_ONE if as_the_fast_one else PLACING_VALIDATORS
    cls = classes[loaded.draft]
    return cls(loaded.schema, registry=registry, format_checker=FORMAT_CHECKER)


def _placing_false_schemas(cls: Any, kin: dict[Any, Any]) -> Any:
    """``cls``, placing the errors of false subschemas: python jsonschema's descend() drops
    the path it is given for one, so {"properties": {"old": false}} put its error at the
    object, not at "old" as jsonschema-rs does. The error also keeps the subschema whose
    keyword led to the false one, by which _reference_errors places the rule. ``kin``
    gives the class of the same kind for each standard one (see evolve_placing). Its
    uniqueItems is _unique_items."""
    placing = jsonschema.validators.extend(cls, validators={"uniqueItems": _unique_items})
    descend, evolve = placing.descend, placing.evolve

    def descend_placing(self, instance, schema, path=None, schema_path=None, resolver=None):
        for error in descend(self, instance, schema, path, schema_path, resolver):
            if schema is False and error.validator is None and not error.schema_path:
                if path is not None:
                    error.path.appendleft(path)
                if schema_path is not None:
                    error.schema_path.appendleft(schema_path)
                error.false_under = (self.schema, schema_path)
            yield error

    def evolve_placing(self, **changes):
        """As evolve(), keeping to the placing classes: a subschema that declares its
        "$schema" (a file a $ref names, say) would be read by the standard one."""
        evolved = evolve(self, **changes)
        placing_class = kin.get(type(evolved))
        if placing_class is None:
            return evolved
        fields = attrs.fields(type(evolved))
        return placing_class(**{f.alias: getattr(evolved, f.name) for f in fields if f.init})

    placing.descend, placing.evolve = descend_placing, evolve_placing
    return placing


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """uniqueItems in a time that grows with the list's length. python jsonschema's own
    compares every item with every other where they cannot be sorted (objects): 30,000
    objects in a 400 KB file took a worker over 15 minutes."""
    if (
        unique
        and validator.is_type(instance, "array")
        and len(set(map(_comparable, instance))) < len(instance)
    ):
        yield jsonschema.ValidationError("has items that appear more than once")


def _comparable(value: Any) -> Any:
    """A hashable form of a JSON value, the same for values JSON Schema holds equal: 1
    and 1.0 are, true and 1 are not, and an object's fields are in no order."""
    kind = type(value)
    if kind is dict:
        return dict, frozenset((key, _comparable(item)) for key, item in value.items())
    if kind is list:
        return list, tuple(map(_comparable, value))
    if kind is bool:
        return bool, value
    return value


def _kind_of_validators(make: Callable[[str], Any]) -> dict[str, Any]:
    """A placing class for each draft, made from python jsonschema's by ``make``."""
    kin: dict[Any, Any] = {}
    classes = {draft: _placing_false_schemas(make(draft), kin) for draft in REFERENCE_VALIDATORS}
    kin.update({REFERENCE_VALIDATORS[draft]: cls for draft, cls in classes.items()})
    return classes


def _reading_as_the_fast_one(draft: str) -> Any:
    """python jsonschema's validator for ``draft``, with the rules that the two engines
    read otherwise on a value (README, "Known differences") judged as the fast engine
    judges them (the "python" engine): for data too large for jsonschema-rs to give every
    error of at once, or with a field whose name is empty, it then finds the same errors.
    Python's re, besides, is not run on values, where it may take exponential time, and
    need not read ECMA-262 (\\p{L})."""

    def pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
        if validator.is_type(instance, "string") and not _fast_accepts(
            draft, "pattern", pattern, instance
        ):
            yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")

    def multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if validator.is_type(instance, "number") and not _fast_accepts(
            draft, "multipleOf", divisor, instance
        ):
            yield jsonschema.ValidationError(f"{instance!r} is not a multiple of {divisor}")

    def format_(validator: Any, name: str, instance: Any, schema: Any) -> Iterator[Any]:
        # Refused by both engines, as _fast_broken keeps a format's error.
        if not _fast_accepts(draft, "format", name, instance) and not _reference_accepts(
            "format", instance, {"format": name}
        ):
            yield jsonschema.ValidationError(f"{instance!r} is not a {name!r}")

    rules = {"pattern": pattern, "multipleOf": multiple_of, "format": format_}
    return jsonschema.validators.extend(REFERENCE_VALIDATORS[draft], rules)


@functools.lru_cache(maxsize=1024)  # a rule each: a schema has a few hundred at most
def _fast_rule_alone(draft: str, keyword: str, argument: Any) -> Any:
    """jsonschema-rs's reading of one rule alone, as fast_validator reads it."""
    return FAST_VALIDATORS[draft](
        {keyword: argument}, validate_formats=True, formats=_later_formats(draft)
    )


def _fast_accepts(draft: str, keyword: str, argument: Any, instance: Any) -> bool:
    return _fast_rule_alone(draft, keyword, argument).is_valid(instance)


PLACING_VALIDATORS = _kind_of_validators(REFERENCE_VALIDATORS.get)
READING_AS_THE_FAST_ONE = _kind_of_validators(_reading_as_the_fast_one)


# Formats whose values are ASCII text with nothing around it, by their standards. python
# jsonschema's checks take more: "$" in their regular expressions matches before a final
# newline, and int() and UUID() read other scripts' digits, spaces and "_".
PLAIN_ASCII_FORMATS = {
    "date", "date-time", "time", "duration", "uuid", "email", "hostname", "ipv4", "ipv6",
    "uri", "uri-reference",
}  # fmt: skip
UUID_CHARACTERS = frozenset("0123456789abcdefABCDEF-")


def _plain_ascii(name: str, check: Any) -> Any:
    def checked(value: Any) -> bool:
        if isinstance(value, str):
            if not value.isascii() or value != value.strip():
                return False
            if name == "uuid" and not UUID_CHARACTERS.issuperset(value):
                return False
        return check(value)

    return checked


def _format_checker() -> jsonschema.FormatChecker:
    """Every format in every draft, as 2020-12 defines it: "date" is checked even where
    draft 4 does not name it. (jsonschema.FormatChecker() would check "time" as draft 3
    did.) Values of the plain ASCII formats must be that first."""
    checker = jsonschema.FormatChecker(formats=())
    for name, (check, raises) in jsonschema.Draft202012Validator.FORMAT_CHECKER.checkers.items():
        if name in PLAIN_ASCII_FORMATS:
            check = _plain_ascii(name, check)
        checker.checks(name, raises)(check)
    return checker


FORMAT_CHECKER = _format_checker()


@dataclass(frozen=True)
class SchemaError:
    """One place where the data breaks the schema."""

    validator: str
    path: str  # JSON Pointer to the value ("" is the whole document)
    schema_path: str
    message: str  # plain words, without the value, so that errors group
    value: Any = None  # the offending value, truncated
    missing: str | None = None  # for "required": the property that is missing
    path_pattern: str = ""  # the path with list indexes as "*" (see to_pattern)
    # Why no alternative of a oneOf or anyOf matched: kept beside the message, which it
    # would split into groups. Found only for the errors kept (see explained).
    closest: Closest | None = None
    # Finds it, given the error's path (a batch's errors are moved: _shifted).
    explain: Explainer | None = field(default=None, compare=False, repr=False)

    def at(self, path: str) -> SchemaError:
        """The same error at ``path``: made directly, as dataclasses.replace() took half as
        long again, once per error of a batch (_shifted)."""
        return SchemaError(
            validator=self.validator,
            path=path,
            schema_path=self.schema_path,
            message=self.message,
            value=self.value,
            missing=self.missing,
            path_pattern=self.path_pattern,
            closest=self.closest,
            explain=self.explain,
        )

    def moved(self, move: Callable[[str], str]) -> SchemaError:
        """The same error with every JSON Pointer in it passed to ``move``: its own, and
        those of its detail (once explained: see ErrorGroups.add_after)."""
        closest = self.closest and self.closest.moved(move)
        return replace(self, path=move(self.path), closest=closest)

    def explained(self) -> SchemaError:
        """The error with its closest alternative, found now: worth it only for an error shown."""
        if self.explain is None:
            return self
        return replace(self, closest=self.explain(self.path), explain=None)

    @property
    def detail(self) -> str:
        """Why no alternative matched, in words, placing each reason by its JSON Pointer."""
        return "" if self.closest is None else self.closest.said()


# Says where a reason of a detail is, given its JSON Pointer, the field it lacks if it is
# a missing one, and the place of the error the detail explains; "" for that same place.
Placer = Callable[[str, str | None, str], str]


def at_pointer(path: str, missing: str | None, here: str) -> str:
    """A reason's JSON Pointer, unless it is the error's own (a missing field's message
    names the field)."""
    return "" if path == here else path


@dataclass(frozen=True)
class Reason:
    """One error of the closest alternative."""

    path: str  # JSON Pointer to the value in the whole document
    message: str
    missing: str | None = None  # for "required": the property that is missing
    closest: Closest | None = None  # of the alternatives inside it, when none matched

    def said(self, here: str, place: Placer) -> str:
        said = self.message
        if self.closest is not None:
            said = f"{said} ({self.closest.said(place)})"
        where = place(self.path, self.missing, here)
        return f"at {where}, {said}" if where else said

    def moved(self, move: Callable[[str], str]) -> Reason:
        return replace(
            self, path=move(self.path), closest=self.closest and self.closest.moved(move)
        )


@dataclass(frozen=True)
class Closest:
    """Why no alternative of a oneOf or anyOf matched: the alternative with the fewest
    errors, and its first few errors (see _closest)."""

    path: str  # JSON Pointer to the value that matched no alternative
    number: int  # of the alternative, from 1
    reasons: tuple[Reason, ...]
    more: int  # of its errors, not among the reasons
    outer: bool = True  # explains an error, not an error of another alternative

    def said(self, place: Placer = at_pointer) -> str:
        """In words, each reason placed by ``place`` (by default, by its JSON Pointer)."""
        reasons = [reason.said(self.path, place) for reason in self.reasons]
        if self.more > 0:
            reasons.append(f"and {self.more} more")
        start = "Closest" if self.outer else "closest"
        return f"{start} is alternative {self.number}: {'; '.join(reasons)}"

    def moved(self, move: Callable[[str], str]) -> Closest:
        """The same, with every JSON Pointer in it passed to ``move``."""
        reasons = tuple(reason.moved(move) for reason in self.reasons)
        return replace(self, path=move(self.path), reasons=reasons)

    def reworded(self, reword: Callable[[str], str]) -> Closest:
        """The same, each reason's message (inner alternatives' too) passed to ``reword``."""
        reasons = tuple(
            replace(
                reason,
                message=reword(reason.message),
                closest=reason.closest and reason.closest.reworded(reword),
            )
            for reason in self.reasons
        )
        return replace(self, reasons=reasons)


Explainer = Callable[[str], Closest | None]


# The values handed to jsonschema-rs for its errors in one call, at most. It makes every
# error of what it is given before it gives the first, 2 KB each (6 KB a oneOf's): one
# item of a 1 MB file, a list of 500,000 entries each of the wrong type, took a worker to
# 1.4 GB. Past this many values, where the errors could be as many, the "large" engine
# asks jsonschema-rs only whether the data is valid, and if not, python jsonschema,
# which gives its errors one at a time, finds them.
MAX_VALUES_AT_ONCE = 20_000


def engine_for_values(engine: str, values: int) -> str:
    """The engine for data of ``values`` values, where ``engine`` is the one chosen."""
    return "large" if engine == "fast" and values > MAX_VALUES_AT_ONCE else engine


def iter_errors(data: Any, loaded: LoadedSchema, engine: str = "fast") -> Iterator[SchemaError]:
    if engine == "large":
        if _fast_says_valid(data, loaded):
            return
        engine = "python"
    if engine == "python" and not _names_read_by_python(loaded):
        # Python's re reads the patterns of field names: where it cannot read one, the
        # errors are left to jsonschema-rs, all at once.
        engine = "fast"
    if engine == "fast":
        yield from _fast_errors(data, loaded)
    elif engine in ("python", "reference"):
        try:
            yield from _reference_errors(data, loaded, as_the_fast_one=engine == "python")
        except RecursionError:
            raise too_deep("check against the schema") from None
    else:
        raise ValueError(f"unknown engine {engine!r}")


def _fast_says_valid(data: Any, loaded: LoadedSchema) -> bool:
    try:
        return fast_validator(loaded).is_valid(data)
    except ValueError as error:  # as _fast_errors: nested too deeply for jsonschema-rs
        if "Recursion limit" not in str(error):
            raise
        raise too_deep("check against the schema") from None


@functools.lru_cache(maxsize=8)
def _names_read_by_python(loaded: LoadedSchema) -> bool:
    """Whether Python's re can read every pattern of field names (patternProperties) in the
    schema and the files it names: each alone, and all of one object as one, joined by "|"
    as python jsonschema looks for fields they leave out (where "(?i)" must come first)."""
    for properties in _values_of([loaded.schema, *loaded.resources.values()], PATTERNED):
        patterns = list(properties) if isinstance(properties, dict) else []
        try:
            for pattern in [*patterns, "|".join(patterns)]:
                re.compile(pattern)
        except re.error:
            return False
    return True


PATTERNED = {"patternProperties"}


def is_valid(data: Any, loaded: LoadedSchema) -> bool:
    # What the fast engine refuses may still pass in the reference (_reference_accepts).
    return fast_validator(loaded).is_valid(data) or next(iter_errors(data, loaded), None) is None


# Batches: a long list checked a slice at a time gives the same errors as the whole
# document, provided nothing in the schema looks at the list as a whole. These are the
# keywords that do not: at the root, and on the list itself.
ROOT_KEYWORDS_FOR_BATCHES = {
    "$schema", "$id", "id", "$comment", "title", "description", "examples", "default",
    "type", "properties", "required", "additionalProperties", "propertyNames",
    "minProperties", "maxProperties", "definitions", "$defs",
}  # fmt: skip
LIST_KEYWORDS_FOR_BATCHES = {
    "$comment", "title", "description", "examples", "default", "deprecated", "readOnly",
    "writeOnly", "type", "items", "minItems",
}  # fmt: skip


# Keywords on the list that judge it as a whole, not item by item. A stream cannot judge
# them; a document read whole has the whole list to judge them by, with the schema that
# leaves its items' rule out (without_items_rule), while its items are checked in batches.
WHOLE_LIST_KEYWORDS = {"maxItems", "uniqueItems", "contains", "minContains", "maxContains"}


MAX_ITEMS_KEPT = 1000


def checks_items_alone(loaded: LoadedSchema, key: str | None, whole_list: bool = False) -> bool:
    """Whether the items of the root list at ``key`` can be checked in batches (``key``
    None: the document is the list, which the root schema judges); ``whole_list`` when the
    whole list is at hand for the keywords that judge it (WHOLE_LIST_KEYWORDS)."""
    list_schema = _list_schema(loaded, key)
    list_keywords = LIST_KEYWORDS_FOR_BATCHES | (WHOLE_LIST_KEYWORDS if whole_list else set())
    if key is None:  # the root's keywords for objects judge no list
        fits = set(loaded.schema) <= ROOT_KEYWORDS_FOR_BATCHES | list_keywords
    else:
        fits = (
            key != ""  # jsonschema-rs leaves empty keys out of its error paths
            and set(loaded.schema) <= ROOT_KEYWORDS_FOR_BATCHES
            and isinstance(list_schema, dict)
            and set(list_schema) <= list_keywords
        )
    return (
        fits
        # "items": false refuses any item: a rule about the list, judged whole.
        and (
            isinstance(list_schema.get("items", True), dict)
            or list_schema.get("items", True) is True
        )
        # The first minItems items are kept to judge the list: a few, not thousands.
        and items_needed_for_rest(loaded, key) <= MAX_ITEMS_KEPT
        # Leaving the items' rule out to judge the list must leave no $ref unresolved.
        and not (judges_the_whole_list(loaded, key) and _items_rule_named(loaded, key))
    )


def judges_the_whole_list(loaded: LoadedSchema, key: str | None) -> bool:
    """Whether the root list at ``key`` has a rule that judges it as a whole."""
    list_schema = _list_schema(loaded, key)
    return isinstance(list_schema, dict) and not WHOLE_LIST_KEYWORDS.isdisjoint(list_schema)


@functools.lru_cache(maxsize=8)
def without_items_rule(loaded: LoadedSchema, key: str | None) -> LoadedSchema:
    """The schema with the root list's "items" left out: it judges the list as a whole and
    the rest of the document, but no item, whose errors batch_errors finds."""
    list_schema = {
        name: rule for name, rule in _list_schema(loaded, key).items() if name != "items"
    }
    if key is None:
        root = list_schema
    else:
        root = {**loaded.schema, "properties": {**loaded.schema["properties"], key: list_schema}}
    resources = {
        uri: root if document is loaded.schema else document
        for uri, document in loaded.resources.items()
    }
    return replace(loaded, schema=root, resources=resources)


def _items_rule_named(loaded: LoadedSchema, key: str | None) -> bool:
    """Whether a $ref may lead into the root list's "items", which without_items_rule
    leaves out: by a JSON Pointer through it or to what holds it (the list, the root), or
    by a name ($id, anchor) given in it."""
    items_rule = _list_schema(loaded, key).get("items", True)
    names = {id_keyword(loaded.draft), "$anchor", "$dynamicAnchor", "$recursiveAnchor"}
    if any(True for _ in _values_of(items_rule, names)):
        return True
    pointer = "/items" if key is None else f"/properties/{escape(key)}/items"
    refs = (ref for document in loaded.resources.values() for ref in _values_of(document, REFS))
    return any(isinstance(ref, str) and _leads_to(loaded, ref, pointer) for ref in refs)


def _leads_to(loaded: LoadedSchema, ref: str, pointer: str) -> bool:
    """Whether ``ref`` may lead to the rule at ``pointer`` in the root schema, or into it."""
    url, fragment = urldefrag(ref)
    target = unquote(fragment)
    if target.startswith(pointer):
        return True
    # "#", "#/properties/grants": what holds the rule, which is gone from it too.
    to_the_root = not url or loaded.resources.get(urljoin(loaded.base_uri, url)) is loaded.schema
    return to_the_root and f"{pointer}/".startswith(f"{target}/")


def _values_of(node: Any, keywords: set[str]) -> Iterator[Any]:
    """The values of ``keywords`` anywhere in ``node``."""
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, dict):
            yield from (current[keyword] for keyword in keywords & current.keys())
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)


def batch_errors(
    items: list[Any], start: int, key: str | None, loaded: LoadedSchema, engine: str = "fast"
) -> Iterator[SchemaError]:
    """The errors inside ``items``, the root list's items from index ``start`` on, placed
    as in the whole document (needs ``checks_items_alone``)."""
    document = items if key is None else {key: items}
    errors = iter_errors(document, loaded, engine)
    for error in _shifted(errors, start, at=1 if key is None else 2):
        if error.path.startswith(_inside(key)):
            yield error


def rest_errors(
    skeleton: Any, key: str | None, loaded: LoadedSchema, engine: str = "fast"
) -> Iterator[SchemaError]:
    """The errors outside the items of the root list at ``key``, given the document with
    that list cut to its first items (as many as its minItems needs to judge it). Their
    rule is left out where nothing else names it: their errors, found with the batches,
    took as long again for a few large items."""
    inside = _inside(key)
    if not _items_rule_named(loaded, key):
        loaded = without_items_rule(loaded, key)
    for error in iter_errors(skeleton, loaded, engine):
        if not error.path.startswith(inside):
            yield error


def _inside(key: str | None) -> str:
    """How the places inside the items of the root list at ``key`` begin."""
    return "/" if key is None else f"/{escape(key)}/"


def _list_schema(loaded: LoadedSchema, key: str | None) -> Any:
    """The schema of the root list at ``key``: the root schema for None."""
    return loaded.schema if key is None else (loaded.schema.get("properties") or {}).get(key)


def engine_for(patterns: Iterable[str]) -> str:
    """The engine for data with fields at ``patterns``: python jsonschema where a field has
    an empty name ("" or "/a//b"), which jsonschema-rs leaves out of the paths it gives,
    placing an error there at the object holding it. It reads values as jsonschema-rs
    does: Python's re, on the data, refused "\\p{L}" and may take exponential time."""
    return "python" if any(_empty_name(pattern) for pattern in patterns) else "fast"


def _empty_name(pattern: str) -> bool:
    return "//" in pattern or pattern.endswith("/")


def _shifted(errors: Iterator[SchemaError], shift: int, at: int) -> Iterator[SchemaError]:
    """Errors in a batch of the root list's items, placed at their index in the list (the
    path's part ``at``)."""
    if not shift:
        yield from errors
        return
    for error in errors:
        moved = moved_along(error.path, at, shift)
        yield error if moved is error.path else error.at(moved)


def moved_along(pointer: str, at: int, shift: int) -> str:
    """``pointer`` with the list index that is its part ``at`` moved on by ``shift`` (the
    same string where it has no such part)."""
    parts = pointer.split("/")
    if len(parts) <= at:
        return pointer
    parts[at] = str(int(parts[at]) + shift)
    return "/".join(parts)


def items_needed_for_rest(loaded: LoadedSchema, key: str | None) -> int:
    """How many of the root list's first items its minItems needs to judge it."""
    list_schema = _list_schema(loaded, key)
    minimum = list_schema.get("minItems", 0) if isinstance(list_schema, dict) else 0
    return math.ceil(minimum) if isinstance(minimum, int | float) else 0


def _fast_errors(data: Any, loaded: LoadedSchema) -> Iterator[SchemaError]:
    try:
        yield from _fast_errors_unguarded(data, loaded)
    except ValueError as error:
        # jsonschema-rs refuses values nested more than a few hundred levels deep.
        if "Recursion limit" not in str(error):
            raise
        raise too_deep("check against the schema") from None


def _fast_errors_unguarded(data: Any, loaded: LoadedSchema) -> Iterator[SchemaError]:
    keys = _NumberedKeys()
    lists_too_long: set[tuple[Any, ...]] = set()
    for error in fast_validator(loaded).iter_errors(data):
        broken = _fast_broken(loaded, data, error, keys, lists_too_long)
        if broken is None:
            continue
        validator, instance_path, instance, details, schema_path = broken
        rule = _fast_rule(loaded, error, schema_path)
        explain = _fast_explainer(loaded, data, error)
        yield _build(validator, instance_path, rule, instance, details, explain)


# The kinds of jsonschema-rs errors whose alternatives all failed: each one's errors are
# in the error's context, from which the closest is found (SchemaError.explained).
ALTERNATIVE_KINDS = {"OneOfNotValid", "AnyOf"}
_Broken = tuple[str, list[Any], Any, dict[str, Any], list[Any]]


def _fast_broken(
    loaded: LoadedSchema,
    data: Any,
    error: Any,
    keys: _NumberedKeys,
    lists_too_long: set[tuple[Any, ...]],
) -> _Broken | None:
    """The rule a jsonschema-rs error breaks, as python jsonschema names it: the keyword,
    the place in the data, the value at fault, its details and the schema path; None for
    an error python jsonschema does not give."""
    kind = type(error.kind).__name__
    instance_path = keys.typed(data, error)
    schema_path = error.schema_path
    if _beyond_the_items(loaded.draft, kind, schema_path, instance_path):
        # 2020-12's "items": false says how long a list may be: one error about the
        # list, as python jsonschema gives, not one per item past the prefixItems.
        instance_path = instance_path[:-1]
        once = (*instance_path, None, *error.evaluation_path)  # by each way it is reached
        if once in lists_too_long:
            return None
        lists_too_long.add(once)
        validator, instance, details = "items", _value_at(data, instance_path), {}
    elif _closed_object(kind, schema_path, data, instance_path):
        # "additionalProperties": false with no "properties" beside it: jsonschema-rs
        # calls it a false schema, showing one field's value.
        instance = _value_at(data, instance_path)
        validator, details = "additionalProperties", {"unexpected": list(instance)}
    else:
        validator, instance, details = _rule_broken(error, kind)
        if _reference_accepts(validator, instance, details):
            return None
    if loaded.draft == "4" and validator in DRAFT4_EXCLUSIVE:
        # Draft 4's "exclusiveMinimum": true only modifies "minimum", which python
        # jsonschema names as the rule broken.
        validator = DRAFT4_EXCLUSIVE[validator]
        schema_path, details = [*schema_path[:-1], validator], {**details, "exclusive": True}
    return validator, instance_path, instance, details, schema_path


def _fast_explainer(
    loaded: LoadedSchema, data: Any, error: Any, outer: bool = True
) -> Explainer | None:
    """What finds the closest alternative of a jsonschema-rs error whose alternatives all
    failed (not a field name's, PropertyNames); None for any other error."""
    if type(error.kind).__name__ not in ALTERNATIVE_KINDS:
        return None
    return functools.partial(_fast_closest, loaded, data, error, outer=outer)


def _fast_closest(
    loaded: LoadedSchema, data: Any, error: Any, path: str, outer: bool = True
) -> Closest | None:
    """The closest alternative of a jsonschema-rs error whose alternatives all failed."""
    keys = _NumberedKeys()
    start = len(error.instance_path)
    alternatives = []
    for branch in error.kind.context:
        lists_too_long: set[tuple[Any, ...]] = set()
        found = []
        for sub in branch:
            broken = _fast_broken(loaded, data, sub, keys, lists_too_long)
            if broken is not None:
                validator, instance_path, instance, details, _ = broken
                explain = _fast_explainer(loaded, data, sub, outer=False) if outer else None
                relative = instance_path[start:]
                found.append(_build(validator, relative, "", instance, details, explain))
        alternatives.append(found)
    return _closest(path, alternatives, outer)


def _closed_object(kind: str, schema_path: Any, data: Any, instance_path: list[Any]) -> bool:
    if kind != "FalseSchema" or schema_path[-1:] != ["additionalProperties"]:
        return False
    try:  # a path through an empty key, which jsonschema-rs leaves out, leads nowhere
        object_refused = type(_value_at(data, instance_path)) is dict
    except (KeyError, IndexError, TypeError):
        return False
    return object_refused and _keywords(schema_path)[-1:] == ["additionalProperties"]


def _reference_accepts(validator: str, instance: Any, details: dict[str, Any]) -> bool:
    """Whether python jsonschema accepts a value the fast engine refused on its format,
    which each checks in its own way ("@b.c" is an email to python jsonschema). Asked of
    refusals only, so it costs nothing on valid data; checking every value this way in
    the fast engine (a Python call each) added a quarter to a 50 MB run.

    Patterns are not asked again: Python's re can take exponential time on a value a
    pattern backtracks over, where the fast engine cannot, and it reads them as ECMA-262
    does, as the JSON Schema specification says (README: "Known differences")."""
    if validator != "format" or not isinstance(instance, str):
        return False
    return _conforms(instance, details.get("format", ""))


def _conforms(value: str, name: str) -> bool:
    """FORMAT_CHECKER.conforms(value, name), without its exception chain: while a file is
    streamed the cyclic collector is paused, and that chain's reference cycle held each
    batch of items (and its frames) alive: 40 MB more for a 50 MB file."""
    check, raises = FORMAT_CHECKER.checkers.get(name, (None, ()))
    if check is None:
        return False  # a format the reference cannot check here (iri): the refusal stands
    try:
        return bool(check(value))
    except raises:
        return False


def _rule_broken(error: Any, kind: str) -> tuple[str, Any, dict[str, Any]]:
    """The keyword broken, as the schema writes it ("dependentRequired", not "required"),
    the value at fault, and the details its message needs."""
    if kind == "FalseSchema":
        return "false", error.instance, {}
    validator = str(error.schema_path[-1])
    if kind == "PropertyNames":  # the name is the value at fault, as python reports it
        name_error = error.kind.error
        if type(name_error.kind).__name__ == "FalseSchema":  # names checked by false
            return "false", name_error.instance, {"field_name": True}
        details = {**_kind_details(name_error.kind), "field_name": True}
        return validator, name_error.instance, details
    if kind == "OneOfMultipleValid":
        return validator, error.instance, {"several": True}
    return validator, error.instance, _kind_details(error.kind)


DRAFT4_EXCLUSIVE = {"exclusiveMinimum": "minimum", "exclusiveMaximum": "maximum"}


def _value_at(data: Any, parts: list[Any]) -> Any:
    for part in parts:
        data = data[part]
    return data


def _beyond_the_items(draft: str, kind: str, schema_path: Any, instance_path: list) -> bool:
    """An item refused by "items": false (2020-12), not by a property named "items"."""
    return (
        draft == "2020-12"
        and kind == "FalseSchema"
        and schema_path[-1:] == ["items"]
        and instance_path[-1:] != []
        and type(instance_path[-1]) is int
    )


class _NumberedKeys:
    """Error paths with list indexes as numbers and keys as strings, as the data has them:
    jsonschema-rs gives a key such as "2024" or "007" as a number too.

    Where keys of an object spell the same number ("7", "007"), the n-th error a rule
    gives there is put at the n-th of them holding the value at fault (jsonschema-rs
    visits keys in order), or, when its value is not the key's (a closed object's), at the
    n-th of them."""

    def __init__(self) -> None:
        self.by_number: dict[int, dict[str, list[str]]] = {}  # per object, found once
        self.given: dict[tuple[Any, ...], int] = {}  # errors placed per object, part, rule

    def typed(self, data: Any, error: Any) -> list[Any]:
        parts, typed, node = error.instance_path, [], data
        for index, part in enumerate(parts):
            if type(node) is list:
                typed.append(int(part))
                node = node[int(part)]
                continue
            key = self._key(node, part, parts[index + 1 :], error)
            if type(node) is not dict or key not in node:
                # Past a field with an empty name, which jsonschema-rs leaves out: the
                # error is placed at the object holding that field (README).
                return typed
            typed.append(key)
            node = node.get(key) if type(node) is dict else None
        return typed

    def _key(self, node: Any, part: Any, rest: list[Any], error: Any) -> str:
        spelled = self.spelling(node, part)
        if len(spelled) == 1:
            return spelled[0]
        holding = [key for key in spelled if _same(_follow(node[key], rest), error.instance)]
        count_key = (id(node), part, *error.evaluation_path)
        given = self.given[count_key] = self.given.get(count_key, -1) + 1
        choices = holding or spelled
        return choices[min(given, len(choices) - 1)]

    def spelling(self, node: Any, part: Any) -> list[str]:
        """The keys of ``node`` that jsonschema-rs may mean by ``part``."""
        if type(node) is not dict or type(part) is not int:
            return [str(part)]
        keys = self.by_number.get(id(node))
        if keys is None:  # compared as text: a key may have more digits than int() takes
            keys = self.by_number[id(node)] = {}
            for match in filter(None, map(NUMBER_KEY.fullmatch, node)):
                keys.setdefault(match[1], []).append(match.string)
        return keys.get(str(part), [str(part)])


NUMBER_KEY = re.compile(r"\+?0*([0-9]+)")
MISSING = object()


def _follow(node: Any, parts: list[Any]) -> Any:
    """The value at the rest of an error's path, keys read as plainly as they can be."""
    for part in parts:
        if type(node) is list and type(part) is int and part < len(node):
            node = node[part]
        elif type(node) is dict and str(part) in node:
            node = node[str(part)]
        elif type(node) is dict and type(part) is int:  # "007", say, the only one it may be
            found = [key for key in node if (m := NUMBER_KEY.fullmatch(key)) and m[1] == str(part)]
            if len(found) != 1:
                return MISSING
            node = node[found[0]]
        else:
            return MISSING
    return node


def _same(one: Any, other: Any) -> bool:
    """Equal, and of the same types all through: 1 is not true, nor 1.0."""
    if type(one) is not type(other):
        return False
    if type(one) is dict:
        return one.keys() == other.keys() and all(_same(one[k], other[k]) for k in one)
    if type(one) is list:
        return len(one) == len(other) and all(map(_same, one, other))
    return one == other


def _kind_details(kind: Any) -> dict[str, Any]:
    name = type(kind).__name__
    if name in {"OneOfNotValid", "AnyOf", "PropertyNames"}:
        return {}  # Their details are nested errors, which the message does not need.
    return kind.as_dict()


def _reference_errors(
    data: Any, loaded: LoadedSchema, as_the_fast_one: bool = False
) -> Iterator[SchemaError]:
    try:
        places = _schema_map(loaded).places
        for error in reference_validator(loaded, as_the_fast_one).iter_errors(data):
            validator, details = _reference_broken(error)
            # Placed by the subschema holding the rule, as its path leaves out the $refs
            # it went through; a false schema, which is no subschema, by the one whose
            # keyword led to it (or else by that path).
            rule = ("", list(error.absolute_schema_path))
            if id(error.schema) in places:
                uri, parts, _ = places[id(error.schema)]
                rule = (uri, [*parts, validator])
            elif hasattr(error, "false_under"):
                rule = _false_place(loaded, error) or rule
            explain = _reference_explainer(error, validator, details)
            place = _rule_place(loaded, *rule)
            yield _build(validator, error.absolute_path, place, error.instance, details, explain)
    except referencing.exceptions.Unresolvable as error:
        raise BadInput("schema_invalid", f"The schema cannot be used: {error}") from None


ALTERNATIVES = {"oneOf", "anyOf"}


def _reference_broken(error: jsonschema.ValidationError) -> tuple[str, dict[str, Any]]:
    """The keyword a python jsonschema error breaks, and the details its message needs."""
    validator = "false" if error.validator is None else str(error.validator)
    details = {
        **_reference_details(validator, error),
        "field_name": _under_property_names(error.relative_schema_path),
    }
    return validator, details


def _reference_explainer(
    error: jsonschema.ValidationError, validator: str, details: dict[str, Any], outer: bool = True
) -> Explainer | None:
    """What finds the closest alternative of a python jsonschema error whose alternatives
    all failed (not a field name's); None for any other error."""
    if validator not in ALTERNATIVES or not error.context or details["field_name"]:
        return None
    return functools.partial(_reference_closest, error, outer=outer)


def _reference_closest(
    error: jsonschema.ValidationError, path: str, outer: bool = True
) -> Closest | None:
    """The closest alternative of a python jsonschema error whose alternatives all failed:
    its context holds every alternative's errors, each schema path starting with the
    alternative's index."""
    alternatives: list[list[SchemaError]] = [[] for _ in error.validator_value]
    for sub in error.context:
        validator, details = _reference_broken(sub)
        explain = _reference_explainer(sub, validator, details, outer=False) if outer else None
        built = _build(validator, sub.relative_path, "", sub.instance, details, explain)
        alternatives[sub.relative_schema_path[0]].append(built)
    return _closest(path, alternatives, outer)


def _false_place(loaded: LoadedSchema, error: Any) -> tuple[str, list[Any]] | None:
    """Where a false subschema is, from the subschema whose keyword led to it: under that
    keyword, at the key or index the error's path ends with ("properties", "old"), or the
    keyword itself ("else"), or where its $ref points."""
    parent, key = error.false_under
    places = _schema_map(loaded).places
    if id(parent) not in places:
        return None
    uri, parts, base = places[id(parent)]
    relative = list(error.relative_schema_path)
    if key is not None and parent.get(key) is False:  # "then": false, say
        return uri, [*parts, key]
    if key is not None:  # "properties": {"old": false}, "allOf": [false], ...
        return uri, [*parts, *relative[-2:]]
    if relative and parent.get(relative[-1]) is False:
        return uri, [*parts, relative[-1]]
    for ref in REFS:  # a "$ref" (or dynamic one, read statically) to a false schema
        if isinstance(parent.get(ref), str):
            return _pointed_at(loaded, urljoin(base, parent[ref]))
    return None


def _pointed_at(loaded: LoadedSchema, uri: str) -> tuple[str, list[Any]] | None:
    """The file and path a URI with a JSON Pointer fragment names, if it names one."""
    document, fragment = urldefrag(uri)
    found = _schema_map(loaded)
    target = found.documents.get(document)
    if target is None:
        target = loaded.resources.get(document, loaded.resources.get(f"{document}#"))
    if target is None or (fragment and not fragment.startswith("/")):
        return None
    file, prefix, _ = found.places[id(target)]
    parts = [part.replace("~1", "/").replace("~0", "~") for part in unquote(fragment).split("/")]
    return file, [*prefix, *parts[1:]]


def _rule_place(loaded: LoadedSchema, uri: str, parts: list[Any]) -> str:
    """Where a broken rule is written: a JSON Pointer into the profile's schema file, or
    for a rule in another file, that file's name, "#" and the pointer within it.

    ``uri`` names the file ("" the profile's schema) or a subschema with an $id, ``parts``
    the path within it."""
    uri = uri.rstrip("#")
    nested = _schema_map(loaded).documents.get(uri)
    if nested is not None:  # a subschema with an $id, written in a file: placed there
        uri, prefix, _ = _schema_map(loaded).places[id(nested)]
        # A $ref by a pointer into the file ("#/definitions/n") gives a path in the file
        # already, though the rule is in the subschema.
        if list(parts[: len(prefix)]) != prefix:
            parts = [*prefix, *parts]
    pointer = to_pointer(parts)
    name = loaded.files.get(uri.rstrip("#"), "" if not uri else None)
    if name is None:  # not a file Assay read: its URI, but never a path on the server
        name = uri.rsplit("/", 1)[-1] if uri.startswith("file:") else uri
    return f"{name}#{pointer}" if name else pointer


def _fast_rule(loaded: LoadedSchema, error: Any, schema_path: list[Any]) -> str:
    """Where the rule a jsonschema-rs error breaks is written. Its schema path starts at
    the document (or subschema with an $id) the last $ref on the way led to, which its
    keyword location names; with no $ref on the way, at the profile's schema. Known once
    per place: errors repeat."""
    if type(error.kind).__name__ == "PropertyNames":  # the rule is the name's error's
        error, schema_path = error.kind.error, list(error.kind.error.schema_path)
    jumped = not REFS.isdisjoint(error.evaluation_path)
    target = _document_of(error.absolute_keyword_location or "") if jumped else ""
    key = (target, *schema_path)
    found = _schema_map(loaded)
    if key not in found.rules:
        found.rules[key] = _rule_place(loaded, target, schema_path)
    return found.rules[key]


REFS = {"$ref", "$dynamicRef", "$recursiveRef"}


@functools.lru_cache(maxsize=4096)  # a rule each: errors repeat, and urldefrag is slow
def _document_of(location: str) -> str:
    return urldefrag(location).url


@dataclass
class _SchemaMap:
    # Each subschema dict of the profile's files, by identity: its file's URI and path,
    # and the base URI its $refs are read against.
    places: dict[int, tuple[str, list[Any], str]] = field(default_factory=dict)
    # Each subschema with an $id of its own, by that URI, which a $ref may name.
    documents: dict[str, Any] = field(default_factory=dict)
    # The place of each rule jsonschema-rs names (_fast_rule).
    rules: dict[tuple[Any, ...], str] = field(default_factory=dict)


@functools.lru_cache(maxsize=8)
def _schema_map(loaded: LoadedSchema) -> _SchemaMap:
    id_key = id_keyword(loaded.draft)
    found = _SchemaMap()
    uris: dict[int, tuple[Any, list[str]]] = {}
    for uri, document in loaded.resources.items():
        uris.setdefault(id(document), (document, []))[1].append(uri.rstrip("#"))
    # (node, its file's URI, its path there, the base URI its $refs are read against)
    pending = []
    for document, known in uris.values():
        base = _base_of_file(known, document, id_key)
        pending.append((document, base, [], base))
    while pending:
        node, file, parts, base = pending.pop()
        if isinstance(node, dict):
            if id(node) in found.places:
                continue
            own = node.get(id_key)
            if parts and isinstance(own, str) and not own.startswith("#"):
                base = urldefrag(urljoin(base, own)).url
                found.documents.setdefault(base, node)
            found.places[id(node)] = (file, parts, base)
            pending.extend((child, file, [*parts, key], base) for key, child in node.items())
        elif isinstance(node, list):
            pending.extend((child, file, [*parts, index], base) for index, child in enumerate(node))
    return found


def _base_of_file(uris: list[str], document: Any, id_key: str) -> str:
    """Of the URIs a file is known by, the one its relative $ids are read against, as the
    engines read them: its own $id, or the URI a $ref named it by, not its path here."""
    own = document.get(id_key) if isinstance(document, dict) else None
    if isinstance(own, str) and own.rstrip("#") in uris:
        return own.rstrip("#")
    return min(uris, key=lambda uri: (uri.startswith("file:"), uri))


def _under_property_names(schema_path: Any) -> bool:
    """Whether a python jsonschema error is about a field's name: its schema path passes
    through the keyword propertyNames (not a property, say, that is named so)."""
    return "propertyNames" in _keywords(schema_path)


def _keywords(schema_path: Any) -> list[Any]:
    """The keywords of a schema path. It alternates keywords with what they hold: a name
    after "properties", an index after "allOf"; only a keyword's place counts."""
    parts = list(schema_path)
    keywords = []
    index = 0
    while index < len(parts):
        part = parts[index]
        keywords.append(part)
        following = parts[index + 1] if index + 1 < len(parts) else None
        # The name or index that follows is not a keyword ("items" holds a schema or,
        # before 2020-12, a list of them).
        skip = part in SCHEMA_MAPS or (part in SCHEMA_LISTS and type(following) is int)
        index += 2 if skip else 1
    return keywords


def _reference_details(validator: str, error: jsonschema.ValidationError) -> dict[str, Any]:
    """The same details jsonschema-rs gives, read from a python jsonschema error."""
    value = error.validator_value
    match validator:
        case "required" | "dependencies" | "dependentRequired":
            return {
                "property": ast.literal_eval(
                    re.split(r" is a (?:required|dependency)", error.message)[0]
                )
            }
        case "additionalProperties" | "unevaluatedProperties":
            return {"unexpected": _unexpected(error)}
        case "type":
            return {"types": [value] if isinstance(value, str) else list(value)}
        case "enum":
            return {"options": list(value)}
        case "const":
            return {"expected_value": value}
        case "pattern" | "format":
            return {validator: value}
        case "multipleOf":
            return {"multiple_of": value}
        case "oneOf":
            return {"several": "is valid under each of" in error.message}
        case "minimum" | "maximum":
            # Draft 4 says "exclusiveMinimum": true beside "minimum" for "more than".
            exclusive = error.schema.get(f"exclusive{validator.title()}") is True
            return {"limit": value, "exclusive": exclusive}
        case _:
            return {"limit": value}


def _unexpected(error: jsonschema.ValidationError) -> list[str]:
    schema, instance = error.schema, error.instance
    if not isinstance(instance, dict):
        return []
    known = set(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    return [
        name
        for name in instance
        if name not in known and not any(re.search(pattern, name) for pattern in patterns)
    ]


def _build(
    validator: str,
    instance_path: Any,
    schema_path: str,
    instance: Any,
    details: dict[str, Any],
    explain: Explainer | None = None,
) -> SchemaError:
    missing = details.get("property") if validator in MISSING_VALIDATORS else None
    value = None if missing is not None else truncate(instance)
    message = describe(validator, instance, details)
    if details.get("field_name"):  # the value is a name, not the object that has it
        message = f"has a field name that {message}"
    return SchemaError(
        validator=validator,
        path=to_pointer(instance_path),
        schema_path=schema_path,
        message=message,
        value=value,
        missing=missing,
        path_pattern=to_pattern(instance_path),
        explain=explain,
    )


DIGITS = re.compile(r"[0-9]+")
SHOWN_REASONS = 3  # of the closest alternative's errors, in an error's detail


def _closest(
    path: str, alternatives: list[list[SchemaError]], outer: bool = True
) -> Closest | None:
    """Why the alternative with the fewest errors (the first of those) failed: its first
    few errors in reading order, each placed at ``path``, the error's own place, plus its
    own. Both engines give the same errors for each alternative, though not in the same
    order. Alternatives inside it (``outer``) are explained too, but not those inside them."""
    if not alternatives:
        return None
    index, errors = min(enumerate(alternatives), key=lambda pair: len(pair[1]))
    if not errors:  # failed on a format python jsonschema accepts (_reference_accepts)
        return None
    shown = sorted(errors, key=_reading_order)[:SHOWN_REASONS]
    reasons = tuple(_reason(path, error) for error in shown)
    return Closest(path, index + 1, reasons, len(errors) - len(shown), outer)


def _reason(path: str, error: SchemaError) -> Reason:
    """One error of the closest alternative, placed at ``path`` plus its own path."""
    place = f"{path}{error.path}"
    inner = error.explain(place) if error.explain is not None else None
    return Reason(place, error.message, error.missing, inner)


def _reading_order(error: SchemaError) -> tuple[Any, ...]:
    """Errors by place (list items by number), then by rule and words."""
    parts = error.path.split("/")[1:]
    place = [(0, int(part), "") if DIGITS.fullmatch(part) else (1, 0, part) for part in parts]
    return (place, error.validator, error.message)


def to_pointer(parts: Any) -> str:
    return "".join(f"/{escape(str(part))}" for part in parts)


def to_pattern(parts: Any) -> str:
    """A JSON Pointer with list indexes as "*", so that errors in every item group together.
    Made from the path's parts, where an index is a number: in "/2024" alone a key that
    is a year cannot be told from an index."""
    return "".join("/*" if type(part) is int else f"/{escape(part)}" for part in parts)


def truncate(value: Any, limit: int = MAX_VALUE_CHARS) -> Any:
    """A value small enough to show, still JSON: long strings end in "…", and long lists
    and objects keep their first entries followed by a "…" entry."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + "…"
    if not isinstance(value, (dict, list)):
        return value
    if len(json.dumps(value, ensure_ascii=False, default=str)) <= limit:
        return value
    inner = max(limit // 4, 10)
    more = len(value) > SHOWN_ENTRIES  # marked "…" only when entries are left out
    if isinstance(value, list):
        return [truncate(item, inner) for item in value[:SHOWN_ENTRIES]] + ["…"] * more
    kept = {key: truncate(item, inner) for key, item in list(value.items())[:SHOWN_ENTRIES]}
    return {**kept, "…": "…"} if more else kept


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


_TYPE_WORDS = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}
_FORMAT_EXAMPLES = {
    "date": "a date such as 2024-03-31",
    "date-time": "a date and time such as 2024-03-31T12:00:00Z",
    "time": "a time such as 12:00:00Z",
    "email": "an email address",
    "uri": "a full URI such as https://example.org/page",
    "uri-reference": "a URI reference",
    "ipv4": "an IPv4 address",
    "ipv6": "an IPv6 address",
    "uuid": "a UUID",
    "regex": "a regular expression",
}


# A date a spreadsheet keeps as the number of days since 1900 (46095 is 2026-03-14), written
# out as that number when its cell is not formatted as a date: 1955 to 2119.
_DAY_NUMBER = re.compile(r"[2-7][0-9]{4}(?:\.[0-9]+)?")


# Text that is a number: as JSON writes one, or with separators between its thousands or
# a decimal comma ("1,234.56", "1.234,56", "1 234", "1234,56").
_PLAIN_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_SEPARATED_NUMBER = re.compile(
    r"-?(?:[0-9]{1,3}(?:[,. \u00a0][0-9]{3})+(?:[.,][0-9]+)?|[0-9]+,[0-9]+)"
)


FRACTION = "a number with a fractional part"
DECIMAL_POINT = "a number written with a decimal point"  # 1.0, which draft 4 refuses


WITHOUT_QUOTES = ": write it without quotes"


def _number_in_text(text: str) -> str:
    """What to do about a number written as text, if the text is one."""
    if _PLAIN_NUMBER.fullmatch(text):
        return WITHOUT_QUOTES
    if _SEPARATED_NUMBER.fullmatch(text):
        return ": write it with no separators between thousands and a point before decimals"
    return ""


def describe(validator: str, instance: Any, details: dict[str, Any]) -> str:
    """The error in plain words. The value itself is shown beside it, not inside it."""
    limit = details.get("limit")
    match validator:
        case "required":
            return f"“{details['property']}” is missing"
        case "dependentRequired" | "dependencies" if "property" in details:
            return f"“{details['property']}” is missing, and another field here needs it"
        case "type":
            types = sorted(details.get("types", []))
            wanted = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
            said = f"should be {wanted}, not {_TYPE_WORDS[json_type(instance)]}"
            if "integer" in types and type(instance) is float:  # a number, but not whole
                fraction = not instance.is_integer()
                said = f"should be {wanted}, not {FRACTION if fraction else DECIMAL_POINT}"
            if isinstance(instance, str) and {"number", "integer"} & set(types):
                said += _number_in_text(instance.strip())
            return said
        case "enum":
            return f"is not one of the allowed values: {_listed(details.get('options', []))}"
        case "const":
            return f"should be exactly {json.dumps(details.get('expected_value'))}"
        case "pattern":
            return f"does not match the pattern {details.get('pattern')}"
        case "format":
            name = details.get("format")
            said = f"is not {_FORMAT_EXAMPLES.get(name, f'in the format “{name}”')}"
            if name in ("date", "date-time") and _DAY_NUMBER.fullmatch(str(instance)):
                said += ", but a spreadsheet's day number: format the cells as dates"
            return said
        case "minimum":
            return f"should be {'more than' if details.get('exclusive') else 'at least'} {limit}"
        case "maximum":
            return f"should be {'less than' if details.get('exclusive') else 'at most'} {limit}"
        case "exclusiveMinimum":
            return f"should be more than {limit}"
        case "exclusiveMaximum":
            return f"should be less than {limit}"
        case "multipleOf":
            return f"should be a multiple of {details.get('multiple_of')}"
        case "minLength":
            return f"should have at least {limit} character{_s(limit)}"
        case "maxLength":
            return f"should have at most {limit} character{_s(limit)}"
        case "minItems":
            return f"should have at least {limit} item{_s(limit)}"
        case "maxItems":
            return f"should have at most {limit} item{_s(limit)}"
        case "uniqueItems":
            return "has items that appear more than once"
        case "minProperties":
            return f"should have at least {limit} field{_s(limit)}"
        case "maxProperties":
            return f"should have at most {limit} field{_s(limit)}"
        case "additionalProperties" | "unevaluatedProperties":
            names = details.get("unexpected", [])
            fields = "a field" if len(names) == 1 else "fields"
            return f"has {fields} the schema does not allow: {_listed(names)}"
        case "oneOf" if details.get("several"):
            return "matches more than one of the alternatives, and must match exactly one"
        case "oneOf" | "anyOf":
            return "matches none of the allowed alternatives"
        case "not":
            return "has a form the schema does not allow"
        case "false":
            return "is not allowed here"
        case "items" | "additionalItems" | "unevaluatedItems":
            return "has more items than the schema allows"
        case "contains":
            return "has no item of the kind the schema asks for"
        case "minContains":
            return "has too few items of the kind the schema asks for"
        case "maxContains":
            return "has too many items of the kind the schema asks for"
        case _:
            return f"breaks the schema rule “{validator}”"


def _listed(values: list[Any], shown: int = 10) -> str:
    words = [f"“{v}”" if isinstance(v, str) else json.dumps(v) for v in values[:shown]]
    more = f" and {len(values) - shown} more" if len(values) > shown else ""
    return ", ".join(words) + more


def _s(count: Any) -> str:
    return "" if count == 1 else "s"


def in_a_cell(error: SchemaError) -> SchemaError:
    """The error as said of a spreadsheet's cell, which has no quotes to leave out. Said
    before errors are grouped, which they are by their message, and again once its closest
    alternative is found (whose errors may say it of the alternative's values)."""
    message = _without_quotes(error.message)
    closest = error.closest and error.closest.reworded(_without_quotes)
    if message == error.message and closest == error.closest:
        return error
    return replace(error, message=message, closest=closest)


def _without_quotes(message: str) -> str:
    return message.removesuffix(WITHOUT_QUOTES)


# Kinds of error grouped, the first met; errors of later kinds are counted, not grouped.
# Data with a field name per id can make a kind per error (an error at each name, or one
# naming the fields the schema does not allow): 200,000 kinds in a 3 MB file, with their
# examples, took a worker to 360 MB.
MAX_KINDS = 10_000


@dataclass
class ErrorGroups:
    """Errors grouped by validator, path pattern and message, with counts and examples.

    Keeps at most ``max_errors`` individual errors and ``max_kinds`` groups; counts every
    error, those of kinds past the groups as ``ungrouped``."""

    max_errors: int
    examples: int = 3
    # The data was converted from a spreadsheet: errors are said of its cells (in_a_cell).
    spreadsheet: bool = False
    max_kinds: int = field(default_factory=lambda: MAX_KINDS)
    errors: list[SchemaError] = field(default_factory=list)
    total: int = 0
    ungrouped: int = 0
    _groups: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)

    def add(self, error: SchemaError) -> None:
        error = in_a_cell(error) if self.spreadsheet else error
        kept = len(self.errors) < self.max_errors
        error = self._explained(error, kept)
        if kept:
            self.errors.append(error)
        self._count(error)

    def add_first(self, errors: list[SchemaError]) -> None:
        """Errors to keep ahead of those added so far (about the document as a whole,
        found last when its items are read one by one, but too important to crowd out)."""
        errors = [in_a_cell(error) for error in errors] if self.spreadsheet else errors
        first = []
        for index, error in enumerate(errors):
            first.append(self._explained(error, index < self.max_errors))
            self._count(first[-1])
        self.errors = (first + self.errors)[: self.max_errors]

    def _explained(self, error: SchemaError, kept: bool) -> SchemaError:
        """The error with its detail if it is kept, alone or as an example of its group."""
        if error.explain is None:
            return error
        group = self._groups.get((error.validator, error.path_pattern, error.message))
        if group is None:
            wanted = len(self._groups) < self.max_kinds  # the first of a new group
        else:
            wanted = len(group["examples"]) < self.examples
        if kept or wanted:
            explained = error.explained()
            return in_a_cell(explained) if self.spreadsheet else explained
        return error  # dropped once counted

    def _count(self, error: SchemaError) -> None:
        self.total += 1
        key = (error.validator, error.path_pattern, error.message)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= self.max_kinds:
                self.ungrouped += 1
                return
            group = self._groups[key] = {
                "validator": error.validator,
                "path_pattern": error.path_pattern,
                "message": error.message,
                "count": 0,
                "examples": [],
            }
        group["count"] += 1
        if len(group["examples"]) < self.examples:
            group["examples"].append(error)

    def add_after(self, later: ErrorGroups, move: Callable[[str], str]) -> None:
        """Count the errors ``later`` found, in data after the data of those counted here,
        each moved by ``move`` to its place in the whole (the second half of a file read in
        two). Every error ``later`` kept is explained, so the errors kept here are those
        ``add`` would have kept; ``later`` must have grouped every error it met."""
        room = max(0, self.max_errors - len(self.errors))
        self.errors += [error.moved(move) for error in later.errors[:room]]
        self.total += later.total
        for key, group in later._groups.items():
            mine = self._groups.get(key)
            if mine is None:
                if len(self._groups) >= self.max_kinds:
                    self.ungrouped += group["count"]
                    continue
                mine = self._groups[key] = {**group, "count": 0, "examples": []}
            mine["count"] += group["count"]
            room = max(0, self.examples - len(mine["examples"]))
            mine["examples"] += [error.moved(move) for error in group["examples"][:room]]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.errors)

    def as_list(self) -> list[dict[str, Any]]:
        """Most frequent first; ties in the order they were first met."""
        return sorted(self._groups.values(), key=lambda group: -group["count"])
