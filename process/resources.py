"""Calling something outside (an HTTP server, a command, a library) for many inputs.

Each distinct input is called once, in threads, with at most ``concurrency`` calls at a
time and ``per_group`` at a time for any one group (one host, say); every input gets its
own outcome, a value or a typed error, so one failure never hides the others. Timeouts
and size limits belong to the call itself (process/fetching.py has both).
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from process.errors import TaskError, Unavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    input: str
    value: Any = None
    error: TaskError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def call_each(
    inputs: Iterable[str],
    call: Callable[[str], Any],
    *,
    concurrency: int,
    group: Callable[[str], str] = lambda _: "",
    per_group: int = 2,
) -> dict[str, Outcome]:
    distinct = list(dict.fromkeys(inputs))
    limits: dict[str, threading.Semaphore] = {}
    lock = threading.Lock()

    def limit_for(item: str) -> threading.Semaphore:
        with lock:
            return limits.setdefault(group(item), threading.Semaphore(per_group))

    def one(item: str) -> Outcome:
        try:
            with limit_for(item):
                return Outcome(item, value=call(item))
        except TaskError as error:
            return Outcome(item, error=error)
        except Exception:
            logger.exception("calling out for %r failed", item)
            return Outcome(item, error=Unavailable("internal_error", "An unexpected error."))

    if not distinct:
        return {}
    # Threads start with empty context variables: give each the caller's, so that log
    # lines still name the submission and task.
    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(distinct)))) as pool:
        outcomes = pool.map(lambda item: context.copy().run(one, item), distinct)
        return {outcome.input: outcome for outcome in outcomes}
