"""A household belongs to a plan year (任务年度), and so do the stored figures. The households
already kept are given the year they were entered in (the latest plan year begun by then; the
earliest where none had), as every one of them was 2023's when there was only 2023's plan; the
figures the year of the day they were counted."""

import django.db.models.deletion
from django.db import migrations, models


def give_years(apps, schema_editor):
    Household = apps.get_model("retrofits", "Household")
    HistoricalHousehold = apps.get_model("retrofits", "HistoricalHousehold")
    PlanYear = apps.get_model("heating", "PlanYear")
    years = sorted(PlanYear.objects.values_list("year", "works_start"))
    if not years:
        return  # no plan, so no household either (a fresh database)
    for created in Household.objects.dates("created_at", "day"):
        begun = [year for year, start in years if start <= created]
        year = begun[-1] if begun else years[0][0]
        Household.objects.filter(created_at__date=created, plan_year__isnull=True).update(
            plan_year_id=year
        )
    Household.objects.filter(plan_year__isnull=True).update(plan_year_id=years[-1][0])
    HistoricalHousehold.objects.filter(plan_year__isnull=True).update(
        plan_year_id=models.Subquery(
            Household.objects.filter(pk=models.OuterRef("id")).values("plan_year_id")[:1]
        )
    )


def year_of(years, day):
    begun = [year for year, start in years if start <= day]
    return begun[-1] if begun else years[0][0]


def give_figures_years(apps, schema_editor):
    PlanYear = apps.get_model("heating", "PlanYear")
    years = sorted(PlanYear.objects.values_list("year", "works_start"))
    if not years:
        return
    RollupRun = apps.get_model("retrofits", "RollupRun")
    for run in RollupRun.objects.all():
        year = year_of(years, run.started_at.date())
        run.counts.update(plan_year_id=year)
        run.trend.update(plan_year_id=year)
    DailyProgress = apps.get_model("retrofits", "DailyProgress")
    for day in DailyProgress.objects.dates("day", "day"):
        DailyProgress.objects.filter(day=day).update(plan_year_id=year_of(years, day))


def figures_field():
    return models.ForeignKey(
        null=True,
        on_delete=django.db.models.deletion.CASCADE,
        related_name="+",
        to="heating.planyear",
    )


class Migration(migrations.Migration):
    # Each step commits on its own: PostgreSQL refuses to alter a table whose rows the same
    # transaction has just updated while their deferred foreign-key checks are pending.
    atomic = False

    dependencies = [
        ("heating", "0006_export_jobs"),
        ("retrofits", "0017_electric_other_counted"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="household", name="household_rollup"),
        migrations.RemoveConstraint(model_name="progresscount", name="progress_count_unique"),
        migrations.RemoveConstraint(model_name="trendpoint", name="trend_point_unique"),
        migrations.RemoveConstraint(model_name="dailyprogress", name="daily_progress_unique"),
        migrations.AddField("progresscount", "plan_year", figures_field()),
        migrations.AddField("trendpoint", "plan_year", figures_field()),
        migrations.AddField("dailyprogress", "plan_year", figures_field()),
        migrations.RunPython(give_figures_years, migrations.RunPython.noop),
        migrations.AddField(
            model_name="historicalhousehold",
            name="plan_year",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="heating.planyear",
                verbose_name="任务年度",
            ),
        ),
        migrations.AddField(
            model_name="household",
            name="plan_year",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="households",
                to="heating.planyear",
                verbose_name="任务年度",
            ),
        ),
        migrations.RunPython(give_years, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="household",
            name="plan_year",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="households",
                to="heating.planyear",
                verbose_name="任务年度",
            ),
        ),
        migrations.AddIndex(
            model_name="household",
            index=models.Index(
                fields=["plan_year", "county", "path", "area", "stage"], name="household_rollup"
            ),
        ),
    ]
    for model in ("progresscount", "trendpoint", "dailyprogress"):
        operations.append(
            migrations.AlterField(
                model_name=model,
                name="plan_year",
                field=models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="+",
                    to="heating.planyear",
                ),
            )
        )
    operations += [
        migrations.AddConstraint(
            model_name="progresscount",
            constraint=models.UniqueConstraint(
                fields=("run", "plan_year", "village", "path", "area", "stage"),
                name="progress_count_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="trendpoint",
            constraint=models.UniqueConstraint(
                fields=("run", "plan_year", "county", "path", "area", "day"),
                name="trend_point_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="dailyprogress",
            constraint=models.UniqueConstraint(
                fields=("day", "plan_year", "county", "path", "area", "stage"),
                name="daily_progress_unique",
            ),
        ),
    ]
