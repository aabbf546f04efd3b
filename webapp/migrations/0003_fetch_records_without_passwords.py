"""The download step's records from before it left passwords out of the addresses it
kept: they are rewritten as it now writes them, and so are its error messages. Its
output_hash is left as it was, so that nothing after it runs again for this.

The rule is written out here, not imported: a migration does what it did when written."""

import re

from django.db import migrations

FIELDS = {"TaskResult": "output", "TaskRun": "data"}
# "scheme://user:password@host", anywhere in a text; the password as the pages show it.
PASSWORD_IN_URL = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^/:@\s]*):[^/\s]*@")


def without_password(text):
    return PASSWORD_IN_URL.sub("\\1:•••@", text)


def forget_passwords(apps, schema_editor) -> None:
    for model_name, field in FIELDS.items():
        model = apps.get_model("webapp", model_name)
        for row in model.objects.filter(task="fetch").iterator():
            kept = getattr(row, field)
            cleaned = _cleaned(kept, without_password)
            if cleaned != kept:
                setattr(row, field, cleaned)
                row.save(update_fields=[field])
    runs = apps.get_model("webapp", "TaskRun").objects.filter(task="fetch")
    for run in runs.filter(error_message__contains="@").iterator():
        cleaned = without_password(run.error_message)
        if cleaned != run.error_message:
            run.error_message = cleaned
            run.save(update_fields=["error_message"])


def _cleaned(record, without_password):
    if not isinstance(record, dict):
        return record
    cleaned = dict(record)
    for key in ("url", "final_url"):
        if isinstance(cleaned.get(key), str):
            cleaned[key] = without_password(cleaned[key])
    if isinstance(cleaned.get("redirects"), list):
        cleaned["redirects"] = [
            without_password(url) if isinstance(url, str) else url for url in cleaned["redirects"]
        ]
    return cleaned


class Migration(migrations.Migration):
    dependencies = [("webapp", "0002_deferred_tasks")]

    operations = [migrations.RunPython(forget_passwords, migrations.RunPython.noop)]
