"""A profile's schema, loaded once per process and shared by the tasks that need it."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import shutil
import time
import uuid
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from django.conf import settings

from process.errors import BadInput, TaskError, Unavailable
from process.fetching import fetch, without_password
from process.fingerprint import stable_hash
from process.profiles import Profile
from process.store import Subject
from tasks.fetch import limits_from_settings
from tasks.fields import SchemaFields, schema_fields
from tasks.schema import NOT_YOUR_DATA, LoadedSchema, load_schema

logger = logging.getLogger(__name__)


def has_schema(profile: Profile) -> bool:
    return bool(profile.schema)


def load_profile_schema(profile: Profile, *, fetch: bool = True) -> LoadedSchema:
    """The profile's schema. One given by URL is fetched when its copy is old; with
    ``fetch`` False its copy on disk is read, however old, so that no web request waits
    on (or fails with) the schema's host."""
    if profile.schema_is_url:
        path = _downloaded(profile.schema) if fetch else _kept_copy(profile.schema)
        return _load_path(path, _content_hash(path))
    if profile.schema_path is None:
        raise BadInput("no_schema", f"The profile “{profile.title}” has no schema.")
    return _load_path(profile.schema_path, profile.fingerprint)


@functools.lru_cache(maxsize=32)
def _load_path(path: Path, version: str) -> LoadedSchema:
    # Keyed by the local schema's fingerprint or the downloaded copy's content, so a
    # changed schema is never served stale and one fetched again unchanged is not read
    # again. Bounded, as each changed download adds one in a long-lived worker; a few
    # per profile fit.
    return load_schema(path)


def schema_fingerprint(profile: Profile) -> str:
    """The profile's fingerprint; for a schema given by URL, with the content of the copy
    on disk, so that a changed download re-runs what depends on it (DESIGN.md). Never
    fetches: the pages ask it."""
    if not profile.schema_is_url:
        return profile.fingerprint
    try:
        content = _content_hash(_copy_path(profile.schema))
    except OSError:  # not fetched yet, or unreadable just now: its steps will say
        content = ""
    return stable_hash({"profile": profile.fingerprint, "schema": content})


def _content_hash(path: Path) -> str:
    stat = path.stat()
    return _sha256_of(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _sha256_of(path: Path, mtime_ns: int, size: int) -> str:
    # Keyed by the time and size too: a page asks for each task, and a copy replaced by a
    # fresh download is a new file.
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# A schema given by URL is fetched again once its copy is this old...
KEPT_SECONDS = 3600
# ...or was fetched before this time: the command line sets it to when it started, so that
# each run fetches the schema once, afresh (webapp/management/commands/validate.py).
FETCHED_AFTER = 0.0


def _copy_path(url: str) -> Path:
    """Where the copy of a schema given by URL is kept."""
    folder = Path(settings.DATA_DIR) / "schemas" / hashlib.sha256(url.encode()).hexdigest()[:16]
    return folder / "schema.json"


def _kept_copy(url: str) -> Path:
    path = _copy_path(url)
    if not path.is_file():
        shown = without_password(url)
        raise Unavailable("schema_not_fetched", f"The schema {shown} has not been fetched yet.")
    return path


def _downloaded(url: str) -> Path:
    """A schema given by URL, fetched (with the usual limits) and kept on disk for a
    while. A download that cannot be used (a maintenance page, say) is not kept."""
    path = _copy_path(url)
    folder = path.parent
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


def refresh_schema(profile: Profile) -> None:
    """Fetch a schema given by URL whose copy is old, before a worker fingerprints any
    step: so that each records the copy it then reads, not the one before (which would
    have the first steps run again on the next view). A failure is for the steps that
    read the schema to say, within their own runs (a full disk, say, too)."""
    if not profile.schema_is_url:
        return
    try:
        _downloaded(profile.schema)
    except TaskError:
        pass
    except Exception:
        logger.warning(
            "the schema %s could not be fetched ahead",
            without_password(profile.schema),
            exc_info=True,
        )


def _said_of(url: str, error: TaskError, what: str, code: str) -> TaskError:
    shown = without_password(url)
    said = error.message if shown in error.message else f"{shown}: {error.message}"
    return type(error)(code, f"{what} {said}", hint=NOT_YOUR_DATA)


def link_patterns(submission: Subject) -> list[str]:
    """Where links live: the profile says, or else every "format": "uri" field.

    Asked on every page view (is the links step applicable?), so never fetches: a schema
    given by URL is read from its copy on disk, which the worker's reading of the data
    has just refreshed, and which is still there when its host is not."""
    profile = submission.get_profile()
    if profile.document_paths:
        return list(profile.document_paths)
    if not has_schema(profile):
        return []
    try:
        loaded = load_profile_schema(profile, fetch=False)  # cached
    except TaskError:
        return []  # the validation step says what is wrong with the schema
    return sorted(described_fields(loaded).links)


@functools.lru_cache(maxsize=8)
def described_fields(loaded: LoadedSchema) -> SchemaFields:
    """The fields a loaded schema describes, worked out once per schema and process."""
    # The base URI by the schema's draft ("id" in draft 4), so internal $refs resolve.
    return schema_fields(loaded.schema, loaded.resources, loaded.base_uri, loaded.draft)
