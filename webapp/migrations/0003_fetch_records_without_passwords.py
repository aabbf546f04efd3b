"""The download step's records from before it left passwords out of the addresses it
kept: they are rewritten as it now writes them. Its output_hash is left as it was, so
that nothing after it runs again for this."""

from django.db import migrations

FIELDS = {"TaskResult": "output", "TaskRun": "data"}


def forget_passwords(apps, schema_editor) -> None:
    from process.fetching import without_password

    for model_name, field in FIELDS.items():
        model = apps.get_model("webapp", model_name)
        for row in model.objects.filter(task="fetch").iterator():
            kept = getattr(row, field)
            cleaned = _cleaned(kept, without_password)
            if cleaned != kept:
                setattr(row, field, cleaned)
                row.save(update_fields=[field])


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
