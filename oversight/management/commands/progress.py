from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from heating.models import County, PlanYear
from oversight.dashboards.progress import progress_report
from oversight.dashboards.standing import progress_with_standing


class Command(BaseCommand):
    help = "输出各县（市、区）按取暖路径和城乡类型的任务数与进度（来自最近一次汇总）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--json", action="store_true", help="输出与 /api/progress 相同的 JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        plan_year = PlanYear.objects.filter(year=options["year"]).first()
        if plan_year is None:
            raise CommandError(f"没有 {options['year']} 年度的计划")
        report = progress_report(plan_year=plan_year, counties=County.objects.all())
        if options["json"]:
            data = progress_with_standing(report, today=timezone.localdate())
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
            return
        as_of = f"{report.as_of:%Y-%m-%d %H:%M}" if report.as_of else "尚未汇总"
        self.stdout.write(f"{plan_year.year}年度进度（汇总于 {as_of}）")
        for c in report.counties:
            f = c.total
            self.stdout.write(
                f"{c.county.short_name:　<6} 任务 {f.target:>7}  完工 {f.completed:>7}  验收 {f.accepted:>7}"
            )
        t = report.total
        self.stdout.write(
            f"{'全市':　<6} 任务 {t.target:>7}  完工 {t.completed:>7}  验收 {t.accepted:>7}"
        )
