"""Work done in a forked copy of the process (process/forked.py)."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from process.errors import BadInput, Unavailable, too_deep
from process.forked import Forked, ForkFailed

ROOT = Path(__file__).resolve().parent.parent


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


def test_a_copy_ends_when_the_process_that_made_it_is_killed(tmp_path):
    script = (
        "import sys, time\n"
        "from process.forked import Forked\n"
        "forked = Forked(lambda: time.sleep(60))\n"
        "print(forked.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    maker = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    copy = int(maker.stdout.readline())
    maker.kill()  # as a job's time limit kills a worker
    maker.wait()
    deadline = time.monotonic() + 10
    while still_working(copy):
        assert time.monotonic() < deadline, "the copy worked on after its maker was killed"
        time.sleep(0.05)


def still_working(pid: int) -> bool:
    """Whether the process exists and has not ended (a zombie has: it waits to be reaped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_a_copy_that_gives_no_result_in_time_is_stopped():
    forked = Forked(lambda: time.sleep(60))
    started = time.monotonic()
    with pytest.raises(ForkFailed, match=r"no result in 0\.2 s"):
        forked.result(timeout=0.2)
    assert time.monotonic() - started < 5
    assert not still_working(forked.pid)
