"""Work done in a forked copy of the process (process/forked.py)."""

from __future__ import annotations

import os
import pickle
import signal
import time
from pathlib import Path

import pytest

from process.errors import BadInput, Unavailable, too_deep
from process.forked import Forked, ForkFailed


def test_the_result_is_made_in_another_process_and_given_back():
    forked = Forked(lambda: {"pid": os.getpid(), "items": list(range(100_000))})
    result = forked.result()
    assert result["pid"] == forked.pid != os.getpid()
    assert result["items"] == list(range(100_000))  # more than a pipe holds at once


def test_an_error_in_the_work_is_said_to_the_caller():
    def work():
        raise ValueError("not today")

    with pytest.raises(ForkFailed, match="ValueError: not today"):
        Forked(work).result()


def test_a_process_that_dies_gives_no_result():
    with pytest.raises(ForkFailed, match="no result"):
        Forked(lambda: os.kill(os.getpid(), signal.SIGKILL)).result()


def test_a_result_that_cannot_be_pickled_gives_no_result():
    with pytest.raises(ForkFailed, match="no result"):
        Forked(lambda: lambda: None).result()


def test_a_stopped_process_is_gone():
    forked = Forked(lambda: time.sleep(60))
    forked.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(forked.pid, 0)  # killed and reaped: not even a zombie is left
    forked.stop()  # twice is harmless


def test_task_errors_keep_their_words_when_pickled():
    for error in (too_deep(), Unavailable("slow", "Too slow.", hint="Wait."), BadInput("a", "B")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert (copy.code, copy.message, copy.hint, copy.permanent) == (
            error.code,
            error.message,
            error.hint,
            error.permanent,
        )


def test_a_copy_that_cannot_be_made_is_said_to_the_caller(monkeypatch):
    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    open_before = open_files()
    with pytest.raises(ForkFailed, match="no copy made"):
        Forked(lambda: 1)
    assert open_files() == open_before  # the pipe is closed


def open_files() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())
