"""Joins the two migrations written side by side on 0018: the ID-number conflicts' log (0019) and
the confirmation of a passed dry run (0020)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("retrofits", "0019_idconflict"),
        ("retrofits", "0020_ledger_import_confirms"),
    ]

    operations: list[migrations.operations.base.Operation] = []
