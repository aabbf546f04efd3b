"""Typed errors that tasks raise; templates and the runner branch on ``code``."""

from __future__ import annotations


class TaskError(Exception):
    """A task could not do its work.

    ``message`` is for the person who submitted the data; ``hint`` says what they can
    do about it. ``permanent`` errors come from the input itself and are not retried.
    """

    permanent: bool = True

    def __init__(self, code: str, message: str, *, hint: str = "", permanent: bool | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        if permanent is not None:
            self.permanent = permanent

    def __reduce__(self):
        # Pickled with its words, as a forked process's result is (process/forked.py).
        fields = {"hint": self.hint, "permanent": self.permanent}
        return (_rebuilt, (type(self), self.code, self.message, fields))


def _rebuilt(kind: type[TaskError], code: str, message: str, fields: dict) -> TaskError:
    return kind(code, message, **fields)


class BadInput(TaskError):
    """The submitted data is the problem: retrying cannot help."""

    permanent = True


class Unavailable(TaskError):
    """A resource failed (network, remote server, disk): worth retrying later."""

    permanent = False


def too_deep(doing: str = "check") -> BadInput:
    """Data nested deeper than Python or the validator can follow."""
    return BadInput(
        "too_deep",
        f"The data is nested too deeply to {doing} (several hundred levels).",
        hint="Data nested this deeply is almost always a mistake in the exporting system.",
    )


class PipelineError(Exception):
    """The configured pipeline is unusable (unknown task, bad order, a cycle)."""
