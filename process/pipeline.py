"""Build the pipeline from dotted class paths and check it before anything runs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import import_module

from process.errors import PipelineError
from process.store import Subject
from process.task import Task, applies


@dataclass(frozen=True)
class Pipeline:
    tasks: tuple[Task, ...]

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    @property
    def main(self) -> tuple[Task, ...]:
        """The tasks the report waits for."""
        return tuple(task for task in self.tasks if not task.deferred)

    @property
    def deferred(self) -> tuple[Task, ...]:
        return tuple(task for task in self.tasks if task.deferred)

    def applicable(self, submission: Subject, *, deferred: bool = False) -> list[Task]:
        """The main (or deferred) tasks that apply to ``submission``, in order."""
        tasks = self.deferred if deferred else self.main
        return [task for task in tasks if applies(task, submission)]

    def get(self, name: str) -> Task:
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(name)


def import_task(path: str) -> type[Task]:
    module_name, _, class_name = path.rpartition(".")
    try:
        cls = getattr(import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise PipelineError(f"Pipeline task {path!r} cannot be imported: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise PipelineError(f"Pipeline entry {path!r} is not a Task class.")
    return cls


def build(paths: Sequence[str]) -> Pipeline:
    """Instantiate and check the tasks named by ``paths``, in order."""
    return check([import_task(path)() for path in paths])


def check(tasks: Sequence[Task]) -> Pipeline:
    """Fail loudly on nameless or duplicate tasks, unknown requirements, cycles, bad order."""
    names = [task.name for task in tasks]
    for task in tasks:
        if not task.name:
            raise PipelineError(f"{type(task).__name__} has no name.")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PipelineError(f"Pipeline names these tasks twice: {', '.join(duplicates)}.")
    requires = {task.name: tuple(task.requires) for task in tasks}
    for name, needed in requires.items():
        unknown = [req for req in needed if req not in requires]
        if unknown:
            raise PipelineError(f"Task {name!r} requires unknown task(s): {', '.join(unknown)}.")
    cycle = find_cycle(requires)
    if cycle:
        raise PipelineError(f"Pipeline has a cycle: {' -> '.join(cycle)}.")
    for position, name in enumerate(names):
        later = [req for req in requires[name] if names.index(req) > position]
        if later:
            raise PipelineError(f"Task {name!r} requires {', '.join(later)}, which come(s) later.")
    by_name = {task.name: task for task in tasks}
    for task in tasks:
        if not task.deferred and any(by_name[req].deferred for req in task.requires):
            raise PipelineError(f"Task {task.name!r} cannot require a deferred task.")
        task.upstream = {req: by_name[req] for req in task.requires}
    return Pipeline(tuple(tasks))


def find_cycle(requires: dict[str, tuple[str, ...]]) -> list[str]:
    """Return one cycle as a path of names (first name repeated at the end), or []."""
    visiting: list[str] = []
    finished: set[str] = set()

    def visit(name: str) -> list[str]:
        if name in visiting:
            return [*visiting[visiting.index(name) :], name]
        if name in finished:
            return []
        visiting.append(name)
        for required in requires[name]:
            cycle = visit(required)
            if cycle:
                return cycle
        visiting.pop()
        finished.add(name)
        return []

    for name in requires:
        cycle = visit(name)
        if cycle:
            return cycle
    return []
