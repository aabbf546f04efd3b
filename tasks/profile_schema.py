"""A profile's schema, loaded once per process and shared by the tasks that need it."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from django.conf import settings

from process.errors import BadInput
from process.fetching import fetch
from process.profiles import Profile
from tasks.fetch import limits_from_settings
from tasks.schema import LoadedSchema, load_schema


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
        fetch(url, path, limits_from_settings())
    return path
