"""When a run was first sent, so that sending it again does not restart its clock."""

from django.db import migrations, models


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
    ]
