"""Work done beside the caller, in a forked copy of its process.

The copy has everything the caller had loaded (settings, schemas, imported tasks) without
loading it again; its result comes back pickled through a pipe. It never touches what it
shares with the caller (database connections, open files' positions, log handlers that
send): it does its work, writes its result and leaves with ``os._exit``, which runs no
clean-up that could close them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import select
import signal
from collections.abc import Callable
from typing import Any

PR_SET_PDEATHSIG = 1  # prctl's option: a signal sent to this process when its parent dies


class ForkFailed(Exception):
    """The forked process gave no result: it raised, crashed or was stopped."""


class Forked:
    """``work()`` running in a forked process from the moment this is made."""

    def __init__(self, work: Callable[[], Any]):
        parent = os.getpid()
        read, write = os.pipe()
        try:
            self.pid = os.fork()
        except OSError as error:  # no process to spare (EAGAIN, ENOMEM): the caller works
            os.close(read)
            os.close(write)
            raise ForkFailed(f"no copy made: {error}") from error
        if self.pid == 0:
            os.close(read)
            _end_with(parent)
            _run_child(work, write)  # never returns
        os.close(write)
        self.reader = os.fdopen(read, "rb")
        self.done = False

    def result(self, timeout: float | None = None) -> Any:
        """Wait for its result, at most ``timeout`` seconds for it to start coming, or
        raise ForkFailed (having stopped it)."""
        try:
            if not select.select([self.reader], [], [], timeout)[0]:
                raise ForkFailed(f"no result in {timeout:g} s")
            outcome, value = pickle.load(self.reader)
        except ForkFailed:
            raise
        except Exception as error:  # none, or one that cannot be read back
            raise ForkFailed(f"no result: {error}") from error
        finally:
            self.stop()
        if outcome != "done":
            raise ForkFailed(value)
        return value

    def stop(self) -> None:
        """Stop it, if it is still working, and let it go."""
        if not self.done:
            with contextlib.suppress(ProcessLookupError):  # it had finished
                os.kill(self.pid, signal.SIGKILL)
            self._reap()

    def _reap(self) -> None:
        if not self.done:
            self.done = True
            self.reader.close()
            os.waitpid(self.pid, 0)


def _end_with(parent: int) -> None:
    """Have the kernel kill this copy if ``parent`` dies (Linux): a worker killed for
    taking too long must not leave its copy working on for nobody. (It is the thread that
    made the copy whose end is watched: that thread waits for the copy or stops it.)"""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return  # not Linux: the copy ends at its first write to the closed pipe
    if os.getppid() != parent:  # it died before the request was made
        os._exit(1)


def _run_child(work: Callable[[], Any], write: int) -> None:
    code = 0
    try:
        try:
            result = ("done", work())
        except Exception as error:  # said to the caller, which does the work itself
            result = ("failed", f"{type(error).__name__}: {error}")
        with os.fdopen(write, "wb") as pipe:
            pickle.dump(result, pipe, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # the caller is gone (a broken pipe), or the result cannot pickle
        code = 1
    finally:
        os._exit(code)
