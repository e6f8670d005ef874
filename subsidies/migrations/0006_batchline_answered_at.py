from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def answered_when_reconciled(apps: object, schema_editor: object) -> None:
    # Lines answered before the field existed: at their batch's reconciliation, if any.
    Batch = apps.get_model("subsidies", "Batch")  # type: ignore[attr-defined]
    BatchLine = apps.get_model("subsidies", "BatchLine")  # type: ignore[attr-defined]
    BatchLine.objects.exclude(result="pending").update(
        answered_at=Subquery(Batch.objects.filter(pk=OuterRef("batch_id")).values("reconciled_at"))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("subsidies", "0005_funds"),
    ]

    operations = [
        migrations.AddField(
            model_name="batchline",
            name="answered_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="回盘时间"),
        ),
        migrations.RunPython(answered_when_reconciled, migrations.RunPython.noop),
    ]
