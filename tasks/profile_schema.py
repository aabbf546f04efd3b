"""A profile's schema, loaded once per process and shared by the tasks that need it."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import shutil
import time
import uuid
from functools import cache
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

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
        path = _downloaded(profile.schema)
        return _load_path(path, profile.fingerprint, path.stat().st_mtime_ns)
    if profile.schema_path is None:
        raise BadInput("no_schema", f"The profile “{profile.title}” has no schema.")
    return _load_path(profile.schema_path, profile.fingerprint)


@cache
def _load_path(path: Path, fingerprint: str, version: int = 0) -> LoadedSchema:
    # Keyed by the profile fingerprint too, so a changed schema is never served stale, and
    # by the time a downloaded one was fetched.
    return load_schema(path)


# A schema given by URL is fetched again once its copy is this old...
KEPT_SECONDS = 3600
# ...or was fetched before this time: the command line sets it to when it started, so that
# each run fetches the schema once, afresh (webapp/management/commands/validate.py).
FETCHED_AFTER = 0.0


def _downloaded(url: str) -> Path:
    """A schema given by URL, fetched (with the usual limits) and kept on disk for a
    while. A download that cannot be used (a maintenance page, say) is not kept."""
    folder = Path(settings.DATA_DIR) / "schemas" / hashlib.sha256(url.encode()).hexdigest()[:16]
    path = folder / "schema.json"
    with contextlib.suppress(FileNotFoundError):
        fetched = path.stat().st_mtime
        if fetched >= FETCHED_AFTER and time.time() - fetched < KEPT_SECONDS:
            return path
    # Fetched apart, as workers may fetch it at once, under the name its address gives,
    # so that what is said of it names what its author knows.
    name = PurePosixPath(urlsplit(url).path).name or "schema.json"
    fresh = folder / f"fetching-{uuid.uuid4().hex}" / name
    try:
        try:
            fetch(url, fresh, limits_from_settings())
        except TaskError as error:
            raise _said_of(
                url, error, "The schema could not be fetched.", "schema_fetch"
            ) from error
        try:
            load_schema(fresh)
        except TaskError as error:
            raise _said_of(url, error, "The schema there cannot be used.", error.code) from error
        fresh.replace(path)
    finally:
        shutil.rmtree(fresh.parent, ignore_errors=True)
    return path


def _said_of(url: str, error: TaskError, what: str, code: str) -> TaskError:
    shown = without_password(url)
    said = error.message if shown in error.message else f"{shown}: {error.message}"
    return type(error)(code, f"{what} {said}", hint=NOT_YOUR_DATA)


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
