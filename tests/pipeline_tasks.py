"""Small tasks used to test the framework itself, in pipelines set up by the tests."""

from __future__ import annotations

import time
from typing import Any

from process.errors import BadInput, Unavailable
from process.task import Download, Task


class Count(Task):
    name = "count"
    title = "Count bytes"

    def run(self, submission, inputs) -> dict[str, Any]:
        return {"bytes": len(submission.original_path.read_bytes())}


class Breaks(Task):
    """Fails as the submission's options say: "permanent", "transient" or "crash"; or
    "slow": takes a minute, more than a job may (ASSAY_JOB_TIMEOUT, made short); or
    "deleted": the submission is deleted as the step runs, which then finds its file gone;
    or "expired": it expires as the step runs, which writes a file and succeeds; or
    "asked": it crashes when asked whether it applies, outside its own run."""

    name = "breaks"
    title = "A step that breaks"
    uses_options = ("breaks",)

    def is_applicable(self, submission) -> bool:
        if submission.options.get("breaks") == "asked":
            raise ZeroDivisionError("a bug in asking")
        return super().is_applicable(submission)

    def run(self, submission, inputs) -> dict[str, Any]:
        how = submission.options.get("breaks")
        if how == "permanent":
            raise BadInput("broken_input", "The input is broken.", hint="Fix it.")
        if how == "transient":
            raise Unavailable("service_down", "A service is down.")
        if how == "crash":
            raise ZeroDivisionError("a bug")
        if how == "slow":
            time.sleep(60)
        if how == "deleted":
            from webapp.models import Submission

            Submission.objects.filter(id=submission.id).delete()
            if not submission.original_path.exists():
                raise BadInput("unreadable", "The file cannot be read.")
        if how == "expired":
            from webapp.expiry import expire

            expire(submission)
            (self.work_dir(submission) / "written-after.txt").write_text("late")
        return {"fine": True}


class AfterBreaks(Task):
    name = "after_breaks"
    title = "Needs the breaking step"
    requires = ("breaks",)

    def run(self, submission, inputs) -> dict[str, Any]:
        return {"saw": dict(inputs.output("breaks"))}


class Double(Task):
    name = "double"
    title = "Double the count"
    requires = ("count",)

    def run(self, submission, inputs) -> dict[str, Any]:
        return {"doubled": inputs.output("count")["bytes"] * 2}


class First(Task):
    name = "first"
    requires = ("second",)

    def run(self, submission, inputs) -> dict[str, Any]:
        return {}


class Second(Task):
    name = "second"
    requires = ("first",)

    def run(self, submission, inputs) -> dict[str, Any]:
        return {}


TEST_PIPELINE = [
    "tests.pipeline_tasks.Count",
    "tests.pipeline_tasks.Breaks",
    "tests.pipeline_tasks.AfterBreaks",
    "tests.pipeline_tasks.Double",
]


class Later(Task):
    """A deferred task: writes a file offered for download, when asked."""

    name = "later"
    title = "Something slow"
    requires = ("count",)
    deferred = True

    def run(self, submission, inputs) -> dict[str, Any]:
        (self.work_dir(submission) / "later.txt").write_text(f"{inputs.output('count')['bytes']}")
        if submission.options.get("later") == "fail":
            raise Unavailable("later_down", "The slow service is down.")
        if submission.options.get("later") == "too slow":  # for ASSAY_JOB_TIMEOUT
            time.sleep(60)
        if submission.options.get("later") == "expire, then finish":
            from webapp.expiry import expire

            expire(submission)
            (self.work_dir(submission) / "later.txt").write_text("late")
        if submission.options.get("later") in ("expire", "delete"):  # as if, while it ran
            from webapp.expiry import expire
            from webapp.models import Submission

            if submission.options["later"] == "delete":
                Submission.objects.filter(id=submission.id).delete()
            else:
                expire(Submission.objects.get(id=submission.id))
            self.work_dir(submission)  # made again, as a step writing its files does
            submission.original_path.read_bytes()
        return {"written": True}

    def downloads(self, submission) -> list[Download]:
        return [Download("later.txt", "The slow file", "text/plain")]


DEFERRED_PIPELINE = ["tests.pipeline_tasks.Count", "tests.pipeline_tasks.Later"]


class Slow(Task):
    """Takes as many seconds as the submission's "slow" option says: a task to kill a worker in."""

    name = "slow"
    title = "Take a while"
    uses_options = ("slow",)

    def run(self, submission, inputs) -> dict[str, Any]:
        time.sleep(float(submission.options.get("slow", 0)))
        return {"slept": submission.options.get("slow", 0)}
