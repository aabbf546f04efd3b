"""The task base class: the contract every pipeline step follows (DESIGN.md)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from process.fingerprint import fingerprint_for

if TYPE_CHECKING:
    from process.runner import Inputs
    from process.store import Subject


class Task(ABC):
    """One step of the pipeline.

    Subclasses set ``name`` and ``version`` and implement ``run``. Bump ``version``
    whenever the output would change: older results are then recomputed on the next
    view, and nothing else is.
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    title: ClassVar[str] = ""
    # Earlier tasks whose outputs this one reads. It runs only once they have succeeded.
    requires: ClassVar[tuple[str, ...]] = ()
    # The submission options that change this task's output.
    uses_options: ClassVar[tuple[str, ...]] = ()

    @property
    def template(self) -> str:
        return f"tasks/{self.name}.html"

    def is_applicable(self, submission: Subject) -> bool:
        """Cheap; runs in the web request."""
        return True

    def input_fingerprint(self, submission: Subject) -> str | None:
        """Hash of everything the output depends on; None while a required output is missing."""
        upstream: dict[str, str] = {}
        for name in self.requires:
            output = submission.store.output(name)
            if output is None:
                return None
            upstream[name] = output.output_hash
        return fingerprint_for(
            task=self.name, version=self.version, upstream=upstream, **self.depends_on(submission)
        )

    def depends_on(self, submission: Subject) -> dict[str, Any]:
        """What, besides name, version and required outputs, this task's output depends on."""
        return {
            "content": submission.sha256,
            "profile": submission.profile_fingerprint,
            "options": {key: submission.options.get(key) for key in self.uses_options},
        }

    def is_needed(self, submission: Subject) -> bool:
        """Cheap; runs in the web request. Needed unless a success has this fingerprint."""
        current = self.input_fingerprint(submission)
        output = submission.store.output(self.name)
        return current is None or output is None or output.fingerprint != current

    @abstractmethod
    def run(self, submission: Subject, inputs: Inputs) -> dict[str, Any]:
        """Worker only; may be slow. Returns a small JSON-able output."""

    def get_context(self, submission: Subject) -> dict[str, Any]:
        """Cheap; what this task's results partial renders. Reads the cache only."""
        output = submission.store.output(self.name)
        return {"output": output.data if output else None}

    def work_dir(self, submission: Subject) -> Path:
        """The folder this task may write its files into."""
        path = submission.files_dir / self.name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def __repr__(self) -> str:
        return f"<Task {self.name} v{self.version}>"
