"""Typed configuration helpers.

A value comes from the environment first, then from the optional TOML file named by
``ASSAY_CONFIG``, then from the default. A value that cannot be read fails at start-up
with a message naming the variable, so a typo never turns silently into a default.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _load_file() -> dict[str, Any]:
    path = os.environ.get("ASSAY_CONFIG")
    if not path:
        return {}
    try:
        with Path(path).open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ImproperlyConfigured(f"ASSAY_CONFIG: cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ImproperlyConfigured(f"ASSAY_CONFIG: {path} is not valid TOML: {exc}") from exc


class Config:
    """Reads typed values from the environment, the config file, then defaults."""

    def __init__(self, environ: dict[str, str] | None = None, file: dict | None = None):
        self.environ = os.environ if environ is None else environ
        self.file = _load_file() if file is None else file

    def raw(self, name: str, default: Any) -> Any:
        if name in self.environ:
            return self.environ[name]
        return self.file.get(name, default)

    def str(self, name: str, default: str | None = None) -> str:
        value = self.raw(name, _MISSING if default is None else default)
        if value is _MISSING:
            raise ImproperlyConfigured(f"{name} must be set.")
        return str(value)

    def int(self, name: str, default: int, minimum: int = 0) -> int:
        value = self.raw(name, default)
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}.") from None
        if number < minimum:
            raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}.")
        return number

    def bool(self, name: str, default: bool) -> bool:
        value = self.raw(name, default)
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if not text:  # NAME= left in docker/.env: the default, as unset is
            return default
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}.")

    def list(self, name: str, default: list[str]) -> list[str]:
        value = self.raw(name, default)
        if isinstance(value, list):
            return [str(item) for item in value]
        return [item.strip() for item in str(value).split(",") if item.strip()]

    def choice(self, name: str, default: str, choices: tuple[str, ...], upper: bool = False) -> str:
        """One of ``choices``; with ``upper``, written in any case ("debug" for DEBUG)."""
        given = self.str(name, default)
        value = given.strip().upper() if upper else given.strip()
        if value not in choices:
            raise ImproperlyConfigured(
                f"{name} must be one of {', '.join(choices)}; got {given!r}."
            )
        return value

    def table(self, name: str) -> dict[str, Any]:
        """Return a TOML table (only the config file can hold nested values)."""
        value = self.file.get(name, {})
        if not isinstance(value, dict):
            raise ImproperlyConfigured(f"{name} in ASSAY_CONFIG must be a table.")
        return value


def database_from_url(url: str, name: str = "DATABASE_URL") -> dict[str, Any]:
    """Translate ``sqlite:///relative``, ``sqlite:////absolute`` or
    ``postgres://user:password@host:port/db`` to Django's form."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)[1:]
        if not path:
            raise ImproperlyConfigured(f"{name}: sqlite URLs need a file path, got {url!r}.")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    if parts.scheme in {"postgres", "postgresql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
        }
    raise ImproperlyConfigured(f"{name} must start with sqlite:// or postgres://, got {url!r}.")


# Seconds Redis has to connect and to answer. Without them a Redis that takes the
# connection but never answers (a hung server, a network cut) holds every upload and
# progress poll until gunicorn kills the worker. Longer than django-q2's one-second wait
# for a job.
REDIS_TIMEOUTS = {"socket_connect_timeout": "2", "socket_timeout": "5"}


def redis_url_with_timeouts(url: str) -> str:
    """``url`` with REDIS_TIMEOUTS added, where it does not set its own."""
    split = urlsplit(url)
    query = parse_qsl(split.query)
    given = {name for name, _ in query}
    query += [(name, value) for name, value in REDIS_TIMEOUTS.items() if name not in given]
    return urlunsplit(split._replace(query=urlencode(query)))
