"""An import that confirms a passed dry run (确认导入) names it; one import per check."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("energy_supply", "0008_supply_imports"),
    ]

    operations = [
        migrations.AddField(
            model_name="supplyimport",
            name="confirms",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="confirmed_by",
                to="energy_supply.supplyimport",
                verbose_name="确认的检查",
            ),
        ),
    ]
