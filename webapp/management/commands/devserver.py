"""Run the web server and a worker together, for `make run`. Ctrl-C stops both."""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

GRACE_SECONDS = 15
ROOT = Path(__file__).resolve().parents[3]
CODE_FOLDERS = ("webapp", "process", "tasks")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Start the development web server and a django-q2 worker; Ctrl-C stops both."

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options) -> None:
        signal.signal(signal.SIGTERM, _interrupt)
        # If we were started with SIGINT ignored (a background job), the children would
        # inherit that and never hear our Ctrl-C; a Python handler is reset on exec.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # Each child leads its own process group, which we signal as a whole: the
        # runserver reloader and django-q2's worker processes then all get the word once.
        workers, web = start_workers(), start("runserver", addrport)
        self.stdout.write(f"Assay is at http://{addrport}/ (Ctrl-C stops it)")
        code = code_stamp()
        said_stopped = False
        try:
            while web.poll() is None:
                signal.sigtimedwait([signal.SIGCHLD], 1)  # wake when a child exits
                if any(worker.poll() is not None for worker in workers) and not said_stopped:
                    # A mistake in the code, say: runserver waits for the fix; so do we.
                    self.stdout.write("The worker stopped; it starts again when the code changes")
                    said_stopped = True
                if (changed := code_stamp()) != code:
                    # runserver reloads itself; a worker left on the old code would store
                    # results the new web process takes for stale, again and again.
                    code, said_stopped = changed, False
                    self.stdout.write("Code changed: restarting the worker")
                    stop(workers)
                    workers = start_workers()
        except KeyboardInterrupt:
            pass
        finally:
            stop([*workers, web])


def start(*command: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *command],
        start_new_session=True,
        env={**os.environ, **env},
    )


def start_workers() -> list[subprocess.Popen]:
    """A worker on the submissions' queue; and one on the deferred steps' queue, when
    they have one of their own (ASSAY_DEFERRED_QUEUE), else nothing would make them."""
    # Named, so that a Q_CLUSTER_NAME left in the shell does not move it to another queue.
    workers = [start("qcluster", Q_CLUSTER_NAME=settings.Q_CLUSTER["name"])]
    if queue := settings.ASSAY_DEFERRED_QUEUE:
        workers.append(start("qcluster", Q_CLUSTER_NAME=queue))
    return workers


def code_stamp() -> tuple[float, int]:
    """The latest change to the project's Python files, and how many there are."""
    files = [path for folder in CODE_FOLDERS for path in (ROOT / folder).rglob("*.py")]
    return max((path.stat().st_mtime for path in files), default=0.0), len(files)


def stop(processes: list[subprocess.Popen]) -> None:
    """Ctrl-C to each child's whole process group, then SIGKILL to whatever of it is left
    (a worker's own processes may outlive their parent)."""
    for sig in (signal.SIGINT, signal.SIGKILL):
        for process in processes:
            with contextlib.suppress(ProcessLookupError):  # the group is gone
                os.killpg(process.pid, sig)
        for process in processes:
            try:
                process.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                continue
