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
        return self.schema.startswith(("http://", "https://"))

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

        Computed once per process: a deployment that edits a schema restarts."""
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
    profile = Profile(
        name=name,
        title=str(conf.get("title", name)),
        description=str(conf.get("description", "")),
        schema=str(conf.get("schema", "")),
        root_list_path=str(conf.get("root_list_path", "main")),
        id_name=str(conf.get("id_name", "id")),
        examples=tuple(conf.get("examples", ())),
        document_paths=tuple(conf.get("document_paths", ())),
        distinct_fields=tuple(conf.get("distinct_fields", ())),
        base_dir=base_dir,
    )
    if profile.schema_path is not None and not profile.schema_path.is_file():
        raise ProfileError(f"profile {name!r}: schema file {profile.schema_path} does not exist")
    missing = [str(path) for path in profile.example_paths() if not path.is_file()]
    if missing:
        raise ProfileError(f"profile {name!r}: example file(s) missing: {', '.join(missing)}")
    return profile
