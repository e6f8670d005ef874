"""The log of ID numbers a county user gave that another county's household holds (IdConflict)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("heating", "0006_export_jobs"),
        ("retrofits", "0018_household_plan_year"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="IdConflict",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="时间"),
                ),
                ("id_number", models.CharField(max_length=18, verbose_name="身份证号")),
                ("code", models.CharField(blank=True, max_length=32, verbose_name="提交的户编号")),
                (
                    "head_name",
                    models.CharField(blank=True, max_length=50, verbose_name="提交的户主姓名"),
                ),
                (
                    "entry",
                    models.CharField(
                        choices=[
                            ("import", "台账导入"),
                            ("dry_run", "台账导入（仅检查）"),
                            ("form", "改造户表单"),
                        ],
                        max_length=16,
                        verbose_name="途径",
                    ),
                ),
                ("row", models.PositiveIntegerField(blank=True, null=True, verbose_name="行号")),
                ("over_budget", models.BooleanField(default=False, verbose_name="超出每日限额")),
                (
                    "resolved_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="处理时间"),
                ),
                (
                    "resolution",
                    models.CharField(blank=True, max_length=200, verbose_name="处理说明"),
                ),
                (
                    "claimant",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="retrofits.household",
                        verbose_name="提交方的户",
                    ),
                ),
                (
                    "county",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="heating.county",
                        verbose_name="提交县（市、区）",
                    ),
                ),
                (
                    "household",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="id_conflicts",
                        to="retrofits.household",
                        verbose_name="已登记的户",
                    ),
                ),
                (
                    "job",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="retrofits.ledgerimport",
                        verbose_name="导入任务",
                    ),
                ),
                (
                    "resolved_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="处理人",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="提交人",
                    ),
                ),
            ],
            options={
                "verbose_name": "身份证号冲突",
                "verbose_name_plural": "身份证号冲突",
                "ordering": ["-created_at", "-pk"],
                "indexes": [
                    models.Index(fields=["user", "created_at"], name="idconflict_user_day")
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("resolved_at__isnull", True),
                            models.Q(
                                models.Q(("resolution", ""), _negated=True),
                                ("resolved_by__isnull", False),
                            ),
                            _connector="OR",
                        ),
                        name="idconflict_resolved_with_reason",
                        violation_error_message="标记已处理须填写处理说明",
                    )
                ],
            },
        ),
    ]
