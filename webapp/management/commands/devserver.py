"""Run the web server and a worker together, for `make run`. Ctrl-C stops both."""

import os
import signal
import subprocess
import sys

from django.core.management.base import BaseCommand

GRACE_SECONDS = 15


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
        manage = [sys.executable, "manage.py"]
        # Each child leads its own process group, which we signal as a whole: the
        # runserver reloader and django-q2's worker processes then all get the word once.
        processes = [
            subprocess.Popen([*manage, "qcluster"], start_new_session=True),
            subprocess.Popen([*manage, "runserver", addrport], start_new_session=True),
        ]
        self.stdout.write(f"Assay is at http://{addrport}/ (Ctrl-C stops it)")
        try:
            while all(process.poll() is None for process in processes):
                signal.sigtimedwait([signal.SIGCHLD], 1)  # wake when either child exits
        except KeyboardInterrupt:
            pass
        finally:
            stop(processes)


def stop(processes: list[subprocess.Popen]) -> None:
    for sig in (signal.SIGINT, signal.SIGKILL):
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, sig)
        for process in processes:
            try:
                process.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                continue
