"""Run the web server and a worker together, for `make run`. Ctrl-C stops both."""

import signal
import subprocess
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start the development web server and a django-q2 worker; Ctrl-C stops both."

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport: str, **options) -> None:
        manage = [sys.executable, "manage.py"]
        processes = [
            subprocess.Popen([*manage, "qcluster"]),
            subprocess.Popen([*manage, "runserver", addrport]),
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
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
