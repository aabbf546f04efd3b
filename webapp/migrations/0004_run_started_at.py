"""When a run was first sent, so that sending it again does not restart its clock.

Runs under way when this is applied (pending, running, waiting to try a step again) are
given the earliest time known of them: else the first re-send after the upgrade would
take them for new runs, and their pages would go back to "Not started yet"."""

from django.db import migrations, models
from django.db.models.functions import Coalesce


def date_runs_under_way(apps, schema_editor):
    submission = apps.get_model("webapp", "Submission")
    under_way = submission.objects.filter(state__in=["pending", "running"])
    under_way.filter(run_started_at__isnull=True).update(
        run_started_at=Coalesce("enqueued_at", "claimed_at", "created")
    )


class Migration(migrations.Migration):

    dependencies = [
        ('webapp', '0003_fetch_records_without_passwords'),
    ]

    operations = [
        migrations.AddField(
            model_name='submission',
            name='run_started_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(date_runs_under_way, migrations.RunPython.noop),
    ]
