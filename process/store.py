"""What the framework needs from the application: the submission and where results go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from process.errors import TaskError
from process.fingerprint import stable_hash
from process.profiles import Profile


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

    def still_holds(self, task: str) -> None:
        """The task's output is current, so it is not run again: a failure or skip
        recorded since it was made (another run's, of another version or options) is over."""
        ...

    def progress(self, done: int, total: int, current: str) -> bool:
        """Note how far the run is; False, noting nothing, if the submission is gone
        (expired or deleted)."""
        ...

    def set_facts(self, **facts: Any) -> None:
        """Update what is known about the original (size, sha256, format, name)."""
        ...

    def forget_data(self) -> None:
        """Drop what the steps kept of the data (errors quoting values, links...): the
        submission expired, or a step wrote after it did. The record of each run stays."""
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

    def get_profile(self) -> Profile: ...

    @property
    def files_dir(self) -> Path: ...

    @property
    def original_path(self) -> Path: ...

    @property
    def store(self) -> Store: ...

    def is_gone(self) -> bool:
        """Whether it has expired or been deleted since it was loaded."""
        ...


class MemoryStore:
    """A Store that keeps everything in memory: for one-off runs such as the CLI."""

    def __init__(self, subject: Any) -> None:
        self.subject = subject
        self.outputs: dict[str, Output] = {}
        self.failed: dict[str, int] = {}
        self.errors: dict[str, TaskError] = {}
        self.skipped: dict[str, str] = {}

    def output(self, task: str) -> Output | None:
        return self.outputs.get(task)

    def failures(self, task: str) -> int:
        return self.failed.get(task, 0)

    def begin(self, task: str, version: int, fingerprint: str) -> tuple[str, int, str]:
        return (task, version, fingerprint)

    def succeed(self, run: tuple[str, int, str], data: dict[str, Any]) -> None:
        task, version, fingerprint = run
        self.outputs[task] = Output(task, version, fingerprint, stable_hash(data), data)
        self.failed.pop(task, None)

    def fail(self, run: tuple[str, int, str], error: TaskError, traceback: str = "") -> None:
        self.failed[run[0]] = self.failed.get(run[0], 0) + 1
        self.errors[run[0]] = error

    def skip(self, task: str, version: int, reason: str) -> None:
        self.skipped[task] = reason

    def still_holds(self, task: str) -> None:
        self.skipped.pop(task, None)
        self.failed.pop(task, None)
        self.errors.pop(task, None)

    def progress(self, done: int, total: int, current: str) -> bool:
        return True

    def set_facts(self, **facts: Any) -> None:
        for key, value in facts.items():
            setattr(self.subject, key, value)

    def forget_data(self) -> None:
        self.outputs.clear()
