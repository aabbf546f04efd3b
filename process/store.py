"""What the framework needs from the application: the submission and where results go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from process.errors import TaskError


@dataclass(frozen=True)
class Output:
    """The cached output of a task's latest successful run."""

    task: str
    version: int
    fingerprint: str
    output_hash: str
    data: dict[str, Any]


class Store(Protocol):
    """Keeps task records and cached outputs for one submission."""

    def output(self, task: str) -> Output | None: ...

    def failures(self, task: str) -> int:
        """How many times in a row the task has failed."""
        ...

    def begin(self, task: str, version: int, fingerprint: str) -> Any:
        """Record that a run starts; returns a handle for succeed/fail/skip."""
        ...

    def succeed(self, run: Any, data: dict[str, Any]) -> None: ...

    def fail(self, run: Any, error: TaskError, traceback: str = "") -> None: ...

    def skip(self, task: str, version: int, reason: str) -> None: ...

    def progress(self, done: int, total: int, current: str) -> None: ...

    def set_facts(self, **facts: Any) -> None:
        """Update what is known about the original (size, sha256, format, name)."""
        ...


class Subject(Protocol):
    """A submission as tasks see it."""

    id: UUID
    source: str
    url: str
    original_name: str
    sha256: str
    size: int | None
    format: str
    profile: str
    options: dict[str, Any]

    @property
    def profile_fingerprint(self) -> str: ...

    @property
    def files_dir(self) -> Path: ...

    @property
    def original_path(self) -> Path: ...

    @property
    def store(self) -> Store: ...
