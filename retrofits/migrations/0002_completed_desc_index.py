from __future__ import annotations

from django.db import migrations

INDEX = "household_completed_desc"


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON retrofits_household (completed_on DESC NULLS LAST, code)"
        )


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("retrofits", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
