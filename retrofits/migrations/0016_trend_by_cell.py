"""TrendPoint by target cell (path × area type), for each cell's pace and status. Its rows are
derived: they are deleted here and the next count (beat's, every few minutes) writes them again."""

from django.db import migrations, models


def forget_points(apps, schema_editor):
    apps.get_model("retrofits", "TrendPoint").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("retrofits", "0015_text_limits"),
    ]

    operations = [
        migrations.RunPython(forget_points, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="trendpoint", name="trend_point_unique"),
        migrations.AddField(
            model_name="trendpoint",
            name="path",
            field=models.CharField(
                choices=[
                    ("district", "集中供热"),
                    ("electric", "煤改电"),
                    ("gas", "煤改气"),
                    ("biomass", "生物质热电联产"),
                ],
                default="district",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="trendpoint",
            name="area",
            field=models.CharField(
                choices=[("urban", "城区/县城"), ("rural", "农村")], default="rural", max_length=8
            ),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="trendpoint",
            constraint=models.UniqueConstraint(
                fields=("run", "county", "path", "area", "day"), name="trend_point_unique"
            ),
        ),
    ]
