"""The configured pipeline, built once per distinct ASSAY_PIPELINE value."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from process.pipeline import Pipeline, build
from process.task import Task
from webapp.models import Submission


@cache
def _build(paths: tuple[str, ...]) -> Pipeline:
    return build(paths)


def get_pipeline() -> Pipeline:
    return _build(tuple(settings.ASSAY_PIPELINE))


def needed_tasks(submission: Submission) -> list[Task]:
    """Tasks that apply and have work to do: asked on every results view, so cheap."""
    return [task for task in get_pipeline().applicable(submission) if task.is_needed(submission)]
