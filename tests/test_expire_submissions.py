"""Expiry: files go, records stay, and the schedule runs it daily."""

import json
import os
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import Schedule

from tests.conftest import upload
from webapp.models import Submission, TaskResult, TaskRun
from webapp.schedules import install_schedules

pytestmark = pytest.mark.django_db(transaction=True)


def test_new_submissions_expire_after_the_configured_days(client, settings):
    settings.ASSAY_EXPIRE_DAYS = 3
    submission = upload(client, "grants.json")
    days = (submission.expires_at - submission.created).total_seconds() / 86400
    assert round(days, 3) == 3


def test_the_command_deletes_files_keeps_the_row_and_the_page_says_410(client):
    old = upload(client, "grants.json")
    fresh = upload(client, "grants.json")
    Submission.objects.filter(id=old.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    out = StringIO()
    call_command("expire_submissions", stdout=out)
    assert out.getvalue().strip() == ("Expired 1 submission(s); deleted 0 old link check file(s).")

    old.refresh_from_db()
    assert old.state == Submission.State.EXPIRED
    assert old.expired_at is not None
    assert not old.files_dir.exists()
    assert old.sha256 and old.original_name == "grants.json"  # the record stays
    assert TaskRun.objects.filter(submission=old).exists()
    assert fresh.original_path.exists()
    # Nor does the database keep what the steps kept of the data: errors quoting values,
    # links, counted values.
    kept = [
        *TaskResult.objects.filter(submission=old).values_list("output", flat=True),
        *TaskRun.objects.filter(submission=old).values_list("data", flat=True),
    ]
    assert "EUR" not in json.dumps(kept)  # a value of the data, which the statistics count
    fresh_outputs = TaskResult.objects.filter(submission=fresh).values_list("output", flat=True)
    assert "EUR" in json.dumps(list(fresh_outputs))

    response = client.get(old.get_absolute_url())
    assert response.status_code == 410
    assert old.expired_at.strftime("%-d %B %Y") in response.content.decode()
    api = client.get(f"/api/submissions/{old.id}")
    assert api.status_code == 410 and api.json()["state"] == "expired"


def test_running_the_command_again_expires_nothing_more(client):
    old = upload(client, "grants.json")
    Submission.objects.filter(id=old.id).update(expires_at=timezone.now())
    call_command("expire_submissions", stdout=StringIO())
    out = StringIO()
    call_command("expire_submissions", stdout=out)
    assert "Expired 0" in out.getvalue()


def test_the_daily_schedule_is_installed_once_however_often_migrate_runs():
    install_schedules()
    install_schedules()
    schedules = Schedule.objects.filter(func="webapp.jobs.expire")
    assert schedules.count() == 1
    assert schedules.get().schedule_type == Schedule.DAILY
    sweep = Schedule.objects.get(func="webapp.jobs.sweep")
    assert (sweep.schedule_type, sweep.minutes) == (Schedule.MINUTES, 1)


def test_the_scheduled_function_expires_due_submissions(client):
    from webapp.jobs import expire

    old = upload(client, "grants.json")
    Submission.objects.filter(id=old.id).update(expires_at=timezone.now())
    assert expire() == 1


def test_link_checks_not_made_again_for_as_long_as_a_submission_is_kept_are_deleted(
    settings,
):
    from tasks.links import cache_folder

    settings.ASSAY_EXPIRE_DAYS = 3
    folder = cache_folder()
    kept_picture, lost_picture, new_picture = (folder / f"{n}.webp" for n in "abc")
    old_record, fresh_record = folder / "old.json", folder / "fresh.json"
    # A link checked again lately keeps its thumbnail, however old the picture is.
    fresh_record.write_text(json.dumps({"ok": True, "thumbnail": str(kept_picture)}))
    old_record.write_text(json.dumps({"ok": True, "thumbnail": str(lost_picture)}))
    for picture in (kept_picture, lost_picture, new_picture):
        picture.write_bytes(b"RIFF")
    four_days_ago = time.time() - 4 * 86400
    for path in (old_record, kept_picture, lost_picture):
        os.utime(path, (four_days_ago, four_days_ago))
    out = StringIO()
    call_command("expire_submissions", stdout=out)
    assert "deleted 2 old link check file(s)" in out.getvalue()
    left = {path.name for path in folder.iterdir()}
    # The new picture's record may not be written yet: it stays too.
    assert left == {"fresh.json", "a.webp", "c.webp"}


def test_old_link_checks_that_cannot_be_deleted_are_said_after_the_submissions_expire(
    client, settings
):
    from tasks.links import cache_folder

    old = upload(client, "grants.json")
    Submission.objects.filter(id=old.id).update(expires_at=timezone.now())
    stuck = cache_folder() / "stuck.json"
    stuck.mkdir()  # a folder where a record goes: it cannot be unlinked
    long_ago = time.time() - (settings.ASSAY_EXPIRE_DAYS + 1) * 86400
    os.utime(stuck, (long_ago, long_ago))
    try:
        with pytest.raises(CommandError) as failed:
            call_command("expire_submissions", stdout=StringIO())
        assert str(failed.value).startswith(
            "Expired 1 submission(s), but old link checks could not be deleted:"
        )
        assert Submission.objects.get(id=old.id).state == Submission.State.EXPIRED
    finally:
        stuck.rmdir()
