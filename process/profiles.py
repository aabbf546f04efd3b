"""Profiles: named configurations of what to check (DESIGN.md "Concepts")."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from process.fingerprint import stable_hash

KNOWN_KEYS = {
    "title",
    "description",
    "schema",
    "root_list_path",
    "id_name",
    "examples",
    "document_paths",
    "distinct_fields",
}


class ProfileError(ValueError):
    """A profile's configuration is unusable."""


@dataclass(frozen=True, eq=False)
class Profile:
    name: str
    title: str
    description: str = ""
    # A file path (relative paths from the project folder) or an http(s) URL.
    schema: str = ""
    # flattentool: the list that holds the items, and the field that identifies one.
    root_list_path: str = "main"
    id_name: str = "id"
    examples: tuple[str, ...] = ()
    document_paths: tuple[str, ...] = ()
    # Path patterns whose distinct values the statistics count, e.g. "/grants/*/amount/currency".
    distinct_fields: tuple[str, ...] = ()
    base_dir: Path = field(default=Path(), compare=False)

    @property
    def schema_is_url(self) -> bool:
        return self.schema.lower().startswith(("http://", "https://"))  # HTTPS:// too

    @property
    def schema_path(self) -> Path | None:
        if not self.schema or self.schema_is_url:
            return None
        return self.base_dir / self.schema

    def example_paths(self) -> list[Path]:
        return [self.base_dir / example for example in self.examples]

    @cached_property
    def fingerprint(self) -> str:
        """Changes when the configuration or any file of a local schema changes.

        Computed once per process: a deployment that edits a schema restarts. (What is
        downloaded of a schema given by URL is added by
        tasks.profile_schema.schema_fingerprint.)"""
        settings = {key: getattr(self, key) for key in sorted(KNOWN_KEYS) if key != "examples"}
        return stable_hash({"settings": settings, "schema_files": self._schema_files_hash()})

    def _schema_files_hash(self) -> str:
        path = self.schema_path
        if path is None or not path.parent.is_dir():
            return ""
        digest = hashlib.sha256()
        for file in sorted(path.parent.glob("*.json")):
            digest.update(file.name.encode())
            with file.open("rb") as handle:  # in pieces: the folder may hold large data
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        return digest.hexdigest()


def build_profiles(config: dict[str, dict[str, Any]], base_dir: Path) -> dict[str, Profile]:
    """Profiles from settings; unknown keys and missing schema files fail loudly."""
    return {name: _build(name, conf, base_dir) for name, conf in config.items()}


def _build(name: str, conf: dict[str, Any], base_dir: Path) -> Profile:
    unknown = set(conf) - KNOWN_KEYS
    if unknown:
        raise ProfileError(f"profile {name!r} has unknown setting(s): {', '.join(sorted(unknown))}")
    texts = {key: _text(name, conf, key) for key in TEXTS if key in conf}
    profile = Profile(
        name=name,
        title=texts.get("title", name),
        description=texts.get("description", ""),
        schema=texts.get("schema", ""),
        root_list_path=texts.get("root_list_path", "main"),
        id_name=texts.get("id_name", "id"),
        examples=_texts(name, conf, "examples"),
        document_paths=_patterns(name, conf, "document_paths"),
        distinct_fields=_patterns(name, conf, "distinct_fields"),
        base_dir=base_dir,
    )
    schema_path = profile.schema_path
    if schema_path is not None and not schema_path.is_file():
        problem = "is a folder" if schema_path.is_dir() else "does not exist"
        raise ProfileError(f"profile {name!r}: schema file {schema_path} {problem}")
    missing = [str(path) for path in profile.example_paths() if not path.is_file()]
    if missing:
        raise ProfileError(f"profile {name!r}: example file(s) missing: {', '.join(missing)}")
    return profile


TEXTS = ("title", "description", "schema", "root_list_path", "id_name")


def _text(name: str, conf: dict[str, Any], key: str) -> str:
    value = conf[key]
    if not isinstance(value, str):
        raise ProfileError(f"profile {name!r}: {key} must be a text, got {value!r}")
    return value


def _texts(name: str, conf: dict[str, Any], key: str) -> tuple[str, ...]:
    """A list of texts. (One text alone would be read as a list of its letters.)"""
    value = conf.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ProfileError(
            f'profile {name!r}: {key} must be a list of texts, such as ["a", "b"]; got {value!r}'
        )
    return tuple(value)


def _patterns(name: str, conf: dict[str, Any], key: str) -> tuple[str, ...]:
    """Path patterns, which start at the top of the data: "/grants/*/amount/currency"."""
    patterns = _texts(name, conf, key)
    wrong = [pattern for pattern in patterns if not pattern.startswith("/")]
    if wrong:
        raise ProfileError(
            f"profile {name!r}: {key} must be path patterns starting with '/', such as "
            f'"/grants/*/amount/currency"; got {wrong[0]!r}'
        )
    return patterns
