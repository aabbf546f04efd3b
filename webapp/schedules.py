"""The periodic jobs, installed after every migrate; running it twice changes nothing."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

SCHEDULES = {
    "assay: expire old submissions": {"func": "webapp.jobs.expire", "schedule_type": "D"},
    "assay: re-send stuck submissions": {
        "func": "webapp.jobs.sweep",
        "schedule_type": "I",
        "minutes": 1,
    },
}


def install_schedules(**kwargs: Any) -> None:
    from django_q.models import Schedule

    for name, fields in SCHEDULES.items():
        existing = Schedule.objects.filter(name=name).first()
        if existing is None:
            Schedule.objects.create(name=name, next_run=timezone.now(), repeats=-1, **fields)
        else:
            Schedule.objects.filter(pk=existing.pk).update(repeats=-1, **fields)
