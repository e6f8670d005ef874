"""An import that confirms a passed dry run (确认导入) names it; one import per check."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("retrofits", "0018_household_plan_year"),
    ]

    operations = [
        migrations.AddField(
            model_name="ledgerimport",
            name="confirms",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="confirmed_by",
                to="retrofits.ledgerimport",
                verbose_name="确认的检查",
            ),
        ),
    ]
