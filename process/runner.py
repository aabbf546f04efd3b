"""Run a pipeline over one submission, recording every task's outcome."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import shutil
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from process.context import current_submission, current_task, working_on
from process.errors import TaskError, Unavailable, too_deep
from process.store import Subject
from process.task import Task, applies

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Memo:
    """Values the tasks of one run share (the parsed data, say), dropped when it ends."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._frozen = False

    def get(self, key: str, load: Callable[[], T], *, large: bool = False) -> T:
        if key not in self._values:
            self._values[key] = self._load_large(load) if large else load()
        return self._values[key]

    def _load_large(self, load: Callable[[], T]) -> T:
        # A parsed document is millions of objects without cycles. Left to the cyclic
        # garbage collector, they are traversed as they are made and at every later
        # collection, which costs as much again as parsing them (bench/validation.py).
        # So they are made with the collector paused and kept out of its sight
        # (gc.freeze) until the run ends; reference counting still frees them.
        enabled = gc.isenabled()
        gc.disable()
        try:
            value = load()
            gc.freeze()
            self._frozen = True
        finally:
            if enabled:
                gc.enable()
        return value

    def close(self) -> None:
        self._values.clear()
        if self._frozen:
            gc.unfreeze()
            self._frozen = False

    def __enter__(self) -> Memo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Inputs:
    """What a running task may read: the outputs it requires, and the run's memo.

    The memo lets tasks share one expensive in-memory value (the parsed data, say)
    within a single run, so the data is parsed once however many tasks read it.
    """

    def __init__(self, task: Task, submission: Subject, memo: Memo):
        self._task = task
        self._submission = submission
        self._memo = memo

    def output(self, name: str) -> Mapping[str, Any]:
        if name not in self._task.requires:
            raise KeyError(f"{self._task.name} does not declare {name!r} in requires")
        output = self._submission.store.output(name)
        if output is None:
            raise KeyError(f"{name} has no output yet")
        return MappingProxyType(output.data)

    def memo(self, key: str, load: Callable[[], T], *, large: bool = False) -> T:
        """The run's value for ``key``, made by ``load`` the first time it is asked for.

        ``large``: a big tree without cycles, such as parsed JSON (see Memo)."""
        return self._memo.get(key, load, large=large)


GONE = "gone"  # the code of a step whose submission expired or was deleted as it ran


@dataclass
class RunResult:
    failures: dict[str, TaskError] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    gone: bool = False  # the submission expired or was deleted as the run went on

    @property
    def ok(self) -> bool:
        return not self.failures

    def codes(self) -> set[str]:
        return {error.code for error in self.failures.values()}

    @property
    def permanent(self) -> bool:
        return any(error.permanent for error in self.failures.values())


def run_pipeline(submission: Subject, tasks: Sequence[Task]) -> RunResult:
    """Run every applicable, needed task in order. Failures never stop unrelated tasks.

    The progress counts the steps that apply: those passed, and those ahead that apply as
    far as is known yet (a download's format, say, decides which do)."""
    result = RunResult()
    passed = 0
    with working_on(current_submission, str(submission.id)), Memo() as memo:
        for index, task in enumerate(tasks):
            with ending_if_gone(submission, task, result), crash_recorded(submission, task, result):
                # Asked as each task comes up: earlier tasks may have learnt the format, say.
                if task.is_applicable(submission):
                    ahead = sum(applies(later, submission) for later in tasks[index + 1 :])
                    if not submission.store.progress(passed, passed + 1 + ahead, task.name):
                        # Expired (by an operator, say) or deleted: no step more.
                        _forget(submission)
                        result.gone = True
                        return result
                    step(task, submission, result, memo)
                    passed += 1
            if result.gone:
                return result  # expired or deleted meanwhile: nothing left to work on
    if not forgotten_if_gone(submission, result):
        submission.store.progress(passed, passed, "")
    return result


def forgotten_if_gone(submission: Subject, result: RunResult) -> bool:
    """After steps that succeeded: if the submission expired or was deleted meanwhile,
    delete what they wrote, which nothing would ever expire."""
    if not result.gone and submission.is_gone():
        _forget(submission)
        result.gone = True
    return result.gone


@contextlib.contextmanager
def ending_if_gone(submission: Subject, task: Task, result: RunResult) -> Iterator[None]:
    """Writing down a step of a submission deleted meanwhile fails, its rows being gone:
    that ends the run quietly, as no one is left to tell."""
    try:
        yield
    except Exception:
        if not submission.is_gone():
            raise
        result.failures[task.name] = _forget(submission)
        result.gone = True


@contextlib.contextmanager
def crash_recorded(submission: Subject, task: Task, result: RunResult) -> Iterator[None]:
    """A crash around a task's own run (asking whether it applies or is needed, noting
    the progress) is that task's failure, recorded as a crash in its run is: else the
    job would die with nothing counted, and be sent again for ever."""
    try:
        yield
    except Exception:
        if submission.is_gone() or task.name in result.ran:
            # For ending_if_gone; or raised from the step's own run, which records its
            # crashes (recording one failed: the database, say, which is for the sweep).
            raise
        logger.exception("task %s crashed on submission %s", task.name, submission.id)
        store = submission.store
        error = internal_error(task)
        store.fail(store.begin(task.name, task.version, ""), error, traceback.format_exc())
        result.failures[task.name] = error


def internal_error(task: Task) -> Unavailable:
    """A bug or an unforeseen resource failure: recorded for operators and tried again,
    so one bad moment does not fail the submission; the tries are bounded."""
    return Unavailable(
        "internal_error",
        f"Assay hit an unexpected problem in the step “{task.title or task.name}”.",
        hint="This is our fault, not your data's. It has been recorded for the operators.",
    )


def _forget(submission: Subject) -> TaskError:
    """The submission expired or was deleted, files and all, while a step ran: no fault
    of the step's. What it wrote since would stay for good, as nothing expires it again."""
    shutil.rmtree(submission.files_dir, ignore_errors=True)
    with contextlib.suppress(Exception):  # deleted, its rows too: nothing left to forget
        submission.store.forget_data()
    return TaskError(GONE, "The files were deleted while this step ran.")


def original_lost(submission: Subject) -> bool:
    """The original was stored, and is no longer there, though the folder of every
    submission is: deleted by hand, say. Retrying cannot bring it back. (A folder of
    submissions that is missing or empty is a volume not mounted: that may come back.)"""
    if not submission.sha256:
        return False  # never stored yet: a URL not downloaded
    try:
        every_submission = submission.files_dir.parent
        mounted = next(os.scandir(every_submission), None) is not None
        return mounted and not submission.original_path.exists()
    except OSError:  # unreadable just now (a network file system, say): not known lost
        return False


def files_missing(submission: Subject) -> TaskError:
    again = "Give the URL again." if submission.source == "url" else "Upload the data again."
    return TaskError(
        "files_missing",
        "This submission's files are no longer on the server, so it cannot be checked.",
        hint=again,
    )


def _record_gone(submission: Subject, run: Any) -> TaskError:
    error = _forget(submission)
    with contextlib.suppress(Exception):  # deleted, its record too: none to keep
        submission.store.fail(run, error)
    return error


def step(task: Task, submission: Subject, result: RunResult, memo: Memo) -> None:
    """Run one applicable task, if it is needed and what it requires has succeeded."""
    store = submission.store
    blocked_by = [
        name
        for name in task.required_here(submission)
        if name in result.failures or store.output(name) is None
    ]
    if blocked_by:
        store.skip(task.name, task.version, f"needs {', '.join(blocked_by)}, which did not succeed")
        return
    if not task.is_needed(submission):
        store.still_holds(task.name)
        return
    result.ran.append(task.name)
    error = _run_task(task, submission, Inputs(task, submission, memo))
    if error is not None:
        result.failures[task.name] = error
        result.gone = result.gone or error.code == GONE


def _run_task(task: Task, submission: Subject, inputs: Inputs) -> TaskError | None:
    with working_on(current_task, task.name):
        store = submission.store
        run = store.begin(task.name, task.version, task.input_fingerprint(submission) or "")
        try:
            # Recording the output is inside: an output the database refuses is a crash too.
            store.succeed(run, task.run(submission, inputs))
        except TaskError as error:
            if submission.is_gone():  # its files went with it: that is what happened
                return _record_gone(submission, run)
            store.fail(run, error)
            return error
        except RecursionError:
            error = too_deep()
            store.fail(run, error)
            return error
        except Exception:
            if submission.is_gone():
                return _record_gone(submission, run)
            if original_lost(submission):
                error = files_missing(submission)
                store.fail(run, error, traceback.format_exc())
                return error
            logger.exception("task %s crashed on submission %s", task.name, submission.id)
            error = internal_error(task)
            store.fail(run, error, traceback.format_exc())
            return error
    return None
