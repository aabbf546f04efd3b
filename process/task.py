"""The task base class: the contract every pipeline step follows (DESIGN.md)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from process.fingerprint import fingerprint_for

if TYPE_CHECKING:
    from process.runner import Inputs
    from process.store import Subject


@dataclass(frozen=True)
class Download:
    """A file a task offers for download, in its own folder."""

    filename: str
    label: str
    content_type: str = "application/octet-stream"
    # In the lists of downloads (the page's, the API's). A file that belongs to one row
    # of a table, shown beside it (a linked document's thumbnail), is not.
    listed: bool = True


class Task(ABC):
    """One step of the pipeline.

    Subclasses set ``name`` and ``version`` and implement ``run``. Bump ``version``
    whenever the output would change: older results are then recomputed on the next
    view, and nothing else is.
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    title: ClassVar[str] = ""
    # Earlier tasks whose outputs this one reads. Those that apply to a submission must
    # succeed before this one runs; those that do not apply are ignored.
    requires: ClassVar[tuple[str, ...]] = ()
    # The submission options that change this task's output.
    uses_options: ClassVar[tuple[str, ...]] = ()
    # Deferred tasks never hold up the report: they run after it, or when asked for.
    deferred: ClassVar[bool] = False

    def __init__(self) -> None:
        # Filled in by the pipeline check with the task objects named in ``requires``.
        self.upstream: dict[str, Task] = {}

    @property
    def template(self) -> str:
        return f"tasks/{self.name}.html"

    @property
    def notice_template(self) -> str:
        """Words for each of its notices, by code: the page and the API say them alike."""
        return f"tasks/{self.name}_notice.html"

    def is_applicable(self, submission: Subject) -> bool:
        """Cheap; runs in the web request."""
        return True

    def inapplicable_because(self, submission: Subject) -> str:
        """For a deferred task asked for where it does not apply: why, in words."""
        return "That step does not apply to this data."

    def unavailable_because(self, submission: Subject) -> str:
        """Cheap; for a deferred task: why, by what the tasks before it found, it can
        give nothing for this submission ("" when it can). The page then offers no
        button, and asking for it is refused with this reason."""
        return ""

    def required_here(self, submission: Subject) -> list[str]:
        """The required tasks that apply to this submission."""
        return [name for name, task in self.upstream.items() if applies(task, submission)]

    def input_fingerprint(self, submission: Subject) -> str | None:
        """Hash of everything the output depends on; None while a required output is missing."""
        upstream: dict[str, str] = {}
        for name in self.required_here(submission):
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

    def notices(self, submission: Subject) -> list[dict[str, Any]]:
        """Cheap; what its output should be known for (what its files leave out, say):
        each with a stable "code", a "count", and what notice_template needs to word it."""
        return []

    def downloads(self, submission: Subject) -> list[Download]:
        """Files this task offers; only those that exist are served."""
        return []

    def download_path(self, submission: Subject, filename: str) -> Path | None:
        for download in self.downloads(submission):
            path = submission.files_dir / self.name / download.filename
            if download.filename == filename and path.is_file():
                return path
        return None

    def work_dir(self, submission: Subject) -> Path:
        """The folder this task may write its files into."""
        path = submission.files_dir / self.name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def __repr__(self) -> str:
        return f"<Task {self.name} v{self.version}>"


def applies(task: Task, submission: Subject) -> bool:
    """Whether ``task`` applies, as the progress, the pages and the steps needing it ask:
    one that crashes when asked counts, so that its failure is shown and what needs it
    waits; its own turn in a run records the crash (process.runner.crash_recorded)."""
    try:
        return task.is_applicable(submission)
    except Exception:
        return True
