"""A profile's schema, loaded once per process and shared by the tasks that need it."""

from __future__ import annotations

import functools
import hashlib
from functools import cache
from pathlib import Path

from django.conf import settings

from process.errors import BadInput, TaskError
from process.fetching import fetch, without_password
from process.profiles import Profile
from process.store import Subject
from tasks.fetch import limits_from_settings
from tasks.fields import SchemaFields, schema_fields
from tasks.schema import NOT_YOUR_DATA, LoadedSchema, load_schema


def has_schema(profile: Profile) -> bool:
    return bool(profile.schema)


def load_profile_schema(profile: Profile) -> LoadedSchema:
    if profile.schema_is_url:
        return _load_path(_downloaded(profile.schema), profile.fingerprint)
    if profile.schema_path is None:
        raise BadInput("no_schema", f"The profile “{profile.title}” has no schema.")
    return _load_path(profile.schema_path, profile.fingerprint)


@cache
def _load_path(path: Path, fingerprint: str) -> LoadedSchema:
    # Keyed by the profile fingerprint too, so a changed schema is never served stale.
    return load_schema(path)


def _downloaded(url: str) -> Path:
    """A schema given by URL is fetched once (with the usual limits) and kept on disk."""
    folder = Path(settings.DATA_DIR) / "schemas" / hashlib.sha256(url.encode()).hexdigest()[:16]
    path = folder / "schema.json"
    if not path.exists():
        try:
            fetch(url, path, limits_from_settings())
        except TaskError as error:  # the profile's address, not one the user gave
            shown = without_password(url)
            said = error.message if shown in error.message else f"{shown}: {error.message}"
            raise type(error)(
                "schema_fetch",
                f"The profile's schema could not be fetched. {said}",
                hint=NOT_YOUR_DATA,
            ) from error
    return path


def link_patterns(submission: Subject) -> list[str]:
    """Where links live: the profile says, or else every "format": "uri" field."""
    profile = submission.get_profile()
    if profile.document_paths:
        return list(profile.document_paths)
    if not has_schema(profile):
        return []
    try:
        loaded = load_profile_schema(profile)  # cached: asked on every page view
    except TaskError:
        return []  # the validation step says what is wrong with the schema
    return sorted(described_fields(loaded).links)


@functools.lru_cache(maxsize=8)
def described_fields(loaded: LoadedSchema) -> SchemaFields:
    """The fields a loaded schema describes, worked out once per schema and process."""
    # The base URI by the schema's draft ("id" in draft 4), so internal $refs resolve.
    return schema_fields(loaded.schema, loaded.resources, loaded.base_uri, loaded.draft)
