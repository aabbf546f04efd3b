"""What the current job is working on, so that every log line can name it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

current_submission: ContextVar[str] = ContextVar("current_submission", default="")
current_task: ContextVar[str] = ContextVar("current_task", default="")


@contextmanager
def working_on(variable: ContextVar[str], value: str) -> Iterator[None]:
    token = variable.set(value)
    try:
        yield
    finally:
        variable.reset(token)
