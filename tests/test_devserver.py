"""`make run`'s devserver: the web server and a worker together, the worker kept on the
web server's code."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(log: Path, text: str, count: int = 1, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while log.read_text().count(text) < count:
        assert time.monotonic() < deadline, f"no {text!r} x{count} in:\n{log.read_text()}"
        time.sleep(0.2)


def start_devserver(tmp_path: Path, **extra_env: str) -> tuple[subprocess.Popen, Path]:
    """`manage.py devserver` on a migrated database of its own; and its log."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings", **extra_env}
    env["ASSAY_DATA_DIR"] = str(tmp_path / "data")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    log = tmp_path / "devserver.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [*manage, "devserver", f"127.0.0.1:{free_port()}"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return server, log


@pytest.mark.integration
def test_a_code_change_restarts_the_worker_and_ctrl_c_stops_everything(tmp_path):
    server, log = start_devserver(tmp_path)
    touched = ROOT / "tasks" / "__init__.py"
    before = touched.stat()
    try:
        wait_for(log, "] running.")  # django-q2: the cluster is up
        first_groups = children(server.pid)
        os.utime(touched, (before.st_atime, time.time() + 5))  # as an editor saving it
        wait_for(log, "Code changed: restarting the worker")
        wait_for(log, "] running.", count=2)
        groups = children(server.pid)
        assert len(groups) == 2 and groups != first_groups  # a new worker, the same web
    finally:
        os.utime(touched, (before.st_atime, before.st_mtime))
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
    # Each child led its own process group (the worker's own workers, the reloader's
    # server): none of them is left, once the ones killed last have been reaped.
    for group in first_groups | groups:
        assert group_ends(group), f"process group {group} outlived Ctrl-C"


@pytest.mark.integration
def test_downloads_on_a_queue_of_their_own_get_a_worker_of_their_own(tmp_path):
    server, log = start_devserver(tmp_path, ASSAY_DEFERRED_QUEUE="downloads")
    try:
        wait_for(log, "] running.", count=2)  # two clusters up
        # Each on its queue, named as the broker names it ("[assay]", "[django_q:assay:q]").
        running = re.findall(r"\[([^\]]*)\] running\.", log.read_text())
        assert sorted("downloads" in queue for queue in running) == [False, True], running
        assert any("assay" in queue for queue in running), running
        groups = children(server.pid)
        assert len(groups) == 3  # the web server and two workers
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
    for group in groups:
        assert group_ends(group), f"process group {group} outlived Ctrl-C"


def group_ends(group: int, timeout: float = 10) -> bool:
    """Whether every process of the group stops running (a zombie is over: only its
    reaping is left, to whatever adopted it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = subprocess.run(["ps", "-e", "-o", "pgid=,stat="], capture_output=True, text=True)
        states = [
            line.split()[1] for line in table.stdout.splitlines() if line.split()[0] == str(group)
        ]
        if all(state.startswith("Z") for state in states):
            return True
        time.sleep(0.2)
    return False


def children(pid: int) -> set[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return {int(line) for line in found.stdout.split()}
